"""The side jobs of a training run, as small objects with hooks (Keras callbacks, Orbit actions).

These are the package's own side jobs, beneath the user's: a user passes
`keras.callbacks.Callback` objects (`train(callbacks=[...])`), which run through one action
here, `KerasCallbacks`, after the package's own (so that a callback sees the weight files,
records and backup of the epoch already written, and a stop it asks for leaves them whole).

A `TrainingRun` calls, in the order of its `actions` list:
    on_train_begin(context)         once, after a restore, before the first epoch
    on_epoch_begin(run, epoch)      before an epoch's first step
    before_steps(run, n)            before each call of n steps (`steps_per_loop`)
    on_steps(run, steps)            after it, with the `Step`s whose loss was finite
    on_epoch_end(run, record)       after the epoch's record (training and validation figures)
    on_train_end(run)               once, when the run stops (also after an error)
Each hook gets what it needs and nothing it could change under another part: `run` is a frozen
view made for the call. All hooks see the `RunContext` (config, model, weight paths, log, the
run's length); the hooks inside an epoch also see where it stands (`RunView`: steps, the
epoch's sums so far, themselves frozen), and `on_epoch_end` whether the epoch set a new best
(`EpochEndView`). Orbit's way with side jobs: the records and the backup are not in any view;
the actions that write them are made with them (`StepRecords(records)`, `Backups(backup, ...)`)
and are the only parts that change them, and the run keeps its own counters.

A side job of the package subclasses `Action`; a user's is a Keras callback. Order matters
where files are involved: the weight files and the records are written before the backup, so
that a kill between the two leaves records ahead of the backup (resuming trims them) instead
of losing the steps in between.
"""

import dataclasses
import math
import os
import time
import typing

import keras
import numpy as np

from keras_deepnets.training import checkpoints, profiling
from keras_deepnets.training.config import TrainConfig
from keras_deepnets.training.records import TIME_FIELDS, epoch_line


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Step(typing.NamedTuple):
    """One training step's figures: the batch's mean loss, each metric on the batch
    (`values`, by name), and the change to the metrics' states (`delta`, for the epoch's)."""

    global_step: int
    epoch: int  # 1-based
    lr: float
    loss: float
    count: float  # examples in the global batch
    values: dict
    delta: np.ndarray


class Totals(typing.NamedTuple):
    """Sums of an epoch's finite steps: the loss summed per example, the examples, and the
    metrics' state changes (an array). Immutable: `plus` returns the new sums."""

    loss: float = 0.0
    count: float = 0.0
    delta: typing.Any = 0.0

    def plus(self, step):
        return Totals(self.loss + step.loss * step.count, self.count + step.count,
                      self.delta + step.delta)

    def mean(self, name):
        return getattr(self, name) / max(self.count, 1.0)


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What every hook may read: fixed for the whole run."""

    cfg: TrainConfig  # resolved
    chief: bool
    model: keras.Model
    log: typing.Callable[..., None]  # prints on the chief when verbose
    best_path: str  # checkpoints/best.weights.h5
    last_path: str
    epochs: int  # the run's length
    total_steps: int


@dataclasses.dataclass(frozen=True)
class RunView(RunContext):
    """What a hook inside an epoch gets: the context and where the epoch stands."""

    global_step: int
    step: int  # in the epoch
    n_steps: int  # the epoch's steps
    first: int  # the epoch's first step (after a resume, the backup's)
    totals: Totals  # the epoch's sums so far
    figures: typing.Callable[[], dict]  # the epoch's loss and metrics so far, by name


@dataclasses.dataclass(frozen=True)
class EpochEndView(RunView):
    """What `on_epoch_end` gets besides the record."""

    improved: bool  # this epoch set a new best score
    saves_started: float  # when the epoch-end jobs began (time.time())


class Action:
    """A side job; override the hooks it needs (each is a no-op here)."""

    def on_train_begin(self, context):
        pass

    def on_epoch_begin(self, run, epoch):
        pass

    def before_steps(self, run, n):
        pass

    def on_steps(self, run, steps):
        pass

    def on_epoch_end(self, run, record):
        pass

    def on_train_end(self, run):
        pass


class DivergenceStop:
    """Drops non-finite steps before the actions see them; stops the run after `patience` in a
    row (1 in float32; 10 with float16's loss scaler, which skips overflowing steps itself).
    `flush` writes the step records kept so far; `backup` names the last good backup."""

    def __init__(self, patience, flush, backup, last_path):
        self.patience, self.bad = patience, 0
        self.flush, self.backup, self.last_path = flush, backup, last_path

    def finite(self, steps, step_in_epoch):
        """The finite ones of `steps`; raises TrainingDiverged at the patience's end."""
        kept = []
        for s in steps:
            if math.isfinite(s.loss):
                self.bad = 0
                kept.append(s)
                continue
            self.bad += 1
            if self.bad >= self.patience:
                self.flush()
                raise TrainingDiverged(self.message(s, step_in_epoch))
        return kept

    def message(self, s, step_in_epoch):
        last = os.path.exists(self.last_path)
        return (f"Loss is {s.loss} at epoch {s.epoch}, step {step_in_epoch} (global step "
                f"{s.global_step}); training stopped. The last good checkpoint is kept: "
                f"{self.backup.latest or 'none was saved yet'}"
                f"{' and ' + self.last_path if last else ''}. Lower --lr or use a warm-up.")


class ProgressBar(Action):
    """Keras's progress bar over the epoch's steps (chief, verbose=1)."""

    def __init__(self):
        self.bar = None

    def on_epoch_begin(self, run, epoch):
        self.bar = None
        if run.chief and run.cfg.verbose == 1:
            # every figure is the epoch's so far: shown as it is, not averaged again
            self.bar = keras.utils.Progbar(run.n_steps, stateless_metrics=[])

    def on_steps(self, run, steps):
        if self.bar is None or not steps:
            return
        figures = run.figures()
        self.bar.update(run.step - run.first, [*figures.items(), ("lr", steps[-1].lr)])


class StepRecords(Action):
    """Per-step records (train_steps.csv, TensorBoard) and the epoch records (history.csv): the
    one writer of the run's `records`."""

    def __init__(self, records):
        self.records = records

    def on_steps(self, run, steps):
        for s in steps:
            self.records.add_step(s.global_step, s.epoch, s.lr, s.loss, s.values)

    def on_epoch_end(self, run, record):
        self.records.add_epoch(record)


class WeightFiles(Action):
    """checkpoints/best.weights.h5 (the best score so far) and last.weights.h5 (chief only),
    with the weights that were evaluated (`state`'s moving average when the recipe keeps one)."""

    def __init__(self, state):
        self.state = state

    def on_epoch_end(self, run, record):
        # Every worker swaps (the swap is a local assignment, and the workers' copies stay
        # equal); only the chief writes.
        with self.state.evaluated_weights():
            if run.chief and run.improved:
                checkpoints.save_weights(run.model, run.best_path)
            if run.chief:
                checkpoints.save_weights(run.model, run.last_path)


class Backups(Action):
    """The resumable backup every `backup_steps` iterations inside an epoch and at its end: the
    one writer of the run's `backup` (which holds `state`; the step inside the epoch is set
    here, just before a save). `flush` writes the step records first, as the module docstring
    says."""

    def __init__(self, backup, state, flush):
        self.backup, self.state, self.flush = backup, state, flush

    def on_steps(self, run, steps):
        every = run.cfg.backup_steps
        if every and run.global_step % every == 0 and run.step < run.n_steps:
            self.state.step_in_epoch.assign(run.step)
            self.flush()
            self.backup.save(run.global_step)

    def on_epoch_end(self, run, record):
        self.backup.save(run.global_step)


_NOT_METRICS = frozenset(("epoch", "step", "lr", "loss", *TIME_FIELDS))


class EpochLine(Action):
    """One line per epoch: figures, lr, img/s and the time left."""

    def on_epoch_end(self, run, record):
        done = max(run.step - run.first, 1)
        remaining = (run.total_steps - run.global_step) * record["epoch_seconds"] / done
        metrics = [k for k in record if k not in _NOT_METRICS and not k.startswith("val_")]
        run.log(epoch_line(record, run.epochs, remaining, time.time() - run.saves_started,
                           metrics))


class Profile(Action):
    """`--profile=N`: a TensorBoard trace of N steps after the run's warm-up steps."""

    def __init__(self, run_cfg, chief, log):
        self.profiler = profiling.StepProfiler(run_cfg.model_dir, run_cfg.profile, chief, log=log)
        self.run_step = 0  # steps run by this process (a resumed run profiles after its warm-up)

    def before_steps(self, run, n):
        self.profiler.step(self.run_step)
        self.run_step += n

    def on_train_end(self, run):
        self.profiler.stop()


def default_actions(context, state, records, backup):
    """The side jobs every run has, in the order their files must be written."""
    return [Profile(context.cfg, context.chief, context.log), WeightFiles(state),
            StepRecords(records), ProgressBar(), Backups(backup, state, records.flush_steps),
            EpochLine()]
