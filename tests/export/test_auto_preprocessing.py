"""preprocessing="auto" of the exports for a model whose weights recorded their preprocessing:
ImageNet weights fine-tuned at CIFAR sizes (<= 64 px) keep their own normalisation (the
training pipeline's), instead of CIFAR's mean image, in the bytes signature and the int8
calibration."""

import numpy as np
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets.export import inputs


def test_auto_follows_the_weights_at_small_sizes():
    small = inputs.eval_preset("auto", 32, mode="torch", pretrained=True)
    assert small.name == "imagenet_eval" and small.image_size == 32
    # Without recorded weights a 32 px model is a CIFAR model: its mean image is needed.
    assert inputs.eval_preset("auto", 32, mode="caffe") is None
    # torchvision's normalisation: a mid-grey photo lands near (0.5 - mean) / std.
    grey = tf.io.encode_jpeg(tf.fill([40, 40, 3], tf.constant(128, tf.uint8)))
    pixel = small(grey, tf.constant([0, 0])).numpy()[0, 0]
    expected = (128 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(pixel, expected, atol=0.03)


def test_is_pretrained():
    model = kd.ResNet18(weights=None, input_shape=(32, 32, 3), classes=10)
    assert not inputs.is_pretrained(model) and not inputs.is_pretrained(None)
    model.preprocessing = "torch"  # what loading published weights records
    assert inputs.is_pretrained(model)
