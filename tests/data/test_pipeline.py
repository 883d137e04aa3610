"""load(): batching, sharding under tf.distribute, subsets, caching, synthetic data."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import data
from keras_deepnets.data import tfrecords


def labels_of(ds):
    return [int(y) for _, b in ds for y in np.atleast_1d(b.numpy())]


def test_batches_and_drop_remainder(small_imagenet):
    ds = data.load(small_imagenet, preset="imagenet_eval", image_size=96, batch_size=3)
    assert [x.shape[0] for x, _ in ds] == [3, 3, 2]
    ds = data.load(small_imagenet, preset="imagenet_eval", image_size=96, batch_size=3,
                   drop_remainder=True, private_threads=2)
    assert [x.shape[0] for x, _ in ds] == [3, 3]
    assert ds.element_spec[0].shape == (3, 96, 96, 3)
    with pytest.raises(ValueError, match="batch_size"):
        data.load(small_imagenet, preset="imagenet_eval", batch_size=0)


def test_input_context_shards_and_splits_the_batch(small_imagenet):
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker,
                                             num_replicas_in_sync=2)
        ds = data.load(small_imagenet, preset="imagenet_eval", image_size=64, batch_size=4,
                       input_context=context)
        assert ds.element_spec[0].shape[0] in (None, 2)
        seen.append(labels_of(ds))
    assert sorted(seen[0] + seen[1]) == list(range(8)) and not set(seen[0]) & set(seen[1])


def test_distribute_datasets_from_function(small_imagenet):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ds = strategy.distribute_datasets_from_function(
        lambda ctx: data.load(small_imagenet, preset="resnet_imagenet_train", image_size=64,
                              batch_size=4, input_context=ctx, seed=0))
    batches = [strategy.experimental_local_results(x)[0].shape for x, _ in ds]
    assert batches == [(4, 64, 64, 3), (4, 64, 64, 3)]


def test_max_examples_is_a_deterministic_subset(cifar10_dir):
    def subset(seed):
        return sorted(labels_of(data.load(cifar10_dir, "test", preset="cifar_eval",
                                          preset_options={"mean": np.zeros((32, 32, 3))},
                                          batch_size=50, max_examples=200, seed=seed)))

    a = subset(0)
    assert len(a) == 200 and a == subset(0)
    assert len(set(a)) == 10  # spread over the classes, not the first folder only
    assert a != subset(1)


def test_tfrecord_and_folder_pipelines_give_the_same_examples(small_imagenet, tmp_path):
    tfrecords.write_tfrecords(small_imagenet, tmp_path, "train", num_shards=2)

    def examples(source):
        ds = data.load(source, preset="imagenet_eval", image_size=64, shuffle=False)
        return sorted((float(x.numpy().sum()), int(y)) for x, y in ds)

    folder, records = examples(small_imagenet), examples(str(tmp_path / "train-*"))
    assert [y for _, y in folder] == [y for _, y in records]
    np.testing.assert_allclose([s for s, _ in folder], [s for s, _ in records], rtol=1e-5)


def test_repeat_cache_and_shuffle(small_imagenet):
    ds = data.load(small_imagenet, preset="inception_train", image_size=64, batch_size=None,
                   repeat=True, cache=True, seed=0)
    labels = labels_of(ds.take(24))
    assert sorted(labels[:8]) == list(range(8)) and sorted(labels[8:16]) == list(range(8))
    assert labels[:8] != labels[8:16]  # reshuffled every epoch


def test_synthetic_has_the_structure_of_load():
    ds = data.synthetic(64, classes=10, batch_size=8, num_examples=20, seed=1)
    shapes = [(x.shape, y.shape, x.dtype, y.dtype) for x, y in ds]
    assert shapes[0] == ((8, 64, 64, 3), (8,), tf.float32, tf.int32) and len(shapes) == 3
    labels = np.concatenate([y.numpy() for _, y in ds])
    assert labels.min() >= 0 and labels.max() < 10 and len(set(labels)) > 3
    again = np.concatenate([y.numpy() for _, y in data.synthetic(64, 10, 8, 20, seed=1)])
    np.testing.assert_array_equal(labels, again)
