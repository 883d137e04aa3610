"""Per-trial memory: the peak resident set size while a trial runs, and freeing what it built.

KerasTuner searches are known to grow in memory from trial to trial: each trial's model,
optimizer, tf.functions and datasets stay reachable through global state. Two holders matter here:

- Keras's global state (layer name counters, the TF graph): `free_trial_memory` clears it.
- TensorFlow's gradient registry, which keeps every run's traced train step:
  `training.train` clears its own entries (keras_deepnets.training.gradients), and the tuner
  wraps each trial in the same `forget_trial_gradients` for trials with their own code.
"""

import gc
import os
import threading

import psutil

from keras_deepnets.training import gradients


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


# The gradient-registry fix lives in the training core (every `training.train` call uses it);
# the tuner keeps its name for it.
_gradient_registry = gradients._gradient_registry
forget_trial_gradients = gradients.forget_run_gradients
