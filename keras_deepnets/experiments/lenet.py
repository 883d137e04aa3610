"""LeNet-5 on real handwritten digits with no download (scikit-learn's 1,797 scans at the
paper's 32x32, `data.digits.digits_32`): trained in about a minute on 2 cores.

Recipe: plain SGD with momentum 0.9, lr 0.01, batch 32, 10 epochs, softmax cross-entropy. The
paper trained with stochastic diagonal Levenberg-Marquardt and an RBF output with a
Euclidean loss (section II.B, appendix C) on 60,000 MNIST digits; on this small set the
modern recipe is what is used, and the README says so.

Command line: scripts/train_lenet.py.
"""

import json
import os
import time

import keras

from keras_deepnets.data.digits import digits_32
from keras_deepnets.models.lenet import LeNet5


def train_digits(variant="paper", epochs=10, batch_size=32, lr=0.01, seed=0, output_dir=None,
                 verbose=0):
    """Trains LeNet-5 (`variant` "paper" or "modern") on three quarters of the digits and tests
    on the held-out quarter; returns {variant, test_accuracy, train_accuracy, epochs,
    wall_seconds, history}; with `output_dir`, also writes lenet_digits.json there."""
    for what, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive whole number; got {value!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr!r}.")
    start = time.time()
    (x, y), (x_test, y_test) = digits_32(seed=seed)
    keras.utils.set_random_seed(seed)
    model = LeNet5(variant=variant)
    model.compile(keras.optimizers.SGD(lr, momentum=0.9), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                        validation_data=(x_test, y_test))
    record = {"variant": variant, "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "seed": seed, "train_examples": len(x), "test_examples": len(x_test),
              "train_accuracy": float(history.history["accuracy"][-1]),
              "test_accuracy": float(model.evaluate(x_test, y_test, verbose=0)[1]),
              "wall_seconds": time.time() - start,
              "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "lenet_digits.json"), "w") as f:
            json.dump(record, f, indent=1)
    return record
