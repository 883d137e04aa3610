"""CIFAR-sized datasets decoded once per process, kept as one uint8 tensor, augmented by the batch.

Why: on 2 CPU cores the per-image path (read, decode, pad, crop, flip: a chain of small ops for
each 32x32 image) runs at about 10k images/s, and every core-second it takes is taken from the
training step (ResNet-20's step was 11-19% slower on real data than on synthetic data). Decoded
CIFAR-10 is 150 MB: decoding it once per process and drawing whole batches with two gathers
(`CifarPreset.batch_from_pixels`) runs at about 70k images/s through `load`, so the step keeps
the cores.

`pipeline.load(..., cache=True)` takes this path when the preset has a batched form and every
image already has the preset's size; otherwise it keeps tf.data's per-dataset cache. The copy is
kept for the process (each epoch's dataset reuses it) and looked up by the source's location,
split, file list and subset; `clear()` drops it. A file rewritten in place while a process runs
is not noticed by that process's copy.
"""

import collections
import logging

import numpy as np
import tensorflow as tf

from keras_deepnets.data import decode, sources

logger = logging.getLogger("keras_deepnets.data")

# Above this many bytes of decoded pixels, `cache=True` keeps tf.data's per-dataset cache.
MAX_BYTES = 2 * 2 ** 30
_KEEP = 4  # datasets kept at once (train and validation splits of two datasets)
_copies = collections.OrderedDict()


def clear():
    """Drops every decoded copy (memory goes back once no dataset uses it)."""
    _copies.clear()


def _key(source, image_shape, max_examples, subset_seed, strict):
    files = tuple(source.paths) if isinstance(source, sources.FolderSource) else None
    return (source.kind, source.location, source.split, files, tuple(image_shape), max_examples,
            subset_seed, strict)


def _decode_all(source, image_shape, max_examples, subset_seed, strict):
    height, width = image_shape

    def decoded(image_bytes, label):
        image = decode.decode_full(image_bytes)
        fits = tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width]))
        # A wrong-size image becomes zeros here and makes the whole copy unusable below.
        image = tf.cond(fits, lambda: tf.reshape(image, [height, width, 3]),
                        lambda: tf.zeros([height, width, 3], tf.uint8))
        return image, label, fits

    ds = source.records(max_examples=max_examples, subset_seed=subset_seed)
    ds = ds.map(decoded, num_parallel_calls=tf.data.AUTOTUNE)
    if not strict:
        ds = ds.ignore_errors(log_warning=True)  # what the header check cannot see; as in load
    images, labels = [], []
    for x, y, fits in ds.batch(4096).prefetch(1):
        if not bool(tf.reduce_all(fits)):
            return None
        images.append(x.numpy())
        labels.append(y.numpy())
    if not images:
        raise ValueError(f"{source.location} holds no decodable image.")
    return tf.constant(np.concatenate(images)), tf.constant(np.concatenate(labels))


def decoded(source, image_shape, *, max_examples=None, subset_seed=None, strict=False):
    """`(images uint8 [N, H, W, 3], labels int32 [N])` of the source (its `max_examples` subset),
    decoded once per process; None when the dataset is too large or not every image is
    `image_shape` (H, W)."""
    count = source.count()
    if max_examples is None or max_examples >= count:
        # The whole split whatever the seed: every epoch's `load(seed=...)` finds this copy.
        max_examples = subset_seed = None
    else:
        count = max_examples
    key = _key(source, image_shape, max_examples, subset_seed, strict)
    if key in _copies:
        _copies.move_to_end(key)
        return _copies[key]
    if count * image_shape[0] * image_shape[1] * 3 > MAX_BYTES:
        logger.info("%s: %d images are too many to keep decoded in memory; using the per-image "
                    "path", source.location, count)
        copy = None
    else:
        copy = _decode_all(source, image_shape, max_examples, subset_seed, strict)
        if copy is None:
            logger.info("%s: not every image is %dx%d; using the per-image path",
                        source.location, *image_shape)
    _copies[key] = copy
    while len(_copies) > _KEEP:
        _copies.popitem(last=False)
    return copy


def dataset(copy, batch_fn, batch_size, *, shuffle=False, seed=None, input_context=None,
            repeat=False, drop_remainder=False, num_parallel_calls=tf.data.AUTOTUNE):
    """Batches `(batch_fn(images, bits), labels)` drawn from a decoded copy: indices are
    sharded for the input pipeline, shuffled whole (every epoch a new order), paired with one
    random int64 each (a stream seeded by `seed`, so augmentation does not depend on the batch
    size), batched, then gathered and augmented a batch at a time."""
    images, labels = copy
    count = int(labels.shape[0])
    ds = sources.shard_for(tf.data.Dataset.range(count), input_context)
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    bits = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, bits)).batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(lambda index, b: (batch_fn(tf.gather(images, index), b),
                                    tf.gather(labels, index)),
                  num_parallel_calls=num_parallel_calls)
