# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A depth search over the CIFAR ResNets
#
# KerasTuner over the paper's CIFAR-10 design space (`tuning.CifarResNetHyperModel`: depth 6n+2,
# basic or bottleneck blocks, shortcut option, width, learning rate, weight decay), each trial
# trained by the package's training core. The table and plot are the tuner's results, written to
# the project folder as `results.csv`, `results.md` and `results.png`.
#
# Open it in Colab: *File > Upload notebook* (or the README's Colab link), then set
# `PACKAGE_SOURCE` in the parameters cell; locally: `jupyter lab docs/notebooks` from the
# repository (`pip install -e . jupyterlab`). The default budget, 8 trials of 3 epochs on 10,000
# images, is a short search: it ranks the nets early in training, not at convergence.

# %% tags=["parameters"]
# Parameters (the tests set a tiny budget here; change them for your machine).
DATA = "cifar10"            # a TFDS name, or a folder with train/ and test/ class folders
TUNER = "random"            # random | hyperband | bayesian
MAX_TRIALS = 8
EPOCHS = 3                  # per trial
MAX_EXAMPLES = 10_000       # training images per epoch
MAX_VAL_EXAMPLES = 2_000    # images that score each trial
BATCH_SIZE = 128
TRAIN_STEPS = None          # stop every trial after this many iterations (smoke runs)
DEPTHS = (20, 32, 44, 56)
BLOCKS = ("basic", "bottleneck")
SHORTCUTS = ("A", "B")
WIDTHS = (0.5, 1.0)
MIXED_PRECISION = "auto"
OUTPUT_DIR = "runs/notebook_tuning"
PACKAGE_SOURCE = "git+https://github.com/<owner>/keras_deepnets.git"

# %%
# Setup: where keras_deepnets is not installed (a fresh Colab runtime) pip installs it first.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("keras_deepnets") is None:
    if "<owner>" in PACKAGE_SOURCE:
        raise RuntimeError("keras_deepnets is not installed here: set PACKAGE_SOURCE in the "
                           "parameters cell to the repository's git URL or an uploaded copy.")
    print(f"Installing keras_deepnets from {PACKAGE_SOURCE} (about a minute) ...")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", PACKAGE_SOURCE])

# %matplotlib inline
# First: imported before anything else imports TensorFlow, keras_deepnets starts it without
# its C++ start-up lines (in Jupyter; TF_CPP_MIN_LOG_LEVEL=0 shows them).
import keras_deepnets as kd

import keras
import tensorflow as tf
from IPython.display import Image, Markdown, display

print(f"keras_deepnets {kd.__version__}, Keras {keras.__version__}, "
      f"TensorFlow {tf.__version__}; "
      f"GPUs: {len(tf.config.list_physical_devices('GPU'))}")

# %%
import time

from keras_deepnets import training, tuning

hypermodel = tuning.CifarResNetHyperModel(depths=DEPTHS, blocks=BLOCKS, shortcuts=SHORTCUTS,
                                          widths=WIDTHS)
config = training.TrainConfig(data=DATA, recipe="fast", max_examples=MAX_EXAMPLES,
                              max_val_examples=MAX_VAL_EXAMPLES, batch_size=BATCH_SIZE,
                              train_steps=TRAIN_STEPS, mixed_precision=MIXED_PRECISION,
                              tensorboard=False, export_dir="")
tuner = tuning.make_tuner(TUNER, hypermodel, train_config=config, max_trials=MAX_TRIALS,
                          epochs=EPOCHS, directory=OUTPUT_DIR, seed=0)
tuner.search_space_summary()
per_trial = min(EPOCHS * MAX_EXAMPLES, (TRAIN_STEPS or 10**9) * BATCH_SIZE)
# Measured on a 2-core CPU: the default budget (8 trials x 30,000 images) took 23.5 min, 0.6 to
# 5.5 min a trial (building and scoring included), i.e. ~5.9 ms per training image.
print(f"Searching: {MAX_TRIALS} trials of up to {per_trial:,} training images each: about "
      f"{MAX_TRIALS * per_trial * 0.0059 / 60:.0f} min on a 2-core CPU (a GPU: far less). A "
      "finished project resumes instead of training again; in Jupyter KerasTuner redraws the "
      "next cell's output at every trial.")

# %%
start = time.time()
search = tuning.run_search(tuner)
print(f"Search: {(time.time() - start) / 60:.1f} min; results in {tuner.project_dir}")

# %% [markdown]
# ## Results: every trial, then the best one's hyperparameters

# %%
display(Markdown(open(search["md"]).read()))
display(Image(search["png"]))
best = tuner.get_best_hyperparameters(1)[0]
print("Best trial's hyperparameters:", best.values)
