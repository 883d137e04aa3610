"""Grouped 3x3 convolutions on this machine: Keras's Conv2D(groups), the same under XLA,
TensorFlow's native kernel (GroupedConv2D), split-and-concatenate, a block-diagonal dense kernel
and a dense convolution, timed forward + backward; and a TFLite int8 conversion of a grouped
network. Writes grouped_conv.json and .md.

    python scripts/probe_grouped_conv.py --output_dir=docs/results/one_cpu
"""

import _quiet_tf  # noqa: F401  (before TensorFlow: quiets its start-up logs)
from absl import app, flags

from keras_deepnets.experiments import grouped_conv

flags.DEFINE_string("output_dir", "runs/grouped_conv", "Where the JSON and Markdown go.")
flags.DEFINE_list("shape", ["8", "14", "14", "128"], "Input batch, height, width, channels.")
flags.DEFINE_integer("groups", 32, "Groups (ResNeXt's cardinality).")
flags.DEFINE_integer("repeats", 10, "Timed repeats per candidate (the median is shown).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    grouped_conv.run(FLAGS.output_dir, tuple(int(v) for v in FLAGS.shape), FLAGS.groups,
                     FLAGS.repeats)
    with open(f"{FLAGS.output_dir}/grouped_conv.md") as f:
        print(f.read())


if __name__ == "__main__":
    app.run(main)
