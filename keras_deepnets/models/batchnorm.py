"""BatchNormalization that calls TensorFlow's fused kernel, for speed; Keras's layer otherwise.

Why: Keras 3's BatchNormalization computes the moments with separate reductions and normalises
with elementwise ops on every backend; Keras 2 (tf.keras) called `FusedBatchNormV3`, which oneDNN
(CPU) and cuDNN (GPU) implement as one kernel forward and one backward, and which Grappler fuses
into the preceding convolution at inference (`_FusedConv2D` with BN and ReLU). keras-team/keras
#19953 reports Keras 3 on TF as slower than Keras 2; on this package's 2-core CPU the fused call
makes ResNet training steps markedly faster (docs/performance.md).

The layer *is* a `keras.layers.BatchNormalization` (subclass): same weights in the same order,
same `get_config()` plus `fused`, same `synchronized` switch, so weight copying by name, `.keras`
files and `set_sync_bn` work unchanged. It takes the fused path only where that path computes
exactly what the parent computes:
  - backend TensorFlow, 4-D input, channels-last axis (the kernel normalises axis 3, NHWC);
  - not `synchronized` (the fused kernel sees one replica's batch only; synchronised BN needs the
    cross-replica moments, so it falls back to Keras's all-reduce path);
  - no renorm, no mask.
Everywhere else (JAX, PyTorch, other shapes) it runs the parent's portable code.

Numerics against the parent: the kernel returns the batch variance with Bessel's correction
(n / (n - 1), as cuDNN does, for the moving average); Keras's moving variance uses the biased
batch variance, so we undo the correction before the moving-average update. Normalisation itself
uses the biased variance in both. Under mixed precision the kernel takes float16/bfloat16
activations with float32 scale, offset and statistics and accumulates in float32: the "BN stays
float32" rule of Keras's mixed-precision guide, without the two casts the parent adds.
"""

import keras

from keras_deepnets.models.layers import resolve_data_format


@keras.saving.register_keras_serializable(package="keras_deepnets")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused TensorFlow kernel where it is exact.

    Args:
        fused: None (default) uses the fused kernel where it applies (see the module docstring)
            and Keras's code elsewhere; False always uses Keras's code; True is like None but
            raises if the fused kernel cannot be used (to check that a model really runs fused).
        **kwargs: everything `keras.layers.BatchNormalization` takes. `axis` defaults to the
            channel axis of `keras.config.image_data_format()` when the layer is made (-1, or
            1 for channels_first): the models build under their own data format.

    Example:
        >>> import numpy as np
        >>> from keras_deepnets.models.batchnorm import BatchNormalization
        >>> bn = BatchNormalization(momentum=0.9, epsilon=1e-5)
        >>> y = bn(np.random.rand(8, 4, 4, 16).astype("float32"), training=True)
        >>> tuple(y.shape), bn.uses_fused_kernel(y)
        ((8, 4, 4, 16), True)
    """

    def __init__(self, fused=None, **kwargs):
        if fused not in (None, True, False):
            raise ValueError(f"fused must be None, True or False; got {fused!r}.")
        kwargs.setdefault("axis", 1 if resolve_data_format() == "channels_first" else -1)
        super().__init__(**kwargs)
        self.fused = fused

    def uses_fused_kernel(self, inputs, mask=None):
        """Whether `call` on `inputs` takes the fused TensorFlow path."""
        if self.fused is False or keras.backend.backend() != "tensorflow":
            return False
        rank = len(inputs.shape)
        return (rank == 4 and self.axis in (-1, 3) and not self.synchronized
                and not self.renorm and mask is None)

    def call(self, inputs, training=None, mask=None):
        if not self.uses_fused_kernel(inputs, mask):
            if self.fused:
                raise ValueError(
                    f"{self.name}: fused=True needs the TensorFlow backend, a 4-D channels-last "
                    "input, synchronized=False, renorm=False and no mask; got backend "
                    f"{keras.backend.backend()!r}, input rank {len(inputs.shape)}, axis "
                    f"{self.axis}, synchronized={self.synchronized}, renorm={self.renorm}, "
                    f"mask={'set' if mask is not None else None}.")
            return super().call(inputs, training=training, mask=mask)
        return self._fused_call(inputs, training=bool(training) and self.trainable)

    def _fused_call(self, inputs, training):
        import tensorflow as tf

        x = inputs
        if x.dtype not in (tf.float16, tf.bfloat16, tf.float32):
            x = tf.cast(x, tf.float32)
        channels = x.shape[-1]
        gamma = (tf.convert_to_tensor(self.gamma) if self.scale
                 else tf.ones([channels], tf.float32))
        beta = (tf.convert_to_tensor(self.beta) if self.center
                else tf.zeros([channels], tf.float32))
        if training:
            empty = tf.constant([], tf.float32)
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=empty, variance=empty,
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
                is_training=True)
            shape = tf.shape(x)
            n = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
            # Undo the kernel's Bessel correction: Keras's moving variance tracks the biased one.
            variance = variance * tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta,
                mean=tf.convert_to_tensor(self.moving_mean),
                variance=tf.convert_to_tensor(self.moving_variance),
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
                is_training=False)
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
