"""Equality with keras.applications after `from_keras_applications`, on real ImageNet photos."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_deepnets as kd


def _photos(folder, count):
    """`count` real photos (every 100th class), shorter side 256, centre 224 crop, caffe mode."""
    wnids = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images = []
    for wnid in wnids[::1000 // count][:count]:
        path = next((folder / wnid).iterdir())
        image = tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3)
        h, w = image.shape[:2]
        scale = 256 / min(h, w)
        image = tf.image.resize(image, (round(h * scale), round(w * scale)))
        top, left = (image.shape[0] - 224) // 2, (image.shape[1] - 224) // 2
        images.append(image[top:top + 224, left:left + 224])
    return kd.preprocess_input(np.stack(images).astype("float32"))


CASES = [
    ("VGG16", {}), ("VGG19", {}),
    ("ResNet50", {}), ("ResNet101", {}), ("ResNet152", {}),
    ("ResNet50", {"include_top": False, "pooling": "avg"}),
    ("VGG16", {"include_top": False, "pooling": "max"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_outputs_equal_keras_applications(name, kwargs, imagenet_sample_dir, randomise_bn):
    if kwargs.get("include_top", True):
        kwargs = {"classifier_activation": None, **kwargs}
    reference = getattr(keras.applications, name)(weights=None, **kwargs)
    randomise_bn(reference, seed=len(reference.layers), biases=True)
    ours = kd.from_keras_applications(reference)
    assert type(ours).__name__ in ("ResNetModel", "VGGModel") and ours.name == name.lower()
    x = _photos(imagenet_sample_dir, 4)
    expected = reference.predict(x, verbose=0)
    got = ours.predict(x, verbose=0)
    assert got.shape == expected.shape
    # Logits (no softmax), so the comparison sees every output, not only the winning class.
    relative = np.abs(got - expected).max() / np.abs(expected).max()
    assert relative < 1e-4, relative
    assert np.abs(expected - expected.mean(axis=0)).max() > 1e-3  # photos give different outputs


def test_bias_fold_is_what_makes_them_equal(imagenet_sample_dir, randomise_bn):
    reference = keras.applications.ResNet50(weights=None, classifier_activation=None)
    randomise_bn(reference, seed=1, biases=True)
    ours = kd.from_keras_applications(reference)
    x = _photos(imagenet_sample_dir, 2)
    bn = ours.get_layer("conv1_bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, beta, reference.get_layer("conv1_bn").get_weights()[2], var])
    diff = np.abs(ours.predict(x, verbose=0) - reference.predict(x, verbose=0)).max()
    assert diff > 1e-3  # without the fold of conv1's bias the outputs differ


def test_rejects_other_models():
    with pytest.raises(ValueError, match="resnet50"):
        kd.from_keras_applications(keras.applications.MobileNetV2(weights=None))
