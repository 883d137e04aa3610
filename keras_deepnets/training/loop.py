"""`train`: the controller of the training core (Orbit's controller; `TrainingRun` in run.py
is its trainer, steps.py the step, actions.py the side jobs, state.py what survives a restart).

One custom loop over `strategy.run` and `strategy.distribute_datasets_from_function` for
OneDevice, Mirrored, MultiWorkerMirrored and TPU strategies alike (as TF Model Garden's loops;
Keras 3's `model.fit` fails under MultiWorkerMirroredStrategy, keras-team/keras#20585).

Example (a notebook, or a KerasTuner trial with its own strategy):
    >>> from keras_deepnets import training
    >>> result = training.train(model="resnet20", data="/data/cifar10", epochs=2,
    ...                         max_examples=2000, model_dir="/tmp/run1", export_dir="")
    >>> result.best["val_top1"], result.curves_png        # doctest: +SKIP
    >>> [r["top1_error"] for r in result.steps][:3]         # per-iteration training error
"""

import math
import os

import keras

from keras_deepnets import registry
from keras_deepnets.training import callbacks as callbacks_lib
from keras_deepnets.training import gradients, inputs, profiling
from keras_deepnets.training.config import make_config, resolve, run_recipe
from keras_deepnets.training.run import RunSpec, TrainingRun
from keras_deepnets.training.state import reported_figures
from keras_deepnets.training.strategy import (ConfigError, is_chief, make_strategy,
                                              resolve_precision, strategy_name,
                                              worker_failure_guard)


def train(config=None, *, strategy=None, model_fn=None, callbacks=(), optimizer=None,
          loss=None, metrics=None, **overrides):
    """Trains one model with the paper's recipe; returns a `TrainResult`.

    Args:
        config: a `TrainConfig`, a dict of its fields, the path of a run's config.json (to
            run it again: give another `model_dir`, as the same one resumes it), or None;
            `overrides` (the same field names as keywords) take precedence, e.g.
            `train(model="resnet56", epochs=3)`.
        strategy: a tf.distribute.Strategy to run under (a KerasTuner trial's MirroredStrategy);
            default: made from `distribution_strategy`, `num_gpus`, `num_cpu_devices`.
        model_fn: optional `fn(**kwargs) -> keras.Model` replacing `registry.get_model(model)`
            (e.g. a tuner's hyper-model); it gets `classes` (and `input_shape`, `shortcut`).
        callbacks: `keras.callbacks.Callback` objects, run on every worker with Keras's
            contract (callbacks.py): `on_epoch_end(epoch, logs)` gets the epoch's history record,
            `self.model.stop_training = True` stops the run with its records and backup whole.
        optimizer: a `keras.optimizers.Optimizer` (lr a float or a LearningRateSchedule)
            instead of the recipe's fused SGD and schedule. The run builds its own from the
            object's config under the strategy's scope (config.json records it), keeping
            `exclude_from_weight_decay(var_names=...)`; its weight decay applies, the recipe's
            L2 term only when `weight_decay` is given.
        loss: a `keras.losses.Loss` computed per example on the model's softmax output, with
            the labels as the input gives them (sparse ids, or one-hot / soft labels).
        metrics: `keras.metrics.Metric` objects or names (top1, top5, top<k>, accuracy),
            computed in training and evaluation and reported by name (history.csv, logs,
            TensorBoard, `monitor`); default top1, top5.

    Raises:
        ConfigError: a user's mistake (unknown model, batch not divisible by the replicas,
            missing data, unwritable model_dir ...), with a one-line message.
        TrainingDiverged: the loss became NaN/inf; the last good backup and weights are kept.
        WorkerLost: multi-worker, a peer worker died or stopped answering; the backup is kept
            and running the same command on every worker resumes from it.
    """
    objects = {k: v for k, v in (("optimizer", optimizer), ("loss", loss),
                                 ("metrics", metrics)) if v is not None}
    spec = plan_run(make_config(config, **overrides, **objects), strategy, model_fn)
    check_callbacks(spec, callbacks)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(spec.policy)
    try:
        backup_dir = os.path.join(spec.cfg.model_dir, "backup")
        # forget_run_gradients: else each call keeps its traced step (~20 MB).
        with gradients.forget_run_gradients(), worker_failure_guard(spec.strategy, backup_dir):
            return run_epochs(TrainingRun(spec, callbacks))
    finally:
        profiling.stop_any()
        keras.config.set_dtype_policy(previous_policy)


def check_callbacks(spec, callbacks):
    """Refuses, before any work, callbacks the run cannot honour (callbacks.check)."""
    try:
        callbacks_lib.check(callbacks, reported_figures(spec.metric_names(), spec.has_validation))
    except ValueError as e:
        raise ConfigError(str(e)) from None


def run_epochs(run):
    """The controller's loop: restore, train and end each epoch, finish; a callback's
    `model.stop_training` stops it after the epoch, or inside it after the current steps."""
    stopped = False
    try:
        run.restore()
        for epoch in run.epochs_left():
            if not run.train_epoch(epoch):
                stopped = True
                break
            run.end_epoch(epoch)
            if run.stop_requested():
                stopped = True
                break
    except BaseException:
        run.end_train()
        raise
    return run.finish(stopped_early=stopped)


def plan_run(cfg, strategy=None, model_fn=None):
    """Resolves `cfg` (a `make_config` result: the recipe's values filled in, config.resolve),
    makes the strategy, checks the batch against the replicas and the data, and fixes the run's
    length; returns a `RunSpec`. `cfg` itself is not changed (it is frozen)."""
    info = registry.model_info(cfg.model)
    recipe = run_recipe(cfg)
    requested, cfg = cfg, resolve(cfg)
    strategy = strategy or make_strategy(cfg.distribution_strategy, cfg.num_gpus,
                                         cfg.num_cpu_devices, cfg.tpu,
                                         collective_timeout=cfg.collective_timeout)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by the {replicas} "
                          f"replicas of the {strategy_name(strategy)} strategy; use a multiple "
                          f"of {replicas}.")
    chief = is_chief(strategy)
    if chief:
        _check_model_dir(cfg.model_dir)
    plan = inputs.plan(cfg, info)
    if plan.train_examples < cfg.batch_size:
        raise ConfigError(f"Only {plan.train_examples} training images for a batch of "
                          f"{cfg.batch_size}; lower --batch_size or raise --max_examples.")
    steps_per_epoch = plan.train_examples // cfg.batch_size
    total_steps = _total_steps(cfg, recipe, steps_per_epoch)
    return RunSpec(cfg=cfg, info=info, recipe=recipe, plan=plan, strategy=strategy,
                   policy=resolve_precision(cfg.mixed_precision, strategy), chief=chief,
                   steps_per_epoch=steps_per_epoch, total_steps=total_steps,
                   epochs=math.ceil(total_steps / steps_per_epoch), model_fn=model_fn,
                   requested=requested)


def _total_steps(cfg, recipe, steps_per_epoch):
    if cfg.epochs:
        total = cfg.epochs * steps_per_epoch
    elif recipe.total_steps:
        total = recipe.total_steps
    else:
        total = recipe.epochs * steps_per_epoch
    if cfg.train_steps:
        total = min(total, cfg.train_steps) if cfg.epochs else cfg.train_steps
    return total


def _check_model_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"model_dir {path!r} is not writable ({e.strerror or e}).") from None
