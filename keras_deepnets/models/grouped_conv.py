"""A grouped Conv2D that runs TensorFlow's own grouped kernel (ResNeXt's 3x3, AlexNet's towers).

Why: Keras 3's TensorFlow backend compiles every grouped convolution with XLA
(keras/src/backend/tensorflow/nn.py, `conv`: "grouped convolutions are broken on CPU without
XLA"), and XLA's CPU grouped convolution is slow. Measured here (TF 2.21, Keras 3.15, 2 cores,
forward + backward of a 3x3, 128 -> 128 channels in 32 groups at batch 8 on 14x14, median of
10): Keras's Conv2D(groups=32) 510 ms (494 ms with the step itself under XLA), TensorFlow's
native `tf.nn.convolution` 2.1 ms, a dense Conv2D(128, 3) doing 32x the arithmetic 8.6 ms
(docs/results/one_cpu/grouped_conv.md; the probe that measured it,
scripts/probe_grouped_conv.py, is in commit 72d2429). The native kernel is oneDNN's: with
TF_ENABLE_ONEDNN_OPTS=0, TensorFlow's CPU kernels have no gradient for grouped convolutions
("Gradients for grouped convolutions are not supported on CPU").

Exactness contract: the same weights (kernel [kh, kw, in/groups, out], output channels in
group-major order, PyTorch's layout), the same config and the same outputs and gradients as
keras.layers.Conv2D up to float rounding (tests/models/test_grouped_conv.py). The fast path is
taken on the TensorFlow backend, channels-last, groups > 1, when a one-off probe finds that this
TensorFlow has gradients for grouped convolutions on the CPU (models/tf_cpu.py); otherwise
Keras's own path runs.
"""

import keras

from keras_deepnets.models.layers import Conv2D
from keras_deepnets.models.tf_cpu import native_grouped_gradients


@keras.saving.register_keras_serializable(package="keras_deepnets")
class GroupedConv2D(Conv2D):
    """keras.layers.Conv2D whose grouped convolution takes TensorFlow's native kernel; see the
    module docstring for why and for the exactness contract. Arguments: Conv2D's."""

    def uses_native_kernel(self):
        return (self.groups > 1 and keras.backend.backend() == "tensorflow"
                and self.data_format == "channels_last"
                and native_grouped_gradients(self.compute_dtype))

    def convolution_op(self, inputs, kernel):
        if not self.uses_native_kernel():
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf

        return tf.nn.convolution(inputs, kernel, strides=list(self.strides),
                                 padding=self.padding.upper(),
                                 dilations=list(self.dilation_rate))
