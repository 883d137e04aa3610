"""Shared fixtures: the real images of ../shared/data, extracted once to a cache folder; and the
suite's isolation from the machine it runs on (hermetic.py: its own Keras and Hugging Face
folders, no proxy, no socket to anything but loopback).

Set KERAS_DEEPNETS_SHARED to another folder holding the archives, and KERAS_DEEPNETS_CACHE to move
the cache (default ~/.cache/keras_deepnets). The archives are checked against SHA256SUMS first.
"""

import fcntl
import hashlib
import os
import pathlib
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import hermetic`
import hermetic  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's CPU kernels on every x86 CPU, as TensorFlow itself picks them on AVX-512 ones: the
# suite's figures and times then do not hang on the CPU's generation (an AVX2 CPU has no NCHW or
# grouped-gradient kernel without them). The other path is tested on its own, in a child process:
# tests/models/test_tf_cpu.py.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# One intra-op thread per TensorFlow process (the suite's and every one its tests start): two
# xdist workers already keep both cores busy, and TF's default of a pool as wide as the machine
# in each process has their threads spin against each other. On 2 cores the weights tests took
# 220 s with it against 244 s without.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
# Before any test module imports Keras or huggingface_hub: both read their folders once, at import.
hermetic.isolate_environment()

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
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{archive}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the suite's worker processes extract it once
        if not done.is_file():
            _extract(source, target)
            done.write_text("ok\n")
    return target


def _extract(source, target):
    sums = dict(reversed(line.split())
                for line in (SHARED / "SHA256SUMS").read_text().splitlines() if line.strip())
    if sums.get(source.name) != _sha256(source):
        raise RuntimeError(f"{source} does not match SHA256SUMS; refusing to use it.")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source) as tar:
        tar.extractall(target, filter="data")


# Session fixtures shared across files: these folders' tests stay on one xdist worker, so the
# ResNet-20 the export tests train and the experiments' runs are made once, not once per worker.
SHARED_FIXTURE_DIRS = ("export", "experiments")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks
def pytest_collection_modifyitems(items):
    """Puts each test in an xdist group (`--dist loadgroup`, pytest.ini): its folder's for
    SHARED_FIXTURE_DIRS, else its file's (module-scoped fixtures stay with their module)."""
    for item in items:
        path = pathlib.Path(item.path).relative_to(REPO / "tests")
        shared = path.parts[0] in SHARED_FIXTURE_DIRS and len(path.parts) > 1
        item.add_marker(pytest.mark.xdist_group(path.parts[0] if shared else str(path)))


@pytest.fixture(scope="session")
def imagenet_sample_dir():
    """Folder of 1,000 class folders (wnid names, sorted = class index), one real photo each."""
    return extract_shared("imagenet1k-sample.tar.gz") / "imagenet1k-sample"


@pytest.fixture(scope="session")
def cifar10_dir():
    """Folder with train/<class>/*.jpg and test/<class>/*.jpg of CIFAR-10."""
    return extract_shared("cifar10-jpeg.tar.gz")


def _randomise_bn(model, seed, biases=False):
    """Non-trivial BN statistics (and, with `biases`, conv/dense biases). With weights=None a BN
    is an identity and biases are zero: a wrong weight mapping or preprocessing would then give
    the same outputs, and a random He-initialised ResNet gives nearly one output for every photo."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
        elif (biases and isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
              and layer.use_bias):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.2, bias.shape)])


@pytest.fixture(scope="session")
def randomise_bn():
    """`randomise_bn(model, seed, biases=False)`: see `_randomise_bn`."""
    return _randomise_bn


@pytest.fixture(autouse=True)
def hermetic_test(tmp_path_factory, monkeypatch):
    """Every test: an empty Keras folder of its own (keras.applications' cache and ours inside
    it), no proxy or HF_*/KERAS_DEEPNETS_* variable from the machine, and the loopback-only
    socket guard (hermetic.py says what it covers). Yields the guard."""
    hermetic.clear_machine_variables(monkeypatch.delenv, monkeypatch.setenv)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    guard = hermetic.LoopbackOnly()
    guard.install(monkeypatch.setattr)
    yield guard
    if guard.violations:
        pytest.fail("the test reached beyond 127.0.0.1/::1: " + "; ".join(guard.violations),
                    pytrace=False)
