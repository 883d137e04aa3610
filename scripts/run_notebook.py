"""Runs a notebook top to bottom in a fresh Jupyter kernel (nbclient + ipykernel: Jupyter's own
executor, as `jupyter nbconvert --execute` uses it) with parameters overridden, and says how
long it took. The tests (tests/docs) run the notebooks through the same functions.

    python scripts/run_notebook.py docs/notebooks/03_depth_search.ipynb \\
        -p DATA='"~/.cache/keras_deepnets/cifar10-jpeg"' -p MAX_TRIALS=2 --output=/tmp/out.ipynb

Each `-p NAME=VALUE` (VALUE a Python literal) becomes a line of a cell inserted after the
notebook's cell tagged "parameters" (papermill's convention), so it wins over the default. The
kernel starts in the notebook's folder (its relative paths); `--output` keeps the executed copy.
"""

import argparse
import ast
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def parameters_index(nb):
    """The index of the one cell tagged "parameters"."""
    found = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(found) != 1:
        raise ValueError(f"the notebook has {len(found)} cells tagged 'parameters'; needs one.")
    return found[0]


def with_parameters(nb, overrides):
    """`nb` with a cell assigning `overrides` ({name: Python value}) after its parameters."""
    source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    nb.cells.insert(parameters_index(nb) + 1,
                    nbformat.v4.new_code_cell("# injected parameters\n" + source))
    return nb


def execute(nb, cwd, env=None, timeout=None):
    """Runs every cell in a fresh python3 kernel started in `cwd` (`env`: its environment);
    a failing cell raises nbclient's CellExecutionError with the cell's traceback."""
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": os.fspath(cwd)}})
    client.execute(env=dict(os.environ) if env is None else env)
    return nb


def parse_parameter(text):
    """'NAME=VALUE' -> (NAME, the literal VALUE)."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"-p takes NAME=VALUE; got {text!r}.")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(
            f"-p {name}: {value!r} is not a Python literal (quote strings: "
            f"{name}='\"text\"').") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("-p", dest="parameters", type=parse_parameter, action="append",
                        default=[], metavar="NAME=VALUE")
    parser.add_argument("--output", help="where to write the executed notebook")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.notebook):
        parser.error(f"{args.notebook} does not exist.")
    nb = with_parameters(nbformat.read(args.notebook, as_version=4), dict(args.parameters))
    start = time.time()
    execute(nb, os.path.dirname(os.path.abspath(args.notebook)), timeout=args.timeout)
    print(f"{args.notebook}: ran top to bottom in {time.time() - start:.1f} s")
    if args.output:
        nbformat.write(nb, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
