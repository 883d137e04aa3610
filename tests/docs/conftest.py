"""Fixtures of the notebook tests: a small real CIFAR-10 folder (copied from the shared JPEG
archive, as tests/experiments does), so that the notebooks' data step lists 60 files, not 60k."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import notebook_helpers`


@pytest.fixture(scope="module")
def cifar10_small(cifar10_dir, tmp_path_factory):
    """Real CIFAR-10: the first 4 training and 2 test JPEGs of each of the 10 classes."""
    root = tmp_path_factory.mktemp("cifar10_small")
    for split, n in (("train", 4), ("test", 2)):
        for cls in sorted(os.listdir(cifar10_dir / split)):
            (root / split / cls).mkdir(parents=True)
            for name in sorted(os.listdir(cifar10_dir / split / cls))[:n]:
                shutil.copy(cifar10_dir / split / cls / name, root / split / cls / name)
    return root
