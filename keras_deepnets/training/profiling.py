"""`--profile=N`: a TensorBoard trace (TF profiler) of N training steps, to see where a step's
time goes (per-op times, input pipeline stalls, the host/device timeline).

The trace starts after the run's first `SKIP` steps, which trace and compile the step function
and would otherwise fill the trace with one-off work. It is written to
`<model_dir>/tensorboard/plugins/profile/<date>/<host>.xplane.pb`, where TensorBoard's profile
plugin finds it: `pip install tensorboard tensorboard-plugin-profile` then
`tensorboard --logdir <model_dir>/tensorboard` (Profile tab). Only the chief traces.
"""

import os

import tensorflow as tf

SKIP = 2
_ACTIVE = {"on": False}


class StepProfiler:
    """Call `step(i)` before the run's i-th step (0-based, counted from this run's start); one
    trace per run."""

    def __init__(self, model_dir, steps, enabled=True, log=print):
        self.steps, self.enabled, self.log = int(steps or 0), enabled, log
        self.logdir = os.path.join(model_dir, "tensorboard")
        self.start_at, self.stop_at = SKIP, SKIP + self.steps
        self._started = False

    def step(self, i):
        """Before the steps from i on (with --steps_per_loop > 1 the trace starts and stops at
        loop boundaries, so it covers N steps rounded up to whole loops)."""
        if not self.steps or not self.enabled:
            return
        if self.start_at <= i < self.stop_at and not self._started:
            self._started = True
            tf.profiler.experimental.start(self.logdir)
            _ACTIVE["on"] = True
        elif i >= self.stop_at:
            self.stop()

    def stop(self):
        if stop_any():
            self.log(f"Profiled {self.steps} step(s) into {self.logdir}/plugins/profile "
                     f"(view: tensorboard --logdir {self.logdir}, Profile tab).")


def stop_any():
    """Stops a trace left running (also by a run that ended early); True if one was."""
    if not _ACTIVE["on"]:
        return False
    tf.profiler.experimental.stop()
    _ACTIVE["on"] = False
    return True
