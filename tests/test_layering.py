"""Import layering: every module imports first in a fresh process, and no function body
imports the package — an import inside a function is how an import circle gets patched over.

The layers, bottom up: registry, startup, weights/torch_files, weights/converters,
weights/applications_copy, weights/transfer (leaves) -> weights/store -> weights/table ->
weights/hub -> weights/loading -> weights/presets -> weights/argument -> models (they register
into the registry) -> preprocessing, stats, weights/torch_convert, weights/keras_applications,
weights/prefetch -> the package -> data ->
export -> training -> tuning, experiments, diagnostics (the top layers, which nothing imports).
"""

import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest

import keras_deepnets

PACKAGE = pathlib.Path(keras_deepnets.__file__).resolve().parent

# (file under keras_deepnets/, function, imported module) -> why it is imported in the function.
# Only imports deferred for speed belong here, e.g. a command line's module that imports a heavy
# package after flag parsing, when importing the command line has not imported it already.
DEFERRED = {}



def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node, path):
    """The modules an import statement names, relative imports resolved against `path`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = _module_name(path).split(".")
        package = package if path.name == "__init__.py" else package[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    if base == "keras_deepnets" or not node.module:  # `from pkg import sub`: name the submodule
        return [f"{base}.{alias.name}" for alias in node.names]
    return [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
            for alias in node.names]


def _is_module(name):
    """Whether the dotted `name` is a module or package of keras_deepnets (not a function)."""
    if name.split(".")[0] != "keras_deepnets":
        return False
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def function_imports(source, path):
    """`{(function qualname, imported module): line}` for every import of the package made
    inside a function (methods and nested functions included) of `source`, the text of the
    file at `path`."""
    found = {}

    def visit(node, scope, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                is_function = not isinstance(child, ast.ClassDef)
                visit(child, scope + [child.name], in_function or is_function)
                continue
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _targets(child, path):
                    if target.split(".")[0] == "keras_deepnets":
                        found[(".".join(scope), target)] = child.lineno
            visit(child, scope, in_function)

    visit(ast.parse(source, str(path)), [], False)
    return found


def _all_function_imports():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for (function, target), line in function_imports(path.read_text(), path).items():
            found[(rel, function, target)] = line
    return found


def test_no_function_body_imports_the_package():
    found = _all_function_imports()
    unexpected = [f"keras_deepnets/{rel}:{line} {function}() imports {target}"
                  for (rel, function, target), line in sorted(found.items())
                  if (rel, function, target) not in DEFERRED]
    assert not unexpected, (
        "Imports of the package inside functions (move them to the module's top; if that makes "
        "an import circle, the modules are layered wrongly — see this file's docstring):\n  "
        + "\n  ".join(unexpected))
    stale = sorted(set(DEFERRED) - set(found))
    assert not stale, f"Remove these entries from tests/test_layering.py, they are gone: {stale}"


# The low layers, and what of the package each may import (anywhere in the file).
LOW_LAYERS = {
    "registry.py": set(),
    "startup.py": set(),  # standard library only: it runs before TensorFlow is imported
    "weights/__init__.py": set(),  # imports nothing: the low modules below must not pull in
    # the converters above the models when the models import them
    "weights/torch_files.py": set(),  # reads files into numpy; knows nothing of the models
    # the converters' registry (torch_convert, above the models, registers into it)
    "weights/converters.py": set(),
    "weights/applications_copy.py": set(),  # layer by layer, by name: Keras and numpy only
    "weights/transfer.py": set(),
    # files and folders (Keras's folder from startup); the rows it is given say what to fetch
    "weights/store.py": {"keras_deepnets.startup"},
    # the registered rows are kept in the store's folder
    "weights/table.py": {"keras_deepnets.registry", "keras_deepnets.weights.store"},
    "weights/hub.py": {"keras_deepnets.weights.table"},
    "weights/loading.py": {"keras_deepnets.registry", "keras_deepnets.weights.table",
                           "keras_deepnets.weights.store", "keras_deepnets.weights.hub",
                           "keras_deepnets.weights.converters",
                           "keras_deepnets.weights.applications_copy"},
    # presets rebuild models through Keras's serialization, never by importing them
    "weights/presets.py": {"keras_deepnets.registry", "keras_deepnets.weights.table",
                           "keras_deepnets.weights.store", "keras_deepnets.weights.hub",
                           "keras_deepnets.weights.loading", "keras_deepnets.weights.transfer"},
    # the one reading of a constructor's `weights=`
    "weights/argument.py": {"keras_deepnets.weights.table", "keras_deepnets.weights.hub",
                            "keras_deepnets.weights.presets",
                            "keras_deepnets.weights.converters"},
    "models/": {"keras_deepnets.registry", "keras_deepnets.weights.table",
                "keras_deepnets.weights.loading", "keras_deepnets.weights.presets",
                "keras_deepnets.weights.converters", "keras_deepnets.weights.argument",
                "keras_deepnets.models"},
}


def _package_imports(path):
    """Every module of the package that the file at `path` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(t for t in _targets(node, path) if t.split(".")[0] == "keras_deepnets")
    return names


@pytest.mark.parametrize("layer", sorted(LOW_LAYERS))
def test_low_layers_import_only_lower_ones(layer):
    """The registry and the pretrained table are leaves; models import nothing above them (not
    `weights`, which builds models through the registry)."""
    allowed = LOW_LAYERS[layer]
    paths = sorted((PACKAGE / layer).rglob("*.py")) if layer.endswith("/") else [PACKAGE / layer]
    for path in paths:
        above = sorted(n for n in _package_imports(path)
                       if not any(n == a or n.startswith(a + ".") for a in allowed))
        assert not above, f"{path.relative_to(PACKAGE)} imports {above}; allowed: {sorted(allowed)}"


# The top layers: they use the training core (and what is below it), and nothing of the package
# outside them imports them. The diagnostics read what a run did (traces, oneDNN's log); the
# core takes the trace itself (training/profiling.py), so it never needs them.
TOP_LAYERS = ("diagnostics", "experiments", "tuning")


@pytest.mark.parametrize("layer", TOP_LAYERS)
def test_nothing_below_imports_a_top_layer(layer):
    top = f"keras_deepnets.{layer}"
    importers = sorted(
        path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != layer
        and any(n == top or n.startswith(top + ".") for n in _package_imports(path)))
    assert not importers, f"{importers} import {top}, a layer above them (see the docstring)"


def test_the_scan_sees_imports_in_functions_only():
    """Functions, methods and nested functions; absolute and relative imports; not the module's
    top level, not other packages."""
    source = ("import keras_deepnets.registry\n"
              "def f():\n    import numpy\n    from keras_deepnets import weights\n"
              "class C:\n    def m(self):\n        def inner():\n"
              "            from . import specs\n            from .blocks import stage\n")
    found = function_imports(source, PACKAGE / "models" / "example.py")
    assert found == {("f", "keras_deepnets.weights"): 4,
                     ("C.m.inner", "keras_deepnets.models.specs"): 8,
                     ("C.m.inner", "keras_deepnets.models.blocks"): 9}


# Run in a fresh interpreter: import the third-party libraries the package imports once, then
# fork one child per module, which imports that module first (nothing of keras_deepnets loaded
# yet) and checks that the registry lists every model. Forking skips TensorFlow's ~5 s import per
# module; the children start with no module of the package loaded, as a fresh process does.
# Importing `a.b.c` first runs `a.b`'s __init__ first: when that has loaded `a.b.c`, importing
# `a.b.c` first is importing `a.b` first, and `a.b`'s child has already checked it.
_IMPORT_EACH_FIRST = r"""
import importlib, json, os, sys, traceback

modules, third_party, expected_models = json.loads(sys.stdin.read())
for name in third_party:
    try:
        importlib.import_module(name)
    except Exception:
        pass  # the child that needs it reports the failure
assert not any(m.split(".")[0] == "keras_deepnets" for m in sys.modules)


def import_first(module):
    try:
        importlib.import_module(module)
        models = sys.modules["keras_deepnets.registry"].list_models()
        error = "" if models == expected_models else f"the registry lists {models}"
    except BaseException:
        error = traceback.format_exc()
    return {"error": error, "loaded": [m for m in sys.modules if m.startswith("keras_deepnets")]}


failed, loaded_by = {}, {}
for module in modules:  # sorted: a package before its modules
    parent = module.rpartition(".")[0]
    if module in loaded_by.get(parent, ()):
        continue
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        with os.fdopen(write, "w") as pipe:
            json.dump(import_first(module), pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        result = json.loads(pipe.read() or '{"error": "no answer", "loaded": []}')
    _, status = os.waitpid(pid, 0)
    loaded_by[module] = set(result["loaded"])
    if result["error"] or status:
        failed[module] = result["error"] or f"exit status {status}"
print(json.dumps({"failed": failed, "children": len(loaded_by)}))
"""


def _third_party_imports():
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module)
    return sorted(n for n in names if n.split(".")[0] != "keras_deepnets")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_first_in_a_fresh_process():
    modules = sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    payload = json.dumps([modules, _third_party_imports(), keras_deepnets.list_models()])
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH_FIRST], input=payload, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    failed = result["failed"]
    assert result["children"] >= 6  # the package, data, training, export, tuning, experiments
    assert not failed, "\n\n".join(f"import {m} first:\n{e}" for m, e in failed.items())
