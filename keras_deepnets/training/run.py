"""`TrainingRun`: one run's model, optimizer, step functions, state, records and side jobs, with
the four calls a controller makes (`training.train` is that controller):

    run = TrainingRun(spec)          # builds under the strategy's scope
    run.restore()                    # from the latest backup, if any
    for epoch in run.epochs_left():
        if not run.train_epoch(epoch):   # steps, with the actions' on_steps hooks
            break                        # a callback stopped the run inside the epoch
        record = run.end_epoch(epoch)  # evaluation, score, state, the actions' on_epoch_end
        if run.stop_requested():
            break
    result = run.finish()            # summary, curves, export

Data flow: input (inputs.py) -> StepFunctions (steps.py) -> DivergenceStop -> epoch totals and
actions (actions.py: records, progress bar, backups) -> end of epoch: evaluation, TrainState
(state.py: score, best, plateau) -> actions (weight files, records, backup, epoch line).
The run's counters are its own (`Position`, changed only here); the actions get frozen views
(actions.py: the run's fixed `RunContext`, plus where the epoch stands) and change only what
they were made with (the records, the backup, the weight files): the controller tells
`finish` whether it stopped early, and the backup keeps its own last good path.
"""

import dataclasses
import os
import time
import typing

import keras
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.training import actions as actions_lib
from keras_deepnets.training import (callbacks as callbacks_lib, checkpoints, ema, exporting,
                                     inputs, metric_sums, optimizers, recipes,
                                     v2_recipe)
from keras_deepnets.training.config import TrainConfig, config_record
from keras_deepnets.training.records import Records, Timer, format_duration
from keras_deepnets.training.state import TrainState, monitor_key, monitor_mode
from keras_deepnets.training.strategy import ConfigError
from keras_deepnets.training.building import build_model
from keras_deepnets.training.steps import StepFunctions
from keras_deepnets.training.strategy import strategy_name


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What `train` decided before anything is built: the resolved config (config.resolve),
    the data plan, the strategy and precision, and the run's length."""

    cfg: TrainConfig  # resolved: what the run uses and records
    info: registry.ModelInfo
    recipe: recipes.Recipe
    plan: inputs.DataPlan
    strategy: tf.distribute.Strategy
    policy: str
    chief: bool
    steps_per_epoch: int
    total_steps: int
    epochs: int
    model_fn: typing.Optional[typing.Callable[..., keras.Model]] = None
    requested: typing.Optional[TrainConfig] = None  # as the user gave it (config.json)

    @property
    def has_validation(self):
        return bool(self.plan.val_examples and self.cfg.eval_every)

    def metric_names(self):
        """The names of the run's metrics (its figures: loss and these, val_* evaluated)."""
        try:
            return metric_sums.names_of(self.cfg.metrics)
        except ValueError as e:
            raise ConfigError(str(e)) from None


@dataclasses.dataclass
class Position:
    """Where a run stands: the TrainingRun's own counters, changed only by it (the actions get
    frozen views of them, `actions.RunView`)."""

    start_epoch: int = 0  # where this process began: the restored backup's epoch and step
    start_step: int = 0
    global_step: int = 0
    first: int = 0  # the epoch in progress: its first step, its length, the step reached
    n_steps: int = 0
    step: int = 0
    totals: actions_lib.Totals = actions_lib.Totals()  # its finite steps' sums
    lr: typing.Optional[float] = None  # its last step's
    input_seconds: float = 0.0  # its time split: making its input, the timed loop
    epoch_seconds: float = 0.0
    images: float = 0.0  # trained by this process, and in how long (its img/s)
    seconds: float = 0.0


class TrainingRun:
    """One run; see the module docstring for the calls and their order."""

    def __init__(self, spec, callbacks=()):
        self.spec = spec
        self.timer = Timer()
        keras.utils.set_random_seed(spec.cfg.seed)  # same initial weights on every worker
        self._build()
        self.records = Records(spec.cfg.model_dir, writes_files=spec.chief,
                               tensorboard=spec.cfg.tensorboard, metric_names=self.steps.names)
        self.context = _context(spec, self.model, self.log)
        self.actions = actions_lib.default_actions(self.context, self.state, self.records,
                                                   self.backup)
        self.actions.append(callbacks_lib.KerasCallbacks(callbacks, self.model, {
            "epochs": spec.epochs, "steps": spec.steps_per_epoch, "verbose": spec.cfg.verbose}))
        self.divergence = actions_lib.DivergenceStop(
            10 if spec.policy == "mixed_float16" else 1, self.records.flush_steps, self.backup,
            self.context.last_path)
        self.val_dist = self._validation()
        self.input = inputs.TrainInput(spec.strategy, spec.cfg, spec.info, spec.plan)
        self.position = Position()
        self.resumed_from = None

    # What the spec fixed, by the names the run's parts use.
    cfg = property(lambda self: self.spec.cfg)
    chief = property(lambda self: self.spec.chief)
    epochs = property(lambda self: self.spec.epochs)
    steps_per_epoch = property(lambda self: self.spec.steps_per_epoch)
    total_steps = property(lambda self: self.spec.total_steps)

    def _build(self):
        spec, cfg = self.spec, self.spec.cfg
        loss_scaled = spec.policy == "mixed_float16"
        try:
            metrics = metric_sums.build(cfg.metrics, spec.plan.classes)
        except ValueError as e:  # a replayed record's metric that does not add up
            raise ConfigError(str(e)) from None
        key = monitor_key(cfg.monitor, spec.has_validation, [m.name for m in metrics])
        with spec.strategy.scope():
            self.model = build_model(spec)
            average = (ema.WeightAverage(self.model, cfg.ema_decay) if cfg.ema_decay
                       else None)
            self.state = TrainState(key, average, monitor_mode(key, cfg.monitor_mode))
            optimizer = self._optimizer()
            if loss_scaled:  # dynamic loss scaling: float16's range is too small
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
        self.optimizer = optimizer
        self.steps = StepFunctions(spec.strategy, self.model, optimizer,
                                   global_batch=cfg.batch_size, classes=spec.plan.classes,
                                   metrics=metrics,
                                   loss=cfg.loss and optimizers.build_loss(cfg.loss),
                                   weight_decay=self.l2_decay,
                                   label_smoothing=cfg.label_smoothing,
                                   jit_compile=cfg.jit_compile, loss_scaled=loss_scaled,
                                   average=average, eval_flip=cfg.eval_flip)
        self.backup = checkpoints.Backup(cfg.model_dir, spec.strategy, model=self.model,
                                         optimizer=optimizer, **self.state.trackables())

    def _optimizer(self):
        """The user's optimizer rebuilt from its record, or the recipe's fused SGD on its
        schedule (under the strategy's scope); sets `schedule` (the recipe's, or None) and
        `lr_at` (step -> lr, for the records)."""
        spec, cfg = self.spec, self.spec.cfg
        self.l2_decay = cfg.weight_decay  # the step's L2 term (recipes.weight_decay_loss)
        if cfg.optimizer is not None:
            self.schedule = None
            self.lr_at = optimizers.learning_rate_of(cfg.optimizer)
            return optimizers.build_optimizer(cfg.optimizer)
        if cfg.recipe == v2_recipe.NAME:  # PyTorch's coupled decay, in the optimizer
            self.schedule, self.l2_decay = None, 0.0
            schedule = v2_recipe.warmup_cosine(
                cfg.lr, spec.epochs, cfg.warmup_epochs or spec.recipe.warmup_epochs,
                v2_recipe.SETTINGS.warmup_start_factor, spec.steps_per_epoch)
            self.lr_at = lambda step: float(schedule(step))
            return v2_recipe.v2_optimizer(self.model, schedule, dataclasses.replace(
                v2_recipe.SETTINGS, momentum=cfg.momentum, weight_decay=cfg.weight_decay))
        self.schedule = recipes.make_schedule(cfg, spec.recipe, spec.steps_per_epoch,
                                              spec.total_steps, self.state.plateau_drops)
        self.lr_at = lambda step: float(self.schedule(step))
        return optimizers.SGD(learning_rate=self.schedule, momentum=cfg.momentum,
                              nesterov=bool(cfg.nesterov))

    def _validation(self):
        spec = self.spec
        if not spec.has_validation:
            return None
        return inputs.distribute_validation(spec.strategy, inputs.val_dataset_fn(
            self.cfg, spec.info, spec.plan, self.cfg.batch_size))

    def log(self, *args):
        if self.chief and self.cfg.verbose:
            print(*args, flush=True)

    # -- the controller's calls ------------------------------------------------------------

    def restore(self):
        """Continues from the latest backup, if there is one (records cut to its step)."""
        self.resumed_from = self.backup.restore()
        pos = self.position
        pos.start_epoch = int(self.state.epoch.numpy())
        pos.start_step = int(self.state.step_in_epoch.numpy())
        pos.global_step = int(self.optimizer.iterations.numpy())
        if self.resumed_from:
            self.records.restore(pos.start_epoch, pos.global_step)
            self.timer.base = (self.records.epochs[-1]["wall_seconds"] if self.records.epochs
                               else 0.0)
            self.log(f"Resuming from backup {self.resumed_from}: epoch {pos.start_epoch + 1}, "
                     f"step {pos.start_step}/{self.steps_per_epoch} of the epoch (global step "
                     f"{pos.global_step}).")
        self.log(describe_run(self))
        self.records.write_flags(self.cfg.to_dict(), {
            "policy": self.spec.policy, "strategy": strategy_name(self.spec.strategy),
            "replicas": self.spec.strategy.num_replicas_in_sync,
            "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
            "data_source": self.spec.plan.source})
        self.records.write_config(config_record(self.spec.requested or self.cfg, self.cfg))
        for action in self.actions:
            action.on_train_begin(self.context)
        return self.resumed_from

    def epochs_left(self):
        return range(self.position.start_epoch, self.epochs)

    def train_epoch(self, epoch):
        """Runs the epoch's remaining steps (after a resume, from the backup's step); False
        when a callback stopped the run inside the epoch (`stop_inside`)."""
        started, pos = time.time(), self.position
        pos.first = pos.start_step if epoch == pos.start_epoch else 0
        pos.n_steps = self._epoch_steps(epoch)
        pos.step, pos.lr = pos.first, None
        pos.totals = actions_lib.Totals(delta=self.steps.sums.initial * 0.0)
        iterator = self.input.iterator(
            epoch, pos.first, [self._epoch_steps(e) for e in range(epoch, self.epochs)])
        self._call_actions("on_epoch_begin", self.view(), epoch)
        t0 = time.time()
        pos.input_seconds = t0 - started
        while pos.step < pos.n_steps:
            n = self._chunk()
            self._call_actions("before_steps", self.view(), n)
            steps = self.divergence.finite(self._steps(epoch, self.steps.run(iterator, n)),
                                           pos.step)
            for s in steps:
                pos.totals = pos.totals.plus(s)
            self._call_actions("on_steps", self.view(), steps)
            if self.stop_requested() and pos.step < pos.n_steps:
                return self.stop_inside()
        pos.epoch_seconds = time.time() - t0
        return True

    def stop_requested(self):
        """A callback set `model.stop_training` (Keras's way to stop a run)."""
        return bool(getattr(self.model, "stop_training", False))

    def stop_inside(self):
        """Stops inside an epoch: the step records, then a backup at the step reached (unless
        one was just saved there), so the same command resumes from here; returns False."""
        pos = self.position
        self.state.step_in_epoch.assign(pos.step)
        self.records.flush_steps()
        if self.backup.latest != os.path.join(self.backup.write_dir, f"ckpt-{pos.global_step}"):
            self.backup.save(pos.global_step)
        self.log(f"Stopped by a callback at step {pos.step}/{pos.n_steps} of epoch "
                 f"{int(self.state.epoch.numpy()) + 1} (global step {pos.global_step}); the "
                 f"backup is at that step.")
        return False

    def _epoch_steps(self, epoch):
        return min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)

    def _chunk(self):
        """Steps in the next call: `steps_per_loop`, cut where the epoch ends and at backup
        steps (so backups stay where they are without loops)."""
        pos = self.position
        n = min(self.cfg.steps_per_loop, pos.n_steps - pos.step)
        if self.cfg.backup_steps:
            n = min(n, self.cfg.backup_steps - pos.global_step % self.cfg.backup_steps)
        return n

    def _steps(self, epoch, rows):
        out, pos = [], self.position
        for row in rows:
            pos.step += 1
            pos.global_step += 1
            pos.lr = self.lr_at(pos.global_step - 1)
            out.append(actions_lib.Step(pos.global_step, epoch + 1, pos.lr,
                                        row.loss_sum / max(row.count, 1), row.count,
                                        row.values, row.delta))
        return out

    def figures(self):
        """The epoch's loss and metrics so far (training figures, by name)."""
        t = self.position.totals
        return {"loss": float(t.mean("loss")),
                **self.steps.sums.results(self.steps.sums.initial + t.delta)}

    def end_epoch(self, epoch):
        """Evaluates (every `eval_every` epochs and the last), scores the epoch, updates the
        state and runs the actions' epoch-end jobs; returns the epoch's record."""
        pos, t = self.position, self.position.totals
        record = {"epoch": epoch + 1, "step": pos.global_step, "lr": pos.lr, **self.figures(),
                  "images_per_sec": float(t.count) / max(pos.epoch_seconds, 1e-9),
                  "epoch_seconds": pos.epoch_seconds}
        pos.images += t.count
        pos.seconds += pos.epoch_seconds
        t0 = time.time()
        if self.val_dist is not None and ((epoch + 1) % self.cfg.eval_every == 0
                                          or epoch + 1 == self.epochs):
            with self.state.evaluated_weights():  # the average, when the recipe keeps one
                record.update(self.steps.evaluate(self.val_dist))
        record["input_seconds"], record["eval_seconds"] = pos.input_seconds, time.time() - t0
        record["wall_seconds"] = self.timer()
        score = self.state.score(record)
        if (self.schedule is not None and self.schedule.schedule == "plateau"
                and self.state.plateaued(score, self.records.epochs)):
            self.state.plateau_drops.assign(self.state.plateau_drops + 1)
        self.state.end_epoch(epoch + 1)
        saves_started = time.time()
        improved = self.state.update_best(score)
        self._call_actions("on_epoch_end",
                           self.view(improved=improved, saves_started=saves_started), record)
        # After this record's wall_seconds: on disk with the next epoch's (or at the end).
        record["save_seconds"] = time.time() - saves_started
        return record

    def finish(self, stopped_early=False):
        """Ends the side jobs, writes the summary and curves, exports; returns the
        `TrainResult`. `stopped_early`: the controller stopped before the last epoch."""
        self._call_actions("on_train_end", self.context)
        if self.state.average is not None:  # the result and the export hold the average
            self.state.average.copy_to_model()
        summary, best = self._summary(stopped_early)
        self.records.flush_epochs()  # the last epoch's save_seconds
        curves = self.records.write_curves(f"{self.spec.info.name}: top-1 error")
        self.records.flush_steps()  # a run stopped inside an epoch: its last steps
        self.records.write_summary(summary)
        self.records.close()
        exported = None
        if self.cfg.export_dir and self.chief:
            exported = exporting.export_trained(self.model, self.spec.info, self.cfg)
        self.log(done_line(summary, curves, exported and self.cfg.export_dir))
        return TrainResult(history=self.records.epochs, steps=self.records.steps,
                           best=best, summary=summary, model=self.model,
                           model_dir=self.cfg.model_dir, curves_png=curves, export=exported,
                           resumed_from=self.resumed_from)
    def _summary(self, stopped_early):
        """summary.json's figures, and the best epoch's record."""
        history, key, pos = self.records.epochs, self.state.score_key, self.position
        best = self.state.best_record(history)
        summary = {"model": self.spec.info.name, "epochs": len(history),
                   "steps": int(history[-1]["step"]) if history else 0,
                   "best_epoch": int(best["epoch"]) if best else None,
                   "monitor": key, "mode": self.state.mode, "best_score": best.get(key),
                   "best": best,
                   "final": history[-1] if history else {}, "wall_seconds": self.timer(),
                   "images_per_sec": (pos.images / pos.seconds if pos.seconds else None),
                   "stopped_early": stopped_early, "best_weights": self.context.best_path}
        return summary, best

    def end_train(self):
        """The side jobs' end without a summary (the run stopped on an error)."""
        self.input.close()
        self._call_actions("on_train_end", self.context)

    def view(self, **epoch_end):
        """The frozen view the actions get, as the run stands now: `actions.RunView`, or with
        `epoch_end`'s fields (improved, saves_started) an `actions.EpochEndView`."""
        pos = self.position
        view = actions_lib.EpochEndView if epoch_end else actions_lib.RunView
        return view(**_fields(self.context), global_step=pos.global_step, step=pos.step,
                    n_steps=pos.n_steps, first=pos.first, totals=pos.totals,
                    figures=self.figures, **epoch_end)

    def _call_actions(self, hook, view, *args):
        for action in self.actions:  # all of one hook see the same view
            getattr(action, hook)(view, *args)


def _fields(frozen):
    """A dataclass's fields by name, not copied (dataclasses.asdict would copy the model)."""
    return {f.name: getattr(frozen, f.name) for f in dataclasses.fields(frozen)}


def _context(spec, model, log):
    """The actions' `RunContext`; makes the weight files' folder (chief)."""
    ckpt_dir = os.path.join(spec.cfg.model_dir, "checkpoints")
    if spec.chief:
        os.makedirs(ckpt_dir, exist_ok=True)
    return actions_lib.RunContext(
        cfg=spec.cfg, chief=spec.chief, model=model, log=log,
        best_path=os.path.join(ckpt_dir, "best.weights.h5"),
        last_path=os.path.join(ckpt_dir, "last.weights.h5"), epochs=spec.epochs,
        total_steps=spec.total_steps)


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the curves (per-epoch `history`, per-iteration `steps`), the best
    epoch, the file paths, and the trained model (in memory)."""

    history: list
    steps: list
    best: dict
    summary: dict
    model: object
    model_dir: str
    curves_png: str = None
    export: dict = None
    resumed_from: str = None

    def series(self, key):
        """One column of the per-epoch history, e.g. `result.series("val_top1")`."""
        return [record.get(key) for record in self.history]


def done_line(summary, curves, export_dir):
    """The run's last line."""
    if summary["best_score"] is None:
        best = "no scored epoch"
    else:
        best = (f"best {summary['monitor']} {summary['best_score']:.4f} at epoch "
                f"{summary['best_epoch']}")
    ips = summary["images_per_sec"]
    return (f"Done: {summary['epochs']} epoch(s) in {format_duration(summary['wall_seconds'])}; "
            f"{best}; " + (f"{ips:.1f} img/s. " if ips else "")
            + (f"Curves: {curves}. " if curves else "")
            + (f"Exported to {export_dir}." if export_dir else ""))


def describe_run(run):
    """The run's first lines: data, strategy, precision, length, recipe, model_dir."""
    cfg, plan, strategy = run.cfg, run.spec.plan, run.spec.strategy
    data = (f"SYNTHETIC data of the right shape ({plan.image_size}x{plan.image_size}x3, "
            f"{plan.classes} classes, {plan.train_examples} images): no --data was given, so "
            "this run only shows the whole loop working" if plan.synthetic
            else f"{cfg.data}: {plan.train_examples} training images, {plan.val_examples} "
                 f"validation images ({plan.val_split or 'none'}), {plan.classes} classes")
    ema_text = (f", moving average of the weights (decay {cfg.ema_decay:g})" if cfg.ema_decay
                else "")
    return (f"Training {run.spec.info.name} on {data}.\n"
            f"  {strategy_name(strategy)} strategy, {strategy.num_replicas_in_sync} replica(s), "
            f"policy {run.spec.policy}, global batch {cfg.batch_size}, {run.steps_per_epoch} "
            f"steps/epoch, {run.epochs} epoch(s) = {run.total_steps} steps.\n"
            f"  {_describe_training(run)}{ema_text}; metrics {', '.join(run.steps.names)}; "
            f"epochs ranked by {run.state.score_key} ({run.state.mode}).\n"
            f"  model_dir {cfg.model_dir}")


def _describe_training(run):
    """The optimizer, schedule, decay and loss, in words."""
    cfg = run.cfg
    if cfg.optimizer is not None:
        opt = cfg.optimizer["optimizer"]
        rate = opt["config"]["learning_rate"]
        text = (f"The {cfg.recipe} recipe with the given optimizer {opt['class_name']} (lr "
                f"{rate['class_name'] if isinstance(rate, dict) else rate})")
    elif run.schedule is None:  # torchvision_v2
        return (f"The {cfg.recipe} recipe: SGD momentum {cfg.momentum}, lr {cfg.lr:g} after a "
                f"linear warm-up, cosine per epoch, weight decay {cfg.weight_decay:g} as "
                f"PyTorch's (on the gradient) except on the norms, mixup/cutmix, random "
                f"erasing, label smoothing {cfg.label_smoothing}")
    else:
        text = (f"The {cfg.recipe} recipe: SGD momentum {cfg.momentum}"
                f"{' (Nesterov)' if cfg.nesterov else ''}, {run.schedule.describe()}")
    text += f", weight decay {cfg.weight_decay:g} on conv/dense kernels"
    if cfg.loss is not None:
        return text + f", loss {cfg.loss['class_name']}"
    return text + f", label smoothing {cfg.label_smoothing}"
