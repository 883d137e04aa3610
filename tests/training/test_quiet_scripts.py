"""The scripts start without TensorFlow's C++ start-up logs (each sets KERAS_DEEPNETS_QUIET_TF=1
and imports keras_deepnets first), and TF_CPP_MIN_LOG_LEVEL=0 brings them back."""

import re
import subprocess
import sys

import pytest
from training_helpers import ENV, REPO

from keras_deepnets import startup  # the filter the scripts start TensorFlow with

# absl's C++ log prefix ("I0000 00:00:1796192029.687202    4964 port.cc:153] ").
CPP_LOG = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] ", re.M)
FIRST_LINE = "Training resnet20 on SYNTHETIC data"


def train_output(tmp_path, level):
    """train_cifar.py's stdout and stderr, interleaved as a terminal shows them."""
    env = {k: v for k, v in ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_cifar.py"), "--train_steps=1",
         "--batch_size=8", "--synthetic_examples=8", f"--model_dir={tmp_path}/{level}",
         "--export_dir=", "--verbose=2", "--notensorboard"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert FIRST_LINE in proc.stdout and "Epoch 1/1 - loss" in proc.stdout
    return proc.stdout


def test_no_tensorflow_start_up_logs_unless_asked(tmp_path):
    quiet = train_output(tmp_path, None)
    before = quiet[:quiet.index(FIRST_LINE)]
    assert not CPP_LOG.search(before), before
    for noise in ("oneDNN", "cuInit", "This TensorFlow binary", "absl::InitializeLog"):
        assert noise not in quiet, quiet
    # Level 0: TensorFlow's own lines are back (on x86 CPUs: oneDNN's notice, among others).
    loud = train_output(tmp_path, "0")
    assert CPP_LOG.search(loud[:loud.index(FIRST_LINE)]), loud


TEXT = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796192029.687202    4964 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796192029.687618    4964 cudart_stub.cc:31] Could not find cuda drivers on your machine
I0000 00:00:1796192029.754889    4964 cpu_feature_guard.cc:227] This TensorFlow binary is optimized
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.
W0000 00:00:1796192030.000001    4964 some_op.cc:12] a warning
E0000 00:00:1796192034.786923    4964 cuda_platform.cc:52] failed call to cuInit: INTERNAL
E0000 00:00:1796192034.786924    4964 other.cc:7] a real error
  with a second line
"""


@pytest.mark.parametrize("level, kept", [
    (1, ["some_op.cc", "other.cc", "with a second line"]),
    (2, ["other.cc", "with a second line"]),
    (3, []),
])
def test_lines_are_kept_by_severity_and_cuinit_goes_with_no_driver(level, kept):
    out = startup.filter_lines(TEXT, level)
    assert [line for line in TEXT.splitlines() if line in out.splitlines()] == [
        line for line in TEXT.splitlines() if any(k in line for k in kept)]


def test_a_failing_cuinit_is_kept_where_a_driver_was_found():
    text = TEXT.replace("Could not find cuda drivers on your machine", "loaded libcuda")
    assert "failed call to cuInit" in startup.filter_lines(text, 2)


def test_python_log_handlers_made_during_the_quiet_import_still_write(tmp_path):
    """TensorFlow's and absl's Python log handlers are made while stderr is a stand-in; their
    later lines must reach the real stderr, not fail on its closed descriptor."""
    code = ("import os; os.environ['KERAS_DEEPNETS_QUIET_TF'] = '1'; import keras_deepnets; "
            "import tensorflow as tf; from absl import logging; "
            "tf.get_logger().warning('tf line after start-up'); logging.warning('absl line'); "
            "tf.get_logger().info('tf chatter')")
    env = {k: v for k, v in ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert "tf line after start-up" in proc.stdout and "absl line" in proc.stdout, proc.stdout
    assert "Logging error" not in proc.stdout and "Bad file descriptor" not in proc.stdout
    assert "tf chatter" not in proc.stdout  # TensorFlow's Python INFO lines stay quiet
