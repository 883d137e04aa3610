"""Shared fixtures: the real images of ../shared/data, extracted once to a cache folder.

Set KERAS_DEEPNETS_SHARED to another folder holding the archives, and KERAS_DEEPNETS_CACHE to move
the cache (default ~/.cache/keras_deepnets). The archives are checked against SHA256SUMS first.
"""

import hashlib
import os
import pathlib
import tarfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("KERAS_DEEPNETS_SHARED", REPO.parent / "shared" / "data"))
CACHE = pathlib.Path(os.environ.get("KERAS_DEEPNETS_CACHE",
                                    pathlib.Path.home() / ".cache" / "keras_deepnets"))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_shared(archive):
    """Extracts `archive` from the shared data folder into the cache (once); returns the folder."""
    source = SHARED / archive
    if not source.is_file():
        pytest.skip(f"{source} not found: the tests on real images need ../shared/data")
    target = CACHE / archive.replace(".tar.gz", "")
    done = target / ".extracted"
    if not done.is_file():
        sums = dict(reversed(line.split()) for line in (SHARED / "SHA256SUMS").read_text().splitlines()
                    if line.strip())
        if sums.get(archive) != _sha256(source):
            raise RuntimeError(f"{source} does not match SHA256SUMS; refusing to use it.")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source) as tar:
            tar.extractall(target, filter="data")
        done.write_text("ok\n")
    return target


@pytest.fixture(scope="session")
def imagenet_sample_dir():
    """Folder of 1,000 class folders (wnid names, sorted = class index), one real photo each."""
    return extract_shared("imagenet1k-sample.tar.gz") / "imagenet1k-sample"


@pytest.fixture(scope="session")
def cifar10_dir():
    """Folder with train/<class>/*.jpg and test/<class>/*.jpg of CIFAR-10."""
    return extract_shared("cifar10-jpeg.tar.gz")
