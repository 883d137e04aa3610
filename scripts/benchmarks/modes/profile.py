"""Where a training step's time goes: kernel time by kind, from a TF profiler trace.

Traces N steps of a registry model on synthetic data through the training core (TF profiler)
and prints the kernel time by kind (convolutions forward and backward, batch norm, ReLU, the
zero-pad shortcut, casts, the optimizer update...).

    python scripts/benchmarks/benchmark.py profile --model=resnet20 --mixed_precision=bfloat16
    python scripts/benchmarks/benchmark.py profile --model=resnet56 --steps=10 \\
        --json=runs/profile.json

The same from Python: keras_deepnets.diagnostics.op_profile.profile_step(...); for a trace of a
real run, op_profile.breakdown("<model_dir>/tensorboard", steps) after --profile=N.
"""

import json
import sys

from absl import flags, logging

from keras_deepnets.diagnostics import op_profile

flags.DEFINE_string("model", "resnet20", "A registry name.")
flags.DEFINE_enum("mixed_precision", "float32", ["float32", "bfloat16", "float16"],
                  "Training precision.")
flags.DEFINE_integer("batch_size", None, "Default the recipe's (128 for CIFAR models).")
flags.DEFINE_enum("recipe", "paper", ["paper", "fast"], "Whose step to trace.")
flags.DEFINE_integer("steps", 20, "Traced steps (after the untraced first ones).")
flags.DEFINE_string("model_dir", None, "Keep the trace here (default: a temporary folder).")
flags.DEFINE_string("json", None, "Also write the rows and the wall time here.")
FLAGS = flags.FLAGS


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    try:
        rows, wall = op_profile.profile_step(FLAGS.model, FLAGS.mixed_precision,
                                             FLAGS.batch_size, FLAGS.steps, FLAGS.recipe,
                                             FLAGS.model_dir)
    except ValueError as error:  # ConfigError is a ValueError
        sys.exit(f"error: {error}")
    print(f"{FLAGS.model}, {FLAGS.mixed_precision}, {FLAGS.steps} traced steps:\n")
    print(op_profile.markdown(rows, wall))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"model": FLAGS.model, "precision": FLAGS.mixed_precision,
                       "steps": FLAGS.steps, "wall_ms": wall, "rows": rows}, f, indent=1)
