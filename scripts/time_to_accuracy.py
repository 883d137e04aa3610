"""How long this machine takes to train a CIFAR model to a test top-1, recipe beside recipe.

    python scripts/time_to_accuracy.py --data=/path/to/cifar10 --recipes=fast,paper --epochs=15 \
        --output_dir=runs/time_to_accuracy

Each recipe trains `--model` for the same `--epochs` (default: each recipe's own length), with a
test evaluation after every epoch, and stops early once the test top-1 reaches `--target_top1`
(default: the paper's figure for the model, ResNet-20 91.25%). Writes time_to_accuracy.json,
.md and .png (test and training error against wall-clock minutes). The same settings from
Python: keras_deepnets.experiments.time_to_accuracy.run(...). Running it again resumes.

Where the paper's recipe itself falls short of the paper on this data (the shared CIFAR-10 is a
JPEG copy), give what it reached: --paper_recipe_top1=0.8725 --paper_recipe_epochs=80. The goal
becomes that minus 0.3 points, and the table says which epoch of each run first reached it;
--redraw records it in an existing output_dir without training again.
"""

import time

START = time.time()  # the command's wall time counts from here, TensorFlow's import included

import os  # noqa: E402

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: E402,F401  (first: starts TensorFlow without its C++ logs)

import shlex  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402

from keras_deepnets.experiments import cli, time_to_accuracy  # noqa: E402

flags.DEFINE_string("data", None, "CIFAR-10: a folder with train/ and test/ class folders, or the "
                    "TFDS name cifar10.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir.")
flags.DEFINE_string("model", "resnet20", "A CIFAR model of the registry.")
flags.DEFINE_list("recipes", ["fast", "paper"], "Recipes to train, in this order.")
flags.DEFINE_integer("epochs", None, "Epochs per run, the same for every recipe (the paper's "
                     "schedule is compressed into them); default each recipe's own.")
flags.DEFINE_string("target_top1", "paper", "Stop a run at this test top-1 (a fraction, e.g. "
                    "0.9), 'paper' (the paper's figure for the model) or 'none'.")
flags.DEFINE_string("output_dir", "runs/time_to_accuracy", "Outputs and runs.")
flags.DEFINE_enum("mixed_precision", None, ["float32", "bfloat16", "float16", "auto"],
                  "Training precision (default float32; bfloat16 is fast only on CPUs with "
                  "AVX512_BF16/AMX and on GPUs).")
flags.DEFINE_integer("max_examples", None, "Train on a fixed subset of N images.")
flags.DEFINE_integer("max_val_examples", None, "Test on the first N test images.")
flags.DEFINE_float("resnet20_bf16_step_ips", None, "This machine's ResNet-20 bfloat16 step "
                   "(img/s) from scripts/benchmarks/benchmark.py train --models=resnet20, kept in "
                   "the record with the 60-minute budget scaled to it.")
flags.DEFINE_float("paper_recipe_top1", None, "The test top-1 the paper's recipe reached on "
                   "this data (e.g. 0.8725): the goal becomes the lower of the paper's figure "
                   "and this minus 0.3 points; needs --paper_recipe_epochs.")
flags.DEFINE_integer("paper_recipe_epochs", None, "Epochs of that run of the paper's recipe "
                     "(its full 64k iterations: 164).")
flags.DEFINE_bool("redraw", False, "Train nothing: rewrite --output_dir's table and plot from "
                  "its time_to_accuracy.json (with --paper_recipe_top1: after recording it).")
flags.DEFINE_bool("eval_flip", False, "Test on each image and its horizontal mirror (softmax "
                  "outputs averaged; one more forward pass per test image).")
flags.DEFINE_integer("seed", 0, "Seed of every run.")
flags.DEFINE_integer("verbose", 2, "Training output: 0 silent, 1 progress bar, 2 a line per epoch.")
FLAGS = flags.FLAGS


def _target(text):
    if text.lower() in ("paper", "none"):
        return None if text.lower() == "none" else "paper"
    try:
        return float(text)
    except ValueError:
        sys.exit(f"error: --target_top1 takes a fraction (e.g. 0.9), 'paper' or 'none'; got "
                 f"{text!r}.")


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    if FLAGS.redraw:
        cli.run_and_print(time_to_accuracy.redraw, FLAGS.output_dir, FLAGS.paper_recipe_top1,
                          FLAGS.paper_recipe_epochs)
        return
    if not FLAGS.data:
        sys.exit("error: --data is required (CIFAR-10 as train/ and test/ folders, or cifar10).")
    overrides = {"mixed_precision": FLAGS.mixed_precision} if FLAGS.mixed_precision else {}
    if FLAGS.eval_flip:
        overrides["eval_flip"] = True
    cli.run_and_print(
        time_to_accuracy.run, FLAGS.data, FLAGS.output_dir, model=FLAGS.model,
        recipes=FLAGS.recipes, epochs=FLAGS.epochs, target_top1=_target(FLAGS.target_top1),
        started=START, command=shlex.join(["python", *sys.argv]), data_dir=FLAGS.data_dir,
        max_examples=FLAGS.max_examples, max_val_examples=FLAGS.max_val_examples,
        seed=FLAGS.seed, verbose=FLAGS.verbose, step_ips=FLAGS.resnet20_bf16_step_ips,
        paper_recipe_top1=FLAGS.paper_recipe_top1, paper_recipe_epochs=FLAGS.paper_recipe_epochs,
        **overrides)

if __name__ == "__main__":
    app.run(main)
