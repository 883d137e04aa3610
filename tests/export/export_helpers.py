"""Runs the export folder's scripts in fresh processes, as a user types them."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_script(script, *args, timeout=300):
    """scripts/<script> with `args`, TensorFlow's start-up logs off; the CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
