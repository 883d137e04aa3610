"""The modes of scripts/benchmarks/benchmark.py, a module each: its docstring (whose first line is
the mode's line in `benchmark.py --help`), its absl flags and its `main(argv)`. The entry imports
only the chosen one, so their flags (same names, other meanings) never meet. Below: the folders the
modes find files by, and the entry, which the modes that time another mode run in a fresh process.
"""

import os

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # scripts/benchmarks/
ENTRY = os.path.join(BENCHMARKS, "benchmark.py")
