"""Every script in scripts/ and scripts/benchmarks/, and every mode of scripts/benchmarks/
benchmark.py, is run by a test: a real run where a test of its subject has one (COVERED), else
`--help` here, in a fresh process as a user types it, which imports everything the script (or the
mode's module) imports and parses its flags (HELP). An absl script's --help imports TensorFlow,
so each takes a few seconds."""

import ast
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
ENTRY = "benchmarks/benchmark.py"  # one entry, a mode per measurement: `benchmark.py MODE`
MODES = SCRIPTS / "benchmarks" / "modes"

# command (a script, or the entry and a mode) -> the test file that runs it for real (with tiny
# settings, or up to a flag error).
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
    ENTRY: "tests/test_scripts_help.py",  # its list of modes and its errors, below
    f"{ENTRY} train": "tests/training/test_scripts.py",
    f"{ENTRY} vs_torch": "tests/training/test_scripts.py",
    f"{ENTRY} recipe_cost": "tests/training/test_scripts.py",
    f"{ENTRY} deploy": "tests/export/test_deploy_speed.py",
}

HELP = [
    "check_torchvision_fixtures.py",
    "model_table.py",
    "run_notebook.py",
    "time_to_accuracy.py",
    "train_lenet.py",
    "benchmarks/deploy_speed_torch.py",
    f"{ENTRY} backends",
    f"{ENTRY} epoch_overhead",
    f"{ENTRY} input",
    f"{ENTRY} profile",
    f"{ENTRY} weights",
]


def _purpose(path):
    """The first line of a module's docstring, read as text: what absl's --help prints first."""
    return ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]


def _modes():
    """{mode: its one-line purpose}: a module of benchmarks/modes/ each."""
    return {p.stem: _purpose(p) for p in sorted(MODES.glob("*.py")) if p.stem != "__init__"}


def _commands():
    scripts = [p.relative_to(SCRIPTS).as_posix()
               for folder in (SCRIPTS, SCRIPTS / "benchmarks") for p in folder.glob("*.py")]
    return sorted(scripts + [f"{ENTRY} {mode}" for mode in _modes()])


def _names(text, command):
    """Whether a test's source names `command`: the script, and the mode as an argument."""
    script, *mode = command.split()
    return pathlib.Path(script).stem in text and all(f'"{m}"' in text for m in mode)


def test_every_script_and_mode_is_run_by_a_test():
    commands = _commands()
    missing = [c for c in commands if c not in COVERED and c not in HELP]
    assert not missing, f"Give these a test (a tiny real run, or an entry in HELP): {missing}"
    stale = sorted(c for c in HELP if c not in commands)
    assert not stale, f"Remove these from HELP in {__file__}, they are gone: {stale}"
    for command, test in COVERED.items():
        if command in commands:  # the test runs it: it names it
            assert _names((REPO / test).read_text(), command), (command, test)


def _expected(command):
    """What --help prints first: absl prints the script's (or the mode's) docstring, argparse its
    usage."""
    script, *mode = command.split()
    if mode:  # the modes are absl's
        return _purpose(MODES / f"{mode[0]}.py")
    path = SCRIPTS / script
    return _purpose(path) if "from absl import app" in path.read_text() else "usage:"


def _run(command, *args):
    script, *mode = command.split()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(SCRIPTS / script), *mode, *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize("command", HELP)
def test_help(command):
    done = _run(command, "--help")
    # absl's --help exits 1 after printing (its HelpFlag), argparse's 0.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert _expected(command) in done.stdout, done.stdout[-3000:]
    assert "--" in done.stdout  # the flags are listed


def _lists_the_modes(text):
    for mode, purpose in _modes().items():
        assert re.search(rf"^  {mode} +{re.escape(purpose)}$", text, re.M), (mode, text)


def test_the_entry_lists_its_modes_on_help():
    done = _run(ENTRY, "--help")
    assert done.returncode == 0 and not done.stderr, done.stderr[-3000:]
    assert done.stdout.startswith("usage: python scripts/benchmarks/benchmark.py MODE [--flags]")
    _lists_the_modes(done.stdout)


@pytest.mark.parametrize("args, message", [
    ([], "error: no mode given; the first argument is one of"),
    (["nope"], "error: unknown mode 'nope'; the modes are"),
    (["--models=resnet20"], "error: the mode comes first, before --models=resnet20; it is one of"),
], ids=["no mode", "unknown mode", "a flag first"])
def test_the_entry_without_a_mode_lists_the_modes_and_names_the_error(args, message):
    done = _run(ENTRY, *args)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    _lists_the_modes(done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"{message} {', '.join(_modes())}.", last


def test_a_mode_refuses_arguments_beside_its_flags():
    done = _run(f"{ENTRY} train", "resnet20")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == ("error: unexpected arguments resnet20 (flags "
                                                    "are --name=value).")


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
