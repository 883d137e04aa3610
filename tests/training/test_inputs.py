"""The training input: with max_examples, every epoch reshuffles the same subset; LeNet-5's
digits by name."""

import collections
import hashlib

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import registry, training
from keras_deepnets.data import sources
from keras_deepnets.training import inputs
from keras_deepnets.training.config import make_config


def test_folder_subset_follows_subset_seed_not_the_shuffle_seed(cifar10_dir):
    source = sources.resolve(str(cifar10_dir), "train")

    def files(seed, subset_seed):
        records = source.records(shuffle=True, seed=seed, max_examples=50, subset_seed=subset_seed)
        return [hashlib.sha1(b).hexdigest() for b, _ in records.as_numpy_iterator()]

    first, second, other = files(1, 7), files(2, 7), files(1, 8)
    assert sorted(first) == sorted(second) and first != second  # same subset, new order
    assert len(set(first) & set(other)) < 10  # another subset_seed: another subset


def test_max_examples_subset_is_the_same_every_epoch_and_reshuffled(cifar10_dir, tmp_path):
    cfg = make_config(model="resnet20", data=str(cifar10_dir), max_examples=64, batch_size=32,
                      model_dir=str(tmp_path))
    info = registry.model_info("resnet20")
    plan = inputs.plan(cfg, info)
    labels = []
    for epoch in (0, 1):
        ds = inputs.train_dataset_fn(cfg, info, plan, 32, epoch, 0)(tf.distribute.InputContext())
        labels.append([int(y) for _, batch in ds.take(2) for y in batch])
    # 64 of 50,000 images: another subset per epoch would give other label counts, and the
    # same order would mean no reshuffle.
    assert collections.Counter(labels[0]) == collections.Counter(labels[1])
    assert labels[0] != labels[1]


def test_one_input_for_the_run_gives_each_epochs_own_batches(cifar10_dir, tmp_path):
    """The run's one iterator (every epoch left, concatenated, the first one resumed after 1
    step) yields exactly the batches of each epoch's own dataset, in the same order."""
    cfg = make_config(model="resnet20", data=str(cifar10_dir), max_examples=96, batch_size=32,
                      model_dir=str(tmp_path))
    info = registry.model_info("resnet20")
    plan = inputs.plan(cfg, info)
    context = tf.distribute.InputContext()

    def batches(ds):
        return [(x.numpy(), y.numpy()) for x, y in ds]

    whole = batches(inputs.train_dataset_fn(cfg, info, plan, 32, 1, 1, [3, 3, 2])(context)
                    .take(7))
    per_epoch = []
    for epoch, skip, steps in ((1, 1, 3), (2, 0, 3), (3, 0, 2)):
        ds = inputs.train_dataset_fn(cfg, info, plan, 32, epoch, skip)(context)
        per_epoch += batches(ds.take(steps - skip))
    assert len(whole) == len(per_epoch) == 7
    for (x, y), (x_epoch, y_epoch) in zip(whole, per_epoch):
        np.testing.assert_array_equal(y, y_epoch)
        np.testing.assert_array_equal(x, x_epoch)
    assert not np.array_equal(whole[2][1], whole[5][1])  # epochs 2 and 3: another order


@pytest.mark.parametrize("synthetic", [False, True])
def test_evaluation_passes_run_without_autotuning(cifar10_dir, tmp_path, synthetic):
    """Each evaluation makes a new iterator; with tf.data's autotuning on, deleting it waited
    for the autotuning thread's next wake-up (5.1 s evaluations took 10.2 s). Off, the pass
    gives the same batches in the same order every time."""
    source = {"use_synthetic_data": True, "synthetic_examples": 64} if synthetic else {
        "data": str(cifar10_dir)}
    cfg = make_config(model="resnet20", max_val_examples=80, batch_size=32,
                      model_dir=str(tmp_path), **source)
    info = registry.model_info("resnet20")
    plan = inputs.plan(cfg, info)
    ds = inputs.val_dataset_fn(cfg, info, plan, 32)(tf.distribute.InputContext())
    assert ds.options().autotune.enabled is False
    passes = [[y.numpy().tolist() for _, y in ds] for _ in range(2)]
    assert sum(len(y) for y in passes[0]) == plan.val_examples == (64 if synthetic else 80)
    assert passes[0] == passes[1]


def test_lenet_reads_the_digits_and_only_it_does(tmp_path, cifar10_dir):
    """`data="digits"` through the core: greyscale batches, the hold-out sliced off the
    training split, the digits' recipe; mixed-up families are one-line errors."""
    result = training.train(model="lenet5", data="digits", validation_split=300, epochs=1,
                            model_dir=str(tmp_path / "run"), export_dir="", verbose=0,
                            tensorboard=False)
    assert result.model.input_shape == (None, 32, 32, 1)
    assert result.history[0]["val_examples"] == 300
    assert result.history[0]["step"] == 1047 // 32  # batch 32 (recipes.DIGITS), remainder dropped
    synthetic = training.train(model="lenet5_modern", train_steps=2, synthetic_examples=64,
                               model_dir=str(tmp_path / "synthetic"), export_dir="", verbose=0,
                               tensorboard=False)
    assert synthetic.history[-1]["step"] == 2
    with pytest.raises(training.ConfigError, match="lenet5 reads 32x32 greyscale digits: use"):
        training.train(model="lenet5", data=str(cifar10_dir), model_dir=str(tmp_path / "x"))
    with pytest.raises(training.ConfigError, match="resnet20 is a cifar model"):
        training.train(model="resnet20", data="digits", model_dir=str(tmp_path / "y"))
    with pytest.raises(training.ConfigError, match="image_size=64 is not accepted"):
        training.train(model="lenet5", data="digits", image_size=64,
                       model_dir=str(tmp_path / "z"))
    with pytest.raises(training.ConfigError, match="digits models are evaluated on the single"):
        training.evaluate(model="lenet5", data="digits", eval_crops=10,
                          model_dir=str(tmp_path / "run"))
