"""The measurements behind the docs' figures: one entry, a mode per measurement (timm's way).

    python scripts/benchmarks/benchmark.py MODE [--flags]
    python scripts/benchmarks/benchmark.py MODE --help     # the mode's docstring and flags
    python scripts/benchmarks/benchmark.py --help          # the modes, a line each

Each mode is modes/MODE.py. Only the chosen mode's module is imported, so only its absl flags
exist: each mode keeps its own flags, whose names recur in other modes with other meanings and
defaults (--rounds, --steps, --batch_size, --torch_python...). scripts/benchmarks/README.md says
what each mode measures and which docs table it feeds.
"""

import ast
import importlib
import os
import pathlib
import sys

from absl import app, flags

MODES = pathlib.Path(__file__).resolve().parent / "modes"
# Modes that start TensorFlow their own way, without the quiet start-up first: train starts it in
# a fresh process per case after setting TF's thread counts there (the start-up would start it in
# the parent first and hand its log level to those processes); backends runs under
# KERAS_BACKEND=jax too, where the start-up would start TensorFlow and list its devices as well.
OWN_START = ("train", "backends")
HELP = ("-h", "-?", "--help", "--helpshort", "--helpfull")


def purposes():
    """{mode: the first line of its module's docstring}, read as text: importing every mode
    would define their clashing flags together."""
    return {path.stem: ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
            for path in sorted(MODES.glob("*.py")) if path.stem != "__init__"}


def listing(modes):
    width = max(map(len, modes))
    return "\n".join(["usage: python scripts/benchmarks/benchmark.py MODE [--flags]   "
                      "(MODE --help: its docstring and flags)", "", "modes:",
                      *(f"  {mode:<{width}}  {line}" for mode, line in modes.items())])


def chosen_mode(argv):
    """The mode that argv names first; else the list of modes and an exit, 0 where help was asked
    for, else a one-line error."""
    modes = purposes()
    first = argv[1] if len(argv) > 1 else None
    if first in modes:
        return first
    if first in HELP:
        print(listing(modes))
        sys.exit(0)
    print(listing(modes) + "\n", file=sys.stderr)
    accepted = ", ".join(modes)
    if first is None:
        sys.exit(f"error: no mode given; the first argument is one of {accepted}.")
    if first.startswith("-"):
        sys.exit(f"error: the mode comes first, before {first}; it is one of {accepted}.")
    sys.exit(f"error: unknown mode {first!r}; the modes are {accepted}.")


def quiet_start():
    """What the scripts of scripts/ start with: TensorFlow without its C++ start-up logs
    (keras_deepnets/startup.py), which works only before anything imports TensorFlow."""
    os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
    importlib.import_module("keras_deepnets")


def no_extra_arguments(argv):
    """argv as absl leaves it (the program alone), or a one-line error naming the rest."""
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    return argv


def main():
    mode = chosen_mode(sys.argv)
    if mode not in OWN_START:
        quiet_start()
    module = importlib.import_module(f"modes.{mode}")
    # absl's --help and its usage errors print __main__'s docstring and the flags key to the
    # main module (app.usage): make both the mode's.
    sys.modules["__main__"].__doc__ = module.__doc__
    flags.adopt_module_key_flags(module)
    # absl parses the arguments after the mode; sys.argv keeps the mode, so that the modes that
    # record their command line (sys.argv) record one that reruns them.
    app.run(lambda argv: module.main(no_extra_arguments(argv)), argv=[sys.argv[0], *sys.argv[2:]])


if __name__ == "__main__":
    main()
