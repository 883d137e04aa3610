"""A 1x1 Conv2D whose bfloat16 weight gradient on the CPU is one matrix product (the ResNet
bottlenecks' stride-1 1x1s: 33 of ResNet-50 v1.5's 53 convolutions).

Why: the weight gradient of a stride-1 1x1 convolution is a matrix product over the batch and
the pixels, dW[i, o] = sum over (n, h, w) of x[n, h, w, i] * dy[n, h, w, o]. TF 2.21 bundles
oneDNN 3.7.3 (PyTorch 2.14 bundles 3.12), whose bfloat16 convolution weight-gradient kernel
(`brgconv_bwd_w`) took 1.1-2.8x PyTorch's time on the same shapes and memory formats on an AMX
CPU (oneDNN's own log, `scripts/benchmarks/benchmark.py vs_torch --onednn --onednn_shapes`);
oneDNN's matrix product computes the same sum in a third of the time (ResNet-50's 256 -> 1024 at
14x14, batch 32: 3.0 against 9.5 ms in a scratch timing; ResNet-50's bfloat16 step +11-12%;
docs/performance.md). In float32 the two take the same time, so
float32 keeps TensorFlow's own gradient.

Exactness contract: the forward pass and the input gradient are Keras's and TensorFlow's own
ops (bit for bit); the weight gradient is the same sum in another order, so equal up to float
rounding (tests/models/test_pointwise_conv.py). The matrix product is taken on the TensorFlow
backend, channels-last, 1x1 kernel, stride 1, no dilation, no groups, bfloat16 compute dtype,
with no GPU visible (a CPU-only trick: no GPU could be measured); otherwise Keras's path runs.
TensorFlow is imported only on its backend: on JAX or PyTorch the layer is Keras's Conv2D.
"""

import importlib

import keras

from keras_deepnets.models.layers import Conv2D


def _tf():
    """TensorFlow, imported when the TensorFlow backend asks for the fast path only."""
    return importlib.import_module("tensorflow")


def _matmul_weight_gradient(convolution):
    """`convolution(x, kernel)` (a 1x1, stride-1 convolution) with the weight gradient as one
    matrix product; the input gradient is TensorFlow's own Conv2DBackpropInput."""
    tf = _tf()

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel,
                                                out_backprop=dy, strides=[1, 1, 1, 1],
                                                padding="VALID")
            channels_in, channels_out = kernel.shape[-2], kernel.shape[-1]
            dw = tf.linalg.matmul(tf.reshape(x, [-1, channels_in]),
                                  tf.reshape(dy, [-1, channels_out]), transpose_a=True)
            return dx, tf.reshape(dw, tf.shape(kernel))

        return convolution(x, kernel), grad

    return conv


@keras.saving.register_keras_serializable(package="keras_deepnets")
class PointwiseConv2D(Conv2D):
    """keras.layers.Conv2D for 1x1 convolutions whose weight gradient is a matrix product when
    that is faster; see the module docstring for why and for the exactness contract. Arguments:
    Conv2D's."""

    def uses_matmul_gradient(self):
        return (keras.backend.backend() == "tensorflow" and self.data_format == "channels_last"
                and tuple(self.kernel_size) == (1, 1) and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                and self.compute_dtype == "bfloat16"
                and not _tf().config.list_logical_devices("GPU"))

    def convolution_op(self, inputs, kernel):
        if not self.uses_matmul_gradient():
            return super().convolution_op(inputs, kernel)
        # Read (and autocast) the variable here: a custom gradient's inputs must be tensors.
        kernel = _tf().convert_to_tensor(kernel)
        return _matmul_weight_gradient(super().convolution_op)(inputs, kernel)
