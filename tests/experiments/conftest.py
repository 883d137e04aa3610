"""Fixtures of the experiments' tests: every experiment run ONCE, through the real training core
(`keras_deepnets.training.train`), on a tiny folder of real CIFAR-10 JPEGs, and shared by all the
tests that read its plot, table and JSON.

The tiny folder (2 training and 1 test image per class, copied from the shared CIFAR-10 JPEGs)
keeps a run at the cost of building and tracing its model: at batch 10 an epoch is 2 iterations
and a test pass is one batch of 10 images. The 20 runs of the five experiments (see
EXPERIMENT_ARGS) took 142 s on this 2-core machine (depth 41 s, ResNet-110 alone ~18 s; residual
36 s; vgg 27 s; shortcuts 23 s; degradation through the script 16 s); on the full 60k-image folder
each run would spend ~10 s more listing and checking the files.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import time
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import experiment_helpers`

REPO = pathlib.Path(__file__).resolve().parents[2]
TRAIN_PER_CLASS, TEST_PER_CLASS = 2, 1
from experiment_helpers import TINY  # noqa: E402 (after the sys.path line)
# How each experiment is run, once per session. Between them they cover: the command line
# (degradation), more than one epoch (degradation, residual), repeats with mean and std and a
# first seed (residual), series named by registry name and label in any order (depth), a
# departure from the recipe (vgg) and the fast recipe (degradation). Every series of every
# experiment is trained but depth's ResNet-32 and -44 (their tables' rows are the same code as
# ResNet-20's and -56's; two fewer graphs to trace).
EXPERIMENT_ARGS = {
    # Through scripts/reproduce.py (see _run_script), with the fast recipe (--recipe=fast).
    "degradation": {"budget": 2, "recipe": "fast"},
    "residual": {"budget": 2, "repeats": 2, "seed": 5},
    "shortcuts": {"budget": 1},
    "depth": {"budget": 1,
              "series": ["resnet110", "ResNet-20", "resnet56"]},
    "vgg": {"budget": 1, "warmup_epochs": 1.0},
}


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """A 2-class folder with train/ and test/ (4 JPEGs each, flat colours): enough for the
    argument and data checks, which fail before any training."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("tiny_cifar")
    for split in ("train", "test"):
        for c, name in enumerate(("cat", "dog")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                image = tf.fill([32, 32, 3], tf.constant(60 * c + 10 * i, tf.uint8))
                (folder / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    return root


@pytest.fixture(scope="session")
def cifar10_tiny(cifar10_dir, tmp_path_factory):
    """Real CIFAR-10: the first 2 training and 1 test JPEG of each of the 10 classes."""
    root = tmp_path_factory.mktemp("cifar10_tiny")
    for split, n in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for cls in sorted(os.listdir(cifar10_dir / split)):
            (root / split / cls).mkdir(parents=True)
            for name in sorted(os.listdir(cifar10_dir / split / cls))[:n]:
                shutil.copy(cifar10_dir / split / cls / name, root / split / cls / name)
    return root


def _run_script(name, data, output_dir, args, env):
    cmd = [sys.executable, str(REPO / "scripts" / "reproduce.py"), name, f"--data={data}",
           f"--output_dir={output_dir}", "--verbose=0",
           *(f"--{k}={v}" for k, v in {**TINY, **args}.items())]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env, "PYTHONPATH": str(REPO),
                               "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="session")
def experiment_run(cifar10_tiny, tmp_path_factory):
    """`experiment_run(name)`: experiment `name` trained with EXPERIMENT_ARGS[name] on
    `cifar10_tiny` (on first use; later calls return the same run). Returns a namespace with
    `output_dir`, `record` (the JSON), `args` (the arguments besides the data), `stdout` (the
    script's, degradation only) and `seconds`. Tests must not write into `output_dir`: copy it."""
    import json

    from keras_deepnets import experiments

    cache = tmp_path_factory.mktemp("cache")  # the tiny folder's mean image goes here, not ~
    runs = {}

    def run(name):
        if name not in runs:
            output_dir = tmp_path_factory.mktemp(name)
            args = EXPERIMENT_ARGS[name]
            start, stdout = time.time(), None
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("KERAS_DEEPNETS_CACHE", str(cache))
                if name == "degradation":
                    stdout = _run_script(name, cifar10_tiny, output_dir, args,
                                         {"KERAS_DEEPNETS_CACHE": str(cache)})
                    record = json.loads((output_dir / f"{name}.json").read_text())
                else:
                    record = experiments.run_experiment(name, str(cifar10_tiny),
                                                        output_dir=str(output_dir),
                                                        **TINY, **args)
            runs[name] = types.SimpleNamespace(
                name=name, output_dir=output_dir, record=record, args={**TINY, **args},
                stdout=stdout, seconds=time.time() - start, data=str(cifar10_tiny),
                cache=str(cache))
        return runs[name]

    return run
