"""models/tf_cpu.py: on TensorFlow's own CPU kernels (oneDNN off, as on every CPU without
AVX-512) a channels_first model runs and trains, and a grouped convolution takes Keras's path
with the same outputs and gradients as the native kernel the rest of the suite runs.

The child process runs with TF_ENABLE_ONEDNN_OPTS=0 (the suite sets 1, tests/conftest.py).
"""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets.models import tf_cpu

CHILD = r"""
import sys
import numpy as np
import keras
import tensorflow as tf
import keras_deepnets as kd
from keras_deepnets.models import tf_cpu

# The premise: without oneDNN these kernels are missing, and Keras's own layer fails on NCHW.
assert tf_cpu.needs_channels_last() and not tf_cpu.native_grouped_gradients()
try:
    keras.layers.Conv2D(2, 3, data_format="channels_first")(np.ones((1, 2, 5, 5), np.float32))
    raise SystemExit("Keras's Conv2D ran NCHW on this CPU: the premise is wrong")
except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError):
    pass

rng = np.random.default_rng(0)
x = rng.random((2, 32, 32, 3), np.float32)
# A small ResNeXt: plain, 1x1 and grouped convolutions, all channels_first.
arch = dict(block="bottleneck", stage_depths=(1, 1), stage_filters=(16, 32), stem="cifar",
            groups=4, width_per_group=8, stride_in_1x1=False, classes=10,
            classifier_activation=None)
last = kd.ResNet(input_shape=(32, 32, 3), **arch)
first = kd.ResNet(input_shape=(3, 32, 32), data_format="channels_first", **arch)
first.set_weights(last.get_weights())
y_last, y_first = np.asarray(last(x)), np.asarray(first(np.transpose(x, (0, 3, 1, 2))))
scale = np.abs(y_last).max()
np.testing.assert_allclose(y_first, y_last, atol=1e-5 * scale, rtol=0)

first.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
before = first.get_layer("conv2_block1_2_conv").get_weights()[0].copy()
first.fit(np.transpose(x, (0, 3, 1, 2)), y_last, epochs=1, verbose=0)
assert not np.array_equal(first.get_layer("conv2_block1_2_conv").get_weights()[0], before)

layer = kd.GroupedConv2D(filters=24, kernel_size=3, strides=2, padding="same", groups=4)
layer.build((2, 9, 9, 16))
assert not layer.uses_native_kernel()
inputs = tf.constant(np.load(sys.argv[1])["x"])
layer.set_weights([np.load(sys.argv[1])["kernel"], np.load(sys.argv[1])["bias"]])
with tf.GradientTape() as tape:
    tape.watch(inputs)
    loss = tf.reduce_sum(layer(inputs) ** 2)
grads = tape.gradient(loss, [inputs, *layer.trainable_weights])
np.savez(sys.argv[2], loss=loss.numpy(), *[g.numpy() for g in grads])
print("ok")
"""


def test_channels_first_and_grouped_convolutions_without_onednn(tmp_path):
    rng = np.random.default_rng(1)
    layer = kd.GroupedConv2D(filters=24, kernel_size=3, strides=2, padding="same", groups=4)
    layer.build((2, 9, 9, 16))
    assert layer.uses_native_kernel() and tf_cpu.needs_channels_last()  # oneDNN, no GPU
    x = rng.standard_normal((2, 9, 9, 16)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 4, 24)).astype(np.float32) * 0.2
    bias = rng.standard_normal(24).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x, kernel=kernel, bias=bias)
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
    done = subprocess.run([sys.executable, "-c", CHILD, tmp_path / "in.npz", tmp_path / "out.npz"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]

    layer.set_weights([kernel, bias])
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(layer(inputs) ** 2)
    native = [loss, *tape.gradient(loss, [inputs, *layer.trainable_weights])]
    theirs = np.load(tmp_path / "out.npz")
    theirs = [theirs["loss"], *[theirs[f"arr_{i}"] for i in range(3)]]
    for a, b in zip(native, theirs):
        a = np.asarray(a)
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
