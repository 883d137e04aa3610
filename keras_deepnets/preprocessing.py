"""Input preprocessing and prediction decoding, as keras.applications has them.

Which preprocessing each model uses:
- Models with keras.applications' ImageNet weights (VGG16, VGG19, ResNet50/101/152) need
  `mode="caffe"` (the default): RGB to BGR, then the ImageNet mean pixel subtracted, no scaling.
  That is also the papers' own preprocessing (mean subtraction, VGG section 2.1; ResNet 3.4).
- Models trained with this package's training recipes use the same "caffe" mode, so one
  `preprocess_input` serves every model here.
- `mode="torch"` (scale to [0, 1], then per-channel mean/std) is there for weights ported from
  torchvision.
"""

import json
import os

import numpy as np
from keras.applications import imagenet_utils

from keras_deepnets.weights.store import keras_cache_dir

MODES = ("caffe", "torch", "tf")


def model_preprocessing(model):
    """The `preprocess_input` mode `model` expects: what its weights recorded (a keras_deepnets
    model's `preprocessing`), else "caffe"."""
    return getattr(model, "preprocessing", None) or "caffe"


def preprocess_input(x, mode=None, data_format=None, model=None):
    """Preprocesses a batch of RGB images with values in [0, 255] (float array or tensor).

    `mode`: "caffe" (the default), "torch" or "tf"; or give `model` and its recorded
    preprocessing is used (`kd.preprocess_input(x, model=kd.from_torchvision(f))` is "torch"),
    and its data format when `data_format` is None.
    """
    if model is not None:
        if data_format is None and hasattr(model, "get_config"):
            data_format = model.get_config().get("data_format")
        expected = model_preprocessing(model)
        if mode is not None and mode != expected:
            raise ValueError(f"mode={mode!r}, but {model.name} expects {expected!r} (its "
                             "weights' preprocessing); pass one of mode= or model=.")
        mode = expected
    mode = "caffe" if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)


def imagenet_wnids():
    """The 1,000 ILSVRC-2012 WordNet ids in class-index order (TFDS ships the list)."""
    import tensorflow_datasets as tfds

    path = os.path.join(os.path.dirname(tfds.__file__), "datasets", "imagenet2012", "labels.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def imagenet_class_names():
    """wnid -> readable name, from keras.applications' class index when it is in Keras's cache
    (`$KERAS_HOME/models/imagenet_class_index.json`); otherwise the wnids stand for names."""
    path = os.path.join(keras_cache_dir(), "imagenet_class_index.json")
    if os.path.isfile(path):
        with open(path) as f:
            return {wnid: name for wnid, name in json.load(f).values()}
    return {wnid: wnid for wnid in imagenet_wnids()}


def decode_predictions(preds, top=5):
    """`[(wnid, name, score), ...]` for the `top` classes of each row of `preds` (N x 1000).

    Works offline: the wnids come with TFDS; readable names need keras.applications'
    `imagenet_class_index.json` in Keras's cache, else the wnid is also the name.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"decode_predictions expects a batch of ImageNet predictions of shape "
                         f"(samples, 1000); got shape {preds.shape}.")
    if not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"top must be an integer in [1, 1000]; got {top!r}.")
    wnids = imagenet_wnids()
    names = imagenet_class_names()
    results = []
    for row in preds:
        order = np.argsort(row)[::-1][:top]
        results.append([(wnids[i], names.get(wnids[i], wnids[i]), float(row[i])) for i in order])
    return results
