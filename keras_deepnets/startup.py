"""TensorFlow starts without its pages of C++ start-up logs: in scripts (each sets
KERAS_DEEPNETS_QUIET_TF=1, then imports keras_deepnets before anything imports TensorFlow) and in
Jupyter, where `import keras_deepnets` does it when it is the first to import TensorFlow.

Why more than `TF_CPP_MIN_LOG_LEVEL`: TensorFlow 2.21 reads that variable when it is imported,
but some of its libraries log while they load, before absl::InitializeLog() runs, and those
lines ("oneDNN custom operations are on", "Could not find cuda drivers", printed twice) ignore
it at every level. In a notebook they land in the first cell's output, because ipykernel
forwards what the process writes to file descriptor 2. So TensorFlow is imported here, and its
devices listed, with file descriptor 2 going to a temporary file; then the lines the level
allows are written out:
- `TF_CPP_MIN_LOG_LEVEL` defaults to 2 (errors only) here; a value the user sets wins, and 0
  shows everything exactly as TensorFlow printed it.
- lines are kept by their severity letter (I, W, E, F) as TF_CPP_MIN_LOG_LEVEL would keep them
  (1 hides I, 2 hides W, 3 hides E); continuation lines follow their message.
- `failed call to cuInit` is dropped too (below level 0) when TensorFlow said just before that
  this machine has no CUDA driver: it is the expected consequence, not news. On a machine with
  a driver, a failing cuInit is kept.
TensorFlow's Python logger is set to WARNING as well (its INFO lines are export and checkpoint
chatter). Python's own stderr (warnings, absl's Python logging) is not redirected meanwhile: it
writes to a stand-in on the real stderr, and the log handlers that took the stand-in get the
real stderr back afterwards.

This module imports only the standard library: it must run before anything imports TensorFlow.
"""

import json
import logging
import os
import re
import sys
import tempfile

# absl's prefix: severity, MMDD, time (before InitializeLog: 00:00:<seconds since 1970>), thread,
# file:line. E.g. "I0000 00:00:1796192029.687202    4964 port.cc:153] oneDNN custom operations"
_CPP_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_NO_DRIVER = "Could not find cuda drivers on your machine"
# Set to 1 (the scripts do) to quiet the start-up outside Jupyter too.
ENV_QUIET = "KERAS_DEEPNETS_QUIET_TF"


def _level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_lines(text, level):
    """The lines of TensorFlow's captured start-up output that `level` keeps (see above)."""
    kept, keep_current, no_driver = [], True, _NO_DRIVER in text
    for line in text.splitlines(keepends=True):
        if line.startswith(_BANNER):  # it only announces the lines that follow
            continue
        match = _CPP_LINE.match(line)
        if match:
            keep_current = _SEVERITY[match.group(1)] >= level and not (
                no_driver and "failed call to cuInit" in line)
        # Any other line continues the message above it (or stands alone, kept, at the top).
        if keep_current:
            kept.append(line)
    return "".join(kept)


def _repoint_log_handlers(old, new):
    """Log handlers made while TensorFlow imported (TensorFlow's and absl's Python handlers)
    hold the stand-in stderr, whose file descriptor is closed next: they get the real one, or
    their later lines (e.g. "Writing fingerprint" at an export) fail with EBADF."""
    handlers = [h for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
                for h in getattr(logger, "handlers", ())]
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        handlers.append(absl_logging.get_absl_handler().python_handler)
    for handler in handlers:
        if getattr(handler, "stream", None) is old:
            handler.setStream(new)


def _import_tensorflow_quietly(level):
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        sys.stderr = open(saved, "w", buffering=1, closefd=False)  # Python's lines still show
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # cuInit logs here, not at the first op
        finally:
            sys.stderr.flush()
            stand_in, sys.stderr = sys.stderr, python_stderr
            _repoint_log_handlers(stand_in, python_stderr)
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            sys.stderr.write(filter_lines(capture.read().decode(errors="replace"), level))
            sys.stderr.flush()


def keras_home():
    """Keras's own folder: $KERAS_HOME, else ~/.keras."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.abspath(os.path.expanduser(home))


def keras_backend():
    """The backend Keras will start on, read as Keras reads it (KERAS_BACKEND, then the
    "backend" of $KERAS_HOME/keras.json, default tensorflow) without importing Keras, which
    would import TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    try:
        with open(os.path.join(keras_home(), "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def quiet_tensorflow():
    """Imports TensorFlow with its start-up lines filtered (see the module doc); a no-op when
    TensorFlow is imported already or Keras runs on another backend (it must not import
    TensorFlow then)."""
    if "tensorflow" in sys.modules or keras_backend() != "tensorflow":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = _level()
    if level > 0:
        _import_tensorflow_quietly(level)
        # TensorFlow's Python INFO lines too ("Assets written to", "Writing fingerprint" at each
        # export and checkpoint) unless level 0 asks for everything; --verbosity cannot reach
        # them: the "tensorflow" logger's own level wins over absl's.
        logging.getLogger("tensorflow").setLevel(logging.WARNING)


def wanted():
    """Whether `import keras_deepnets` quiets the start-up: in a Jupyter (IPython) kernel,
    whose first cell would show the lines, or where KERAS_DEEPNETS_QUIET_TF=1. A plain
    `python` process using the library is left as TensorFlow starts it."""
    flag = os.environ.get(ENV_QUIET, "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or "ipykernel" in sys.modules
