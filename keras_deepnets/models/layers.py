"""The layers the papers need that Keras does not ship. Only keras.ops inside: any backend.

Each takes `data_format` as Keras's own layers do: "channels_last" (NHWC) or "channels_first"
(NCHW); None reads `keras.config.image_data_format()` when the layer is made.
"""

import keras
import numpy as np
from keras import ops

from keras_deepnets.models.tf_cpu import needs_channels_last

DATA_FORMATS = ("channels_last", "channels_first")


def resolve_data_format(data_format=None):
    """`data_format`, or Keras's global image data format when None; ValueError otherwise."""
    fmt = keras.config.image_data_format() if data_format is None else data_format
    if fmt not in DATA_FORMATS:
        raise ValueError(f"data_format must be None, 'channels_last' or 'channels_first'; got "
                         f"{data_format!r}.")
    return fmt


def channel_axis(data_format=None):
    """The channel axis of a 4-D tensor: 1 (channels_first) or 3 (channels_last)."""
    return 1 if resolve_data_format(data_format) == "channels_first" else 3


def spatial_axes(data_format=None):
    return (2, 3) if resolve_data_format(data_format) == "channels_first" else (1, 2)


def image_shape(height, width, channels, data_format=None):
    """An image's shape without the batch, in `data_format` (default: Keras's global one)."""
    if resolve_data_format(data_format) == "channels_first":
        return (channels, height, width)
    return (height, width, channels)


def split_shape(input_shape, data_format=None):
    """(height, width, channels) of an `input_shape` given in `data_format`."""
    fmt = resolve_data_format(data_format)
    if input_shape is None or len(tuple(input_shape)) != 3:
        order = ("(channels, height, width)" if fmt == "channels_first"
                 else "(height, width, channels)")
        raise ValueError(f"input_shape must be {order} for data_format {fmt!r} (Keras's "
                         f"image_data_format or the data_format argument); got {input_shape}.")
    a, b, c = tuple(input_shape)
    return (b, c, a) if fmt == "channels_first" else (a, b, c)


def _slice_channels(x, axis, start, stop):
    index = [slice(None)] * 4
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _shape(input_shape, data_format, height, width, channels):
    """A 4-D shape in `data_format` from its parts (the batch of `input_shape`)."""
    return (input_shape[0], *image_shape(height, width, channels, data_format))


def add_channel_bias(x, bias, data_format=None):
    """`x` plus a per-channel `bias` (shape (C,)) along the channel axis of `data_format`.

    Not `keras.ops.add(x, reshape(bias, (1, C, 1, 1)))` for channels_first: Keras 3.15's
    TensorFlow backend turns an add of a bias-shaped tensor into `tf.nn.bias_add` and guesses
    the layout from the shapes, NHWC whenever the width equals C, so a channels_first map as
    wide as it has channels (64 channels at 64x64) got its bias added along the width
    (keras/src/backend/tensorflow/numpy.py `add`; tests/models/test_data_format.py shows it).
    """
    fmt = resolve_data_format(data_format)
    if fmt == "channels_last":
        return ops.add(x, ops.reshape(bias, (1, 1, 1, -1)))  # what keras.layers.Conv2D does
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # (TensorFlow's own op: this backend only)

        return tf.nn.bias_add(x, bias, data_format="NCHW")
    return ops.add(x, ops.reshape(bias, (1, -1, 1, 1)))


@keras.saving.register_keras_serializable(package="keras_deepnets")
class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D whose bias is added by `add_channel_bias` (correct in both data
    formats at every size), and whose channels_first convolution runs as channels_last, transposed
    around it, on TensorFlow's CPU kernels (models/tf_cpu.py: without AVX-512 they have no NCHW
    convolution, or a slow one); everything else, weights and config included, is Keras's."""

    def convolution_op(self, inputs, kernel):
        if self.data_format == "channels_first" and needs_channels_last():
            outputs = ops.conv(ops.transpose(inputs, (0, 2, 3, 1)), kernel,
                               strides=list(self.strides), padding=self.padding,
                               dilation_rate=self.dilation_rate, data_format="channels_last")
            return ops.transpose(outputs, (0, 3, 1, 2))
        return super().convolution_op(inputs, kernel)

    def call(self, inputs):
        outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = add_channel_bias(outputs, self.bias, self.data_format)
        return self.activation(outputs) if self.activation is not None else outputs


class _FormatLayer(keras.layers.Layer):
    """Base: keeps `data_format` (resolved when made) in the config."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = resolve_data_format(data_format)
        self.axis = channel_axis(self.data_format)

    def _parts(self, shape):
        """(height, width, channels) of a 4-D shape."""
        return split_shape(tuple(shape)[1:], self.data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="keras_deepnets")
class LocalResponseNormalization(_FormatLayer):
    """AlexNet's across-channel LRN (Krizhevsky et al. 2012, section 3.3), used by VGG config A-LRN.

    `b_c = a_c / (k + alpha * sum_{c' in window} a_{c'}^2) ** beta` with a window of `size` channels
    centred on c. As in AlexNet and `tf.nn.local_response_normalization`, alpha is *not* divided by
    the window size (PyTorch's `LocalResponseNorm` divides it, so its alpha is `size` times ours).
    The VGG paper takes AlexNet's constants: size 5, alpha 1e-4, beta 0.75, k 2.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(f"LRN size must be a positive odd integer; got {size!r}.")
        self.size, self.alpha, self.beta, self.k = size, float(alpha), float(beta), float(k)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")  # squares of activations overflow float16
        half = self.size // 2
        pads = [[0, 0]] * 4
        pads[self.axis] = [half, half]
        squares = ops.pad(ops.square(x), pads)
        channels = ops.shape(x)[self.axis]
        window = sum(_slice_channels(squares, self.axis, i, i + channels)
                     for i in range(self.size))
        out = x / ops.power(self.k + self.alpha * window, self.beta)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="keras_deepnets")
class ZeroPadShortcut(_FormatLayer):
    """ResNet shortcut option A: identity, subsampled by `strides`, with zero channels appended.

    ResNet paper, section 3.3: "the shortcut still performs identity mapping, with extra zero
    entries padded for increasing dimensions ... performed with a stride of 2". Parameter-free.
    The paper does not say where the zeros go; we append them after the existing channels.
    """

    def __init__(self, filters, strides=1, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.filters, self.strides = int(filters), int(strides)

    def call(self, inputs):
        # The subsampling x[:, ::s, ::s, :] as a 1x1 max-pool with stride s: the same values
        # bit for bit, forward and backward (one input per window), but TF's CPU kernels for a
        # pool and its gradient are ~3x faster than StridedSlice and StridedSliceGrad (both
        # shortcuts of ResNet-20 at batch 128, slice and pad, forward and backward: 9.7 ->
        # 3.1 ms float32, 8.1 -> 2.9 ms bfloat16; docs/performance.md, "where the time goes").
        x = (ops.max_pool(inputs, pool_size=1, strides=self.strides, padding="valid",
                          data_format=self.data_format)
             if self.strides > 1 else inputs)
        extra = self.filters - ops.shape(x)[self.axis]
        if extra < 0:
            raise ValueError(
                f"Option A shortcut cannot shrink channels from {ops.shape(x)[self.axis]} to "
                f"{self.filters}."
            )
        pads = [[0, 0]] * 4
        pads[self.axis] = [0, extra]
        return ops.pad(x, pads) if extra else x

    def compute_output_shape(self, input_shape):
        def sub(d):
            return None if d is None else -(-d // self.strides)
        height, width, _ = self._parts(input_shape)
        return _shape(input_shape, self.data_format, sub(height), sub(width), self.filters)

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
class TrainableSubsampling(_FormatLayer):
    """LeNet-5's S2/S4 (section II.B): "the four inputs to a unit ... are added, then multiplied
    by a trainable coefficient, and added to a trainable bias": 2 parameters per map."""

    def __init__(self, pool_size=2, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.pool_size = int(pool_size)

    def build(self, input_shape):
        maps = input_shape[self.axis]
        self.coefficient = self.add_weight(shape=(maps,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(maps,), initializer="zeros", name="bias")

    def call(self, inputs):
        p = self.pool_size
        summed = ops.average_pool(inputs, p, strides=p, padding="valid",
                                  data_format=self.data_format) * float(p * p)
        shape = (1, -1, 1, 1) if self.data_format == "channels_first" else (-1,)
        return add_channel_bias(summed * ops.reshape(self.coefficient, shape), self.bias,
                                self.data_format)

    def compute_output_shape(self, input_shape):
        h, w, c = self._parts(input_shape)
        p = self.pool_size
        return _shape(input_shape, self.data_format, None if h is None else h // p,
                      None if w is None else w // p, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}

    def mult_adds(self):
        """One multiplication per output (the trainable coefficient), for `kd.model_stats`."""
        return int(np.prod(self.output.shape[1:]))


@keras.saving.register_keras_serializable(package="keras_deepnets")
class PartialConv2D(_FormatLayer):
    """A valid convolution in which output map j reads only the input maps `table[j]` (LeNet-5's
    C3, paper Table I). Only the connected kernels are weights (C3: 60 x 5 x 5 + 16 = 1,516
    parameters); the full kernel is assembled by a constant 0/1 matrix in `call`."""

    def __init__(self, table, kernel_size, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        maps_in, maps_out = input_shape[self.axis], len(self.table)
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
        outputs = ops.conv(inputs, kernel, padding="valid", data_format=self.data_format)
        return add_channel_bias(outputs, ops.cast(self.bias, self.compute_dtype),
                                self.data_format)

    def compute_output_shape(self, input_shape):
        h, w, _ = self._parts(input_shape)
        k = self.kernel_size
        return _shape(input_shape, self.data_format, None if h is None else h - k + 1,
                      None if w is None else w - k + 1, len(self.table))

    def get_config(self):
        return {**super().get_config(), "table": [list(r) for r in self.table],
                "kernel_size": self.kernel_size}

    def mult_adds(self):
        """The connected kernels only, at every output position (C3: 60 x 25 x 10 x 10 =
        150,000, the paper's 151,600 connections less its 1,600 bias terms)."""
        height, width, _ = self._parts(self.output.shape)
        return int(self.kernel.shape[0] * self.kernel.shape[1] * self.kernel.shape[2]
                   * height * width)


@keras.saving.register_keras_serializable(package="keras_deepnets")
class CeilMaxPooling2D(_FormatLayer):
    """Max-pooling whose output size rounds up: `ceil((n - pool_size) / strides) + 1`, as Caffe
    pools and PyTorch's `MaxPool2d(ceil_mode=True)` do (GoogLeNet's pools, in the paper's Caffe
    model and in torchvision). The last window runs past the edge and sees only the pixels inside
    (the missing ones count as -inf). Keras's "same" padding agrees only for some sizes: at 113
    with a 3x3/2 pool it gives 57 maps and pads the top as well; this gives 56, as PyTorch does.
    """

    def __init__(self, pool_size=3, strides=2, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
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
        pads = [[0, 0]] * 4
        for axis in spatial_axes(self.data_format):
            pads[axis] = [0, self._pad(shape[axis])]
        low = ops.cast(float("-inf"), inputs.dtype)
        x = ops.pad(inputs, pads, constant_values=low)
        return ops.max_pool(x, self.pool_size, self.strides, padding="valid",
                            data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        def side(n):
            return None if n is None else (n + self._pad(n) - self.pool_size) // self.strides + 1
        height, width, channels = self._parts(input_shape)
        return _shape(input_shape, self.data_format, side(height), side(width), channels)

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
class AdaptiveAveragePooling(_FormatLayer):
    """PyTorch's `AdaptiveAvgPool2d(output_size)` for a known input size, as two small matrices
    (rows, then columns): torchvision's AlexNet (6x6) and GoogLeNet's auxiliary heads (4x4).
    Unlike keras.layers.AdaptiveAveragePooling2D (Keras 3.15), it also takes maps smaller than
    the output, which PyTorch repeats (AlexNet at 64x64 pools a 1x1 map to 6x6)."""

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"output_size must be a positive integer; got {output_size!r}.")
        self.output_size = output_size

    def build(self, input_shape):
        height, width, _ = self._parts(input_shape)
        if height is None or width is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known height and width; got "
                             f"input shape {tuple(input_shape)}.")
        self._rows = adaptive_pool_matrix(height, self.output_size)
        self._cols = adaptive_pool_matrix(width, self.output_size)

    def call(self, inputs):
        rows = ops.convert_to_tensor(self._rows, dtype=inputs.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=inputs.dtype)
        if self.data_format == "channels_first":
            return ops.einsum("ih,jw,nchw->ncij", rows, cols, inputs)
        return ops.einsum("ih,jw,nhwc->nijc", rows, cols, inputs)

    def compute_output_shape(self, input_shape):
        _, _, channels = self._parts(input_shape)
        return _shape(input_shape, self.data_format, self.output_size, self.output_size, channels)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
