"""Reproduces the papers' comparisons on CIFAR-10 through the training core, with plots, a
Markdown table beside the paper's numbers, and a JSON record of every run.

    python scripts/reproduce.py degradation --data=/path/to/cifar10 --budget=182 \
        --output_dir=runs/degradation

Experiments: degradation (ResNet paper Fig. 1, Fig. 6 left), residual (Fig. 6 middle), shortcuts
(the CIFAR analogue of Table 3), depth (Table 6), vgg (VGG paper configs A-E, CIFAR-sized, BN).
--budget is epochs (the paper's 64k iterations are ~182 epochs on 45k images); the lr drops stay
at 50% and 75% of it. Running the same command again resumes and re-draws the outputs.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys

from absl import app, flags

from keras_deepnets.experiments.definitions import list_experiments

flags.DEFINE_string("data", None, "CIFAR-10: a folder with train/ and test/ class folders, or the "
                    "TFDS name cifar10.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir.")
flags.DEFINE_integer("budget", None, "Epochs per run (the paper: ~182).")
flags.DEFINE_string("output_dir", None, "Outputs and runs; default runs/reproduce/<experiment>.")
flags.DEFINE_integer("repeats", 1, "Runs per model (mean and std in the table).")
flags.DEFINE_list("series", None, "Only these series, e.g. plain-20,plain-56 (default all).")
flags.DEFINE_integer("max_examples", None, "Train on a fixed subset of N images (a smaller "
                     "machine).")
flags.DEFINE_integer("max_val_examples", None, "Test on the first N test images.")
flags.DEFINE_integer("batch_size", None, "Default the paper's 128.")
flags.DEFINE_integer("seed", 0, "Seed of the first repeat (repeat i: seed + i).")
flags.DEFINE_float("warmup_epochs", None, "A warm-up for every run (a departure from the recipe, "
                   "said in the table), e.g. 1 with --warmup_lr=0.01 for short deep runs.")
flags.DEFINE_float("warmup_lr", None, "Constant warm-up lr (the paper's ResNet-110: 0.01).")
flags.DEFINE_enum("recipe", None, ["paper", "fast"], "Training recipe of every run: the "
                  "paper's (default) or the fast one (keras_deepnets.training.recipes.FAST_CIFAR; "
                  "said in the table).")
flags.DEFINE_enum("mixed_precision", None, ["float32", "bfloat16", "float16", "auto"],
                  "Training precision (default float32, as the paper).")
flags.DEFINE_integer("verbose", 2, "Training output: 0 silent, 1 progress bar, 2 a line per epoch.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) != 2:
        sys.exit(f"error: give one experiment: {', '.join(list_experiments())} "
                 "(e.g. reproduce.py degradation --data=... --budget=...).")
    if FLAGS.budget is None:
        sys.exit("error: --budget (epochs per run) is required, e.g. --budget=182 for the paper's "
                 "schedule, or a few epochs on a CPU.")
    from keras_deepnets.experiments import cli, run_experiment  # after flag parsing: fast --help

    name = argv[1]
    cli.run_and_print(
        run_experiment, name, FLAGS.data, FLAGS.budget,
        FLAGS.output_dir or f"runs/reproduce/{name}", repeats=FLAGS.repeats, series=FLAGS.series,
        max_examples=FLAGS.max_examples, max_val_examples=FLAGS.max_val_examples,
        batch_size=FLAGS.batch_size, seed=FLAGS.seed, data_dir=FLAGS.data_dir,
        verbose=FLAGS.verbose,
        **{k: FLAGS[k].value for k in ("warmup_epochs", "warmup_lr", "mixed_precision", "recipe")
           if FLAGS[k].value is not None})

if __name__ == "__main__":
    app.run(main)
