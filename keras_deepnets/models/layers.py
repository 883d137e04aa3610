"""The layers the papers need that Keras does not ship. Only keras.ops inside: any backend."""

import keras
import numpy as np
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
        # The subsampling x[:, ::s, ::s, :] as a 1x1 max-pool with stride s: the same values
        # bit for bit, forward and backward (one input per window), but TF's CPU kernels for a
        # pool and its gradient are ~3x faster than StridedSlice and StridedSliceGrad (both
        # shortcuts of ResNet-20 at batch 128, slice and pad, forward and backward: 9.7 ->
        # 3.1 ms float32, 8.1 -> 2.9 ms bfloat16; docs/performance.md, "where the time goes").
        x = (ops.max_pool(inputs, pool_size=1, strides=self.strides, padding="valid")
             if self.strides > 1 else inputs)
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


@keras.saving.register_keras_serializable(package="keras_deepnets")
class ScaledTanh(keras.layers.Layer):
    """LeNet-5's squashing function `A tanh(S a)` with A = 1.7159, S = 2/3 (LeCun et al. 1998,
    Appendix A): f(1) = 1 and f(-1) = -1, and the gain is largest around the targets."""

    A, S = 1.7159, 2.0 / 3.0

    def call(self, inputs):
        return self.A * ops.tanh(self.S * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_deepnets")
class TrainableSubsampling(keras.layers.Layer):
    """LeNet-5's S2/S4 (section II.B): "the four inputs to a unit ... are added, then multiplied
    by a trainable coefficient, and added to a trainable bias": 2 parameters per map."""

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def build(self, input_shape):
        maps = input_shape[-1]
        self.coefficient = self.add_weight(shape=(maps,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(maps,), initializer="zeros", name="bias")

    def call(self, inputs):
        p = self.pool_size
        summed = ops.average_pool(inputs, p, strides=p, padding="valid") * float(p * p)
        return summed * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        p = self.pool_size
        return (n, None if h is None else h // p, None if w is None else w // p, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}

    def mult_adds(self):
        """One multiplication per output (the trainable coefficient), for `kd.model_stats`."""
        return int(np.prod(self.output.shape[1:]))


@keras.saving.register_keras_serializable(package="keras_deepnets")
class PartialConv2D(keras.layers.Layer):
    """A valid convolution in which output map j reads only the input maps `table[j]` (LeNet-5's
    C3, paper Table I). Only the connected kernels are weights (C3: 60 x 5 x 5 + 16 = 1,516
    parameters); the full kernel is assembled by a constant 0/1 matrix in `call`."""

    def __init__(self, table, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        maps_in, maps_out = input_shape[-1], len(self.table)
        bad = [row for row in self.table if not row or any(not 0 <= i < maps_in for i in row)]
        if bad:
            raise ValueError(f"PartialConv2D table rows {bad} name input maps outside "
                             f"0..{maps_in - 1}.")
        links = [(i, j) for j, row in enumerate(self.table) for i in row]
        place = np.zeros((len(links), maps_in * maps_out), "float32")
        for n, (i, j) in enumerate(links):
            place[n, i * maps_out + j] = 1.0
        self._place, self._maps = place, (maps_in, maps_out)
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, len(links)), name="kernel",
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(maps_out,), initializer="zeros", name="bias")

    def call(self, inputs):
        k, (maps_in, maps_out) = self.kernel_size, self._maps
        place = ops.convert_to_tensor(self._place, dtype=self.kernel.dtype)
        kernel = ops.reshape(ops.matmul(self.kernel, place), (k, k, maps_in, maps_out))
        kernel = ops.cast(kernel, self.compute_dtype)
        return ops.conv(inputs, kernel, padding="valid") + ops.cast(self.bias, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        k = self.kernel_size
        return (n, None if h is None else h - k + 1, None if w is None else w - k + 1,
                len(self.table))

    def get_config(self):
        return {**super().get_config(), "table": [list(r) for r in self.table],
                "kernel_size": self.kernel_size}

    def mult_adds(self):
        """The connected kernels only, at every output position (C3: 60 x 25 x 10 x 10 =
        150,000, the paper's 151,600 connections less its 1,600 bias terms)."""
        _, height, width, _ = self.output.shape
        return int(self.kernel.shape[0] * self.kernel.shape[1] * self.kernel.shape[2]
                   * height * width)


@keras.saving.register_keras_serializable(package="keras_deepnets")
class CeilMaxPooling2D(keras.layers.Layer):
    """Max-pooling whose output size rounds up: `ceil((n - pool_size) / strides) + 1`, as Caffe
    pools and PyTorch's `MaxPool2d(ceil_mode=True)` do (GoogLeNet's pools, in the paper's Caffe
    model and in torchvision). The last window runs past the edge and sees only the pixels inside
    (the missing ones count as -inf). Keras's "same" padding agrees only for some sizes: at 113
    with a 3x3/2 pool it gives 57 maps and pads the top as well; this gives 56, as PyTorch does.
    """

    def __init__(self, pool_size=3, strides=2, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(pool_size, int) and isinstance(strides, int)
                and 1 <= strides <= pool_size):
            raise ValueError(f"CeilMaxPooling2D needs integers 1 <= strides <= pool_size; got "
                             f"pool_size={pool_size!r}, strides={strides!r}.")
        self.pool_size, self.strides = pool_size, strides

    def _pad(self, n):
        # with the window starting inside the input (pad < strides <= pool_size), PyTorch's
        # "last window must start inside" correction never applies
        return (self.strides - (n - self.pool_size) % self.strides) % self.strides

    def call(self, inputs):
        shape = ops.shape(inputs)
        pads = [[0, 0], [0, self._pad(shape[1])], [0, self._pad(shape[2])], [0, 0]]
        low = ops.cast(float("-inf"), inputs.dtype)
        x = ops.pad(inputs, pads, constant_values=low)
        return ops.max_pool(x, self.pool_size, self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        def side(n):
            return None if n is None else (n + self._pad(n) - self.pool_size) // self.strides + 1
        return (input_shape[0], side(input_shape[1]), side(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


def adaptive_pool_matrix(size, output_size):
    """[output_size, size]: row i averages PyTorch's window [floor(i n / o), ceil((i+1) n / o))."""
    matrix = np.zeros((output_size, size), "float32")
    for i in range(output_size):
        start, stop = (i * size) // output_size, -(-((i + 1) * size) // output_size)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


@keras.saving.register_keras_serializable(package="keras_deepnets")
class AdaptiveAveragePooling(keras.layers.Layer):
    """PyTorch's `AdaptiveAvgPool2d(output_size)` for a known input size, as two small matrices
    (rows, then columns): torchvision's AlexNet (6x6) and GoogLeNet's auxiliary heads (4x4).
    Unlike keras.layers.AdaptiveAveragePooling2D (Keras 3.15), it also takes maps smaller than
    the output, which PyTorch repeats (AlexNet at 64x64 pools a 1x1 map to 6x6)."""

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"output_size must be a positive integer; got {output_size!r}.")
        self.output_size = output_size

    def build(self, input_shape):
        _, height, width, _ = input_shape
        if height is None or width is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known height and width; got "
                             f"input shape {tuple(input_shape)}.")
        self._rows = adaptive_pool_matrix(height, self.output_size)
        self._cols = adaptive_pool_matrix(width, self.output_size)

    def call(self, inputs):
        rows = ops.convert_to_tensor(self._rows, dtype=inputs.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=inputs.dtype)
        return ops.einsum("ih,jw,nhwc->nijc", rows, cols, inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size, self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
