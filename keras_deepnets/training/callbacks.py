"""A user's `keras.callbacks.Callback` objects in the custom loop, with Keras's contract:

    set_model(model), set_params({"epochs", "steps", "verbose"})
    on_train_begin(logs)                  once, after a restore
    on_epoch_begin(epoch, logs)           before the epoch's first step
    on_train_batch_begin(batch, logs)     before each call of `steps_per_loop` steps
    on_train_batch_end(batch, logs)       after it: `batch` the epoch's last step run (0-based),
                                          `logs` the epoch's loss and metrics so far
    on_epoch_end(epoch, logs)             the epoch's record (history.csv's figures; `val_*` when
                                          it was evaluated), after the package's weight files,
                                          records and backup of the epoch are written
    on_train_end(logs)                    once, with the last epoch's record

`self.model.stop_training = True` stops the run: at an epoch's end after that epoch, inside an
epoch after the current call of steps, with a backup at that step (the records written first),
so the same command resumes there.

The package's side jobs (actions.py: weight files, records, backup, epoch line, TensorBoard
and the divergence stop, which drops a NaN step before any callback sees it, so
TerminateOnNaN never has to act) run beneath these; Keras callbacks that would do one of them
again, or that need a compiled model, are refused before the run starts (`check`).
"""

import keras

from keras_deepnets.training.actions import Action

# Keras callbacks the loop cannot honour, and what to use instead.
REFUSED = {
    keras.callbacks.BackupAndRestore: "the run backs itself up in <model_dir>/backup and "
                                      "resumes from it (backup_steps)",
    keras.callbacks.TensorBoard: "the run writes TensorBoard logs itself (tensorboard=True, "
                                 "<model_dir>/tensorboard)",
    keras.callbacks.ReduceLROnPlateau: "the lr comes from the run's schedule; use "
                                       "lr_schedule='plateau' (the paper's rule on the monitored "
                                       "figure) or an optimizer with a LearningRateSchedule",
    keras.callbacks.ProgbarLogger: "the run has its own progress bar (verbose=1)",
}


def check(callbacks, reported):
    """Refuses, with one line, a callback that is not a Keras callback, one the loop cannot
    honour, or one that monitors a figure the run does not report (`reported`: the record's
    names) or cannot tell the direction of."""
    for cb in callbacks:
        if not isinstance(cb, keras.callbacks.Callback):
            raise ValueError(f"callbacks: each must be a keras.callbacks.Callback; got "
                             f"{type(cb).__name__}.")
        for kind, why in REFUSED.items():
            if isinstance(cb, kind):
                raise ValueError(f"callbacks: {type(cb).__name__} is not supported: {why}.")
        monitor = getattr(cb, "monitor", None)
        if isinstance(monitor, str) and monitor not in reported:
            raise ValueError(f"callbacks: {type(cb).__name__} monitors {monitor!r}, which this "
                             f"run does not report; it reports {', '.join(reported)}.")
        if (isinstance(monitor, str) and getattr(cb, "mode", None) == "auto"
                and not monitor.endswith("loss")):
            raise ValueError(f"callbacks: {type(cb).__name__}(monitor={monitor!r}) needs "
                             f"mode='max' or mode='min' (the model is not compiled, so Keras "
                             f"cannot tell which way {monitor} should go).")


def _logs(record):
    """A history record as Keras logs: its figures, without the epoch (an argument in Keras)
    and the count of validation images."""
    return {k: v for k, v in record.items()
            if k not in ("epoch", "val_examples") and v is not None}


class KerasCallbacks(Action):
    """Runs a user's Keras callbacks on the run's hooks (the module docstring's contract)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        self.last = {}
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def on_train_begin(self, context):
        context.model.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin({})

    def on_epoch_begin(self, run, epoch):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, {})

    def before_steps(self, run, n):
        for cb in self.callbacks:
            cb.on_train_batch_begin(run.step, {})

    def on_steps(self, run, steps):
        if not self.callbacks:
            return
        logs = run.figures()
        for cb in self.callbacks:
            cb.on_train_batch_end(run.step - 1, dict(logs))

    def on_epoch_end(self, run, record):
        self.last = _logs(record)
        for cb in self.callbacks:
            cb.on_epoch_end(int(record["epoch"]) - 1, dict(self.last))

    def on_train_end(self, run):
        for cb in self.callbacks:
            cb.on_train_end(dict(self.last))
