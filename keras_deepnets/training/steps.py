"""The step: one replica's forward/backward pass and update, and the cross-replica functions
the loop (and `scripts/benchmarks/benchmark.py train`) call, built once per run.

Every step returns one row, reduced over replicas: [loss sum, examples, each metric's result
for this step's batch, then how the batch changed the metrics' states] (`Row` reads it). The
metrics are `keras.metrics.Metric` objects (metric_sums.py): the loop adds the state changes
up per epoch, so replicas and loops of steps need nothing else.

Labels are passed as the input gives them: int class ids [batch] (the papers' input), or
one-hot / soft labels [batch, classes] (mixup, cutmix). The default loss is the cross-entropy
of either (with `label_smoothing`); a Keras loss given as `loss` gets them as they are.

Example:
    >>> steps = StepFunctions(strategy, model, optimizer, global_batch=128, classes=10,
    ...                       metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=3)])
    >>> rows = steps.run(iterator, 4)             # 4 steps; one row per step
    >>> steps.evaluate(dist_val)["val_top3"]      # doctest: +SKIP
"""

import typing

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets.training import ema, metric_sums, optimizers, recipes


class Row(typing.NamedTuple):
    """One step's row, read: the loss summed over the batch's examples, the examples, each
    metric's result on the batch ({name: value}), and the change to the metrics' states."""

    loss_sum: float
    count: float
    values: dict
    delta: np.ndarray


def read_rows(rows, names):
    """`Row`s of the rows a step function returned (a [steps, width] array)."""
    rows = np.asarray(rows, np.float64)
    m = len(names)
    return [Row(r[0], r[1], dict(zip(names, r[2:2 + m].tolist())), r[2 + m:]) for r in rows]


class StepFunctions:
    """The replica and cross-replica step functions of one run.

    Args:
        strategy: the tf.distribute.Strategy the model and optimizer were built under.
        model, optimizer: built under `strategy.scope()` (the optimizer already built).
        global_batch: the batch over all replicas (the loss is a sum / global batch).
        classes: the number of classes.
        metrics: `keras.metrics.Metric` objects computed in the training step and in
            evaluation (e.g. top-1 and top-5: `metric_sums.from_name`); () times the bare
            step, as a PyTorch loop without metrics would be (benchmark.py train --nometrics).
        loss: a `keras.losses.Loss` (its per-example values, `Loss.call`), or None for the
            cross-entropy of sparse or one-hot/soft labels with `label_smoothing`.
        weight_decay: Caffe's L2 decay on conv/dense kernels (`recipes.weight_decay_loss`).
        label_smoothing: the default loss's smoothing (0 = the papers' loss).
        jit_compile: XLA for the forward/backward pass (the update stays outside).
        loss_scaled: the optimizer is a LossScaleOptimizer (mixed_float16).
        average: an `ema.WeightAverage` updated after every step, or None.
        eval_flip: evaluation scores the mean of the softmax outputs for each image and its
            horizontal mirror (`flip_averaged`; test-time flips, as fast CIFAR training does).
    """

    def __init__(self, strategy, model, optimizer, *, global_batch, classes, metrics=(),
                 loss=None, weight_decay=0.0, label_smoothing=0.0, jit_compile=False,
                 loss_scaled=False, average=None, eval_flip=False):
        self.sums = metric_sums.MetricSums(metrics)
        self.eval_flip = bool(eval_flip)
        self.strategy, self.model, self.optimizer = strategy, model, optimizer
        self.global_batch, self.classes, self.loss = global_batch, classes, loss
        self.weight_decay, self.label_smoothing = weight_decay, label_smoothing
        self.loss_scaled, self.average = loss_scaled, average
        self._kernels = recipes.decayed_kernels(model)
        # a model with auxiliary classifiers (GoogLeNet's) outputs [main, aux...] and says how
        # much each auxiliary loss weighs in the objective (the paper's 0.3)
        self._aux_weight = float(getattr(model, "aux_loss_weight", 0.0))
        self._replicas = strategy.num_replicas_in_sync
        self._initial = tf.constant(self.sums.initial, tf.float64)
        self._grads_and_stats = (tf.function(self._forward_backward, jit_compile=True)
                                 if jit_compile else self._forward_backward)
        self.train_step = tf.function(self._train_step)
        self.eval_step = tf.function(self._eval_step, reduce_retracing=True)
        self.train_loop = tf.function(self._train_loop)

    names = property(lambda self: self.sums.names)

    # -- replica functions ------------------------------------------------------------------

    def _per_example_loss(self, labels, probs):
        if self.loss is not None:
            return tf.cast(self.loss.call(labels, probs), tf.float32)
        if len(labels.shape) == 2:  # one-hot or soft labels (a tensor's or numpy's shape)
            return keras.losses.categorical_crossentropy(
                tf.cast(labels, tf.float32), probs, label_smoothing=self.label_smoothing)
        if self.label_smoothing:
            onehot = tf.one_hot(labels, self.classes)
            return keras.losses.categorical_crossentropy(onehot, probs,
                                                         label_smoothing=self.label_smoothing)
        return keras.losses.sparse_categorical_crossentropy(labels, probs)

    def objective(self, labels, outputs):
        """(main probabilities in float32, per-example loss): the loss of the main output,
        plus `aux_loss_weight` x each auxiliary output's when the model has them."""
        if not isinstance(outputs, (list, tuple)):
            probs = tf.cast(outputs, tf.float32)  # softmax in float32
            return probs, self._per_example_loss(labels, probs)
        probs, *aux = [tf.cast(o, tf.float32) for o in outputs]
        losses = self._per_example_loss(labels, probs)
        for extra in aux:
            losses += self._aux_weight * self._per_example_loss(labels, extra)
        return probs, losses

    def _stats(self, labels, probs, losses):
        """[loss sum, examples, the metrics' state change] of one replica's batch. Metrics
        score against class ids: mixed (soft) labels count as their largest class, as
        torchvision's training accuracy does (`utils.accuracy`: `target.max(dim=1)[1]`)."""
        count = tf.cast(tf.shape(losses)[0], tf.float32)
        head = tf.stack([tf.reduce_sum(losses), count])
        if labels.shape.rank == 2:
            labels = tf.argmax(labels, axis=-1, output_type=tf.int32)
        return tf.concat([head, self.sums.batch_delta(labels, tf.cast(probs, tf.float32))], 0)

    def _forward_backward(self, images, labels):
        with tf.GradientTape() as tape:
            probs, losses = self.objective(labels, self.model(images, training=True))
            # Sum over the replica's examples / the global batch, plus 1/replicas of the decay:
            # the optimizer sums gradients over replicas, giving the global mean loss and the
            # decay applied once.
            loss = (tf.reduce_sum(losses) / self.global_batch
                    + recipes.weight_decay_loss(self._kernels, self.weight_decay) / self._replicas)
            scaled = self.optimizer.scale_loss(loss) if self.loss_scaled else loss
        grads = tape.gradient(scaled, self.model.trainable_variables)
        return grads, self._stats(labels, probs, losses)

    def _replica_train(self, images, labels):
        grads, out = self._grads_and_stats(images, labels)
        if self.loss_scaled and self._replicas > 1:
            grads = _skip_everywhere_if_any_nonfinite(grads)
        self.optimizer.apply(grads, self.model.trainable_variables)
        return out

    def _replica_eval(self, images, labels):
        # A pass whose shards are uneven ends with an empty batch on some replica, and TF 2.21's
        # CPU convolution gives an empty batch the input's channels (tf.nn.conv2d of
        # [0, 32, 32, 3] by 16 filters is [0, 32, 32, 3]), which the next layer refuses: an
        # empty batch adds nothing, without running the model.
        def scored():
            probs = flip_averaged(self._main_scores, images, self.eval_flip)
            return self._stats(labels, probs, self._per_example_loss(labels, probs))
        return tf.cond(tf.shape(labels)[0] > 0, scored, lambda: tf.zeros([2 + self.sums.size]))

    def _main_scores(self, images):
        outputs = self.model(images, training=False)
        if isinstance(outputs, (list, tuple)):  # evaluation scores the main classifier alone
            outputs = outputs[0]
        return tf.cast(outputs, tf.float32)

    # -- cross-replica functions (traced once each) ----------------------------------------

    def _reduce(self, per_replica):
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _train_step(self, batch):
        out = self._reduce(self.strategy.run(self._replica_train, args=batch))
        if self.average is not None:
            self.average.update(self.strategy)
        # each metric's result on this batch alone, for the per-step records
        delta = out[2:]
        values = self.sums.graph_results(self._initial + tf.cast(delta, tf.float64))
        return tf.concat([out[:2], tf.cast(tf.stack(values), tf.float32) if values
                          else tf.zeros([0]), delta], 0)

    def _eval_step(self, batch):
        return self._reduce(self.strategy.run(self._replica_eval, args=batch))

    def _train_loop(self, iterator, n):
        # `steps_per_loop` steps in one call (Keras's steps_per_execution, Model Garden's
        # steps_per_loop): one host round trip per n steps instead of per step, which matters
        # where a step is short (small models, GPUs). Per-step rows come back.
        rows = tf.TensorArray(tf.float32, size=n)
        for i in tf.range(n):
            rows = rows.write(i, self._train_step(next(iterator)))
        return rows.stack()

    # -- what the loop calls -----------------------------------------------------------------

    def run(self, iterator, n):
        """n training steps from `iterator`; one `Row` per step."""
        if n == 1:
            rows = [self.train_step(next(iterator)).numpy()]
        else:
            rows = self.train_loop(iterator, tf.constant(n, tf.int32)).numpy()
        return read_rows(rows, self.names)

    def evaluate(self, dist_dataset):
        """The loss and every metric over a whole distributed dataset (`val_*` keys)."""
        totals = np.zeros([2 + self.sums.size])
        for batch in dist_dataset:
            totals += self.eval_step(batch).numpy()
        n = max(totals[1], 1.0)
        return {"val_loss": totals[0] / n,
                **self.sums.results(self.sums.initial + totals[2:], prefix="val_"),
                "val_examples": int(totals[1])}


def flip_averaged(scores_fn, images, flip=True):
    """`scores_fn(images)` (float32 softmax outputs [B, classes]), or with `flip` the mean of
    it and of `scores_fn` on the images mirrored left-right (NHWC): test-time flips, one more
    forward pass. Training's evaluation and --eval_only score through this one function."""
    scores = scores_fn(images)
    if not flip:
        return scores
    return 0.5 * (scores + scores_fn(tf.reverse(images, axis=[2])))


def _skip_everywhere_if_any_nonfinite(grads):
    """LossScaleOptimizer decides "finite" from the first replica's *local* gradients under
    MirroredStrategy; make a non-finite gradient anywhere non-finite everywhere, so that all
    replicas skip the step and lower the scale together."""
    local = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    bad = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(local, tf.float32))
    poison = tf.where(bad > 0.0, float("nan"), 1.0)
    return [g * tf.cast(poison, g.dtype) for g in grads]


def recipe_step(strategy, build, recipe, *, global_batch, jit_compile=False, metrics=True,
                fused_update=True):
    """The StepFunctions a run with `recipe` (a `recipes.Recipe`) trains `build()`'s model with:
    SGD with momentum 0.9 and the recipe's Nesterov, its weight decay and label smoothing, and
    its weight average; the model and optimizer are made under `strategy.scope()` in the
    current dtype policy (under mixed_float16 the optimizer scales the loss). For timing steps
    (the train and recipe_cost modes of scripts/benchmarks/benchmark.py); the lr is a
    placeholder.
    `fused_update=False` uses keras.optimizers.SGD instead of training's (optimizers.py), the
    same update in ~7 kernels per variable instead of one, to time what the fusion gives.
    `metrics`: True for training's default (top-1, top-5), False for none, or a list of
    names / Metric objects (`metric_sums.build`)."""
    loss_scaled = keras.config.dtype_policy().name == "mixed_float16"
    sgd = optimizers.SGD if fused_update else keras.optimizers.SGD
    with strategy.scope():
        model = build()
        optimizer = sgd(0.01, momentum=0.9, nesterov=recipe.nesterov)
        if loss_scaled:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        average = ema.WeightAverage(model, recipe.ema_decay) if recipe.ema_decay else None
    classes = model.output_shape[-1]
    if isinstance(metrics, bool):
        metrics = metric_sums.DEFAULT if metrics else ()
    metrics = metric_sums.build([metric_sums.to_setting(m) for m in metrics], classes)
    return StepFunctions(strategy, model, optimizer, global_batch=global_batch,
                         classes=classes, weight_decay=recipe.weight_decay,
                         label_smoothing=recipe.label_smoothing, jit_compile=jit_compile,
                         loss_scaled=loss_scaled, average=average, metrics=metrics)
