"""Where strides, shortcuts and names sit: the details the papers and keras.applications fix."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_deepnets as kd
from keras_deepnets.models.layers import LocalResponseNormalization, ZeroPadShortcut


def _layer_types(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def test_resnet_layer_names_follow_keras_applications():
    ours = {layer.name for layer in kd.ResNet50().layers if layer.weights}
    theirs = {layer.name for layer in keras.applications.ResNet50(weights=None).layers
              if layer.weights}
    assert ours == theirs


def test_vgg_layer_names_follow_keras_applications():
    ours = {layer.name for layer in kd.VGG19().layers if layer.weights}
    theirs = {layer.name for layer in keras.applications.VGG19(weights=None).layers
              if layer.weights}
    assert ours == theirs
    assert "block5_conv3" in ours and {"fc1", "fc2", "predictions"} <= ours


@pytest.mark.parametrize("stride_in_1x1, strided", [(True, "_1_conv"), (False, "_2_conv")])
def test_bottleneck_stride_position(stride_in_1x1, strided):
    model = kd.ResNet50(stride_in_1x1=stride_in_1x1, input_shape=(64, 64, 3), include_top=False)
    for stage in ("conv3", "conv4", "conv5"):
        convs = {name: model.get_layer(f"{stage}_block1{name}").strides
                 for name in ("_1_conv", "_2_conv", "_3_conv")}
        assert convs.pop(strided) == (2, 2)
        assert set(convs.values()) == {(1, 1)}


def test_v1_5_costs_more_multiply_adds():
    v1 = kd.model_stats(kd.ResNet50()).mult_adds
    v15 = kd.model_stats(kd.ResNet50(stride_in_1x1=False)).mult_adds
    assert 4.0e9 < v15 < 4.2e9 and v1 < v15  # torchvision reports 4.09 GFLOPs for resnet50


def test_plain_networks_have_no_additions():
    assert not _layer_types(kd.Plain34(), keras.layers.Add)
    assert len(_layer_types(kd.ResNet34(), keras.layers.Add)) == 16
    assert len(_layer_types(kd.ResNet110(), keras.layers.Add)) == 54


def test_cifar_resnet_layout():
    model = kd.ResNet56()
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    convs = _layer_types(model, keras.layers.Conv2D)
    assert len(convs) + 1 == 56  # 6n+2 weighted layers: 6n+1 convolutions and the classifier
    assert [model.get_layer(f"conv{s}_block1_2_conv").output.shape[1:] for s in (2, 3, 4)] == [
        (32, 32, 16), (16, 16, 32), (8, 8, 64)]
    assert len(_layer_types(model, ZeroPadShortcut)) == 2  # option A where the shape changes


@pytest.mark.parametrize("option, projections", [("A", 0), ("B", 2), ("C", 9)])
def test_shortcut_options_on_cifar(option, projections):
    model = kd.ResNet20(shortcut=option)
    names = [layer.name for layer in model.layers if layer.name.endswith("_0_conv")]
    assert len(names) == projections


@pytest.mark.parametrize("dtype, size", [("float32", 8), ("bfloat16", 9)])
def test_option_a_shortcut_is_subsampled_identity_with_zero_channels(dtype, size):
    """Bit for bit the slice x[:, ::2, ::2, :] and zero channels, forward and backward (the
    layer subsamples with a 1x1 max-pool, which is faster on CPUs), odd sizes included."""
    rng = np.random.default_rng(0)
    x = tf.cast(rng.normal(size=(2, size, size, 16)).astype("float32"), dtype)
    out = -(-size // 2)
    upstream = tf.cast(rng.normal(size=(2, out, out, 32)).astype("float32"), dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ZeroPadShortcut(32, 2, dtype=dtype)(x)
        loss = tf.reduce_sum(tf.cast(y * upstream, "float32"))
    grad = tape.gradient(loss, x).numpy().astype("float32")
    y = y.numpy().astype("float32")
    assert y.shape == (2, out, out, 32)
    np.testing.assert_array_equal(y[..., :16], x.numpy().astype("float32")[:, ::2, ::2, :])
    assert not y[..., 16:].any()
    expected = np.zeros(grad.shape, "float32")
    expected[:, ::2, ::2, :] = upstream.numpy().astype("float32")[..., :16]
    np.testing.assert_array_equal(grad, expected)


def test_strided_convolutions_pad_symmetrically_like_pytorch():
    # A stride-2 3x3 conv on 8x8 whose kernel picks the centre tap must sample pixels 0,2,4,6
    # (PyTorch/Caffe padding 1 on each side), not 1,3,5,7 (Keras "same").
    model = kd.ResNet18(input_shape=(64, 64, 3), include_top=False)
    conv = model.get_layer("conv3_block1_1_conv")
    assert model.get_layer("conv3_block1_1_pad").padding == ((1, 1), (1, 1))
    assert conv.padding == "valid" and conv.strides == (2, 2)


def test_lrn_matches_tensorflow():
    x = np.random.default_rng(0).normal(scale=20, size=(2, 5, 5, 64)).astype("float32")
    ours = np.asarray(LocalResponseNormalization()(x))
    ref = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(ours - x / 2 ** 0.75).max() > 1e-3  # the window sum does change the output


def test_vgg_a_lrn_has_one_lrn_after_first_conv():
    model = kd.VGG11_LRN()
    lrn = _layer_types(model, LocalResponseNormalization)
    assert [layer.name for layer in lrn] == ["block1_lrn"]
    assert model.count_params() == kd.VGG11().count_params()  # LRN has no parameters


def test_vgg_c_has_1x1_convolutions_in_stages_3_to_5():
    model = kd.VGG16C()
    one_by_one = [layer.name for layer in _layer_types(model, keras.layers.Conv2D)
                  if layer.kernel_size == (1, 1)]
    assert one_by_one == ["block3_conv3", "block4_conv3", "block5_conv3"]


def test_generic_builders_take_tables():
    model = kd.ResNet("bottleneck", (1, 1), (8, 16), stem="cifar", classes=3)
    assert model.output_shape == (None, 3)
    assert model.get_layer("conv3_block1_3_conv").filters == 64
    vgg = kd.VGG([[16, "LRN"], [(32, 1), 32]], input_shape=(32, 32, 3), classes=4)
    assert vgg.get_layer("block2_conv1").kernel_size == (1, 1)
    assert vgg.get_layer("block2_pool").output.shape[1:] == (8, 8, 32)
