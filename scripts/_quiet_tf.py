"""Imported first by every script: TensorFlow starts without its pages of C++ start-up logs.

    import _quiet_tf  # noqa: F401  (before anything imports TensorFlow)

The work is `keras_deepnets.startup` (the same filter quiets a Jupyter kernel's first cell):
this module asks for it outside Jupyter too, then imports the package, whose first act it is.
`TF_CPP_MIN_LOG_LEVEL=0` shows everything TensorFlow prints.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")

from keras_deepnets.startup import filter_lines  # noqa: E402,F401  (the tests use it here)
