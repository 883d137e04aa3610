"""Helpers of the tuning tests: tiny trial settings and scripts/tune_depth.py in fresh processes
(a tuner worker or chief needs its own process: KerasTuner reads its role from the environment)."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO),
       "CUDA_VISIBLE_DEVICES": ""}
for _name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
    ENV.pop(_name, None)

# Every trial of these tests: a few steps on a few images, so a search of 2-3 trials is cheap.
TINY = {"batch_size": 16, "epochs": 1, "max_examples": 32, "max_val_examples": 32,
        "tensorboard": False, "verbose": 0, "backup_steps": 0}
TINY_FLAGS = ["--batch_size=16", "--epochs=1", "--tensorboard=false", "--verbose=0",
              "--use_synthetic_data", "--synthetic_examples=32", "--max_val_examples=32"]


def tune_depth(*flags, env=None, wait=True, timeout=600):
    """Runs scripts/tune_depth.py (a CompletedProcess, or a Popen with `wait=False`)."""
    cmd = [sys.executable, str(REPO / "scripts" / "tune_depth.py"), *flags]
    if not wait:
        return subprocess.Popen(cmd, env={**ENV, **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, env={**ENV, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def runs_log(project_dir):
    """(event, trial id, tuner id) per line of the project's trial_runs.log."""
    path = pathlib.Path(project_dir) / "trial_runs.log"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        words = line.split()
        out.append((words[2], words[4], words[6]))  # date time EVENT trial ID by TUNER ...
    return out
