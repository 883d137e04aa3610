"""Prints the README's model table from the registry itself: parameters, multiply-adds, the best
published ImageNet top-1 (the pretrained-sources table) and, with --speed, inference img/s
measured on this machine; --plot draws top-1 against multiply-adds (Canziani et al. 2016).

    python scripts/model_table.py                       # every registered model
    python scripts/model_table.py --models=resnet18,resnet50
    python scripts/model_table.py --speed --plot=docs/results/one_cpu/lineage.png \
        --json=docs/results/one_cpu/lineage.json
    python scripts/model_table.py --weights             # the pretrained weights table
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import json

from absl import app, flags

import keras_deepnets as kd
from keras_deepnets.experiments import lineage
from keras_deepnets.weights import table

FLAGS = flags.FLAGS
flags.DEFINE_list("models", None, "Registry names (default: all, in the lineage's order).")
flags.DEFINE_bool("speed", False, "Also measure inference img/s (batch --batch_size, median of "
                  "--steps batches, training=False) on this machine.")
flags.DEFINE_integer("batch_size", 8, "Batch for --speed.")
flags.DEFINE_integer("steps", 5, "Timed batches for --speed.")
flags.DEFINE_string("plot", None, "Write the top-1 against multiply-adds picture here (.png).")
flags.DEFINE_string("json", None, "Write the rows here (.json).")
flags.DEFINE_bool("weights", False, "Print the pretrained weights of --models (default all): "
                  "tag, publisher, file, hash, size, top-1/top-5, evaluation, licence.")


def main(argv):
    del argv
    if FLAGS.weights:
        print(table.markdown([r for m in (FLAGS.models or [None]) for r in kd.list_weights(m)]))
        return
    rows = lineage.table(FLAGS.models, speed=FLAGS.speed, batch_size=FLAGS.batch_size,
                         steps=FLAGS.steps)
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump(rows, f, indent=1)
    if FLAGS.plot:
        print(f"Plot: {lineage.plot(rows, FLAGS.plot)}")


if __name__ == "__main__":
    app.run(main)
