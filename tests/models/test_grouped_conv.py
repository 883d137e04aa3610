"""GroupedConv2D (models/grouped_conv.py): TensorFlow's native grouped kernel gives Keras
Conv2D's outputs and gradients, in float32 and bfloat16, and saves as a Conv2D does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets.models.grouped_conv import native_grouped_gradients


def _outputs_and_grads(layer, x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
    return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]


@pytest.mark.parametrize("strides, policy", [(1, "float32"), (2, "float32"),
                                             (1, "mixed_bfloat16")])
def test_native_kernel_equals_kerass_grouped_conv(strides, policy):
    # oneDNN's kernel, which the suite runs (tests/conftest.py); its bfloat16 one needs AVX-512.
    assert native_grouped_gradients("float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        x = np.random.default_rng(0).standard_normal((2, 9, 9, 16)).astype(np.float32)
        kwargs = dict(filters=24, kernel_size=3, strides=strides, padding="same", groups=4)
        ours, theirs = kd.GroupedConv2D(**kwargs), keras.layers.Conv2D(**kwargs)
        ours.build(x.shape)
        theirs.build(x.shape)
        theirs.set_weights(ours.get_weights())
        assert ours.uses_native_kernel() == native_grouped_gradients(ours.compute_dtype)
        tolerance = 1e-4 if policy == "float32" else 5e-2
        for a, b in zip(_outputs_and_grads(ours, x), _outputs_and_grads(theirs, x)):
            a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance * np.abs(b).max())
    finally:
        keras.config.set_dtype_policy(previous)


def test_resnext_and_alexnet_use_it_and_it_saves(tmp_path):
    model = kd.ResNet(block="bottleneck", stage_depths=(1, 1), stage_filters=(16, 32),
                      stem="cifar", groups=4, width_per_group=8, stride_in_1x1=False)
    conv = model.get_layer("conv2_block1_2_conv")
    assert isinstance(conv, kd.GroupedConv2D) and conv.groups == 4
    assert isinstance(kd.AlexNet(include_top=False).get_layer("conv2"), kd.GroupedConv2D)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(again.get_layer("conv2_block1_2_conv"), kd.GroupedConv2D)
    x = np.random.default_rng(1).random((2, 32, 32, 3), np.float32)
    np.testing.assert_allclose(again(x), model(x), rtol=0, atol=1e-6)
