"""Per-trial memory: the peak resident set size while a trial runs, and freeing what it built.

KerasTuner searches are known to grow in memory from trial to trial: each trial's model,
optimizer, tf.functions and datasets stay reachable through global state. Two holders matter here:

- Keras's global state (layer name counters, the TF graph): `free_trial_memory` clears it.
- TensorFlow's gradient registry: `ReplicaContext.all_reduce` (called by Keras's optimizer under
  any tf.distribute strategy) uses `tf.custom_gradient`, which in a traced function registers a
  new "CustomGradient-<n>" entry that is never removed and holds the whole traced train step
  (graph, captured model variables). Measured: +15-20 MB per trial for ResNet-20 without
  `forget_trial_gradients`, flat with it.
"""

import contextlib
import gc
import os
import threading

import psutil


class PeakRSS:
    """Samples this process's RSS in a daemon thread; `with PeakRSS() as peak: ...` then
    `peak.mb`. (`ru_maxrss` cannot do this: it is the peak of the whole process so far.)"""

    def __init__(self, interval=0.1):
        self.interval = interval
        self._process = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread = None
        self.peak_bytes = 0

    def _sample(self):
        while True:
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self.peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
        return False

    @property
    def mb(self):
        return self.peak_bytes / 2**20


def rss_mb():
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def free_trial_memory():
    """Clears Keras's global state (layer name counters, the TF graph, cached tf.functions)
    and collects the trial's model, optimizer and datasets."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def _gradient_registry():
    """TensorFlow's private {op type: gradient function} table, or None if TF changed it (then
    `forget_trial_gradients` does nothing rather than fail)."""
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


@contextlib.contextmanager
def forget_trial_gradients():
    """Removes the custom gradients registered while the block ran (see the module docstring).

    Only entries added inside the block go: they belong to the trial's traced functions, which
    are garbage once the trial is over; gradients registered by imports stay.
    """
    registry = _gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            for key in set(registry) - before:
                if key.startswith("CustomGradient-"):
                    del registry[key]
