"""LeNet-5 on real handwritten digits with no download (scikit-learn's 1,797 scans at the
paper's 32x32, `data.digits`), trained by the training core (`training.train(data="digits")`)
in well under a minute on 2 cores.

Recipe: `training.recipes.DIGITS` (SGD with momentum 0.9, lr 0.01, batch 32, 10 epochs,
softmax cross-entropy; its comment says why it is not the paper's).

Command line: scripts/train_lenet.py (or scripts/train_cifar.py --model=lenet5 --data=digits).
"""

import json
import os
import tempfile

from keras_deepnets import training
from keras_deepnets.data.digits import arrays

MODELS = {"paper": "lenet5", "modern": "lenet5_modern"}


def _check(variant, epochs, batch_size, lr):
    if variant not in MODELS:
        raise ValueError(f"variant must be one of {', '.join(MODELS)}; got {variant!r}.")
    for what, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive whole number; got {value!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr!r}.")


def train_digits(variant="paper", epochs=10, batch_size=32, lr=0.01, seed=0, output_dir=None,
                 verbose=0):
    """Trains LeNet-5 (`variant` "paper" or "modern") on three quarters of the digits and tests
    on the held-out quarter; returns {variant, test_accuracy, train_accuracy, epochs,
    wall_seconds, history}; with `output_dir`, the run's files (records, weights, the exported
    model) and lenet_digits.json go there."""
    _check(variant, epochs, batch_size, lr)
    with tempfile.TemporaryDirectory(prefix="lenet_") as scratch:
        run_dir = output_dir or scratch
        result = training.train(model=MODELS[variant], data="digits", epochs=epochs,
                                batch_size=batch_size, lr=lr, seed=seed,
                                model_dir=os.path.join(run_dir, "run"),
                                export_dir=os.path.join(run_dir, "export") if output_dir else "",
                                tensorboard=False, verbose=verbose)
    final = result.history[-1]
    record = {"variant": variant, "model": MODELS[variant], "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "seed": seed,
              "train_examples": len(arrays("train")[1]),
              "test_examples": len(arrays("test")[1]),
              "train_accuracy": final["top1"], "test_accuracy": final["val_top1"],
              "wall_seconds": result.summary["wall_seconds"],
              "history": {key: result.series(key) for key in ("loss", "top1", "val_top1")}}
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "lenet_digits.json"), "w") as f:
            json.dump(record, f, indent=1)
    return record
