"""Handwritten digits for LeNet-5 with no download: scikit-learn's bundled copy of the UCI
optical digits (`sklearn.datasets.load_digits`: 1,797 real 8x8 scans, 16 grey levels), made to
look like the paper's input: resized to 28x28 and padded to 32x32 (LeCun et al. 1998, section
III.A: "the 20x20 images were ... centered in a 28x28 field" and LeNet-5 reads 32x32), with
the paper's scaling of the background to -0.1 and the ink to 1.175 (mean ~0, variance ~1).

`keras_deepnets.data.load("digits", "train" | "test")` and `describe` take it by that name, as a
dataset (the training core's `data="digits"`): "train" is three quarters of every class, "test"
(alias "validation", "val") the held-out quarter, and TFDS's slices ("train[:300]") hold out
part of the training split.
"""

import functools

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from keras_deepnets.data.sources import DatasetInfo, shard_for, split_slice

NAME = "digits"
SIZE = 32  # LeNet-5's input
BACKGROUND, INK = -0.1, 1.175  # section II.B
SPLITS = {"train": "train", "test": "test", "validation": "test", "val": "test"}


def digits_32(test_fraction=0.25, seed=0):
    """((x_train, y_train), (x_test, y_test)): float32 [n, 32, 32, 1] and int32 labels; a
    stratified hold-out of `test_fraction` of each class, chosen by `seed`."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}.")
    digits = load_digits()
    images = digits.images.astype("float32")[..., None] / 16.0
    images = tf.image.resize(images, (28, 28), method="bilinear").numpy()
    pad = (SIZE - 28) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    images = BACKGROUND + (INK - BACKGROUND) * np.clip(images, 0.0, 1.0)
    labels = digits.target.astype("int32")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[:round(test_fraction * len(members))]] = True
    return (images[~test], labels[~test]), (images[test], labels[test])


def is_digits(data):
    """Whether `data` names this dataset."""
    return isinstance(data, str) and data == NAME


@functools.lru_cache(maxsize=2)
def _splits(seed):
    return digits_32(seed=seed)


def arrays(split="train", seed=0):
    """(images, labels) of a split (see the module docstring), the hold-out chosen by `seed`."""
    base, start, stop = split_slice(split) or (split, None, None)
    if base not in SPLITS:
        raise ValueError(f"split={split!r}: the digits have the splits train and test (aliases "
                         f"validation, val), optionally sliced as 'train[:300]'.")
    (x, y), test = _splits(seed)
    images, labels = test if SPLITS[base] == "test" else (x, y)
    return images[start:stop], labels[start:stop]


def describe(split="train"):
    """`DatasetInfo` of a split, as `keras_deepnets.data.describe` gives for other datasets."""
    _, labels = arrays(split or "train")
    return DatasetInfo(num_classes=10, num_examples=len(labels),
                       class_names=[str(d) for d in range(10)], source=NAME, split=split,
                       location="sklearn.datasets.load_digits")


def load(split="train", *, batch_size=None, shuffle=False, seed=None, input_context=None,
         repeat=False, drop_remainder=False, max_examples=None, subset_seed=None):
    """A `tf.data.Dataset` of (float32 [B, 32, 32, 1], int32 [B]): the arguments as
    `keras_deepnets.data.load`'s (there is no augmentation: the paper used none)."""
    images, labels = arrays(split or "train")
    if max_examples is not None and max_examples < len(labels):
        keep = np.sort(np.random.default_rng(subset_seed or 0).permutation(len(labels))[
            :max_examples])
        images, labels = images[keep], labels[keep]
    ds = shard_for(tf.data.Dataset.from_tensor_slices((images, labels)), input_context)
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
