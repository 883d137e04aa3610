"""The pretrained-weights table, and what a model built for pretrained weights takes from it:
the BN epsilon the weights were trained with (a conflicting explicit one is an error). Offline:
the loader is replaced, so nothing is downloaded."""

import dataclasses

import keras
import pytest

import keras_deepnets as kd
from keras_deepnets import pretrained
from keras_deepnets.models.blocks import BlockOptions

KA_EPSILON = pretrained.KERAS_APPLICATIONS_BN_EPSILON


@pytest.fixture
def loads(monkeypatch):
    """The rows the models ask to load, instead of downloading them."""
    rows = []
    monkeypatch.setattr("keras_deepnets.weight_files.load_pretrained",
                        lambda model, row: rows.append((model.name, row)))
    return rows


def _bn_epsilons(model):
    return {layer.epsilon for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_table_rows_are_frozen_and_complete():
    assert pretrained.models_with("imagenet") == ["resnet101", "resnet152", "resnet50", "vgg16",
                                                  "vgg19"]
    for (model, weights), row in pretrained.PRETRAINED.items():
        assert (row.model, row.weights) == (model, weights)
        assert callable(getattr(keras.applications, row.architecture))
        assert row.preprocessing == "caffe" and 70 < row.top1 < 80
        assert row.file_name(False).endswith("_notop.h5") and row.url.startswith("https://")
        assert row.bn_epsilon == (KA_EPSILON if model.startswith("resnet") else None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pretrained.find("resnet50", "imagenet").bn_epsilon = 1e-5
    assert pretrained.find("resnet34", "imagenet") is None


@pytest.mark.parametrize("bn_epsilon", [None, KA_EPSILON])
def test_pretrained_resnet_is_built_with_the_weights_epsilon(bn_epsilon, loads):
    """Unset, or explicitly the weights' own: the model is built with keras.applications'
    1.001e-5."""
    model = kd.ResNet50(weights="imagenet", include_top=False, input_shape=(64, 64, 3),
                        bn_epsilon=bn_epsilon)
    assert _bn_epsilons(model) == {KA_EPSILON}
    assert model.get_config()["bn_epsilon"] == KA_EPSILON
    assert loads == [("resnet50", pretrained.find("resnet50", "imagenet"))]


@pytest.mark.parametrize("bn_epsilon", [1e-5, 1e-3])
def test_a_conflicting_explicit_epsilon_is_an_error(bn_epsilon, loads):
    """Before: the explicit epsilon was silently replaced by the weights' one."""
    with pytest.raises(ValueError) as info:
        kd.ResNet50(weights="imagenet", bn_epsilon=bn_epsilon)
    message = str(info.value)
    assert f"bn_epsilon={bn_epsilon!r}" in message and repr(KA_EPSILON) in message
    assert not loads


def test_without_pretrained_weights_the_epsilon_is_the_callers_or_1e_5():
    assert _bn_epsilons(kd.ResNet20()) == {1e-5}
    assert _bn_epsilons(kd.ResNet20(bn_epsilon=1e-3)) == {1e-3}
    assert kd.ResNet20(bn_epsilon=1e-3).get_config()["bn_epsilon"] == 1e-3
    with pytest.raises(ValueError, match="bn_epsilon must be a positive number"):
        kd.ResNet20(bn_epsilon=0)


def test_block_options_are_immutable_and_normalised():
    opts = BlockOptions("b", stride_in_1x1=0, bn_epsilon=1, bn_momentum=0.99)
    assert (opts.shortcut, opts.stride_in_1x1, opts.bn_epsilon) == ("B", False, 1.0)
    assert BlockOptions("plain").shortcut is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.bn_epsilon = 1e-3
    assert dataclasses.replace(opts, bn_epsilon=1e-3).bn_epsilon == 1e-3 and opts.bn_epsilon == 1.0
    with pytest.raises(ValueError, match="Unknown shortcut option"):
        BlockOptions("D")


def test_torchvision_files_say_which_weights_set_they_are():
    rows = [row for row in pretrained.SOURCES if row.source == pretrained.TORCHVISION]
    assert len({row.file for row in rows}) == len(rows) == 23
    assert all(row.model in kd.list_models() and row.weights is None for row in rows)
    # the same tensors' shapes, two weights sets: the file name tells V1 (resize 256) from V2
    v1, v2 = (pretrained.find_file(f"/cache/{name}") for name in
              ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"))
    assert (v1.resize, v1.top1, v2.resize, v2.top1) == (256, 76.130, 232, 80.858)
    assert dict(v2.model_kwargs) == {"stride_in_1x1": False}  # torchvision's v1.5
    assert pretrained.find_file("googlenet-1378be20.pth").preprocessing == "tf"
    assert pretrained.find_file("my_resnet.pth") is None
    assert pretrained.published_top1("resnet50") == 80.858  # the best of three files
    assert pretrained.published_top1("resnet20") is None
