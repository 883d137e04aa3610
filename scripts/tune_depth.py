"""Depth searches over the ResNet papers' design space with KerasTuner.

Single process (each trial trains under MirroredStrategy over this machine's GPUs):
    python scripts/tune_depth.py --family=cifar --tuner=random --max_trials=10 --epochs=5 \
        --data=/path/to/cifar10 --directory=tuning --project_name=cifar_depth

Distributed: the same command in a chief (serves the oracle) and in each worker (runs trials),
with KERASTUNER_TUNER_ID=chief|tuner0|tuner1..., KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT.
Re-running the command resumes an interrupted search. All flags: --helpfull.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

from absl import app

from keras_deepnets.tuning import cli

cli.define_flags()

if __name__ == "__main__":
    app.run(cli.main)
