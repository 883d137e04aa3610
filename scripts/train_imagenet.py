"""Trains a model of the keras_deepnets registry with the ImageNet recipe of its paper (ResNet
section 3.4, VGG section 3.1).

    python scripts/train_imagenet.py --model=resnet50 --data=/path/to/imagenet \
        --model_dir=runs/resnet50

Without --data it trains on synthetic data of the right shape, to show the loop working.
All flags: --helpfull; the same settings from Python: keras_deepnets.training.train(...).
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

from absl import app

from keras_deepnets.training import cli

cli.define_flags(model="resnet50", family="imagenet")

if __name__ == "__main__":
    app.run(cli.main)
