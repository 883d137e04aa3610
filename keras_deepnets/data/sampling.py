"""Repeated augmentation (Hoffer et al. 2020; Berman et al. 2019), torchvision's `RASampler`
(references/classification/sampler.py, from DeiT's samplers.py): the V2 recipe's
`--ra-sampler --ra-reps=4`.

Each epoch's order of example indices, for replica r of R:

1. a permutation of the n examples, drawn from (seed, epoch);
2. each index repeated `reps` times in a row;
3. padded, with its own first entries, to ceil(n * reps / R) * R entries;
4. dealt by stride: replica r takes positions r, r + R, r + 2R, ... (so the `reps` copies of an
   index land on `reps` different replicas when reps <= R, each with its own augmentation);
5. cut to floor(n // 256 * 256 / R) per replica: an epoch still has about n examples in all,
   so with reps copies of each it sees about n / reps distinct ones.

torchvision shuffles with `torch.randperm` on a generator seeded with seed + epoch; here the
permutation is TensorFlow's, stateless from [seed, epoch] (so it is not torch's order, and the
same for every replica, as it must be). Note step 5: fewer than 256 examples give empty epochs.
"""

import tensorflow as tf


def _check(num_examples, replica, num_replicas, reps):
    for name, value in (("num_examples", num_examples), ("num_replicas", num_replicas),
                        ("reps", reps)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    if not isinstance(replica, int) or not 0 <= replica < num_replicas:
        raise ValueError(f"replica must be an integer in [0, num_replicas={num_replicas}); got "
                         f"{replica!r}.")


def examples_per_replica(num_examples, num_replicas):
    """RASampler's `num_selected_samples`: floor(n // 256 * 256 / R) indices per replica and
    epoch."""
    return num_examples // 256 * 256 // num_replicas


def epoch_permutation(num_examples, epoch, seed=0):
    """The epoch's shuffled order of range(num_examples), stateless from [seed, epoch] (int32
    [n]); `epoch` may be a tensor."""
    keys = tf.random.stateless_uniform(
        [num_examples], tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]),
        minval=None, dtype=tf.int64)
    return tf.argsort(keys, stable=True)


def repeated_indices(num_examples, epoch, replica=0, num_replicas=1, reps=3, seed=0):
    """Replica `replica`'s example indices (int64 [examples_per_replica]) for `epoch`, in
    RASampler's order (reps=3 is RASampler's default; the V2 recipe uses 4)."""
    _check(num_examples, replica, num_replicas, reps)
    per_replica = -(-num_examples * reps // num_replicas)  # ceil, RASampler's num_samples
    total = per_replica * num_replicas
    repeated = tf.repeat(epoch_permutation(num_examples, epoch, seed), reps)
    padded = tf.concat([repeated, repeated[:total - num_examples * reps]], 0)
    dealt = padded[replica::num_replicas]
    return tf.cast(dealt[:examples_per_replica(num_examples, num_replicas)], tf.int64)


def repeated_dataset(num_examples, replica=0, num_replicas=1, reps=3, seed=0, epochs=None,
                     initial_epoch=0):
    """A tf.data.Dataset of this replica's example indices, epoch after epoch from
    `initial_epoch` (`epochs` of them, or without end); map it to examples, e.g.
    `ds.map(lambda i: (images[i], labels[i]))` or a lookup in an index of files."""
    _check(num_examples, replica, num_replicas, reps)
    if epochs is not None and (not isinstance(epochs, int) or epochs < 0):
        raise ValueError(f"epochs must be None or an integer >= 0; got {epochs!r}.")
    stop = None if epochs is None else initial_epoch + epochs
    epoch_numbers = (tf.data.Dataset.counter(initial_epoch) if stop is None
                     else tf.data.Dataset.range(initial_epoch, stop))
    return epoch_numbers.flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(
        repeated_indices(num_examples, epoch, replica, num_replicas, reps, seed)))
