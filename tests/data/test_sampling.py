"""Repeated augmentation against torchvision's RASampler (references/classification/sampler.py
`__init__`/`__iter__`), written below in plain Python on the same permutation."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets.data import sampling


def torchvision_rasampler(permutation, num_replicas, rank, repetitions):
    """RASampler.__iter__ given its shuffled `indices` (torch.randperm's there)."""
    n = len(permutation)
    num_samples = int(math.ceil(n * float(repetitions) / num_replicas))
    total_size = num_samples * num_replicas
    num_selected = int(math.floor(n // 256 * 256 / num_replicas))
    indices = [ele for ele in permutation for _ in range(repetitions)]
    indices += indices[:(total_size - len(indices))]
    assert len(indices) == total_size
    indices = indices[rank:total_size:num_replicas]
    assert len(indices) == num_samples
    return indices[:num_selected]


@pytest.mark.parametrize("n,replicas,reps", [(1000, 4, 4), (1000, 8, 4), (1283, 3, 4),
                                             (777, 1, 3), (2600, 8, 1), (513, 2, 5)])
def test_order_equals_rasampler(n, replicas, reps):
    """Each replica's indices are RASampler's for the epoch's permutation (padding when
    n * reps is not a multiple of the replicas, the cut to n // 256 * 256 / R)."""
    permutation = sampling.epoch_permutation(n, epoch=3, seed=11).numpy().tolist()
    assert sorted(permutation) == list(range(n))
    for rank in range(replicas):
        got = sampling.repeated_indices(n, 3, rank, replicas, reps, seed=11).numpy()
        assert got.tolist() == torchvision_rasampler(permutation, replicas, rank, reps)
        assert len(got) == n // 256 * 256 // replicas == sampling.examples_per_replica(
            n, replicas)


def test_copies_land_on_different_replicas():
    """reps <= R: no replica sees an example twice in an epoch; with reps == R every replica
    gets the same examples in the same order (each its own augmentation of them), with
    reps == R / 2 the replicas pair up; an epoch sees about n / reps distinct examples."""
    n = 1024
    per_replica = [sampling.repeated_indices(n, 0, r, 4, 4, seed=0).numpy() for r in range(4)]
    for got in per_replica:
        assert len(set(got)) == len(got) == 256
    assert all(np.array_equal(per_replica[0], got) for got in per_replica[1:])
    pairs = [sampling.repeated_indices(n, 0, r, 4, 2, seed=0).numpy() for r in range(4)]
    np.testing.assert_array_equal(pairs[0], pairs[1])
    np.testing.assert_array_equal(pairs[2], pairs[3])
    assert not set(pairs[0]) & set(pairs[2])
    assert len(set(np.concatenate(pairs))) == 512


def test_deterministic_per_seed_and_epoch():
    def order(epoch, seed):
        return sampling.repeated_indices(1000, epoch, 1, 4, 4, seed=seed).numpy()

    np.testing.assert_array_equal(order(2, 5), order(2, 5))
    assert not np.array_equal(order(2, 5), order(3, 5))
    assert not np.array_equal(order(2, 5), order(2, 6))


def test_dataset_gives_the_epochs_in_turn():
    """The tf.data form: epochs 4 and 5, one after the other, as `repeated_indices` gives them;
    mapped to examples by a lookup."""
    ds = sampling.repeated_dataset(600, replica=1, num_replicas=2, reps=4, seed=9, epochs=2,
                                   initial_epoch=4)
    got = np.array(list(ds.as_numpy_iterator()))
    want = np.concatenate([sampling.repeated_indices(600, e, 1, 2, 4, seed=9) for e in (4, 5)])
    np.testing.assert_array_equal(got, want)
    assert len(got) == 2 * 256
    labels = tf.range(600) * 10
    first = next(iter(ds.map(lambda i: tf.gather(labels, i))))
    assert int(first) == int(want[0]) * 10


@pytest.mark.parametrize("kwargs,message", [
    ({"reps": 0}, r"reps must be an integer >= 1; got 0\."),
    ({"num_replicas": 0}, r"num_replicas must be an integer >= 1; got 0\."),
    ({"num_replicas": 2, "replica": 2}, r"replica must be an integer in \[0, num_replicas=2\)"),
    ({"num_examples": 0}, r"num_examples must be an integer >= 1; got 0\."),
])
def test_bad_arguments_are_one_line_errors(kwargs, message):
    arguments = {"num_examples": 1000, "epoch": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        sampling.repeated_indices(**arguments)
    arguments.pop("epoch")
    with pytest.raises(ValueError, match=message):
        sampling.repeated_dataset(**arguments)
