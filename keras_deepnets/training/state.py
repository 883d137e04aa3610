"""`TrainState`: the counters a run needs to continue after a crash, and the one scoring rule.

The state is tf.Variables, created under the strategy's scope and saved in every backup with
the model and the optimizer (whose iteration count is the global step): completed epochs, the
step inside the current epoch, the plateau drops so far, the best score so far, and the
weights' moving average when the recipe has one (ema.py). Something new that must survive a
restart belongs here too, with its name in `trackables()`.

The score: one figure per run, the `monitor` setting (as keras.callbacks.ModelCheckpoint's),
checked when the run starts (`monitor_key`): by default validation top-1 when the run
evaluates, training top-1 when it has no validation; its `mode` says whether it should go up
("max") or down ("min"; "auto": down for a loss, up for the rest). Epochs without evaluation
(`eval_every > 1`) do not compete, so the best checkpoint, the plateau drops and the summary's
best epoch always rank the same number.
"""

import contextlib

import tensorflow as tf

MODES = ("auto", "max", "min")


def reported_figures(metric_names, has_validation):
    """The figures a run reports in its history records and callbacks' logs: the loss and each
    metric, then the same with `val_` when it evaluates."""
    names = ["loss", *metric_names]
    return names + ([f"val_{n}" for n in names] if has_validation else [])


def monitor_key(monitor, has_validation, metric_names):
    """The history record's key that ranks epochs in this run: `monitor` checked against the
    figures the run reports, or by default (None) val_top1 / top1 (with no top-1 metric, the
    first metric's, or the loss)."""
    first = "top1" if "top1" in metric_names else (metric_names[0] if metric_names else "loss")
    prefix = "val_" if has_validation else ""
    if monitor is None:
        return prefix + first
    reported = reported_figures(metric_names, has_validation)
    if monitor not in reported:
        raise ValueError(f"monitor {monitor!r} is not a figure of this run; it reports "
                         f"{', '.join(reported)}.")
    return monitor


def monitor_mode(key, mode):
    """"max" or "min" for the monitored `key` and a mode of MODES."""
    if mode not in MODES:
        raise ValueError(f"monitor_mode must be one of {', '.join(MODES)}; got {mode!r}.")
    if mode == "auto":
        return "min" if key.endswith("loss") else "max"
    return mode


class TrainState:
    """The run's resumable counters (create under `strategy.scope()`)."""

    def __init__(self, score_key, average=None, mode="max"):
        self.score_key, self.mode = score_key, mode
        self.average = average  # an ema.WeightAverage, or None
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="completed_epochs")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # Read by the lr schedule inside the replica step: one value, whatever the replica.
        self.plateau_drops = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="plateau_drops",
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        # the best score so far, signed so that higher is better whatever the mode
        self.best_score = tf.Variable(float("-inf"), dtype=tf.float64, trainable=False,
                                      name="best_top1")

    def trackables(self):
        """What a backup saves besides the model and optimizer (the names are the checkpoint's
        keys: renaming one orphans older backups)."""
        saved = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                 "plateau_drops": self.plateau_drops, "best_top1": self.best_score}
        if self.average is not None:
            saved["weight_average"] = self.average.checkpointable()
        return saved

    def evaluated_weights(self):
        """A context in which the model holds the weights that are evaluated, saved as
        best/last and exported: the average when there is one, else the trained weights."""
        return self.average.in_model() if self.average is not None else contextlib.nullcontext()

    def score(self, record):
        """The epoch's score, signed so that higher is better, or None when it was not
        evaluated (it then does not compete)."""
        value = record.get(self.score_key)
        if value is None:
            return None
        return value if self.mode == "max" else -value

    def best_record(self, history):
        """The history record with the best score ({} when none was scored)."""
        scored = [r for r in history if self.score(r) is not None]
        return max(scored, key=self.score) if scored else {}

    def update_best(self, score):
        """True when `score` beats every earlier scored epoch (it becomes the best)."""
        if score is None or score <= float(self.best_score.numpy()):
            return False
        self.best_score.assign(score)
        return True

    def plateaued(self, score, history):
        """The paper's "divided by 10 when the error plateaus": no gain of 0.1 point in the
        score over the best earlier scored epoch."""
        earlier = [s for s in (self.score(r) for r in history) if s is not None]
        return score is not None and bool(earlier) and score <= max(earlier) + 1e-3

    def end_epoch(self, epoch):
        self.epoch.assign(epoch)
        self.step_in_epoch.assign(0)
