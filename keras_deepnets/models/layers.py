"""The two layers the papers need that Keras does not ship. Only keras.ops inside: any backend."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_deepnets")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's across-channel LRN (Krizhevsky et al. 2012, section 3.3), used by VGG config A-LRN.

    `b_c = a_c / (k + alpha * sum_{c' in window} a_{c'}^2) ** beta` with a window of `size` channels
    centred on c. As in AlexNet and `tf.nn.local_response_normalization`, alpha is *not* divided by
    the window size (PyTorch's `LocalResponseNorm` divides it, so its alpha is `size` times ours).
    The VGG paper takes AlexNet's constants: size 5, alpha 1e-4, beta 0.75, k 2.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(f"LRN size must be a positive odd integer; got {size!r}.")
        self.size, self.alpha, self.beta, self.k = size, float(alpha), float(beta), float(k)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")  # squares of activations overflow float16
        half = self.size // 2
        squares = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
        channels = ops.shape(x)[-1]
        window = sum(squares[..., i:i + channels] for i in range(self.size))
        out = x / ops.power(self.k + self.alpha * window, self.beta)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="keras_deepnets")
class ZeroPadShortcut(keras.layers.Layer):
    """ResNet shortcut option A: identity, subsampled by `strides`, with zero channels appended.

    ResNet paper, section 3.3: "the shortcut still performs identity mapping, with extra zero
    entries padded for increasing dimensions ... performed with a stride of 2". Parameter-free.
    The paper does not say where the zeros go; we append them after the existing channels.
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :] if self.strides > 1 else inputs
        extra = self.filters - ops.shape(x)[-1]
        if extra < 0:
            raise ValueError(
                f"Option A shortcut cannot shrink channels from {ops.shape(x)[-1]} to "
                f"{self.filters}."
            )
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]) if extra else x

    def compute_output_shape(self, input_shape):
        def sub(d):
            return None if d is None else -(-d // self.strides)
        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
