"""keras_deepnets.startup: when `import keras_deepnets` quiets TensorFlow's start-up (in a
Jupyter kernel, or asked for), and that it never imports TensorFlow for another backend. The
filter itself: tests/training/test_quiet_scripts.py; in a real kernel: tests/docs."""

import json
import subprocess
import sys

import pytest

from keras_deepnets import startup


@pytest.mark.parametrize("flag, kernel, expected", [
    (None, False, False),   # a plain python process using the library: left alone
    (None, True, True),     # a Jupyter kernel
    ("1", False, True),     # the scripts ask for it
    ("0", True, False),     # a user who wants TensorFlow's start-up as printed
])
def test_wanted(monkeypatch, flag, kernel, expected):
    if flag is None:
        monkeypatch.delenv(startup.ENV_QUIET, raising=False)
    else:
        monkeypatch.setenv(startup.ENV_QUIET, flag)
    if kernel:
        monkeypatch.setitem(sys.modules, "ipykernel", sys)
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert startup.wanted() is expected


def test_keras_backend_read_as_keras_reads_it(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert startup.keras_backend() == "tensorflow"  # no keras.json
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert startup.keras_backend() == "jax"
    (tmp_path / "keras.json").write_text("{not json")
    assert startup.keras_backend() == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert startup.keras_backend() == "torch"


def test_another_backend_never_imports_tensorflow():
    """Under JAX, quieting must not import TensorFlow (the package's promise there)."""
    code = ("import os, sys; os.environ['KERAS_BACKEND'] = 'jax'; "
            "os.environ['KERAS_DEEPNETS_QUIET_TF'] = '1'; "
            "from keras_deepnets import startup; startup.quiet_tensorflow(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
