"""The evaluation transform of a torchvision row (resize 256 with antialias, centre crop 224,
torchvision's mean/std) against what torchvision's own transform made of the same photos
(../shared/torchvision/inputs_224.npz, its `files` in the shared ImageNet sample)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets.data import augment
from keras_deepnets.weights import table

from weights_helpers import TORCHVISION

# torchvision's std is ~0.226, so 0.0175 in the normalised units is one level of 255. Measured:
# the same pixels up to float rounding (max |difference| < 5e-5); TF's default (fast) JPEG IDCT
# alone puts the mean at ~1 level (R and B 1.1-1.3 levels darker).
MAX_LIMIT = 1e-4


def _published(row):
    return augment.get_preset("imagenet_eval", mode=row.preprocessing, resize_size=row.resize,
                              interpolation=row.interpolation, antialias=True)


@pytest.fixture(scope="module")
def reference(imagenet_sample_dir):
    data = np.load(TORCHVISION / "inputs_224.npz")
    photos = [(imagenet_sample_dir / name).read_bytes() for name in data["files"]]
    return photos, data["images_nhwc"]


def test_a_torchvision_rows_transform_is_torchvisions(reference):
    photos, expected = reference
    preset = _published(table.resolve("resnet18", "imagenet"))
    ours = np.stack([preset(tf.constant(p), tf.constant([0, 0])).numpy() for p in photos])
    diff = np.abs(ours - expected)
    print(f"published transform vs torchvision's: mean |diff| {diff.mean():.4f}, 99th "
          f"percentile {np.percentile(diff, 99):.4f}, max {diff.max():.4f} (normalised units)")
    assert ours.shape == expected.shape == (4, 224, 224, 3)
    assert diff.max() < MAX_LIMIT
    # the package's fast default (crop first, no antialias) is further from it
    fast = augment.get_preset("imagenet_eval", mode="torch")
    fast_diff = np.abs(np.stack([fast(tf.constant(p), tf.constant([0, 0])).numpy()
                                 for p in photos]) - expected)
    assert fast_diff.mean() > diff.mean()
