"""The per-pixel mean image of a training split (ResNet paper 4.2: "the per-pixel mean
subtracted"), computed once and cached on disk.

Export code bakes the same preprocessing into a serving graph with
`image - keras_deepnets.data.cifar_mean(data)` (RGB order, values on the [0, 255] scale).
"""

import hashlib
import logging
import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_deepnets.data import decode, sources

logger = logging.getLogger("keras_deepnets.data")


def cache_dir():
    """`$KERAS_DEEPNETS_CACHE/means` (default ~/.cache/keras_deepnets/means)."""
    root = os.environ.get("KERAS_DEEPNETS_CACHE",
                          pathlib.Path.home() / ".cache" / "keras_deepnets")
    return pathlib.Path(root) / "means"


def _cache_key(source, image_size):
    location = os.path.abspath(source.location) if source.kind != "tfds" else source.location
    ident = f"{source.kind}|{location}|{source.split}|{source.count()}|{image_size}"
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


def per_pixel_mean(source, image_size=32):
    """Mean over all examples of `source` of the image resized to image_size (float32 RGB)."""
    def to_float(image_bytes, label):
        image = tf.cast(decode.decode_full(image_bytes), tf.float32)
        return tf.image.resize(image, [image_size, image_size])

    ds = source.records().map(to_float, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
    total = np.zeros([image_size, image_size, 3], np.float64)
    count = 0
    for batch in ds.ignore_errors().as_numpy_iterator():
        total += batch.sum(0, dtype=np.float64)
        count += len(batch)
    if count == 0:
        raise ValueError(f"Cannot compute a mean image: {source.location} has no usable image.")
    return (total / count).astype(np.float32)


def cifar_mean(data, data_dir=None, split="train", image_size=32, refresh=False):
    """The [image_size, image_size, 3] per-pixel mean (RGB, [0, 255]) of `data`'s training split.

    `data` is anything `load` takes (TFDS name, folder, TFRecord pattern; a folder without
    split sub-folders, or a pattern, is taken as the training split itself); the mean is cached in
    `cache_dir()` keyed by the source, split, example count and size (`refresh=True` recomputes).
    """
    if split is not None and not sources.has_splits(data):
        split = None  # a plain class folder or a file pattern is its own (training) split
    source = sources.resolve(data, split, data_dir=data_dir)
    path = cache_dir() / f"mean_{_cache_key(source, image_size)}.npy"
    if path.is_file() and not refresh:
        return np.load(path)
    logger.info("Computing the per-pixel mean of %s (cached in %s)", source.location, path)
    mean = per_pixel_mean(source, image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, mean)
    os.replace(tmp, path)  # atomic: concurrent runs never read half a file
    return mean
