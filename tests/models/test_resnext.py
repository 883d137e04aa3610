"""ResNeXt (models/resnext.py through ResNetModel's `groups`/`width_per_group`): the paper's and
torchvision's parameter counts, the grouped 3x3 computing what PyTorch's grouped convolution
computes, and the CIFAR ResNeXt-29s."""

import keras
import numpy as np
import pytest

import keras_deepnets as kd
from keras_deepnets.weights.torch_convert import architecture, from_torchvision
from keras_deepnets.weights.torch_files import CheckpointError


@pytest.mark.parametrize("name, trainable", [
    ("resnext50_32x4d", 25_028_904),     # torchvision's counts
    ("resnext101_32x8d", 88_791_336),
    ("resnext101_64x4d", 83_455_272),
])
def test_imagenet_resnexts_have_torchvisions_parameter_counts(name, trainable):
    model = kd.get_model(name, weights=None)
    stats = kd.model_stats(model)
    assert stats.trainable_params == trainable
    if name == "resnext50_32x4d":
        # Table 1: 4.2 G FLOPs (multiply-adds) for ResNeXt-50, within 3%
        assert abs(stats.mult_adds / 1e9 - 4.2) <= 0.03 * 4.2
        conv = model.get_layer("conv2_block1_2_conv")
        assert conv.groups == 32 and conv.kernel.shape == (3, 3, 4, 128)  # 32 paths of 4
        # stride on the grouped 3x3, as in the paper's code and torchvision
        assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)


@pytest.mark.parametrize("name, millions", [("resnext29_8x64d", 34.4),
                                            ("resnext29_16x64d", 68.1)])
def test_cifar_resnext29_has_section_5_2s_size(name, millions):
    model = kd.get_model(name)  # section 5.2 / Table 7: 34.4M and 68.1M parameters
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert abs(kd.model_stats(model).trainable_params / 1e6 - millions) <= 0.1
    assert len([layer for layer in model.layers if layer.name.endswith("_out")]) == 9


def _torch_grouped_conv(x, weight, groups):
    """PyTorch's Conv2d(groups, padding=1) in numpy: weight [out, in/groups, 3, 3]; output
    channel o reads the input channels of its group o // (out / groups)."""
    n, h, w, cin = x.shape
    out, per_group = weight.shape[:2]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.zeros((n, h, w, out), np.float64)
    for o in range(out):
        g = o // (out // groups)
        inputs = padded[..., g * per_group:(g + 1) * per_group]
        for i in range(3):
            for j in range(3):
                y[..., o] += inputs[:, i:i + h, j:j + w] @ weight[o, :, i, j]
    return y


def test_grouped_kernel_layout_is_pytorchs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    weight = rng.standard_normal((12, 2, 3, 3)).astype(np.float32)  # 4 groups of 2 -> 3 each
    layer = keras.layers.Conv2D(12, 3, padding="same", groups=4, use_bias=False)
    layer.build(x.shape)
    layer.set_weights([weight.transpose(2, 3, 1, 0)])  # what the converter does: OIHW -> HWIO
    np.testing.assert_allclose(layer(x), _torch_grouped_conv(x, weight, 4), rtol=0, atol=1e-4)


def _as_torchvision(model, layout):
    """The model's weights under torchvision's keys and layouts (the converter's inverse)."""
    state = {}
    for layer_name, kind, prefix in layout.body + layout.head:
        weights = [w.numpy() for w in model.get_layer(layer_name).weights]
        if kind == "conv":
            state[f"{prefix}.weight"] = weights[0].transpose(3, 2, 0, 1)
        elif kind == "bn":
            for key, value in zip(("weight", "bias", "running_mean", "running_var"), weights):
                state[f"{prefix}.{key}"] = value
        else:
            state[f"{prefix}.weight"], state[f"{prefix}.bias"] = weights[0].T, weights[1]
    return state


def test_a_torchvision_resnext_state_dict_round_trips():
    model = kd.ResNeXt50_32x4d(weights=None, classifier_activation=None, bn_epsilon=1e-5,
                               input_shape=(64, 64, 3))
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):  # non-trivial statistics
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))
    layout = architecture(_resnext50_keys(), "probe")
    assert layout.name == "resnext50_32x4d" and layout.kwargs["stride_in_1x1"] is False
    state = _as_torchvision(model, layout)
    again = from_torchvision(state, classifier_activation=None, input_shape=(64, 64, 3))
    assert again.name == "resnext50_32x4d"
    x = rng.random((2, 64, 64, 3), np.float32)
    np.testing.assert_allclose(again(x, training=False), model(x, training=False), rtol=0,
                               atol=1e-5)
    wide = dict(state, **{"layer1.0.conv2.weight": np.zeros((128, 128, 3, 3), np.float32)})
    with pytest.raises(CheckpointError, match=r"1 group\(s\) of width 128 .*resnext50_1x128d"):
        from_torchvision(wide)


def _resnext50_keys():
    """A stand-in state_dict with torchvision's ResNeXt-50 key names (enough for
    `architecture` to read the layout: blocks, bottleneck, the grouped 3x3)."""
    state = {"conv1.weight": 0, "layer1.0.conv2.weight": np.zeros((128, 4, 3, 3))}
    for s, n in zip(range(1, 5), (3, 4, 6, 3)):
        for b in range(n):
            state[f"layer{s}.{b}.conv3.weight"] = 0
            if b == 0:
                state[f"layer{s}.0.downsample.0.weight"] = 0
    return state


def test_groups_need_bottlenecks():
    with pytest.raises(ValueError, match="groups and width_per_group .* need block='bottleneck'"):
        kd.ResNet(block="basic", groups=32)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        kd.ResNet(block="bottleneck", stage_depths=(1,), stage_filters=(64,), groups=0)
