"""Code shape: no function of the package or of scripts/ runs over MAX_LINES lines
(signature and docstring included), so that each does one thing and reads on one screen."""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent  # read as text: nothing imported
MAX_LINES = 60

# "path:function" -> why it may stay longer for now. Only for code another change owns at the
# moment; remove the entry once the function is split (the test says so when it is).
LONGER = {}


def long_functions(source, name, limit=MAX_LINES):
    """{"name:function": lines} for every function, method or nested function of `source`
    (the text of file `name`) longer than `limit` lines."""
    found = {}
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found[f"{name}:{node.name}"] = lines
    return found


def test_no_function_is_over_the_limit():
    found = {}
    for folder in ("keras_deepnets", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            found.update(long_functions(path.read_text(), path.relative_to(REPO).as_posix()))
    over = [f"{key} ({lines} lines)" for key, lines in sorted(found.items()) if key not in LONGER]
    assert not over, (f"Functions over {MAX_LINES} lines; split them into functions that each "
                      "do one thing:\n  " + "\n  ".join(over))
    stale = sorted(set(LONGER) - set(found))
    assert not stale, f"Remove these entries from LONGER in {__file__}, they are short now: {stale}"


SAMPLE = """\
def short():
    return 1
class C:
    def long(self):
        x = 1
        def inner():
            y = 2
            return y
        return x + inner()
"""


def test_the_scan_counts_methods_and_nested_functions():
    assert long_functions(SAMPLE, "m.py", limit=2) == {"m.py:long": 6, "m.py:inner": 3}
    assert long_functions(SAMPLE, "m.py", limit=5) == {"m.py:long": 6}
    assert long_functions(SAMPLE, "m.py", limit=6) == {}
