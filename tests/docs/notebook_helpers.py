"""What the notebook tests share: run a docs/notebooks notebook in a real Jupyter kernel
(nbclient + ipykernel, as `jupyter nbconvert --execute` does) with its parameters overridden,
and read its outputs back."""

import os
import pathlib
import re

import nbformat
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "docs" / "notebooks"
# absl's C++ log prefix ("I0000 00:00:1796192029.687202    4964 port.cc:153] ").
CPP_LOG = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] ", re.M)


def parameters_index(nb):
    """The index of the cell tagged "parameters" (papermill's convention); exactly one."""
    found = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(found) == 1, f"{len(found)} cells tagged 'parameters'"
    return found[0]


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


def execute(nb, cwd, env=None, timeout=600):
    """Runs every cell of `nb` in a fresh python3 kernel started in `cwd`; a failing cell raises
    nbclient's CellExecutionError with the cell's traceback."""
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env or kernel_env())
    return nb


def run_notebook(name, overrides, env=None):
    """Executes docs/notebooks/`name` from its own folder (its relative paths) with a cell of
    `overrides` after its parameters cell; returns the executed notebook."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    source = "\n".join(f"{key} = {value!r}" for key, value in overrides.items())
    nb.cells.insert(parameters_index(nb) + 1,
                    nbformat.v4.new_code_cell("# the test's parameters\n" + source))
    return execute(nb, NOTEBOOKS, env)


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
    (the first that imports TensorFlow)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            out = stream(cell, "stderr") + stream(cell, "stdout")
            assert not CPP_LOG.search(out), out[:2000]
            assert "absl::InitializeLog" not in out and "oneDNN custom operations" not in out
