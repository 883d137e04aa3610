"""Fixtures of the tuning tests: a small CIFAR-10 folder linked to the shared JPEGs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import tuning_helpers`


@pytest.fixture(scope="session")
def cifar_subset(cifar10_dir, tmp_path_factory):
    """train/ and test/ with 4 images per class, symlinked from the shared CIFAR-10 JPEGs."""
    root = tmp_path_factory.mktemp("cifar_subset")
    for split in ("train", "test"):
        for class_dir in sorted((cifar10_dir / split).iterdir()):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:4]:
                (target / image.name).symlink_to(image)
    return root

