"""LeNet-5 on scikit-learn's real handwritten digits (no download), tested on a held-out quarter.

    python scripts/train_lenet.py                      # the paper's variant, about a minute
    python scripts/train_lenet.py --variant=modern --output_dir=runs/lenet

It calls `keras_deepnets.training.train(model="lenet5", data="digits", ...)`; every flag of the
training core is on `scripts/train_cifar.py --model=lenet5 --data=digits`.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys

from absl import app, flags, logging

from keras_deepnets.experiments import lenet

flags.DEFINE_enum("variant", "paper", ["paper", "modern"], "LeNet-5 variant.")
flags.DEFINE_integer("epochs", 10, "Epochs.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_float("lr", 0.01, "SGD learning rate (momentum 0.9).")
flags.DEFINE_integer("seed", 0, "Seed of the initialisation and the order (the hold-out quarter is "
                     "fixed: data.digits).")
flags.DEFINE_string("output_dir", None, "Also write lenet_digits.json here.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    if not FLAGS["verbosity"].present:  # TF's checkpoint INFO lines would bury the epochs
        logging.set_verbosity(logging.WARNING)
    try:
        record = lenet.train_digits(FLAGS.variant, FLAGS.epochs, FLAGS.batch_size, FLAGS.lr,
                                    FLAGS.seed, FLAGS.output_dir, verbose=2)
    except ValueError as error:
        sys.exit(f"error: {error}")
    print(f"LeNet-5 ({record['variant']}): test accuracy {100 * record['test_accuracy']:.2f}% "
          f"on {record['test_examples']} held-out digits, training "
          f"{100 * record['train_accuracy']:.2f}%, {record['wall_seconds']:.0f} s.")


if __name__ == "__main__":
    app.run(main)
