"""A stand-in for `training.train` for the fast tests of the runner and reports: it writes the
same flags.json and returns the same curves (per-iteration steps, per-epoch history) as the real
core, with errors that follow the papers (plain nets worse with depth, ResNets better), so every
experiment's plot, table and record can be checked in a second. The real core is exercised by the
slow end-to-end tests."""

import json
import os
import re
import sys
import types

import pytest

from keras_deepnets import training

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import experiment_helpers`


def _depth(model):
    return int(re.search(r"(\d+)", model.replace("16c", "16")).group(1))


def fake_train(*, model, epochs, max_examples, batch_size, model_dir, seed, shortcut=None,
               **kwargs):
    batch = batch_size or 128
    per_epoch = (max_examples or 50000) // batch
    sign = 1 if model.startswith("plain") else -1  # degradation vs residual learning
    base = 20.0 + sign * _depth(model) / 10 + seed / 100
    steps = [{"step": i + 1, "epoch": i // per_epoch + 1, "lr": 0.1, "loss": 1.0,
              "top1_error": (base + 30 * (1 - i / (per_epoch * epochs))) / 100}
             for i in range(per_epoch * epochs)]
    history = [{"epoch": e + 1, "step": (e + 1) * per_epoch, "top1": 1 - (base + 10 - e) / 100,
                "val_top1": 1 - (base + 12 - e) / 100} for e in range(epochs)]
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "flags.json"), "w") as f:
        json.dump({"model": model, "shortcut": shortcut, "batch_size": batch, "epochs": epochs,
                   "steps_per_epoch": per_epoch, "total_steps": per_epoch * epochs, **kwargs}, f)
    fake_train.calls.append(model)
    return types.SimpleNamespace(steps=steps, history=history,
                                 summary={"wall_seconds": 0.5, "images_per_sec": 100.0})


@pytest.fixture
def fake_core(monkeypatch):
    """Replaces training.train for one test; `fake_core.calls` lists the models trained."""
    fake_train.calls = []
    monkeypatch.setattr(training, "train", fake_train)
    return fake_train


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """A 2-class folder with train/ and test/ (4 JPEGs each): enough for the data checks."""
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
