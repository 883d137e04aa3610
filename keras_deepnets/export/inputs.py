"""The images an export needs: the serving preprocessing, and real batches for int8 calibration
and for verification, all drawn through `keras_deepnets.data` so that the exported graph, the
calibration data and the training pipeline's evaluation path are one and the same code.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from keras_deepnets import data as data_lib
from keras_deepnets.data import sources
from keras_deepnets.export.source import ExportError, input_channels
from keras_deepnets.preprocessing import model_preprocessing

logger = logging.getLogger("keras_deepnets.export")

# Inputs at most this size are CIFAR models; the same line `keras_deepnets.data` draws.
SMALL_IMAGE = 64


def _check_eval(preset, image_size):
    if preset.training:
        raise ExportError(f"Preset {preset.name!r} augments at random; serving and calibration "
                          "need an evaluation preset (imagenet_eval or cifar_eval).")
    if preset.image_size != image_size:
        raise ExportError(f"Preset {preset.name!r} crops {preset.image_size} px but the model "
                          f"takes {image_size} px images.")
    return preset


def eval_preset(preprocessing, image_size, data=None, mode="caffe", channels=3,
                pretrained=False):
    """The evaluation `data.Preset` mapping encoded image bytes to the model's input.

    `preprocessing`: a `data.Preset`, a preset name, or "auto" ("cifar_eval" for inputs of at most
    64 px, else "imagenet_eval"; always "imagenet_eval" with `mode` for a `pretrained` model,
    one whose weights recorded their preprocessing, as training normalised it: ImageNet weights
    fine-tuned at 32 px still want their own mean/std, not CIFAR's mean image). CIFAR presets
    subtract the training split's mean image, taken from `data` (anything `data.load` takes);
    None when that mean cannot be had for "auto".
    `mode`: "imagenet_eval"'s `preprocess_input` mode, the model's (`model_preprocessing`).
    `channels`: the model's; a greyscale model (LeNet-5, 1) gets no bytes signature (None for
    "auto"): the presets decode colour photos, and its digits are scaled as the paper's
    (`data.digits`), which no photo preset reproduces.
    """
    if channels == 1 and preprocessing is not None:
        if preprocessing == "auto":
            return None
        raise ExportError(f"preprocessing={preprocessing!r}: a greyscale (1-channel) model has "
                          "no bytes signature; use preprocessing=None and feed the `images` "
                          "signature [batch, size, size, 1] as the model takes them.")
    if isinstance(preprocessing, data_lib.Preset):
        return _check_eval(preprocessing, image_size)
    name = preprocessing
    if name == "auto":
        name = "cifar_eval" if image_size <= SMALL_IMAGE and not pretrained else "imagenet_eval"
    if name not in data_lib.PRESETS:
        raise ExportError(f"Unknown preprocessing {preprocessing!r}; use 'auto', one of "
                          f"{', '.join(data_lib.PRESETS)}, or a keras_deepnets.data Preset.")
    options = {}
    if name in data_lib.augment.CIFAR_PRESETS:
        if data is None:
            if preprocessing == "auto":
                return None
            raise ExportError(f"{name} subtracts the training split's mean image: pass the "
                              "training data (--preprocessing_data), or a Preset built with "
                              "keras_deepnets.data.get_preset('cifar_eval', mean=...).")
        options["mean"] = cifar_mean(data, image_size)
    elif name == "imagenet_eval":
        options["mode"] = mode
    return _check_eval(data_lib.get_preset(name, image_size=image_size, **options), image_size)


def is_pretrained(model):
    """Whether `model`'s weights recorded the preprocessing they expect (a keras_deepnets model
    built or fine-tuned from published weights); None (a SavedModel source) is not."""
    return getattr(model, "preprocessing", None) is not None


def cifar_mean(data, image_size):
    """`data.cifar_mean` with an ExportError for a path that is not a dataset."""
    try:
        return data_lib.cifar_mean(data, image_size=image_size)
    except (ValueError, FileNotFoundError) as error:
        raise ExportError(f"Cannot compute the mean image of {data}: {error}") from None


def _split_for(data, split):
    return split if sources.has_splits(data) else None


def load_images(data, preset, *, split, max_examples, batch_size=64, seed=0):
    """`(images, labels)` batches of up to `max_examples` real images of `data` (a TFDS name,
    folder or TFRecord pattern; `split` is ignored for a folder that is a split itself)."""
    try:
        return data_lib.load(data, _split_for(data, split), preset=preset, batch_size=batch_size,
                             shuffle=False, seed=seed, max_examples=max_examples)
    except (ValueError, FileNotFoundError) as error:
        raise ExportError(f"Cannot read images from {data!r}: {error}") from None


def calibration_data(representative_data, model, image_size, preprocessing, count):
    """`representative_data` as images: a dataset spec (TFDS name, folder, TFRecord pattern) is
    read from its training split through the evaluation preset (`eval_preset`) for `model`
    (None: a SavedModel source, nothing known of its weights); anything else is returned as
    given (arrays, datasets, iterables of batches)."""
    if not isinstance(representative_data, (str, os.PathLike)):
        return representative_data
    channels = 3 if model is None else input_channels(model)
    preset = eval_preset(preprocessing, image_size, data=representative_data,
                         mode=model_preprocessing(model), channels=channels,
                         pretrained=is_pretrained(model))
    return load_images(representative_data, preset, split="train", max_examples=count,
                       batch_size=count)


def image_batches(images, batch_size=64):
    """numpy float32 batches from a dataset of images or (images, labels), an array, or an
    iterable of arrays."""
    if isinstance(images, np.ndarray):
        images = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    elif isinstance(images, tf.data.Dataset):
        images = images.as_numpy_iterator()
    for batch in images:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        batch = np.asarray(batch, np.float32)
        yield batch[None] if batch.ndim == 3 else batch


def take_images(images, count):
    """The first `count` images of anything `image_batches` takes, as one array."""
    out, total = [], 0
    for batch in image_batches(images):
        out.append(batch[: count - total])
        total += len(out[-1])
        if total >= count:
            break
    if not out:
        raise ExportError("The image data is empty.")
    return np.concatenate(out)
