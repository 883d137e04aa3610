"""Fixtures of the weights tests: the HTTP server (weights_helpers.py), the cache folder in a
temporary directory, and torchvision's ResNet-18 rebuilt from ../shared/torchvision as a
.safetensors file with the SHA-256 the test computes."""

import hashlib
import os
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import weights_helpers`
from weights_helpers import TORCHVISION, WeightsServer  # noqa: E402

sys.path.insert(0, str(TORCHVISION))
from seeded_weights import load_fixture  # noqa: E402  (the shared folder's numpy-only rebuild)


@pytest.fixture
def server():
    s = WeightsServer()
    yield s
    s.close()


@pytest.fixture
def kd_home(tmp_path, monkeypatch):
    """An empty cache folder, online (tests/hermetic.py removed any mirror or offline switch and
    lets nothing but loopback be reached)."""
    home = tmp_path / "kd_home"
    monkeypatch.setenv("KERAS_DEEPNETS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def resnet18_file(tmp_path_factory):
    """(bytes of torchvision's ResNet-18 as .safetensors, its SHA-256, the fixture with
    torchvision's logits)."""
    state, fixture = load_fixture("resnet18")
    path = tmp_path_factory.mktemp("r18") / "resnet18.safetensors"
    save_file(state, str(path))
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest(), fixture


@pytest.fixture(scope="session")
def images():
    return np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"]
