"""Every script in scripts/ and scripts/benchmarks/ is run by a test: a real run where a test of
its subject has one (COVERED), else `--help` here, in a fresh process as a user types it, which
imports everything the script imports and parses its flags (HELP). An absl script's --help
imports TensorFlow, so each takes a few seconds."""

import ast
import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"

# script -> the test file that runs it for real (with tiny settings, or up to a flag error).
COVERED = {
    "train_cifar.py": "tests/training/test_scripts.py",
    "train_imagenet.py": "tests/training/test_fine_tuning.py",
    "tune_depth.py": "tests/tuning/tuning_helpers.py",
    "reproduce.py": "tests/experiments/conftest.py",
    "export.py": "tests/export/test_script.py",
    "download_weights.py": "tests/weights/test_store.py",
    "convert_weights.py": "tests/weights/test_torch_convert.py",
    "push_weights.py": "tests/weights/test_presets.py",
    "make_tfrecords.py": "tests/data/test_sources.py",
    "benchmarks/benchmark_train.py": "tests/training/test_scripts.py",
    "benchmarks/speed_vs_torch.py": "tests/training/test_scripts.py",
    "benchmarks/recipe_step_cost.py": "tests/training/test_scripts.py",
    "benchmarks/deploy_speed.py": "tests/export/test_deploy_speed.py",
}

HELP = [
    "check_torchvision_fixtures.py",
    "model_table.py",
    "run_notebook.py",
    "time_to_accuracy.py",
    "train_lenet.py",
    "benchmarks/benchmark_backends.py",
    "benchmarks/benchmark_input.py",
    "benchmarks/benchmark_weights.py",
    "benchmarks/deploy_speed_torch.py",
    "benchmarks/epoch_overhead.py",
    "benchmarks/profile_step.py",
]


def _scripts():
    return sorted(p.relative_to(SCRIPTS).as_posix()
                  for folder in (SCRIPTS, SCRIPTS / "benchmarks") for p in folder.glob("*.py"))


def test_every_script_is_run_by_a_test():
    scripts = _scripts()
    missing = [s for s in scripts if s not in COVERED and s not in HELP]
    assert not missing, f"Give these a test (a tiny real run, or an entry in HELP): {missing}"
    stale = sorted(s for s in HELP if s not in scripts)
    assert not stale, f"Remove these from HELP in {__file__}, they are gone: {stale}"
    for script, test in COVERED.items():
        if script in scripts:  # the test runs it: it names it
            assert pathlib.Path(script).stem in (REPO / test).read_text(), (script, test)


def _expected(path):
    """What --help prints first: absl prints the script's docstring, argparse its usage."""
    source = path.read_text()
    if "from absl import app" in source:
        return ast.get_docstring(ast.parse(source)).splitlines()[0]
    return "usage:"


@pytest.mark.parametrize("script", HELP)
def test_help(script):
    path = SCRIPTS / script
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    # absl's --help exits 1 after printing (its HelpFlag), argparse's 0.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert _expected(path) in done.stdout, done.stdout[-3000:]
    assert "--" in done.stdout  # the flags are listed


def test_the_torch_side_of_deploy_speed_names_what_it_needs(tmp_path):
    """deploy_speed_torch.py runs in PyTorch's own venv; run in a Python without PyTorch (this
    project's), it says so, not a traceback."""
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("this Python has torch: the script would run, not refuse")
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 8, 8, 3), "float32"))
    done = subprocess.run([sys.executable, str(SCRIPTS / "benchmarks/deploy_speed_torch.py"),
                           "--runtime=torch_eager", f"--images={images}"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "needs torch and torchvision" in done.stderr and "--torch_python" in done.stderr
