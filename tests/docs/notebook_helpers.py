"""What the notebook tests share: run a docs/notebooks notebook in a real Jupyter kernel
(nbclient + ipykernel, as `jupyter nbconvert --execute` does) with its parameters overridden,
and read its outputs back."""

import os
import pathlib
import re
import sys

import nbformat

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from run_notebook import execute, parameters_index, with_parameters  # noqa: E402,F401

NOTEBOOKS = REPO / "docs" / "notebooks"
# absl's C++ log prefix ("I0000 00:00:1796192029.687202    4964 port.cc:153] ").
CPP_LOG = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] ", re.M)
# Not a start-up line but news for the user, printed at the first bfloat16 op where oneDNN is on
# (the suite turns it on, tests/conftest.py) and the CPU has no AVX-512: bfloat16 runs slowly.
BFLOAT16_FALLBACK = re.compile(r"^E\d{4} .*oneDNN supports DT_BFLOAT16 only on platforms with "
                               r"AVX-512\..*$\n?", re.M)


def kernel_env(**extra):
    """The test process's environment for the kernel, with this worktree first on the path,
    less TF_CPP_MIN_LOG_LEVEL (tests/conftest.py sets it) and PYTEST_CURRENT_TEST (ipykernel
    then stops forwarding file descriptors 1 and 2 to the notebook): a user's kernel has
    neither, and shows what TensorFlow's C++ code prints."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def run_notebook(name, overrides, env=None, timeout=600):
    """Executes docs/notebooks/`name` from its own folder (its relative paths) with a cell of
    `overrides` after its parameters cell (scripts/run_notebook.py's functions); returns the
    executed notebook."""
    nb = with_parameters(nbformat.read(NOTEBOOKS / name, as_version=4), overrides)
    return execute(nb, NOTEBOOKS, env or kernel_env(), timeout)


def stream(cell, name):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == name)


def text(nb, name="stdout"):
    """Every code cell's `name` stream (stdout/stderr), in order."""
    return "".join(stream(c, name) for c in nb.cells if c.cell_type == "code")


def markdown_outputs(nb):
    """The text/markdown outputs the cells displayed (their tables)."""
    return [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]


def png_count(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def table_rows(markdown):
    """The body rows of a markdown table as lists of cell strings."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def assert_clean_start(nb):
    """No TensorFlow C++ start-up lines anywhere, in particular not in the setup cell's output
    (the first that imports TensorFlow), and no Python warnings."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            out = BFLOAT16_FALLBACK.sub("", stream(cell, "stderr") + stream(cell, "stdout"))
            assert not CPP_LOG.search(out), out[:2000]
            assert "absl::InitializeLog" not in out and "oneDNN custom operations" not in out
            assert "Warning" not in stream(cell, "stderr"), out[:2000]  # e.g. tqdm's IProgress
