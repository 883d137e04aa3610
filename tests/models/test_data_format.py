"""Both data formats: every constructor honours `keras.config.image_data_format()`
and a `data_format=` argument; a channels_first model holds the same weights as its
channels_last twin and computes the same function, on the shared photos; keras.applications'
contract cases hold in channels_first; torchvision's weights convert into it."""

import functools
import os
import pathlib
import sys

import keras
import numpy as np
import pytest

import keras_deepnets as kd
from keras_deepnets.weights.torch_convert import from_torchvision

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"
sys.path.insert(0, str(TORCHVISION))
from seeded_weights import load_fixture  # noqa: E402  (the shared folder's numpy-only rebuild)


@pytest.fixture
def channels_first():
    """Keras's global image data format set to channels_first, as a user sets it."""
    old = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format(old)


@pytest.fixture(scope="module")
def photos_nhwc():
    return np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"][:2]


def _nchw(x):
    return np.transpose(x, (0, 3, 1, 2))


def test_both_formats_compute_the_same_function_on_photos(photos_nhwc, randomise_bn):
    """ResNeXt, which has no torchvision fixture: its channels_first twin against channels_last
    (ResNet, VGG, GoogLeNet and AlexNet are checked against torchvision's own logits below)."""
    build = kd.ResNeXt50_32x4d
    last = build(data_format="channels_last", classifier_activation=None)
    randomise_bn(last, seed=3, biases=True)
    first = build(data_format="channels_first", classifier_activation=None)
    assert first.input_shape == (None, 3, 224, 224)
    assert first.get_config()["data_format"] == "channels_first"
    first.set_weights(last.get_weights())  # the same weights, the same shapes
    ref = np.asarray(last(photos_nhwc, training=False))
    out = np.asarray(first(_nchw(photos_nhwc), training=False))
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()  # float32 rounding


CONTRACT_MODELS = [kd.ResNet18, kd.VGG11, kd.AlexNet, kd.GoogLeNet, kd.ResNeXt50_32x4d]


@pytest.mark.parametrize("constructor", CONTRACT_MODELS, ids=lambda c: c.__name__)
def test_keras_applications_contract_in_channels_first(constructor, channels_first):
    """keras/src/applications/applications_test.py's cases, channels first: variable input
    channels with free sides, a custom 123x123 input, pooling, an input tensor from a
    Conv2D, and a config round trip."""
    for channels in (1, 4):
        model = constructor(weights=None, include_top=False, input_shape=(channels, None, None))
        assert model.input_shape == (None, channels, None, None)
        assert model.output_shape[1] in (256, 512, 1024, 2048)  # the channel axis
    model = constructor(weights=None, include_top=False, input_shape=(3, 123, 123),
                        pooling="max")
    assert len(model.output_shape) == 2
    x = np.random.default_rng(0).random((1, 3, 123, 123)).astype("float32")
    assert model.predict(x, verbose=0).shape == (1, *model.output_shape[1:])
    inputs = keras.Input((3, 150, 150))
    tensor = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    headless = constructor(weights=None, include_top=False, input_tensor=tensor)
    assert headless.input_shape == (None, 3, 150, 150)
    again = type(model).from_config(model.get_config())
    assert again.get_config() == model.get_config()


def test_channels_first_errors_name_the_format(channels_first):
    with pytest.raises(ValueError, match=r"\(channels, height, width\) for data_format "
                                         "'channels_first'"):
        kd.ResNet18(input_shape=(224, 224))
    with pytest.raises(ValueError, match="needs 3 input channels"):  # before any download:
        kd.ResNet50(weights="imagenet", include_top=False, input_shape=(1, 224, 224))
    assert os.listdir(os.environ["KERAS_HOME"]) == []  # (and no socket: tests/hermetic.py)
    with pytest.raises(ValueError, match="data_format must be None, 'channels_last' or"):
        kd.ResNet18(data_format="NCHW")


@pytest.mark.parametrize("name", ["alexnet", "vgg16_bn", "resnet50", "googlenet"])
def test_torchvision_weights_convert_into_channels_first(name, tmp_path):
    """Channels first against an outside reference, torchvision's logits on the shared photos
    with its seeded weights (every weight random, BN statistics and biases too): VGG's and
    AlexNet's fc1 read torchvision's CHW flatten in either format (Keras's Flatten flattens HWC
    in both); ResNet's strided 3x3 and GoogLeNet's ceil-mode pooling and concatenations pad
    and join along the other axis."""
    state, fixture = load_fixture(name)
    np.savez(tmp_path / f"{name}.npz", **state)
    model = from_torchvision(str(tmp_path / f"{name}.npz"), classifier_activation=None,
                             data_format="channels_first")
    assert model.input_shape == (None, 3, 224, 224)
    images = np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"]
    out, ref = np.asarray(model(_nchw(images), training=False)), fixture["logits"]
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()  # the fixtures' tolerance
    np.testing.assert_array_equal(np.argsort(-out, 1)[:, :5], np.argsort(-ref, 1)[:, :5])


@pytest.mark.parametrize("build, side, channels", [
    (kd.VGG11, 64, 3),  # block1: 64 channels at 64x64
    (functools.partial(kd.AlexNet, variant="torchvision"), 259, 3),  # conv1: 64 at 64x64
], ids=["vgg11", "alexnet"])
def test_conv_biases_on_maps_as_wide_as_their_channels(build, side, channels, randomise_bn):
    """Keras 3.15's TensorFlow `ops.add` adds a (1, C, 1, 1) bias along the width when the
    width equals C (it guesses NHWC for `tf.nn.bias_add`): VGG's first block at 64x64 was off
    by ~20% of its activations before `add_channel_bias`."""
    last = build(include_top=False, input_shape=(side, side, channels),
                 data_format="channels_last")
    randomise_bn(last, seed=5, biases=True)
    first = build(include_top=False, input_shape=(channels, side, side),
                  data_format="channels_first")
    first.set_weights(last.get_weights())
    x = np.random.default_rng(2).random((2, side, side, channels)).astype("float32")
    ref = np.asarray(last(x, training=False))
    out = np.transpose(np.asarray(first(_nchw(x), training=False)), (0, 2, 3, 1))
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()


def test_headless_paper_alexnet_takes_any_size_its_strides_survive():
    """keras.applications' and PyTorch's convolutions drop the remainder: only the classifier
    needs the paper's exact 227x227."""
    model = kd.AlexNet(include_top=False, input_shape=(100, 100, 3))
    assert model.output_shape == (None, 2, 2, 256)
    with pytest.raises(ValueError, match=r"\(side - 11\) divisible by 4"):
        kd.AlexNet(input_shape=(224, 224, 3))


@pytest.mark.parametrize("name", ["resnet20", "vgg11_bn_cifar", "googlenet", "lenet5"])
def test_model_stats_and_the_registry_in_channels_first(name, channels_first):
    """Parameters and multiply-adds do not depend on the layout; every family's registry
    constructor builds channels first under the global setting."""
    first = kd.get_model(name, weights=None)
    keras.config.set_image_data_format("channels_last")
    last = kd.get_model(name, weights=None)
    assert first.input_shape[1] == last.input_shape[3]  # the channels moved to axis 1
    assert kd.model_stats(first) == kd.model_stats(last)


def test_feature_info_and_saving_in_channels_first(tmp_path):
    model = kd.ResNet18(weights=None, include_top=False, data_format="channels_first",
                        input_shape=(3, 64, 64))
    backbone = kd.feature_extractor(model, levels=(3, 5))
    assert kd.feature_info(backbone) == [
        {"level": 3, "name": "C3", "stride": 8, "channels": 128},
        {"level": 5, "name": "C5", "stride": 32, "channels": 512}]
    path = str(tmp_path / "r18_nchw.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(1).random((1, 3, 64, 64)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    assert keras.config.image_data_format() == "channels_last"  # the build restored it


def test_preprocess_input_follows_the_models_format(photos_nhwc):
    """caffe mode flips RGB to BGR along the channel axis: the model's, not the global one."""
    first = kd.ResNet18(weights=None, include_top=False, data_format="channels_first")
    last = kd.ResNet18(weights=None, include_top=False)
    pixels = photos_nhwc * 50 + 100  # (keras' preprocess_input works in place on arrays)
    np.testing.assert_allclose(
        np.asarray(kd.preprocess_input(np.ascontiguousarray(_nchw(pixels)), model=first)),
        _nchw(np.asarray(kd.preprocess_input(pixels.copy(), model=last))), rtol=1e-6)
