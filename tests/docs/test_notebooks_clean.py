"""The committed notebooks: each .ipynb paired with a jupytext py:percent source of the same
stem (what people edit and review; `jupytext --sync` writes one from the other) holding the same
cells, outputs stripped (readable diffs), one parameters cell first, each linked from the README;
and Jupyter's first cell shows no TensorFlow start-up lines unless TF_CPP_MIN_LOG_LEVEL=0 asks
for them. The pair is compared as jupytext reads it, never as JSON text: a notebook saved by
Jupyter (its own formatting, cell ids, metadata) passes."""

import shutil

import jupytext
import nbformat
import pytest
from notebook_helpers import (CPP_LOG, NOTEBOOKS, REPO, execute, kernel_env, parameters_index,
                              with_parameters)

from run_notebook import parse_parameter  # scripts/, which notebook_helpers has put on the path

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
FORMATS = "ipynb,py:percent"


def pair_problems(ipynb):
    """What is wrong with the notebook at `ipynb` and its paired `.py` ([] when nothing): the
    pairing metadata, the cells (type, source, tags) that differ, outputs left in the .ipynb."""
    source = ipynb.with_suffix(".py")
    if not source.is_file():
        return [f"{source.name} is missing: jupytext --set-formats {FORMATS} {ipynb.name}"]
    nb, text = jupytext.read(ipynb), jupytext.read(source)
    problems = [f"{p.name}: jupytext formats {n.metadata.get('jupytext', {}).get('formats')!r}, "
                f"not {FORMATS!r}" for p, n in ((ipynb, nb), (source, text))
                if n.metadata.get("jupytext", {}).get("formats") != FORMATS]

    def cells(n):
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in n.cells]

    if cells(nb) != cells(text):
        problems.append(f"{ipynb.name} and {source.name} hold different cells: edit one, then "
                        f"`jupytext --sync {source.name}`")
    problems += [f"{ipynb.name}: cell {i} has outputs (Jupyter: Edit > Clear Outputs of All "
                 "Cells, then save)" for i, c in enumerate(nbformat.read(ipynb, as_version=4).cells)
                 if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    return problems


def test_each_notebook_has_its_source_and_no_other():
    assert len(PATHS) == 3
    assert sorted(NOTEBOOKS.glob("*.py")) == [p.with_suffix(".py") for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_pair_agrees_and_outputs_are_stripped(path):
    assert pair_problems(path) == []
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert parameters_index(nb) == code[0]  # the parameters come first


def test_a_notebook_saved_by_jupyter_passes(tmp_path):
    """Jupyter's save (nbformat 4.5 cell ids, its own metadata and JSON layout) is no change."""
    ipynb = tmp_path / PATHS[0].name
    shutil.copy(PATHS[0].with_suffix(".py"), ipynb.with_suffix(".py"))
    nb = nbformat.read(PATHS[0], as_version=4)
    nb.nbformat_minor = 5
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nb.metadata["language_info"] = {"name": "python", "version": "3.12.3",
                                    "mimetype": "text/x-python", "file_extension": ".py"}
    nbformat.write(nb, ipynb)
    assert pair_problems(ipynb) == []
    nb.cells[2].source += "\nprint()"  # a cell edited in Jupyter only
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran")]
    nbformat.write(nb, ipynb)
    problems = pair_problems(ipynb)
    assert len(problems) == 2 and "jupytext --sync" in problems[0] and "cell 1" in problems[1]


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


def test_every_notebook_installs_the_package_the_same_way():
    """The install block (from "# Setup:" to `import keras_deepnets as kd`) is repeated in each
    notebook on purpose: on a fresh Colab runtime it runs before the package exists, so it
    cannot live in it. It is one block, kept the same here."""
    blocks = {}
    for path in PATHS:
        lines = path.with_suffix(".py").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("# Setup:"))
        end = lines.index("import keras_deepnets as kd", start)
        blocks[path.name] = lines[start:end + 1]
    assert len(PATHS) == 3 and all(b == blocks[PATHS[0].name] for b in blocks.values()), blocks
