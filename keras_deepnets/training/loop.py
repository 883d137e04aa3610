"""The training core: one custom loop over `strategy.run` and
`strategy.distribute_datasets_from_function` for OneDevice, Mirrored, MultiWorkerMirrored and TPU
strategies alike (as TF Model Garden's loops; Keras 3's `model.fit` fails under
MultiWorkerMirroredStrategy, keras-team/keras#20585).

Example (a notebook, or a KerasTuner trial with its own strategy):
    >>> from keras_deepnets import training
    >>> result = training.train(model="resnet20", data="/data/cifar10", epochs=2,
    ...                         max_examples=2000, model_dir="/tmp/run1", export_dir="")
    >>> result.best["val_top1"], result.curves_png        # doctest: +SKIP
    >>> [r["top1_error"] for r in result.steps][:3]         # per-iteration training error
"""

import dataclasses
import math
import os
import sys
import time

import keras
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.training import checkpoints, gradients, inputs, profiling, recipes
from keras_deepnets.training.config import make_config
from keras_deepnets.training.records import Records, Timer, epoch_line, format_duration
from keras_deepnets.training.strategy import (ConfigError, is_chief, make_strategy,
                                              resolve_precision, strategy_name)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


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
        return [row.get(key) for row in self.history]


def _log(chief, verbose, *args):
    if chief and verbose:
        print(*args, flush=True)


def _check_model_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"model_dir {path!r} is not writable ({e.strerror or e}).") from None


def _build_model(cfg, info, plan, model_fn):
    kwargs = {"classes": plan.classes}
    if plan.image_size != info.input_size:
        kwargs["input_shape"] = (plan.image_size, plan.image_size, 3)
    if cfg.shortcut is not None:
        kwargs["shortcut"] = cfg.shortcut
    try:
        model = model_fn(**kwargs) if model_fn else registry.get_model(cfg.model, **kwargs)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return model


def set_sync_bn(model, synchronized):
    """Switches every BatchNormalization layer to cross-replica statistics (or back).

    Keras 3 reads `synchronized` when the layer is called (TensorFlow backend), so the built
    model needs no rebuild: the same weights then normalise with the global batch's moments.
    """
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized


def _schedule(cfg, recipe, steps_per_epoch, total_steps, plateau_drops):
    """The lr schedule in iterations. Without explicit boundaries, a run shorter or longer than
    the recipe's keeps the recipe's boundaries at the same fractions of the run (CIFAR's 32k and
    48k of 64k become 50% and 75%), so budgeted runs still see both drops."""
    kind = cfg.lr_schedule or recipe.lr_schedule
    unit = cfg.boundaries_in or ("epochs" if cfg.lr_boundaries else recipe.boundaries_in)
    if cfg.lr_boundaries is not None:
        bounds = cfg.lr_boundaries
    else:
        recipe_total = recipe.total_steps if recipe.boundaries_in == "steps" else recipe.epochs
        run_total = total_steps if recipe.boundaries_in == "steps" else total_steps / steps_per_epoch
        bounds = [b * run_total / recipe_total for b in recipe.boundaries]
        unit = recipe.boundaries_in
    step_bounds = [int(round(b * (steps_per_epoch if unit == "epochs" else 1))) for b in bounds]
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch)) or recipe.warmup_steps
    warmup_lr = recipe.warmup_lr if not cfg.warmup_epochs else cfg.warmup_lr
    return recipes.LearningRate(cfg.lr if cfg.lr else recipe.default_lr(cfg.batch_size), kind,
                                step_bounds, total_steps, warmup, warmup_lr, plateau_drops)


class _Steps:
    """The replica and cross-replica step functions, built once per run."""

    def __init__(self, strategy, model, optimizer, global_batch, weight_decay, label_smoothing,
                 jit_compile, loss_scaled, classes):
        self.strategy, self.model, self.optimizer = strategy, model, optimizer
        kernels = recipes.decayed_kernels(model)
        replicas = strategy.num_replicas_in_sync
        top5 = min(5, classes)

        def per_example(labels, probs):
            if label_smoothing:
                onehot = tf.one_hot(labels, classes)
                return keras.losses.categorical_crossentropy(onehot, probs,
                                                             label_smoothing=label_smoothing)
            return keras.losses.sparse_categorical_crossentropy(labels, probs)

        def stats(labels, probs, losses):
            probs = tf.cast(probs, tf.float32)
            labels = tf.cast(labels, tf.int32)
            return (tf.reduce_sum(losses),
                    tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, probs, 1), tf.float32)),
                    tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, probs, top5), tf.float32)),
                    tf.cast(tf.shape(labels)[0], tf.float32))

        def grads_and_stats(images, labels):
            with tf.GradientTape() as tape:
                probs = tf.cast(model(images, training=True), tf.float32)  # softmax in float32
                losses = per_example(labels, probs)
                # Sum over the replica's examples / the global batch, plus 1/replicas of the
                # decay: the optimizer sums gradients over replicas, giving the global mean
                # loss and the decay applied once.
                loss = (tf.reduce_sum(losses) / global_batch
                        + recipes.weight_decay_loss(kernels, weight_decay) / replicas)
                scaled = optimizer.scale_loss(loss) if loss_scaled else loss
            return tape.gradient(scaled, model.trainable_variables), stats(labels, probs, losses)

        if jit_compile:  # XLA for the forward/backward pass; the update stays outside
            grads_and_stats = tf.function(grads_and_stats, jit_compile=True)

        def replica_train(images, labels):
            grads, out = grads_and_stats(images, labels)
            if loss_scaled and replicas > 1:
                # LossScaleOptimizer decides "finite" from the first replica's *local* gradients
                # under MirroredStrategy; make a non-finite gradient anywhere non-finite
                # everywhere so all replicas skip the step and lower the scale together.
                local = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
                bad = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(local, tf.float32))
                poison = tf.where(bad > 0.0, float("nan"), 1.0)
                grads = [g * tf.cast(poison, g.dtype) for g in grads]
            optimizer.apply(grads, model.trainable_variables)
            return out

        def replica_eval(images, labels):
            probs = tf.cast(model(images, training=False), tf.float32)
            return stats(labels, probs, per_example(labels, probs))

        def reduce(per_replica):
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in per_replica]

        @tf.function
        def train_step(batch):
            return reduce(strategy.run(replica_train, args=batch))

        @tf.function(reduce_retracing=True)
        def eval_step(batch):
            return reduce(strategy.run(replica_eval, args=batch))

        @tf.function
        def train_loop(iterator, n):
            # `steps_per_loop` steps in one call (Keras's steps_per_execution, Model Garden's
            # steps_per_loop): one host round trip per n steps instead of per step, which
            # matters where a step is short (small models, GPUs). Per-step stats come back.
            rows = tf.TensorArray(tf.float32, size=n)
            for i in tf.range(n):
                rows = rows.write(i, tf.stack(reduce(strategy.run(replica_train,
                                                                  args=next(iterator)))))
            return rows.stack()

        self.train_step, self.train_loop, self.eval_step = train_step, train_loop, eval_step

    def run(self, iterator, n):
        """n training steps from `iterator`; their [loss sum, top-1, top-5, count] rows."""
        if n == 1:
            return [[float(v) for v in self.train_step(next(iterator))]]
        return self.train_loop(iterator, tf.constant(n, tf.int32)).numpy().tolist()

    def evaluate(self, dist_dataset):
        totals = [0.0] * 4
        for batch in dist_dataset:
            totals = [t + float(v) for t, v in zip(totals, self.eval_step(batch))]
        n = max(totals[3], 1.0)
        return {"val_loss": totals[0] / n, "val_top1": totals[1] / n, "val_top5": totals[2] / n,
                "val_examples": int(totals[3])}


def _restore_policy(previous):
    keras.config.set_dtype_policy(previous)


def train(config=None, *, strategy=None, model_fn=None, on_epoch_end=None, **overrides):
    """Trains one model with the paper's recipe; returns a `TrainResult`.

    Args:
        config: a `TrainConfig`, a dict of its fields, or None; `overrides` (the same field
            names as keywords) take precedence, e.g. `train(model="resnet56", epochs=3)`.
        strategy: a tf.distribute.Strategy to run under (a KerasTuner trial's MirroredStrategy);
            default: made from `distribution_strategy`, `num_gpus`, `num_cpu_devices`.
        model_fn: optional `fn(**kwargs) -> keras.Model` replacing `registry.get_model(model)`
            (e.g. a tuner's hyper-model); it gets `classes` (and `input_shape`, `shortcut`).
        on_epoch_end: optional `fn(epoch, row)` called on every worker after each epoch (a
            tuner reports `row["val_top1"]`); returning True stops training.

    Raises:
        ConfigError: a user's mistake (unknown model, batch not divisible by the replicas,
            missing data, unwritable model_dir ...), with a one-line message.
        TrainingDiverged: the loss became NaN/inf; the last good backup and weights are kept.
    """
    cfg = make_config(config, **overrides)
    info = registry.model_info(cfg.model)
    recipe = recipes.recipe_for(cfg.model, info.family)
    cfg.batch_size = cfg.batch_size or recipe.batch_size
    cfg.momentum = recipe.momentum if cfg.momentum is None else cfg.momentum
    cfg.weight_decay = recipe.weight_decay if cfg.weight_decay is None else cfg.weight_decay
    strategy = strategy or make_strategy(cfg.distribution_strategy, cfg.num_gpus,
                                         cfg.num_cpu_devices, cfg.tpu)
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
    if cfg.epochs:
        total_steps = cfg.epochs * steps_per_epoch
    elif recipe.total_steps:
        total_steps = recipe.total_steps
    else:
        total_steps = recipe.epochs * steps_per_epoch
    if cfg.train_steps:
        total_steps = min(total_steps, cfg.train_steps) if cfg.epochs else cfg.train_steps
    epochs = math.ceil(total_steps / steps_per_epoch)
    policy = resolve_precision(cfg.mixed_precision, strategy)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        with gradients.forget_run_gradients():  # else each call keeps its traced step (~20 MB)
            return _run(cfg, info, recipe, plan, strategy, policy, chief, steps_per_epoch,
                        total_steps, epochs, model_fn, on_epoch_end)
    finally:
        profiling.stop_any()
        _restore_policy(previous_policy)


def _run(cfg, info, recipe, plan, strategy, policy, chief, steps_per_epoch, total_steps, epochs,
         model_fn, on_epoch_end):
    timer = Timer()
    verbose = cfg.verbose
    keras.utils.set_random_seed(cfg.seed)  # same initial weights on every worker and replica
    loss_scaled = policy == "mixed_float16"
    with strategy.scope():
        model = _build_model(cfg, info, plan, model_fn)
        if cfg.sync_bn:
            set_sync_bn(model, True)
        plateau_drops = tf.Variable(0, dtype=tf.int64, trainable=False, name="plateau_drops",
                                    synchronization=tf.VariableSynchronization.ON_READ,
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        schedule = _schedule(cfg, recipe, steps_per_epoch, total_steps, plateau_drops)
        optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=cfg.momentum)
        if loss_scaled:  # dynamic loss scaling: float16's range is too small for gradients
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="completed_epochs")
        step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        best_var = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_top1")
    steps = _Steps(strategy, model, optimizer, cfg.batch_size, cfg.weight_decay,
                   cfg.label_smoothing, cfg.jit_compile, loss_scaled, plan.classes)
    backup = checkpoints.Backup(cfg.model_dir, strategy, model=model, optimizer=optimizer,
                                epoch=epoch_var, step_in_epoch=step_in_epoch,
                                plateau_drops=plateau_drops, best_top1=best_var)
    records = Records(cfg.model_dir, chief, cfg.tensorboard)
    ckpt_dir = os.path.join(cfg.model_dir, "checkpoints")
    if chief:
        os.makedirs(ckpt_dir, exist_ok=True)
    resumed_from = backup.restore()
    start_epoch, start_step = int(epoch_var.numpy()), int(step_in_epoch.numpy())
    global_step = int(optimizer.iterations.numpy())
    base_wall = 0.0
    if resumed_from:
        records.restore(start_epoch, global_step)
        base_wall = records.epochs[-1]["wall_seconds"] if records.epochs else 0.0
        _log(chief, verbose, f"Resuming from backup {resumed_from}: epoch {start_epoch + 1}, "
             f"step {start_step}/{steps_per_epoch} of the epoch (global step {global_step}).")
    _log(chief, verbose, _describe_run(cfg, info, plan, strategy, policy, steps_per_epoch,
                                       total_steps, epochs, schedule))
    records.write_flags(cfg.to_dict(), {"policy": policy, "strategy": strategy_name(strategy),
                                        "replicas": strategy.num_replicas_in_sync,
                                        "steps_per_epoch": steps_per_epoch,
                                        "total_steps": total_steps, "data_source": plan.source})
    val_dist = None
    if plan.val_examples and cfg.eval_every:
        val_dist = strategy.distribute_datasets_from_function(
            inputs.val_dataset_fn(cfg, info, plan, cfg.batch_size))
    patience = 10 if loss_scaled else 1  # float16 overflows are skipped by the loss scaler
    bad_steps, stopped, last_good = 0, False, resumed_from
    best_path = os.path.join(ckpt_dir, "best.weights.h5")
    last_path = os.path.join(ckpt_dir, "last.weights.h5")
    epoch_images, epoch_seconds = 0, 0.0
    profiler = profiling.StepProfiler(cfg.model_dir, cfg.profile, chief,
                                      log=lambda *a: _log(chief, verbose, *a))
    run_step = 0  # steps run by this process (a resumed run profiles after its own warm-up)
    for epoch in range(start_epoch, epochs):
        first = start_step if epoch == start_epoch else 0
        n_steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        dist = strategy.distribute_datasets_from_function(
            inputs.train_dataset_fn(cfg, info, plan, cfg.batch_size, epoch, first))
        iterator = iter(dist)
        bar = (keras.utils.Progbar(n_steps, verbose=1 if verbose == 1 else 0,
                                   stateful_metrics=["loss", "top1", "top5", "lr"])
               if chief and verbose == 1 else None)
        totals = [0.0] * 4
        t0 = time.time()
        step = first  # steps done in this epoch
        while step < n_steps:
            chunk = min(cfg.steps_per_loop, n_steps - step)
            if cfg.backup_steps:  # chunks end on backup steps: backups stay where they were
                chunk = min(chunk, cfg.backup_steps - global_step % cfg.backup_steps)
            profiler.step(run_step)
            run_step += chunk
            for loss_sum, top1, top5, count in steps.run(iterator, chunk):
                step += 1
                global_step += 1
                lr = float(schedule(global_step - 1))
                batch_loss = loss_sum / max(count, 1)
                if not math.isfinite(batch_loss):
                    bad_steps += 1
                    if bad_steps >= patience:
                        records.flush_steps()
                        raise TrainingDiverged(
                            f"Loss is {batch_loss} at epoch {epoch + 1}, step {step} (global step "
                            f"{global_step}); training stopped. The last good checkpoint is kept: "
                            f"{last_good or 'none was saved yet'}"
                            f"{' and ' + last_path if os.path.exists(last_path) else ''}. Lower --lr "
                            "or use a warm-up.")
                    continue
                bad_steps = 0
                totals = [t + v for t, v in zip(totals, (loss_sum, top1, top5, count))]
                records.add_step(global_step, epoch + 1, lr, batch_loss, 1.0 - top1 / max(count, 1))
                if bar:
                    n = totals[3]
                    bar.update(step - first,
                               [("loss", totals[0] / n), ("top1", totals[1] / n),
                                ("top5", totals[2] / n), ("lr", lr)])
            if cfg.backup_steps and global_step % cfg.backup_steps == 0 and step < n_steps:
                step_in_epoch.assign(step)
                # Records first: a kill between the two leaves records ahead of the backup,
                # which resuming trims; the other order would lose the steps in between.
                records.flush_steps()
                last_good = backup.save(global_step)
        seconds = time.time() - t0
        n = max(totals[3], 1.0)
        epoch_images += totals[3]
        epoch_seconds += seconds
        row = {"epoch": epoch + 1, "step": global_step, "lr": lr, "loss": totals[0] / n,
               "top1": totals[1] / n, "top5": totals[2] / n,
               "images_per_sec": totals[3] / max(seconds, 1e-9), "epoch_seconds": seconds}
        last_epoch = epoch + 1 == epochs
        if val_dist is not None and ((epoch + 1) % cfg.eval_every == 0 or last_epoch):
            row.update(steps.evaluate(val_dist))
        row["wall_seconds"] = base_wall + timer()
        score = row.get("val_top1", row["top1"])
        if schedule.schedule == "plateau" and records.epochs:
            prev = max((r.get("val_top1") or r["top1"]) for r in records.epochs)
            if score <= prev + 1e-3:  # no gain in top-1: "divided by 10 when the error plateaus"
                plateau_drops.assign(plateau_drops + 1)
        epoch_var.assign(epoch + 1)
        step_in_epoch.assign(0)
        if score > float(best_var.numpy()):
            best_var.assign(score)
            if chief:
                checkpoints.save_weights(model, best_path)
        if chief:
            checkpoints.save_weights(model, last_path)
        records.add_epoch(row)  # before the backup, as above
        last_good = backup.save(global_step)
        remaining = (total_steps - global_step) * seconds / max(n_steps - first, 1)
        _log(chief, verbose, epoch_line(row, epochs, remaining))
        if on_epoch_end is not None and on_epoch_end(epoch, row):
            stopped = True
            break
    profiler.stop()
    return _finish(cfg, info, model, records, chief, verbose, timer, base_wall, epoch_images,
                   epoch_seconds, best_path, resumed_from, stopped)


def _describe_run(cfg, info, plan, strategy, policy, steps_per_epoch, total_steps, epochs,
                  schedule):
    data = (f"SYNTHETIC data of the right shape ({plan.image_size}x{plan.image_size}x3, "
            f"{plan.classes} classes, {plan.train_examples} images): no --data was given, so "
            "this run only shows the whole loop working" if plan.synthetic
            else f"{cfg.data}: {plan.train_examples} training images, {plan.val_examples} "
                 f"validation images ({plan.val_split or 'none'}), {plan.classes} classes")
    drops = ", ".join(str(b) for b in schedule.boundaries) or "-"
    return (f"Training {info.name} on {data}.\n"
            f"  {strategy_name(strategy)} strategy, {strategy.num_replicas_in_sync} replica(s), "
            f"policy {policy}, global batch {cfg.batch_size}, {steps_per_epoch} steps/epoch, "
            f"{epochs} epoch(s) = {total_steps} steps.\n"
            f"  SGD momentum {cfg.momentum}, lr {schedule.base_lr:g} ({schedule.schedule}; "
            f"/10 at steps {drops}; warm-up {schedule.warmup_steps} steps), weight decay "
            f"{cfg.weight_decay:g} on conv/dense kernels, label smoothing {cfg.label_smoothing}.\n"
            f"  model_dir {cfg.model_dir}")


def _finish(cfg, info, model, records, chief, verbose, timer, base_wall, images, seconds,
            best_path, resumed_from, stopped):
    history = records.epochs
    key = "val_top1" if any(r.get("val_top1") is not None for r in history) else "top1"
    best = max(history, key=lambda r: r.get(key) or -1.0) if history else {}
    wall = base_wall + timer()
    summary = {"model": info.name, "epochs": len(history), "steps": int(history[-1]["step"]) if history else 0,
               "best_epoch": best.get("epoch"),
               "best_top1": best.get(key), "best_top5": best.get(key.replace("top1", "top5")),
               "metric": key, "final": history[-1] if history else {},
               "wall_seconds": wall, "images_per_sec": images / seconds if seconds else None,
               "stopped_early": stopped, "best_weights": best_path}
    curves = records.plot(f"{info.name}: top-1 error")
    records.write_summary(summary)
    records.close()
    exported = None
    if cfg.export_dir and chief:
        exported = checkpoints.export_model(_export_copy(model, info, cfg), cfg.export_dir,
                                            **_serving_inputs(cfg, info))
    if chief and verbose:
        print(f"Done: {len(history)} epoch(s) in {format_duration(wall)}; best {key} "
              f"{summary['best_top1']:.4f} (top-5 {summary['best_top5']:.4f}) at epoch "
              f"{summary['best_epoch']}; "
              + (f"{summary['images_per_sec']:.1f} img/s. " if summary["images_per_sec"] else "")
              + (f"Curves: {curves}. " if curves else "")
              + (f"Exported to {cfg.export_dir}." if exported else ""), flush=True)
    return TrainResult(history=history, steps=records.steps, best=best, summary=summary,
                       model=model, model_dir=cfg.model_dir, curves_png=curves, export=exported,
                       resumed_from=resumed_from)


def _serving_inputs(cfg, info):
    """The SavedModel's bytes signature preprocesses as this run evaluated (the eval preset;
    for CIFAR with the training split's mean image) and names the data's classes."""
    if cfg.data is None or cfg.use_synthetic_data:
        return {}  # export's defaults: ImageNet evaluation and names, none for CIFAR sizes
    from keras_deepnets import data

    _, eval_preset = inputs.presets(info.name, info.family)
    size = cfg.image_size or info.input_size
    mean = (data.cifar_mean(cfg.data, data_dir=cfg.data_dir, image_size=size)
            if info.family == "cifar" else None)
    names = data.describe(cfg.data, "train", data_dir=cfg.data_dir).class_names
    return {"preprocessing": data.get_preset(eval_preset, image_size=size, mean=mean),
            "class_names": names}


def _export_copy(model, info, cfg):
    """A float32, strategy-free twin of the trained model (plain BN, no distributed variables),
    so the exported files load anywhere."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        twin = model.__class__.from_config(model.get_config())
        twin.set_weights(model.get_weights())
    except (TypeError, ValueError, NotImplementedError):
        return model  # a model_fn model without a config: export it as it is
    finally:
        keras.config.set_dtype_policy(previous)
    set_sync_bn(twin, False)
    return twin
