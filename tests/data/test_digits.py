"""LeNet-5's digits as a dataset by name (`data.load("digits", ...)`, `data.describe`): the
splits, TFDS-style slices, shapes, order and the errors."""

import numpy as np
import pytest

from keras_deepnets import data


def test_splits_and_slices_of_the_real_scans():
    train, test = data.describe("digits", "train"), data.describe("digits", "test")
    assert (train.num_examples, test.num_examples) == (1347, 450)  # 1,797 scans, a quarter out
    assert train.num_classes == 10 and train.class_names == [str(d) for d in range(10)]
    assert data.describe("digits", "validation").num_examples == 450  # the loop's alias
    head, rest = data.describe("digits", "train[:300]"), data.describe("digits", "train[300:]")
    assert (head.num_examples, rest.num_examples) == (300, 1047)
    with pytest.raises(ValueError, match="splits train and test"):
        data.describe("digits", "extra")


def test_batches_are_the_papers_32x32_greyscale():
    images, labels = next(iter(data.load("digits", "test", batch_size=450)))
    assert images.shape == (450, 32, 32, 1) and labels.dtype == np.int32
    # The paper's scaling (section II.B): background -0.1, ink up to 1.175.
    assert np.isclose(float(np.min(images)), -0.1) and float(np.max(images)) <= 1.175 + 1e-6
    assert min(np.bincount(labels.numpy())) >= 44  # every class held out (stratified)


def test_order_follows_the_seed_and_max_examples_keeps_one_subset():
    def labels(**kwargs):
        return np.concatenate([y.numpy() for _, y in data.load("digits", "train", batch_size=64,
                                                                 **kwargs)])
    assert np.array_equal(labels(shuffle=True, seed=1), labels(shuffle=True, seed=1))
    assert not np.array_equal(labels(shuffle=True, seed=1), labels(shuffle=True, seed=2))
    assert np.array_equal(labels(), data.digits.arrays("train")[1])
    sub = labels(max_examples=100, subset_seed=3)
    assert len(sub) == 100 and np.array_equal(np.sort(sub),
                                              np.sort(labels(max_examples=100, subset_seed=3)))


def test_no_preset_and_no_other_size():
    with pytest.raises(ValueError, match="take no preset and no other image_size"):
        data.load("digits", "train", preset="cifar_train")
    with pytest.raises(ValueError, match="got preset=None, image_size=64"):
        data.load("digits", "train", image_size=64)
