"""Trains a model of the keras_deepnets registry with the ResNet paper's CIFAR-10 recipe
(section 4.2).

    python scripts/train_cifar.py --model=resnet20 --data=/path/to/cifar10 --model_dir=runs/resnet20

Without --data it trains on synthetic data of the right shape, to show the loop working.
All flags: --helpfull; the same settings from Python: keras_deepnets.training.train(...).
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

from absl import app

from keras_deepnets.training import cli

cli.define_flags(model="resnet20", family="cifar")

if __name__ == "__main__":
    app.run(cli.main)
