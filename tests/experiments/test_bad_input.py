"""Clear errors before any training: unknown experiment or series, bad budget, missing data."""

import os
import pathlib
import subprocess
import sys

import pytest

from keras_deepnets import experiments

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": 0}, "budget must be a positive whole number; got 0"),
    ({"budget": 1.5}, "budget must be a positive whole number; got 1.5"),
    ({"budget": True}, "budget must be a positive whole number; got True"),
    ({"repeats": 0}, "repeats must be a positive whole number"),
    ({"max_examples": -5}, "max_examples must be a positive whole number"),
    ({"series": ["plain-57"]}, "Unknown series plain-57 for experiment 'degradation'; its "
                               "series: plain-20, plain-56"),
    ({"data": None}, "data is required: a folder with train/ and test/"),
    ({"data": "/no/such/cifar"}, "Cannot read --data='/no/such/cifar'"),
])
def test_bad_arguments(kwargs, message, tiny_cifar, tmp_path):
    args = {"name": "degradation", "data": str(tiny_cifar), "budget": 1,
            "output_dir": str(tmp_path / "out"), **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        experiments.run_experiment(**args)
    assert not (tmp_path / "out").exists()  # refused before any folder, record or training


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown experiment 'resnet'. Valid experiments: "
                                         "degradation, residual, shortcuts, depth, vgg"):
        experiments.run_experiment("resnet", "cifar10", 1, "/tmp/unused")


def test_data_without_a_test_split(tiny_cifar, tmp_path):
    (tmp_path / "data").mkdir()
    os.symlink(tiny_cifar / "train", tmp_path / "data" / "train")
    with pytest.raises(ValueError, match="has no test split"):
        experiments.run_experiment("residual", str(tmp_path / "data"), 1, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def _script(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(REPO / "scripts" / "reproduce.py"), *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("args, message", [
    (["resnet", "--budget=1", "--data=cifar10"],
     "error: Unknown experiment 'resnet'. Valid experiments: degradation, residual, shortcuts, "
     "depth, vgg."),
    (["depth", "--data=cifar10"], "error: --budget (epochs per run) is required"),
])
def test_script_errors_are_one_line(args, message):
    proc = _script(*args)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr[-500:]
