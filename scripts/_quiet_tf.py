"""Imported first by every script: TensorFlow starts without its pages of C++ start-up logs.

    import _quiet_tf  # noqa: F401  (before anything imports TensorFlow)

The work is `keras_deepnets.startup` (the same filter quiets a Jupyter kernel's first cell):
this module asks for it outside Jupyter too, then imports the package, whose first act it is.
`TF_CPP_MIN_LOG_LEVEL=0` shows everything TensorFlow prints.
"""

import os
import sys

# A script run from a checkout finds that checkout's package, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")

import keras_deepnets  # noqa: E402,F401  (its first act quiets TensorFlow's start-up)
