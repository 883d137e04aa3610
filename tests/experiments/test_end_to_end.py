"""The real training core on the shared CIFAR-10 JPEGs, at a tiny budget: 64 training images,
batch 32, one epoch (2 iterations), 32 test images."""

import os
import pathlib
import subprocess
import sys

import pytest

from experiment_helpers import check_outputs
from keras_deepnets import experiments

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = {"max_examples": 64, "max_val_examples": 32, "batch_size": 32}


@pytest.mark.slow
def test_reproduce_script_degradation(cifar10_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, str(REPO / "scripts" / "reproduce.py"), "degradation",
           f"--data={cifar10_dir}", "--budget=1", f"--output_dir={tmp_path}", "--verbose=0",
           *(f"--{k}={v}" for k, v in TINY.items())]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    record, table = check_outputs(tmp_path, "degradation", budget=1, repeats=1,
                                  steps_per_epoch=2)
    assert "| plain-20 |" in proc.stdout and "Plot " in proc.stdout
    for run in record["runs"]:
        assert run["config"]["epochs"] == 1 and run["config"]["data"] == str(cifar10_dir)
        assert run["config"]["max_examples"] == 64 and run["config"]["export_dir"] == ""
        assert (pathlib.Path(run["model_dir"]) / "history.csv").is_file()


@pytest.mark.slow
def test_cifar_vgg_trains_through_the_core(cifar10_dir, tmp_path):
    record = experiments.run_experiment("vgg", str(cifar10_dir), budget=1,
                                        output_dir=str(tmp_path), series=["VGG-A (11)"], **TINY)
    check_outputs(tmp_path, "vgg", budget=1, repeats=1, steps_per_epoch=2, labels=["VGG-A (11)"])
    config = record["runs"][0]["config"]
    # The CIFAR family: the ResNet paper's CIFAR recipe and input presets, at 32x32.
    assert config["model"] == "vgg11_bn_cifar" and config["weight_decay"] == 1e-4
    assert config["momentum"] == 0.9 and config["total_steps"] == 2
