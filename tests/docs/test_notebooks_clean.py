"""The committed notebooks: outputs stripped (readable diffs), one parameters cell first, the
same cells as scripts/make_notebooks.py writes, each linked from the README; and Jupyter's
first cell shows no TensorFlow start-up lines unless TF_CPP_MIN_LOG_LEVEL=0 asks for them."""

import nbformat
import pytest
from notebook_helpers import (CPP_LOG, NOTEBOOKS, REPO, execute, kernel_env, parameters_index,
                              with_parameters)

import make_notebooks  # scripts/, which notebook_helpers has put on the path
from run_notebook import parse_parameter

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert [p.name for p in PATHS] == sorted(make_notebooks.NOTEBOOKS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_outputs_are_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert parameters_index(nb) == code[0]  # the parameters come first


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_what_the_generator_writes(path):
    written = make_notebooks.notebook(make_notebooks.NOTEBOOKS[path.name])
    assert nbformat.read(path, as_version=4).cells == written.cells, (
        "edit scripts/make_notebooks.py and run it, not the .ipynb")


def test_readme_links_each_notebook():
    readme = (REPO / "README.md").read_text()
    for path in PATHS:
        assert f"docs/notebooks/{path.name}" in readme


def _first_cell_output(env):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import keras_deepnets"))
    execute(nb, REPO, env)
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


def test_jupyter_first_cell_is_quiet_unless_asked():
    assert not CPP_LOG.search(_first_cell_output(kernel_env()))
    # The same kernel at level 0 shows what TensorFlow printed (on x86: oneDNN's notice).
    assert CPP_LOG.search(_first_cell_output(kernel_env(TF_CPP_MIN_LOG_LEVEL="0")))


def test_run_notebook_parameters_are_checked():
    assert parse_parameter("EPOCHS=2") == ("EPOCHS", 2)
    assert parse_parameter("DEPTHS=(8, 14)") == ("DEPTHS", (8, 14))
    for bad, words in (("EPOCHS", "NAME=VALUE"), ("DATA=cifar10", "quote strings"),
                       ("2x=1", "NAME=VALUE")):
        with pytest.raises(Exception, match=words):
            parse_parameter(bad)
    with pytest.raises(ValueError, match="0 cells tagged 'parameters'"):
        with_parameters(nbformat.v4.new_notebook(), {"EPOCHS": 1})
