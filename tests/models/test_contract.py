"""keras.applications' argument contract: shapes for every combination, clear errors otherwise."""

import os

import numpy as np
import pytest

import keras
import keras_deepnets as kd


@pytest.mark.parametrize("constructor", [kd.ResNet18, kd.ResNet50, kd.VGG11, kd.Plain34])
@pytest.mark.parametrize("pooling, expected", [(None, 4), ("avg", 2), ("max", 2)])
def test_no_top_pooling_shapes(constructor, pooling, expected):
    model = constructor(include_top=False, pooling=pooling, input_shape=(160, 160, 3))
    assert len(model.output_shape) == expected
    assert model.output_shape[-1] in (512, 2048)
    if pooling is None:
        assert model.output_shape[1:3] == (5, 5)  # 160 / 32


@pytest.mark.parametrize("size", [160, 320])
def test_resnet_top_at_other_sizes(size):
    model = kd.ResNet18(input_shape=(size, size, 3), classes=7)
    x = np.random.default_rng(0).uniform(size=(1, size, size, 3)).astype("float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (1, 7) and np.isclose(y.sum(), 1.0, atol=1e-5)


def test_vgg_top_at_other_size_flattens_more_features():
    model = kd.VGG11(input_shape=(320, 320, 3), classes=3)
    assert model.get_layer("fc1").kernel.shape == (10 * 10 * 512, 4096)


def test_default_input_sizes():
    assert kd.ResNet50().input_shape == (None, 224, 224, 3)
    assert kd.ResNet50(include_top=False).input_shape == (None, None, None, 3)
    assert kd.ResNet110().input_shape == (None, 32, 32, 3)
    assert kd.VGG16(include_top=False).input_shape == (None, 224, 224, 3)


def test_input_tensor_from_another_graph():
    inputs = keras.Input((64, 64, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    model = kd.ResNet18(input_tensor=scaled, include_top=False, pooling="avg")
    assert model.inputs[0] is inputs  # built from the source Input, as keras.applications does
    assert model.output_shape == (None, 512)


def test_classifier_activation_none_gives_logits():
    model = kd.ResNet20(classifier_activation=None)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    assert not np.allclose(model.predict(x, verbose=0).sum(axis=1), 1.0)


def test_mixed_precision_keeps_predictions_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = kd.ResNet20()
        assert model.get_layer("conv1_conv").compute_dtype == "bfloat16"
        assert model.get_layer("predictions").compute_dtype == "float32"
        assert model.get_layer("conv1_bn").moving_mean.dtype == "float32"
        y = model(np.zeros((1, 32, 32, 3), "float32"))
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


BAD = [
    (lambda: kd.get_model("resnet42"), "Valid names: .*resnet34"),
    (lambda: kd.ResNet34(shortcut="D"), "Unknown shortcut option 'D'.*'A'"),
    (lambda: kd.ResNet20(pooling="mean"), "pooling must be one of"),
    (lambda: kd.ResNet50(weights="imagenet", classes=10), "classes=1000"),
    (lambda: kd.ResNet50(weights="imagenet", input_shape=(224, 224, 1), include_top=False),
     "3 input channels"),
    (lambda: kd.ResNet18(input_shape=(16, 16, 3)), "at least 32"),
    (lambda: kd.VGG11(input_shape=(31, 64, 3)), "at least 32"),
    (lambda: kd.ResNet20(input_shape=(2, 2, 3)), "at least 4"),
    (lambda: kd.ResNet20(weights="imagenet"), "resnet20 has no pretrained weights.*resnet50"),
    (lambda: kd.ResNet34(weights="IMAGENET1K_V2"),
     "resnet34 has no weights tagged 'IMAGENET1K_V2'.*resnet50.*Its tags: imagenet, DEFAULT"),
    (lambda: kd.ResNet50(weights="imagenet", shortcut="C"), "no pretrained weights"),
    (lambda: kd.ResNet50(weights="IMAGENET1K_V2", stride_in_1x1=True),
     "needs stride_in_1x1=False"),
    # torchvision's rows: checked before anything is downloaded (test_clear_value_errors: no
    # socket beyond loopback -- tests/hermetic.py's guard -- and the empty cache stays empty)
    (lambda: kd.ResNet34(weights="imagenet", classes=10), "include_top=False.*fine-tune"),
    (lambda: kd.VGG11(weights="IMAGENET1K_V1", input_shape=(160, 160, 3)),
     r"\(224, 224, 3\)"),
    (lambda: kd.AlexNet(weights="DEFAULT", variant="paper"), "alexnet has no pretrained"),
    (lambda: kd.GoogLeNet(weights="imagenet", classifier_activation="relu"),
     "classifier_activation must be None or 'softmax'"),
    (lambda: kd.VGG16(weights="imagenet", input_shape=(160, 160, 3)), r"\(224, 224, 3\)"),
    (lambda: kd.ResNet18(weights="/no/such/file.weights.h5"), "neither None"),
    (lambda: kd.ResNet18(input_shape=(224, 224)), "height, width, channels"),
    (lambda: kd.ResNet18(classes=0), "positive integer"),
    (lambda: kd.VGG11(include_top=True, input_shape=(None, None, 3)), "must be known"),
    (lambda: kd.ResNet("basic", (2, 2), (16,)), "same length"),
    (lambda: kd.ResNet("wide", (2, 2), (16, 32)), "block must be one of"),
    (lambda: kd.ResNet("basic", (2, 0), (16, 32)), "positive integers"),
    (lambda: kd.VGG("F"), "Unknown VGG config"),
    (lambda: kd.VGG([[64, "pool"]]), "VGG config table"),
    (lambda: kd.Plain20(shortcut="A"), "no shortcuts"),
]


@pytest.mark.parametrize("build, message", BAD, ids=[m for _, m in BAD])
def test_clear_value_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()
    assert os.listdir(os.environ["KERAS_HOME"]) == []  # nothing fetched, not even a lock file


def test_cifar_depth_must_be_6n_plus_2():
    from keras_deepnets.models.specs import cifar_blocks_per_stage

    assert cifar_blocks_per_stage(1202) == 200
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_blocks_per_stage(30)
