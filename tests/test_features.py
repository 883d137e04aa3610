"""kd.feature_extractor: the stage outputs of ResNets and VGGs as a dict, with strides and
channels, at 224 and at another size; the features are the model's own tensors."""

import keras
import numpy as np
import pytest

import keras_deepnets as kd


@pytest.mark.parametrize("size", [224, 320])
def test_resnet50_c2_to_c5(size):
    model = kd.ResNet50(weights=None, include_top=False, input_shape=(None, None, 3))
    backbone = kd.feature_extractor(model)
    out = backbone(np.zeros((1, size, size, 3), "float32"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "C2": (1, size // 4, size // 4, 256), "C3": (1, size // 8, size // 8, 512),
        "C4": (1, size // 16, size // 16, 1024), "C5": (1, size // 32, size // 32, 2048)}
    assert [(i["name"], i["stride"], i["channels"]) for i in kd.feature_info(backbone)] == [
        ("C2", 4, 256), ("C3", 8, 512), ("C4", 16, 1024), ("C5", 32, 2048)]


def test_features_are_the_models_own_tensors():
    """C5 of ResNet-18, averaged, is what the model itself gives with pooling="avg"."""
    pooled = kd.ResNet18(weights=None, include_top=False, pooling="avg")
    backbone = kd.feature_extractor(pooled, levels=(3, 5))
    assert backbone.count_params() == pooled.count_params()  # shared weights, no copies
    images = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    c5 = backbone(images)["C5"].numpy()
    # float32 sums of 49 values of up to ~100 in another order: a relative tolerance too
    np.testing.assert_allclose(c5.mean(axis=(1, 2)), pooled(images).numpy(), rtol=1e-5, atol=1e-5)


def test_vgg_levels_are_the_blocks_before_their_pools():
    backbone = kd.feature_extractor(kd.VGG16(weights=None, batch_norm=True, include_top=False),
                                    levels=(1, 5))
    assert [(i["name"], i["stride"], i["channels"]) for i in kd.feature_info(backbone)] == [
        ("C1", 1, 64), ("C5", 16, 512)]


def test_cifar_resnet_and_bad_requests():
    assert [i["stride"] for i in kd.feature_info(kd.feature_extractor(kd.ResNet20()))] == [1, 2, 4]
    with pytest.raises(ValueError, match=r"levels \[5\] are not stages of 'resnet20'; it has "
                                         r"levels \[2, 3, 4\]"):
        kd.feature_extractor(kd.ResNet20(), levels=(5,))
    other = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)], name="small")
    with pytest.raises(ValueError, match="takes the ResNets and VGGs .* 'small' has neither"):
        kd.feature_extractor(other)
