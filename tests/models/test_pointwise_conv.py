"""PointwiseConv2D (models/pointwise_conv.py): in bfloat16 on the CPU its weight gradient is one
matrix product and equals Keras Conv2D's up to float rounding, its output and input gradient
bit for bit; in float32 it is Keras's Conv2D; the ResNet bottlenecks use it and it saves."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets.models import layers


def _pair(x_shape, filters, seed=0):
    ours, theirs = (kd.PointwiseConv2D(filters, 1, use_bias=False),
                    keras.layers.Conv2D(filters, 1, use_bias=False))
    ours.build(x_shape)
    theirs.build(x_shape)
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(np.float32)
    return ours, theirs, tf.convert_to_tensor(x)


def _outputs_and_grads(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
    return [np.asarray(v, np.float32) for v in [y, *tape.gradient(loss, [x, layer.kernel])]]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float32"], indirect=True)
def test_equals_keras_conv2d(policy):
    # 8 x 14 x 14 = 1568 terms per weight gradient: enough for the summation order to matter
    ours, theirs, x = _pair((8, 14, 14, 64), 96)
    assert ours.uses_matmul_gradient() == (policy == "mixed_bfloat16")
    (y, dx, dw), (y0, dx0, dw0) = _outputs_and_grads(ours, x), _outputs_and_grads(theirs, x)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)
    if policy == "float32":  # Keras's own op
        np.testing.assert_array_equal(dw, dw0)
    # The weight gradient against the exact sum (float64) of the products of its bfloat16
    # operands: the input as the layer casts it and dy = 2 y. Ours is one matrix product and
    # stays within a bfloat16 unit or two (8 bits: 0.4%) of the largest entry. TensorFlow's own
    # kernel sums in another order and, without oneDNN's bfloat16 (AVX-512), in bfloat16: 2.5%
    # off with two threads, 4.4% with one, on an AVX2 CPU; a wrong gradient is off by far more.
    operand = np.asarray(tf.cast(tf.cast(x, ours.compute_dtype), tf.float32), np.float64)
    exact = operand.reshape(-1, x.shape[-1]).T @ (2.0 * y.astype(np.float64)).reshape(-1, 96)
    scale = np.abs(exact).max()
    assert scale > 0
    assert np.abs(dw.reshape(exact.shape) - exact).max() / scale < 1e-2
    assert np.abs(dw0.reshape(exact.shape) - exact).max() / scale < 1e-1


def _gradient_op_types(layer, x):
    @tf.function
    def grads(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.cast(layer(x), tf.float32))
        return tape.gradient(loss, layer.kernel)

    return {op.type for op in grads.get_concrete_function(x).graph.get_operations()}


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float32"], indirect=True)
def test_the_bfloat16_weight_gradient_is_a_matmul_and_float32_keeps_tfs(policy):
    ours, _, x = _pair((2, 5, 5, 8), 16)
    types = _gradient_op_types(ours, x)
    if policy == "mixed_bfloat16":
        assert "MatMul" in types and "Conv2DBackpropFilter" not in types
    else:
        assert "Conv2DBackpropFilter" in types and "MatMul" not in types


def test_resnet_bottlenecks_use_it_for_stride_1_only_and_it_saves(tmp_path):
    model = kd.ResNet(block="bottleneck", stage_depths=(1, 1), stage_filters=(16, 32),
                      stem="cifar", shortcut="B")
    kinds = {name: type(model.get_layer(name)) for name in (
        "conv2_block1_1_conv", "conv2_block1_2_conv", "conv2_block1_3_conv",
        "conv3_block1_0_conv")}
    assert kinds["conv2_block1_1_conv"] is kd.PointwiseConv2D  # 1x1, stride 1
    assert kinds["conv2_block1_3_conv"] is kd.PointwiseConv2D
    assert kinds["conv2_block1_2_conv"] is layers.Conv2D  # 3x3
    assert kinds["conv3_block1_0_conv"] is layers.Conv2D  # 1x1, stride 2 (shortcut)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert type(again.get_layer("conv2_block1_1_conv")) is kd.PointwiseConv2D
    x = np.random.default_rng(1).random((2, 32, 32, 3), np.float32)
    np.testing.assert_allclose(again(x), model(x), rtol=0, atol=1e-6)
