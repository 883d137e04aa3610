"""AlexNet (models/alexnet.py): the paper's parameter counts layer by layer, its map sizes at
227x227, the two-GPU groups, torchvision's single tower, and the input sizes each can take.
(torchvision's weights giving torchvision's logits: tests/weights/test_torch_convert.py.)"""

import keras
import numpy as np
import pytest

import keras_deepnets as kd

# Krizhevsky et al. 2012, section 3.5 / Figure 2: weights + biases per layer (conv2, conv4 and
# conv5 see half of the previous layer's maps: the two-GPU split).
PAPER_LAYERS = {
    "conv1": 11 * 11 * 3 * 96 + 96, "conv2": 5 * 5 * 48 * 256 + 256,
    "conv3": 3 * 3 * 256 * 384 + 384, "conv4": 3 * 3 * 192 * 384 + 384,
    "conv5": 3 * 3 * 192 * 256 + 256, "fc1": 6 * 6 * 256 * 4096 + 4096,
    "fc2": 4096 * 4096 + 4096, "predictions": 4096 * 1000 + 1000,
}


def test_paper_variant_has_the_papers_layers_and_maps():
    model = kd.AlexNet(weights=None)
    assert {n: model.get_layer(n).count_params() for n in PAPER_LAYERS} == PAPER_LAYERS
    assert model.count_params() == sum(PAPER_LAYERS.values()) == 60_965_224
    # Figure 2's maps: 55x55x96, 27x27x256, 13x13x384, 13x13x384, 13x13x256, pooled to 6x6x256
    assert [tuple(model.get_layer(f"conv{i}").output.shape[1:]) for i in range(1, 6)] == [
        (55, 55, 96), (27, 27, 256), (13, 13, 384), (13, 13, 384), (13, 13, 256)]
    assert tuple(model.get_layer("pool5").output.shape[1:]) == (6, 6, 256)
    assert [model.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert [layer.name for layer in model.layers if "lrn" in layer.name] == ["conv1_lrn",
                                                                               "conv2_lrn"]
    # Canziani et al. 2016 put AlexNet at ~0.7 G multiply-adds
    assert round(kd.model_stats(model).mult_adds / 1e9, 2) == 0.72


def test_torchvision_variant_is_the_single_tower_at_any_size():
    model = kd.get_model("alexnet_torchvision")
    assert model.count_params() == 61_100_840 and model.name == "alexnet_torchvision"
    assert not any("lrn" in layer.name for layer in model.layers)
    # adaptive 6x6 pooling: the same classifier at 320x320 (9x9 maps pooled to 6x6)
    big = kd.AlexNet(variant="torchvision", input_shape=(320, 320, 3))
    assert big.count_params() == model.count_params()
    features = kd.AlexNet(variant="torchvision", include_top=False, input_shape=(320, 320, 3))
    assert features.output_shape == (None, 9, 9, 256)


@pytest.mark.parametrize("variant, size", [("paper", 67), ("torchvision", 63)])
def test_round_trip_at_the_smallest_input(variant, size, tmp_path):
    model = kd.AlexNet(variant=variant, include_top=False, pooling="avg",
                       input_shape=(size, size, 3))
    model.save(tmp_path / "alexnet.keras")
    again = keras.models.load_model(tmp_path / "alexnet.keras")
    x = np.random.default_rng(0).random((2, size, size, 3), np.float32)
    np.testing.assert_allclose(again(x), model(x), rtol=0, atol=1e-6)
    assert again.get_config() == model.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (224, 224, 3)}, r"\(side - 11\) divisible by 4.*224"),
    ({"input_shape": (63, 63, 3)}, "at least 67"),
    ({"variant": "torchvision", "input_shape": (62, 62, 3)}, "at least 63"),
    ({"variant": "caffe"}, "variant must be one of paper, torchvision"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    # the paper's two towers have no published weights (torchvision's are single-tower)
    ({"weights": "imagenet", "variant": "paper"}, "alexnet has no pretrained weights"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kd.AlexNet(**kwargs)


@pytest.mark.parametrize("size", [1, 4, 9, 13])
def test_adaptive_pooling_is_pytorchs_at_any_size(size):
    """PyTorch's windows [floor(i n / 6), ceil((i + 1) n / 6)), smaller maps repeated."""
    x = np.random.default_rng(size).standard_normal((2, size, size + 1, 3)).astype(np.float32)
    out = kd.AdaptiveAveragePooling(6)(x).numpy()

    def window(i, n):
        return slice(i * n // 6, -(-(i + 1) * n // 6))
    for i in range(6):
        for j in range(6):
            expected = x[:, window(i, size), window(j, size + 1)].mean(axis=(1, 2))
            np.testing.assert_allclose(out[:, i, j], expected, rtol=1e-5, atol=1e-6)


def test_torchvision_variant_at_64_pixels_pools_a_1x1_map_to_6x6():
    model = kd.AlexNet(variant="torchvision", input_shape=(64, 64, 3), classes=10)
    assert tuple(model.get_layer("pool5").output.shape[1:]) == (1, 1, 256)
    x = np.random.default_rng(0).random((2, 64, 64, 3), np.float32)
    assert model(x).shape == (2, 10)
