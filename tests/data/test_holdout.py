"""TFDS-style split slices on image folders: the ResNet paper's 45k/5k CIFAR hold-out."""

import collections

import numpy as np
import pytest

from keras_deepnets import data
from keras_deepnets.data import sources
from keras_deepnets.training import inputs, make_config
from keras_deepnets.registry import model_info


def test_folder_slices_partition_the_train_split(cifar10_dir):
    held = sources.resolve(str(cifar10_dir), "train[:5000]")
    rest = sources.resolve(str(cifar10_dir), "train[5000:]")
    assert (held.count(), rest.count()) == (5000, 45000)
    assert not set(held.paths) & set(rest.paths)
    assert len(set(held.paths) | set(rest.paths)) == 50_000
    per_class = collections.Counter(held.labels)
    assert len(per_class) == 10 and min(per_class.values()) > 400  # drawn from every class
    again = sources.resolve(str(cifar10_dir), "train[:5000]")
    assert list(again.paths) == list(held.paths)  # the same hold-out every run


def test_slice_labels_match_the_folders(cifar10_dir):
    held = sources.resolve(str(cifar10_dir), "train[:50]")
    for path, label in zip(held.paths, held.labels):
        assert held.class_names[label] in str(path).split("/")[-2]
    images, labels = next(iter(data.load(str(cifar10_dir), "train[:50]", preset="cifar_eval",
                                         batch_size=50)))
    assert images.shape == (50, 32, 32, 3)
    np.testing.assert_array_equal(np.sort(labels.numpy()), np.sort(held.labels))


def test_training_plan_uses_the_hold_out(cifar10_dir):
    cfg = make_config(model="resnet20", data=str(cifar10_dir), validation_split=5000)
    plan = inputs.plan(cfg, model_info("resnet20"))
    assert (plan.train_split, plan.val_split) == ("train[5000:]", "train[:5000]")
    assert (plan.train_examples, plan.val_examples) == (45_000, 5_000)


def test_slicing_a_tfrecord_source_is_a_clear_error(cifar10_dir, tmp_path):
    import shutil

    from keras_deepnets.data.tfrecords import write_tfrecords

    for name in ("cat", "dog"):
        (tmp_path / "img" / name).mkdir(parents=True)
        for path in sorted((cifar10_dir / "test" / name).iterdir())[:3]:
            shutil.copy(path, tmp_path / "img" / name)
    write_tfrecords(str(tmp_path / "img"), str(tmp_path / "rec"), split="train", num_shards=1)
    assert sources.resolve(str(tmp_path / "rec"), "train").count() == 6
    with pytest.raises(ValueError, match="slicing works for TFDS names and image folders"):
        sources.resolve(str(tmp_path / "rec"), "train[:2]")
