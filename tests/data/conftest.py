"""Fixtures of tests/data: small folders built from the real images of ../shared/data."""

import os
import shutil
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import imagetools`
from imagetools import Image, real_jpeg_paths  # noqa: E402


@pytest.fixture(scope="session")
def small_imagenet(imagenet_sample_dir, tmp_path_factory):
    """8 real ImageNet class folders (wnid names), one photo each, copied to a tmp folder."""
    root = tmp_path_factory.mktemp("small_imagenet")
    for folder in sorted(p for p in imagenet_sample_dir.iterdir() if p.is_dir())[:8]:
        shutil.copytree(folder, root / folder.name)
    return root


@pytest.fixture(scope="session")
def small_cifar(cifar10_dir, tmp_path_factory):
    """train/ and test/ with 10 classes x (12 train, 4 test) real CIFAR-10 JPEGs."""
    root = tmp_path_factory.mktemp("small_cifar")
    for split, count in (("train", 12), ("test", 4)):
        for folder in sorted((cifar10_dir / split).iterdir()):
            (root / split / folder.name).mkdir(parents=True)
            for f in sorted(folder.iterdir())[:count]:
                shutil.copy(f, root / split / folder.name / f.name)
    return root


@pytest.fixture
def rgb_photo(imagenet_sample_dir):
    """A real photo as a uint8 array, for re-encoding in other formats."""
    if Image is None:
        pytest.skip("pillow is needed")
    path = real_jpeg_paths(imagenet_sample_dir, 1)[0]
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(autouse=True)
def _private_mean_cache(tmp_path_factory, monkeypatch):
    """Mean images computed by tests go to a tmp cache, not the user's."""
    monkeypatch.setenv("KERAS_DEEPNETS_CACHE", str(tmp_path_factory.getbasetemp() / "kd_cache"))
    yield
