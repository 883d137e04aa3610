"""The side jobs of a training run, as small objects with hooks (Keras callbacks, Orbit actions).

A `TrainingRun` calls, in the order of its `actions` list:
    on_epoch_begin(run, epoch)      before an epoch's first step
    before_steps(run, n)            before each call of n steps (`steps_per_loop`)
    on_steps(run, steps)            after it, with the `Step`s whose loss was finite
    on_epoch_end(run, row)          after the epoch's row (training and validation figures)
    on_train_end(run)               once, when the run stops (also after an error)
`run` is a `RunView`: a frozen snapshot of what an action may read, made for each call (not
the TrainingRun). An action changes the run only through the objects it is handed (the model's
weights, the `state` saved with the backups, the `records` it appends to, the `backup`, which
keeps its own last good path, `Backup.latest`), so no action sets attributes other parts read.

Add a per-epoch action by subclassing `Action` and passing it in `train(..., actions=[...])`;
add a metric to the step in steps.py. Order matters where files are involved: the weight
files and the records are written before the backup, so that a kill between the two leaves
records ahead of the backup (resuming trims them) instead of losing the steps in between.
"""

import dataclasses
import math
import os
import time
import typing

import keras

from keras_deepnets.training import checkpoints, profiling
from keras_deepnets.training.config import TrainConfig
from keras_deepnets.training.records import Records, epoch_line
from keras_deepnets.training.state import TrainState


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Step(typing.NamedTuple):
    """One training step's figures: the batch's mean loss and its sums."""

    global_step: int
    epoch: int  # 1-based
    lr: float
    loss: float
    top1: float  # hits in the global batch
    top5: float
    count: float  # examples in the global batch


class EpochTotals:
    """Sums of the epoch's finite steps (loss is summed per example, as in the step)."""

    def __init__(self):
        self.loss = self.top1 = self.top5 = self.count = 0.0

    def add(self, step):
        self.loss += step.loss * step.count
        self.top1 += step.top1
        self.top5 += step.top5
        self.count += step.count

    def mean(self, name):
        return getattr(self, name) / max(self.count, 1.0)


@dataclasses.dataclass(frozen=True)
class RunView:
    """What an action reads of the run, as it stands when the hook is called."""

    cfg: TrainConfig  # resolved
    chief: bool
    model: keras.Model
    state: TrainState
    records: Records
    backup: checkpoints.Backup
    log: typing.Callable[..., None]  # prints on the chief when verbose
    best_path: str  # checkpoints/best.weights.h5
    last_path: str
    epochs: int  # the run's length
    total_steps: int
    global_step: int
    step: int  # in the epoch
    n_steps: int  # the epoch's steps
    first: int  # the epoch's first step (after a resume, the backup's)
    totals: EpochTotals  # the epoch's sums so far
    input_seconds: float  # making the epoch's input
    saves_started: float  # when the epoch-end jobs began
    improved: bool  # this epoch set a new best score

    @property
    def last_good(self):
        """The last backup restored or saved (None before the first)."""
        return self.backup.latest


class Action:
    """A side job; override the hooks it needs (each is a no-op here)."""

    def on_epoch_begin(self, run, epoch):
        pass

    def before_steps(self, run, n):
        pass

    def on_steps(self, run, steps):
        pass

    def on_epoch_end(self, run, row):
        pass

    def on_train_end(self, run):
        pass


class DivergenceStop:
    """Drops non-finite steps before the actions see them; stops the run after `patience` in a
    row (1 in float32; 10 with float16's loss scaler, which skips overflowing steps itself)."""

    def __init__(self, patience):
        self.patience, self.bad = patience, 0

    def finite(self, run, steps):
        kept = []
        for s in steps:
            if math.isfinite(s.loss):
                self.bad = 0
                kept.append(s)
                continue
            self.bad += 1
            if self.bad >= self.patience:
                run.records.flush_steps()
                raise TrainingDiverged(self.message(run, s))
        return kept

    @staticmethod
    def message(run, s):
        last = os.path.exists(run.last_path)
        return (f"Loss is {s.loss} at epoch {s.epoch}, step {run.step} (global step "
                f"{s.global_step}); training stopped. The last good checkpoint is kept: "
                f"{run.last_good or 'none was saved yet'}"
                f"{' and ' + run.last_path if last else ''}. Lower --lr or use a warm-up.")


class ProgressBar(Action):
    """Keras's progress bar over the epoch's steps (chief, verbose=1)."""

    def __init__(self):
        self.bar = None

    def on_epoch_begin(self, run, epoch):
        self.bar = None
        if run.chief and run.cfg.verbose == 1:
            self.bar = keras.utils.Progbar(run.n_steps,
                                           stateful_metrics=["loss", "top1", "top5", "lr"])

    def on_steps(self, run, steps):
        if self.bar is None or not steps:
            return
        t = run.totals
        self.bar.update(run.step - run.first, [("loss", t.mean("loss")), ("top1", t.mean("top1")),
                                               ("top5", t.mean("top5")), ("lr", steps[-1].lr)])


class StepRecords(Action):
    """Per-step rows (train_steps.csv, TensorBoard) and the epoch rows (history.csv)."""

    def on_steps(self, run, steps):
        for s in steps:
            run.records.add_step(s.global_step, s.epoch, s.lr, s.loss,
                                 1.0 - s.top1 / max(s.count, 1))

    def on_epoch_end(self, run, row):
        run.records.add_epoch(row)


class WeightFiles(Action):
    """checkpoints/best.weights.h5 (the best score so far) and last.weights.h5 (chief only),
    with the weights that were evaluated (the moving average when the recipe keeps one)."""

    def on_epoch_end(self, run, row):
        # Every worker swaps (the swap is a local assignment, and the workers' copies stay
        # equal); only the chief writes.
        with run.state.evaluated_weights():
            if run.chief and run.improved:
                checkpoints.save_weights(run.model, run.best_path)
            if run.chief:
                checkpoints.save_weights(run.model, run.last_path)


class Backups(Action):
    """The resumable backup every `backup_steps` iterations inside an epoch and at its end."""

    def on_steps(self, run, steps):
        every = run.cfg.backup_steps
        if every and run.global_step % every == 0 and run.step < run.n_steps:
            run.state.step_in_epoch.assign(run.step)
            run.records.flush_steps()  # records first, as the module docstring says
            run.backup.save(run.global_step)

    def on_epoch_end(self, run, row):
        run.backup.save(run.global_step)


class EpochLine(Action):
    """One line per epoch: figures, lr, img/s and the time left."""

    def on_epoch_end(self, run, row):
        done = max(run.step - run.first, 1)
        remaining = (run.total_steps - run.global_step) * row["epoch_seconds"] / done
        run.log(epoch_line(row, run.epochs, remaining, time.time() - run.saves_started))


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


def default_actions(cfg, chief, log):
    """The side jobs every run has, in the order their files must be written."""
    return [Profile(cfg, chief, log), WeightFiles(), StepRecords(), ProgressBar(), Backups(),
            EpochLine()]
