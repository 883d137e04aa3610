"""The download bar: Jupyter's widget only where a notebook can draw it (ipywidgets), else
tqdm's text bar; and `import keras_deepnets` does not import tqdm.auto, whose import without
ipywidgets warns "IProgress not found" into a notebook's first cell."""

import importlib.util
import subprocess
import sys

import tqdm
import tqdm.notebook

from keras_deepnets.weights import store


def test_bar_follows_what_the_kernel_can_draw(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert store.progress_bar() is tqdm.tqdm  # a terminal
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # as in a Jupyter kernel
    widgets = importlib.util.find_spec("ipywidgets") is not None
    assert store.progress_bar() is (tqdm.notebook.tqdm if widgets else tqdm.tqdm)


def test_import_does_not_import_tqdm_auto():
    code = "import sys, keras_deepnets; print('tqdm.auto' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
