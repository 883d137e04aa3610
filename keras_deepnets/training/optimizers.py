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
