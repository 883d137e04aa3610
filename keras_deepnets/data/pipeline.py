"""`load`: one entry point from a TFDS name, folder or TFRecord pattern to batches of augmented,
normalised `(images, labels)`; `synthetic`: random data of the same structure.

Speed: file names are shuffled before any file is read; random crops of JPEGs decode only the
crop window; maps run in parallel with AUTOTUNE; batches are prefetched; `cache=True` keeps the
decoded images of a small dataset in memory (CIFAR: once per process, augmented by the batch);
`private_threads` gives the pipeline its own thread pool. With a `seed`, order and augmentation
are the same every run (stateless random ops, one seed or random draw per example); without one,
tf.data may reorder for speed.
"""

import dataclasses
import logging

import numpy as np
import tensorflow as tf

from keras_deepnets.data import augment, decode, digits, in_memory, mean, sources

logger = logging.getLogger("keras_deepnets.data")

# Images at most this size on both sides are CIFAR-like: preset=None picks the CIFAR presets.
_SMALL_IMAGE = 64


def _first_image_shape(source):
    image_bytes, _ = next(iter(source.records(max_examples=1)))
    return decode.decode_full(image_bytes).shape[:2]


def default_preset(source, split):
    """`preset=None`: "cifar_*" for small images (at most 64x64), else the ImageNet presets;
    "*_train" for a split named train*, else the evaluation preset."""
    training = bool(split) and str(split).startswith("train")
    small = max(_first_image_shape(source)) <= _SMALL_IMAGE
    if small:
        return "cifar_train" if training else "cifar_eval"
    return "resnet_imagenet_train" if training else "imagenet_eval"


def build_preset(preset, data=None, *, source=None, split=None, data_dir=None, image_size=None,
                 preset_options=None):
    """The `augment.Preset` for a name (or None: `default_preset`), with the training split's
    per-pixel mean for CIFAR presets (unless given as `preset_options={"mean": array}`)."""
    options = dict(preset_options or {})
    if preset is None:
        preset = default_preset(source, split)
        logger.info("preset=None: using %r for %s", preset, source.location)
    if preset in augment.CIFAR_PRESETS and options.get("mean") is None:
        size = image_size or 32
        if source is not None and source.split is not None and source.split.startswith("train"):
            options["mean"] = mean.cifar_mean(source, image_size=size)
        elif data is not None and (source is None or source.kind == "tfds"
                                   or sources.has_splits(data)):
            options["mean"] = mean.cifar_mean(data, data_dir=data_dir, image_size=size)
        else:
            raise ValueError(f"{preset} needs the per-pixel mean of the training split, which "
                             f"cannot be found from {source.location}; pass "
                             "preset_options={'mean': keras_deepnets.data.cifar_mean(train_data)}.")
    return augment.get_preset(preset, image_size=image_size, **options)


def _seed_pairs(seed):
    """An endless stream of per-example [2] int64 seeds for the stateless augmentation ops."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)


def load(data, split=None, *, data_dir=None, preset=None, preset_options=None, image_size=None,
         batch_size=None, shuffle=None, seed=None, input_context=None, repeat=False, cache=False,
         drop_remainder=False, max_examples=None, subset_seed=None, strict=False,
         num_parallel_calls=tf.data.AUTOTUNE, private_threads=None, labels_file=None,
         label_offset=0, download=True):
    """A `tf.data.Dataset` of `(images, labels)`: float32 [B, H, W, 3] augmented and normalised,
    int32 [B] (no batch dimension when `batch_size` is None).

    Args:
        data: a TFDS name ("cifar10", "imagenet2012", ...), a folder (class folders; or with
            train/ and val|validation|test/ sub-folders; or a flat image folder plus a labels
            file), or a TFRecord file pattern (or a folder of `<split>-NNNNN-of-NNNNN` shards).
        split: "train", "val"/"validation"/"test" (aliases); None for a folder that is a split.
        preset: a name of `augment.PRESETS` or an `augment.Preset`; None picks by split and image
            size (`default_preset`). `preset_options`: keyword arguments of the preset, e.g.
            `{"scale": (256, 512)}` for VGG multi-scale training.
        image_size: the crop size (default 224 for ImageNet presets, 32 for CIFAR).
        batch_size: the global batch size; with `input_context`, each replica's share.
        shuffle: defaults to True for training presets.
        seed: same order and augmentation every run (without shuffle, the order is always the
            source's).
        input_context: a `tf.distribute.InputContext` (from `distribute_datasets_from_function`):
            this worker's shard only.
        repeat: repeat forever.
        cache: keep decoded images in memory (small datasets). With a CIFAR preset, a batch
            size and images of the preset's size, they are decoded once per process (every
            epoch's `load` reuses them) and augmented a batch at a time (`in_memory`).
        max_examples: a subset of this many examples, the same for a given `subset_seed`
            (default `seed`); a training run keeps one subset while reshuffling every epoch.
        strict: raise on the first bad image instead of skipping it (skips are logged).
        private_threads: size of a private thread pool for this pipeline.
        labels_file, label_offset: for flat folders + labels file; label_offset=1 also for
            TFRecords with 1-based labels (TensorFlow's build_imagenet_data.py).
        download: a TFDS dataset missing from `data_dir` is downloaded and prepared first (as
            `tfds.load`); False raises instead. Offline, either way: one line saying what to do.
    """
    _check_counts(batch_size, max_examples)
    if input_context is not None and batch_size is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    subset_seed = seed if subset_seed is None else subset_seed
    if digits.is_digits(data):  # LeNet-5's digits: arrays in memory, already normalised
        return _load_digits(split, preset, image_size, batch_size=batch_size, shuffle=shuffle,
                            seed=seed, input_context=input_context, repeat=repeat,
                            drop_remainder=drop_remainder, max_examples=max_examples,
                            subset_seed=subset_seed)
    source = sources.resolve(data, split, data_dir=data_dir, strict=strict,
                             labels_file=labels_file, label_offset=label_offset, download=download)
    preset = build_preset(preset, data, source=source, split=split, data_dir=data_dir,
                          image_size=image_size, preset_options=preset_options)
    reading = _Reading(batch_size, preset.training if shuffle is None else shuffle, seed,
                       input_context, repeat, drop_remainder, max_examples, subset_seed, strict,
                       num_parallel_calls)
    ds = _from_memory(source, preset, reading) if cache else None
    if ds is None:
        ds = _from_records(source, preset, reading, cache)
    return _finish(ds, seed, reading.shuffle, private_threads)


def _check_counts(batch_size, max_examples):
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}.")
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValueError(f"max_examples must be a positive integer or None; got {max_examples!r}.")


def _load_digits(split, preset, image_size, *, shuffle, **options):
    """`load` of the digits (`options`: digits.load's), which take no preset or image size."""
    if preset is not None or image_size not in (None, digits.SIZE):
        raise ValueError(f"The digits come {digits.SIZE}x{digits.SIZE} and normalised as "
                         f"LeNet-5's paper (data.digits); they take no preset and no other "
                         f"image_size (got preset={preset!r}, image_size={image_size!r}).")
    return digits.load(split, shuffle=bool(shuffle), **options)


@dataclasses.dataclass(frozen=True)
class _Reading:
    """How `load` reads a source once its preset is known: `load`'s arguments of the same names,
    `batch_size` per replica, `shuffle` and `subset_seed` with their defaults filled in."""

    batch_size: int | None
    shuffle: bool
    seed: int | None
    input_context: object
    repeat: bool
    drop_remainder: bool
    max_examples: int | None
    subset_seed: int | None
    strict: bool
    num_parallel_calls: int


def _from_memory(source, preset, r):
    """With a CIFAR preset and a batch size: batches augmented from images decoded once per
    process (`in_memory`); None where the source's images do not fit that path."""
    if r.batch_size is None or not hasattr(preset, "batch_from_pixels"):
        return None
    copy = in_memory.decoded(source, (preset.image_size, preset.image_size),
                             max_examples=r.max_examples, subset_seed=r.subset_seed,
                             strict=r.strict)
    if copy is None:
        return None
    return in_memory.dataset(copy, preset.batch_from_pixels, r.batch_size, shuffle=r.shuffle,
                             seed=r.seed, input_context=r.input_context, repeat=r.repeat,
                             drop_remainder=r.drop_remainder,
                             num_parallel_calls=r.num_parallel_calls)


def _from_records(source, preset, r, cache):
    """The source's records decoded and augmented one image at a time, then batched; with
    `cache`, decoded once into tf.data's cache and augmented from the pixels."""
    ds = source.records(shuffle=r.shuffle and not cache, seed=r.seed,
                        input_context=r.input_context, max_examples=r.max_examples,
                        subset_seed=r.subset_seed)
    augment_fn = preset
    if cache:
        ds, augment_fn = _decoded_cache(ds, r), preset.from_pixels
    if r.repeat:
        ds = ds.repeat()
    ds = tf.data.Dataset.zip((ds, _seed_pairs(r.seed)))
    ds = ds.map(lambda example, s: (augment_fn(example[0], s), example[1]),
                num_parallel_calls=r.num_parallel_calls)
    if not r.strict:
        # Files are checked when listed; this only catches what a header check cannot see, so a
        # damaged file never stops an epoch (TF logs each one it skips).
        ds = ds.ignore_errors(log_warning=True)
    if r.batch_size is not None:
        ds = ds.batch(r.batch_size, drop_remainder=r.drop_remainder,
                      num_parallel_calls=r.num_parallel_calls)
    return ds


def _decoded_cache(ds, r):
    """The records' images decoded in full, kept in tf.data's cache, reshuffled every epoch."""
    ds = ds.map(lambda b, y: (decode.decode_full(b), y), num_parallel_calls=r.num_parallel_calls)
    if not r.strict:
        ds = ds.ignore_errors(log_warning=True)
    ds = ds.cache()
    if r.shuffle:
        ds = ds.shuffle(sources.SHUFFLE_BUFFER, seed=r.seed, reshuffle_each_iteration=True)
    return ds


def _finish(ds, seed, shuffle, private_threads):
    ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Only an unseeded shuffle gives up the order, letting tf.data hand out whatever is ready.
    options.deterministic = seed is not None or not shuffle
    if private_threads:
        options.threading.private_threadpool_size = int(private_threads)
    return ds.with_options(options)


def synthetic(image_size, classes, batch_size=None, num_examples=1024, seed=0, repeat=False,
              channels=3):
    """Random normalised images (float32, like the "caffe" range) and int32 labels in
    [0, classes): the structure of `load`, for `--use_synthetic_data` runs (`channels=1` for
    LeNet-5's greyscale digits)."""
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)

    def make(i):
        image = tf.random.stateless_uniform([*size, channels], [seed, 2 * i], -128.0, 128.0)
        label = tf.random.stateless_uniform([], [seed, 2 * i + 1], 0, classes, dtype=tf.int32)
        return image, label

    ds = tf.data.Dataset.range(num_examples).map(make, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.repeat() if repeat else ds
    ds = ds.batch(batch_size) if batch_size else ds
    return ds.prefetch(tf.data.AUTOTUNE)


def describe(data, split=None, data_dir=None, **kwargs):
    """`DatasetInfo(num_classes, num_examples, class_names, source, split, location)` of `data`
    (anything `load` takes, the digits included)."""
    if digits.is_digits(data):
        return digits.describe(split)
    return sources.describe(data, split, data_dir=data_dir, **kwargs)
