"""Evaluation helpers: 10-crop, multi-scale, dense (fully-convolutional) evaluation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets
from keras_deepnets import data
from keras_deepnets.data import augment, evaluation


def test_ten_crop_corners_centre_and_flips():
    image = tf.reshape(tf.range(6 * 8 * 3, dtype=tf.float32), [6, 8, 3])
    crops = data.ten_crop(image, 4).numpy()
    assert crops.shape == (10, 4, 4, 3)
    full = image.numpy()
    expected = [full[:4, :4], full[:4, 4:], full[2:, :4], full[2:, 4:], full[1:5, 2:6]]
    for k, crop in enumerate(expected):
        np.testing.assert_array_equal(crops[k], crop)
        np.testing.assert_array_equal(crops[k + 5], crop[:, ::-1])


def test_crop_views_shapes(imagenet_sample_dir):
    path = sorted(imagenet_sample_dir.rglob("*.JPEG"))[0]
    image_bytes = tf.io.read_file(str(path))
    assert evaluation.crop_views(image_bytes, 10, (256, 384)).shape == (20, 224, 224, 3)
    assert evaluation.crop_views(image_bytes, 1, (256,)).shape == (1, 224, 224, 3)
    resized = evaluation.resize_shorter(decode_jpeg(image_bytes), 384)
    assert min(resized.shape[:2]) == 384


def decode_jpeg(image_bytes):
    return tf.io.decode_jpeg(image_bytes, channels=3)


class MeanColour(keras.layers.Layer):
    """A fixed 'classifier': class k scores the mean of channel k % 3 (any input size)."""

    def __init__(self, classes, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes

    def call(self, x):
        means = keras.ops.mean(x, axis=(1, 2))
        logits = keras.ops.stack([means[:, k % 3] * (1 + k) / 100 for k in range(self.classes)], 1)
        return keras.ops.softmax(logits)


def test_evaluate_crops_against_a_direct_computation(small_imagenet):
    """Top-1/top-5 from evaluate_crops equal those computed by hand from the same views."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, MeanColour(8)(inputs))
    paths = sorted(small_imagenet.rglob("*.JPEG"))
    labels = np.arange(8)

    def by_hand(views_of):
        scores = np.stack([np.asarray(model(views_of(str(p)))).mean(0) for p in paths])
        # metrics.top_k_hits's rule: a hit when fewer than k classes score strictly higher.
        higher = (scores > scores[np.arange(8), labels][:, None]).sum(1)
        return {"top1": np.mean(higher < 1), "top5": np.mean(higher < 5), "num_examples": 8}

    for crops, scales in ((1, None), (10, (256, 288))):
        got = data.evaluate_crops(model, small_imagenet, crops=crops, scales=scales, batch_size=20)
        want = by_hand(lambda p, crops=crops, scales=scales: evaluation.crop_views(
            tf.io.read_file(p), crops, scales or (256,)).numpy())
        assert got == pytest.approx(want)

    def dense_views(p):
        image = decode_jpeg(tf.io.read_file(p))
        x = augment.caffe_normalise(evaluation.resize_shorter(image, 224))[None]
        return tf.concat([x, x[:, :, ::-1]], 0).numpy()

    got = data.evaluate_crops(model, small_imagenet, crops="dense", scales=(224,), flip=True)
    assert got == pytest.approx(by_hand(dense_views))
    with pytest.raises(ValueError, match="crops must be"):
        data.evaluate_crops(model, small_imagenet, crops=5)


def test_vgg_fully_convolutional_equals_the_model_at_training_size():
    """VGG 3.2: FC layers as convolutions give the same scores on a training-size image and a
    score map on a larger one."""
    model = keras_deepnets.VGG11(weights=None, input_shape=(64, 64, 3), classes=7)
    dense = data.fully_convolutional(model)
    x = np.random.default_rng(0).normal(0, 50, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(dense(x))[:, 0, 0], np.asarray(model(x)), atol=1e-5)
    big = np.random.default_rng(1).normal(0, 50, (1, 96, 128, 3)).astype(np.float32)
    scores = np.asarray(dense(big))
    assert scores.shape == (1, 96 // 32 - 1, 128 // 32 - 1, 7)
    np.testing.assert_allclose(scores.sum(-1), 1, atol=1e-5)


def test_resnet_fully_convolutional_takes_any_size():
    model = keras_deepnets.ResNet20(weights=None, classes=10)
    dense = data.fully_convolutional(model)
    x = np.random.default_rng(0).normal(0, 50, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(dense(x))[:, 0, 0], np.asarray(model(x)), atol=1e-5)
    assert np.asarray(dense(np.zeros((1, 48, 40, 3), np.float32))).shape == (1, 1, 1, 10)
