"""Handwritten digits for LeNet-5 with no download: scikit-learn's bundled copy of the UCI
optical digits (`sklearn.datasets.load_digits`: 1,797 real 8x8 scans, 16 grey levels), made to
look like the paper's input: resized to 28x28 and padded to 32x32 (LeCun et al. 1998, section
III.A: "the 20x20 images were ... centered in a 28x28 field" and LeNet-5 reads 32x32), with
the paper's scaling of the background to -0.1 and the ink to 1.175 (mean ~0, variance ~1).
"""

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

BACKGROUND, INK = -0.1, 1.175  # section II.B


def digits_32(test_fraction=0.25, seed=0):
    """((x_train, y_train), (x_test, y_test)): float32 [n, 32, 32, 1] and int32 labels; a
    stratified hold-out of `test_fraction` of each class, chosen by `seed`."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}.")
    digits = load_digits()
    images = digits.images.astype("float32")[..., None] / 16.0
    images = tf.image.resize(images, (28, 28), method="bilinear").numpy()
    images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    images = BACKGROUND + (INK - BACKGROUND) * np.clip(images, 0.0, 1.0)
    labels = digits.target.astype("int32")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[:round(test_fraction * len(members))]] = True
    return (images[~test], labels[~test]), (images[test], labels[test])
