"""SGD with momentum whose update is one TensorFlow kernel per variable, for speed; Keras's
update otherwise.

Why: Keras 3's SGD writes the momentum update as backend ops, about seven kernels per variable
(two casts, two multiplies, a subtract, two assigns): 422 small kernels per ResNet-20 step, each
dispatched by TF's executor on the CPU's two cores. tf.keras 2's SGD called
`ResourceApplyKerasMomentum`, which does the same arithmetic in one kernel (CPU and GPU); this
class calls it again. Measured on this package's 2-core CPU: docs/performance.md.

The update *is* Keras's, `keras.optimizers.SGD` (subclass): same slots (`momentums`), same
`get_config()`, same checkpoints, same arithmetic in the same order:
    m = m * momentum - lr * g;   w += m      (Nesterov: w += m * momentum - lr * g)
It takes the fused kernel only where that holds: backend TensorFlow, momentum != 0, a dense
gradient. Elsewhere (no momentum, sparse gradients, other backends) it runs the parent's code.
Weight decay, gradient clipping and loss scaling happen before `update_step`, as in the parent.
"""

import json

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_deepnets")
class SGD(keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose momentum update is one fused kernel per variable.

    Args: those of `keras.optimizers.SGD`.

    Example:
        >>> opt = SGD(0.1, momentum=0.9, nesterov=True)      # a drop-in keras.optimizers.SGD
    """

    def update_step(self, gradient, variable, learning_rate):
        if not (keras.backend.backend() == "tensorflow" and self.momentum
                and isinstance(gradient, tf.Tensor)):
            return super().update_step(gradient, variable, learning_rate)
        momentum = self.momentums[self._get_variable_index(variable)]
        # Keras's variables wrap a tf.Variable; inside a strategy's update() a distributed
        # variable's handle is the one of this replica's copy.
        accum = momentum.value if isinstance(momentum, keras.Variable) else momentum
        target = variable.value if isinstance(variable, keras.Variable) else variable
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=target.handle, accum=accum.handle,
            lr=tf.cast(learning_rate, target.dtype), grad=tf.cast(gradient, target.dtype),
            momentum=tf.cast(self.momentum, target.dtype), use_nesterov=bool(self.nesterov))


# -- a user's optimizer and loss, as a run records and rebuilds them ---------------------------
#
# A run makes its optimizer under the strategy's scope (its variables must be the strategy's),
# so the object a user passes is a template: the run records it serialized
# (keras.saving.serialize_keras_object, in config.json, which `--config` replays) and builds a
# fresh one from that record. Keras's get_config leaves out the names given to
# `exclude_from_weight_decay(var_names=...)`, so the record keeps them beside the object.


def serialized(obj):
    """`keras.saving.serialize_keras_object(obj)` as plain JSON: Keras objects inside its
    config (an optimizer's LearningRateSchedule) serialized too."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(obj),
                                 default=keras.saving.serialize_keras_object))


def deserialized(record):
    """The Keras object of a `serialized` record, which stays as it was (Keras's
    deserialize_keras_object puts the objects it makes into the dict it is given)."""
    return keras.saving.deserialize_keras_object(json.loads(json.dumps(record)))


def optimizer_setting(optimizer):
    """What a config holds for `train(optimizer=...)`: {"optimizer": serialized,
    "exclude_from_weight_decay": [names]}; a dict already of that form is kept."""
    if isinstance(optimizer, dict) and "optimizer" in optimizer:
        return optimizer
    accepted = "a keras.optimizers.Optimizer (its learning rate a float or a LearningRateSchedule)"
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise ValueError(f"optimizer: give the optimizer itself, not a LossScaleOptimizer "
                         f"(mixed_precision='mixed_float16' wraps it); accepted: {accepted}.")
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(f"optimizer: expected {accepted}; got {type(optimizer).__name__}.")
    if getattr(optimizer, "_exclude_from_weight_decay", None):
        raise ValueError("optimizer: exclude_from_weight_decay(var_list=...) names variables "
                         "of another model; use exclude_from_weight_decay(var_names=[...]).")
    pattern = getattr(optimizer, "_exclude_from_weight_decay_pattern", None)
    return {"optimizer": serialized(optimizer),
            "exclude_from_weight_decay": sorted(pattern.pattern.split("|")) if pattern else []}


def build_optimizer(setting):
    """A fresh optimizer from an `optimizer_setting` (call under the strategy's scope)."""
    optimizer = deserialized(setting["optimizer"])
    if setting.get("exclude_from_weight_decay"):
        optimizer.exclude_from_weight_decay(var_names=list(setting["exclude_from_weight_decay"]))
    return optimizer


def learning_rate_of(setting):
    """`fn(step) -> float`: the lr the optimizer of `setting` uses at an iteration."""
    rate = setting["optimizer"]["config"]["learning_rate"]
    if isinstance(rate, dict):
        schedule = deserialized(rate)
        return lambda step: float(schedule(step))
    return lambda step: float(rate)


def loss_setting(loss):
    """What a config holds for `train(loss=...)`: the Keras loss serialized."""
    if isinstance(loss, dict):
        return loss
    if not isinstance(loss, keras.losses.Loss):
        raise ValueError(f"loss: expected a keras.losses.Loss (e.g. "
                         f"keras.losses.CategoricalCrossentropy(label_smoothing=0.1)); got "
                         f"{type(loss).__name__}.")
    return serialized(loss)


def build_loss(setting):
    return deserialized(setting)
