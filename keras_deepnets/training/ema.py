"""An exponential moving average (EMA) of the model's weights, for evaluation and export.

Averaging the iterates of SGD (Polyak & Juditsky 1992, "Acceleration of stochastic
approximation by averaging") gives weights that generalise better than the last iterate when
the lr is still high; Szegedy et al. 2016 (Inception-v3, section 8) evaluate "using a running
average of the parameters", and Tan & Le 2019 (EfficientNet, section 5.2) and TF Model Garden
average with decay 0.9999 over the trainable weights *and* BN's moving statistics, as here:
the statistics then belong to the averaged weights' epoch range rather than the last steps.

The decay follows tf.train.ExponentialMovingAverage's `num_updates` rule,
`min(decay, (1 + n) / (10 + n))`, so the first steps do not leave the average stuck at the
initial weights; the averages start equal to the weights (no zero bias to correct).

Under a tf.distribute strategy the average of each weight is a variable of the same kind,
updated on every device from that device's copy (`strategy.extended.update`): no cross-device
traffic. The averages are training state: `TrainState` puts them in every backup.
"""

import contextlib

import tensorflow as tf


def averaged_weights(model):
    """What the average covers: trainable weights and BN's moving mean/variance (not the
    optimizer's slots, not the loss-scale or step counters)."""
    moving = [v for v in model.non_trainable_variables
              if v.path.endswith(("moving_mean", "moving_variance"))]
    return list(model.trainable_variables) + moving


def _blend(average, weight, step):
    # average - step * (average - weight) = decay * average + step * weight, with
    # step = 1 - decay: one fused kernel (ResourceApplyGradientDescent) after the subtraction,
    # instead of two multiplies, an add and an assign per weight (~100 weights for ResNet-20:
    # the average was 5-9% of a fast-recipe step). Same maths up to float rounding.
    delta = average.read_value() - tf.cast(weight, average.dtype)
    return tf.raw_ops.ResourceApplyGradientDescent(var=average.handle, alpha=step, delta=delta)


class WeightAverage:
    """EMA of `model`'s weights; create under the strategy's scope.

    Args:
        model: the built model.
        decay: the average's decay per step (e.g. 0.999: a window of about 1,000 steps).
    """

    def __init__(self, model, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"The weight average's decay must be in (0, 1); got {decay!r}.")
        self.decay = float(decay)
        self.weights = averaged_weights(model)
        self.averages = [tf.Variable(w.numpy(), trainable=False, name=f"ema_{i}")
                         for i, w in enumerate(self.weights)]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="ema_updates")

    def checkpointable(self):
        """The variables a backup saves (a dict of names, stable across runs)."""
        return {"updates": self.updates, **{f"w{i}": a for i, a in enumerate(self.averages)}}

    def update(self, strategy):
        """One step of the average; call in cross-replica context (inside the train step's
        tf.function, after `strategy.run`)."""
        n = tf.cast(self.updates.assign_add(1), tf.float32)
        step = 1.0 - tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
        for average, weight in zip(self.averages, self.weights):
            strategy.extended.update(average, _blend, args=(weight.value, step))

    def _swap(self):
        for average, weight in zip(self.averages, self.weights):
            current = tf.identity(weight.value)
            weight.assign(average)
            average.assign(current)

    @contextlib.contextmanager
    def in_model(self):
        """The averaged weights in the model inside the block; the trained weights after."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def copy_to_model(self):
        """Puts the averages into the model for good (the end of training: export, result)."""
        for average, weight in zip(self.averages, self.weights):
            weight.assign(average)
