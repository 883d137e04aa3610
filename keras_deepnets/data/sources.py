"""Where examples come from: a TFDS name, an image folder, or TFRecord shards.

`resolve(data, split, ...)` returns a `Source`: its class names, its size when known, and
`records(...)`, a dataset of `(encoded image bytes, int32 label)` already sharded for the worker
and shuffled at the file level, which `pipeline.load` decodes and augments.
"""

import contextlib
import dataclasses
import json
import os
import re

import numpy as np
import tensorflow as tf

from keras_deepnets.data import files, tfds_prepare

SPLIT_ALIASES = {"train": ("train",),
                 "validation": ("validation", "val", "test"),
                 "val": ("val", "validation", "test"),
                 "test": ("test", "val", "validation")}
# make_tfrecords.py writes this file beside the shards: class names, counts, label offset.
INFO_FILE = "dataset_info.json"
_TFRECORD_SHARD = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-\d{5}-of-\d{5}(\.tfrecords?)?$")
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9_.\-]+)?(:[0-9.*]+)?$")
SHUFFLE_BUFFER = 10_000

# The feature names of TensorFlow's ImageNet TFRecords (inception/models build_imagenet_data.py).
TFRECORD_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


@dataclasses.dataclass
class DatasetInfo:
    """What `describe` returns."""
    num_classes: int
    num_examples: int
    class_names: list
    source: str  # "tfds" | "folder" | "tfrecord"
    split: str | None = None
    location: str = ""


def _pick_split(available, split, where):
    """The name among `available` for the requested split (val/validation/test are aliases)."""
    if split is None:
        raise ValueError(f"{where} has splits {sorted(available)}; pass split= one of them.")
    if split in available:
        return split
    for alias in SPLIT_ALIASES.get(split, ()):
        if alias in available:
            return alias
    raise FileNotFoundError(f"Split {split!r} not found in {where}; available splits: "
                            f"{sorted(available)} (val, validation and test are aliases).")


class Source:
    """Base class: `kind`, `class_names`, `location`, `split`; `count()` and `records()`."""

    kind = ""

    def count(self):
        raise NotImplementedError

    def records(self, *, shuffle=False, seed=None, input_context=None, max_examples=None,
                subset_seed=None):
        """`(bytes, int32 label)` examples; file-level shuffle, sharded per input pipeline.
        `subset_seed` picks the `max_examples` subset where it is random (default: `seed`)."""
        raise NotImplementedError

    def info(self):
        return DatasetInfo(len(self.class_names), self.count(), list(self.class_names), self.kind,
                           self.split, self.location)


def shard_for(ds, input_context):
    """This input pipeline's share of `ds` (all of it without a context or with one pipeline)."""
    if input_context is not None and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds


class FolderSource(Source):
    """`root/<class>/<image>` (class index = sorted folder names) or a flat folder + labels file."""

    kind = "folder"

    def __init__(self, paths, labels, class_names, location, split=None):
        self.paths, self.labels = paths, labels
        self.class_names, self.location, self.split = class_names, location, split

    def count(self):
        return len(self.paths)

    def records(self, *, shuffle=False, seed=None, input_context=None, max_examples=None,
                subset_seed=None):
        paths, labels = np.asarray(self.paths), np.asarray(self.labels, np.int32)
        if max_examples is not None and max_examples < len(paths):
            # A random subset (not the first classes, which sorted folders would give), the same
            # one for a given subset_seed: training shuffles with seed + epoch but keeps its subset.
            pick = seed if subset_seed is None else subset_seed
            keep = np.sort(np.random.default_rng(pick or 0).permutation(len(paths))[:max_examples])
            paths, labels = paths[keep], labels[keep]
        if len(paths) == 0:
            raise ValueError(f"{self.location} holds no usable image.")
        ds = shard_for(tf.data.Dataset.from_tensor_slices((paths, labels)), input_context)
        if shuffle:
            # File names are small: shuffle them all, before any file is read.
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        return ds.map(lambda p, y: (tf.io.read_file(p), y), num_parallel_calls=tf.data.AUTOTUNE)


def _folder_source(root, split, strict, labels_file, label_offset):
    subdirs = {e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")}
    shards = [n for n in os.listdir(root) if _TFRECORD_SHARD.match(n)]
    if shards and not subdirs:
        available = {_TFRECORD_SHARD.match(n).group("split") for n in shards}
        name = _pick_split(available, split, f"TFRecord folder {root}")
        pattern = os.path.join(root, f"{name}-*-of-*")
        return TFRecordSource(pattern, name, label_offset)
    split_names = {"train", "val", "validation", "test"} & subdirs
    train_classes = None
    if split_names:
        if "train" in subdirs:
            train_classes = sorted(e.name for e in os.scandir(os.path.join(root, "train"))
                                   if e.is_dir() and not e.name.startswith("."))
        name = _pick_split(split_names, split, f"Image folder {root}")
        folder = os.path.join(root, name)
    elif split is not None:
        raise FileNotFoundError(
            f"Split {split!r} requested but {root} has no train/val/validation/test sub-folders; "
            "pass split=None to use the folder itself (class folders or images + labels file).")
    else:
        folder, name = root, None
    has_classes = any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(folder))
    if has_classes:
        paths, labels, names = files.list_class_folder(folder, strict=strict)
        if train_classes and folder != os.path.join(root, "train") and names != train_classes:
            # The evaluation split must use the training split's class index, whatever it lacks.
            unknown = sorted(set(names) - set(train_classes))
            if unknown:
                raise ValueError(f"{folder} has class folders missing from the train split: "
                                 f"{unknown[:5]}")
            index = {n: i for i, n in enumerate(train_classes)}
            labels = [index[names[y]] for y in labels]
            names = train_classes
        return FolderSource(paths, labels, names, folder, name)
    labels_file = labels_file or files.find_labels_file(folder)
    if labels_file is None:
        raise FileNotFoundError(
            f"{folder} has neither class sub-folders nor a labels file (labels.txt, "
            "*ground_truth*.txt inside it, or <folder>.txt beside it); pass labels_file=.")
    paths, labels, names = files.read_labels_file(labels_file, folder, train_classes,
                                                  label_offset, strict=strict)
    return FolderSource(paths, labels, names, folder, name)


class TFRecordSource(Source):
    """TFRecord shards with TensorFlow's ImageNet features (`image/encoded`,
    `image/class/label`, optional `image/class/text`).

    Class names and counts come from `dataset_info.json` beside the shards (make_tfrecords.py
    writes it); without it the labels are counted by reading the records once. TensorFlow's
    build_imagenet_data.py numbers classes from 1 (0 was background): pass `label_offset=1`.
    """

    kind = "tfrecord"

    def __init__(self, pattern, split=None, label_offset=0):
        self.files = sorted(tf.io.gfile.glob(pattern))
        if not self.files:
            raise FileNotFoundError(f"No TFRecord file matches {pattern!r}.")
        self.location, self.split = pattern, split
        folder = os.path.dirname(self.files[0])
        meta = {}
        if os.path.isfile(os.path.join(folder, INFO_FILE)):
            with open(os.path.join(folder, INFO_FILE)) as f:
                meta = json.load(f)
        self.label_offset = meta.get("label_offset", label_offset)
        self._count = meta.get("splits", {}).get(split) if split else None
        self.class_names = meta.get("class_names")
        if self.class_names is None:
            labels = self._scan_labels()
            self.class_names = [str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0)]

    def _raw(self, shuffle=False, seed=None, input_context=None):
        files = tf.data.Dataset.from_tensor_slices(self.files)
        if input_context is not None and len(self.files) >= input_context.num_input_pipelines:
            files, input_context = shard_for(files, input_context), None
        if shuffle:
            files = files.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=True)
        ds = files.interleave(tf.data.TFRecordDataset, cycle_length=min(len(self.files), 8),
                              num_parallel_calls=tf.data.AUTOTUNE)
        return shard_for(ds, input_context)  # record-level when there are fewer files than workers

    def _parse(self, record):
        example = tf.io.parse_single_example(record, TFRECORD_FEATURES)
        label = tf.cast(example["image/class/label"] - self.label_offset, tf.int32)
        return example["image/encoded"], label

    def _scan_labels(self):
        ds = self._raw().map(self._parse, num_parallel_calls=tf.data.AUTOTUNE).map(lambda b, y: y)
        labels = np.concatenate([np.zeros([0], np.int32)]
                                + list(ds.batch(4096).as_numpy_iterator()))
        self._count = len(labels)
        return labels

    def count(self):
        if self._count is None:
            self._scan_labels()
        return self._count

    def records(self, *, shuffle=False, seed=None, input_context=None, max_examples=None,
                subset_seed=None):  # the first max_examples: no subset to pick
        if max_examples is not None:
            # The first records of the shards in file order: the same subset every time.
            ds = shard_for(self._raw().take(max_examples), input_context)
            ds = ds.shuffle(max_examples, seed=seed) if shuffle else ds
        else:
            ds = self._raw(shuffle, seed, input_context)
            ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed) if shuffle else ds
        return ds.map(self._parse, num_parallel_calls=tf.data.AUTOTUNE)


@contextlib.contextmanager
def _absl_errors_only():
    """TFDS's is_prepared() warns "Variant folder ... has no dataset_info.json" through absl for
    every dataset not prepared yet, a line before the one that says what to do; hide it."""
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(min(level, absl_logging.ERROR))  # absl: lower is quieter
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


class TFDSSource(Source):
    """A TFDS dataset, read with its images still encoded (decoded by the pipeline); prepared
    first when missing, unless `download=False` (`tfds_prepare`)."""

    kind = "tfds"

    def __init__(self, name, split, data_dir=None, download=True):
        import tensorflow_datasets as tfds

        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except Exception as e:  # DatasetNotFoundError and friends; never a deep traceback
            raise ValueError(
                f"data={name!r} is not an existing folder or TFRecord pattern, and not a TFDS "
                f"dataset ({type(e).__name__}: {str(e).splitlines()[0]}). data must be a TFDS "
                "name (e.g. 'cifar10', 'imagenet2012'), a folder or a TFRecord file pattern."
            ) from None
        with _absl_errors_only():
            prepared = self.builder.is_prepared()
        if not prepared:
            # As tfds.load: download and prepare a missing dataset unless told not to; manual
            # downloads (ImageNet) and offline machines get one line saying what to do.
            if not download or getattr(self.builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None):
                raise tfds_prepare.not_prepared(self.builder)
            tfds_prepare.download_and_prepare(self.builder)
        info = self.builder.info
        self.image_key = next((k for k, f in info.features.items()
                               if isinstance(f, tfds.features.Image)), None)
        self.label_key = next((k for k, f in info.features.items()
                               if isinstance(f, tfds.features.ClassLabel)), None)
        if self.image_key is None or self.label_key is None:
            raise ValueError(f"TFDS dataset {name!r} has no image and class-label features.")
        available = list(info.splits.keys())
        base = split.split("[")[0] if split else split
        picked = _pick_split(available, base, f"TFDS dataset {name!r}")
        self.split = picked + split[len(base):] if split and "[" in split else picked
        self.class_names = list(info.features[self.label_key].names)
        self.location = f"{name} ({self.builder.data_dir})"

    def count(self):
        return int(self.builder.info.splits[self.split].num_examples)

    def records(self, *, shuffle=False, seed=None, input_context=None, max_examples=None,
                subset_seed=None):  # the first max_examples: no subset to pick
        import tensorflow_datasets as tfds

        file_shuffle = shuffle and max_examples is None
        config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False,
                                 input_context=input_context if max_examples is None else None)
        ds = self.builder.as_dataset(split=self.split, shuffle_files=file_shuffle,
                                     read_config=config,
                                     decoders={self.image_key: tfds.decode.SkipDecoding()})
        ds = ds.map(lambda ex: (ex[self.image_key], tf.cast(ex[self.label_key], tf.int32)),
                    num_parallel_calls=tf.data.AUTOTUNE)
        if max_examples is not None:
            ds = shard_for(ds.take(max_examples), input_context)
            return ds.shuffle(max_examples, seed=seed) if shuffle else ds
        return ds.shuffle(SHUFFLE_BUFFER, seed=seed) if shuffle else ds


def has_splits(data):
    """False for a folder without split sub-folders or shard names, and for file patterns."""
    path = os.path.expanduser(os.fspath(data)) if isinstance(data, (str, os.PathLike)) else ""
    if os.path.isdir(path):
        names = os.listdir(path)
        return bool({"train", "val", "validation", "test"} & set(names)) or any(
            _TFRECORD_SHARD.match(n) for n in names)
    return not (os.path.isfile(path) or any(c in path for c in "*?["))


# "train[5000:]", "train[:5000]": TFDS's slicing syntax, also for folders (see `_sliced`).
_SLICE = re.compile(r"^(?P<base>[A-Za-z0-9_]+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def split_slice(split):
    """(base, start, stop) of a sliced split such as "train[5000:]" (TFDS's syntax), else None."""
    match = _SLICE.match(split) if isinstance(split, str) else None
    if match is None:
        return None
    start, stop = (int(v) if v else None for v in (match["start"], match["stop"]))
    return match["base"], start, stop


def _sliced(source, split, start, stop):
    """A folder split's slice `[start:stop]`, taken from a fixed permutation of its files (the
    same for every run), so that a hold-out such as the ResNet paper's 45k/5k CIFAR split
    (section 4.2) draws from every class rather than from the last class folders."""
    if not isinstance(source, FolderSource):
        raise ValueError(f"split={split!r}: slicing works for TFDS names and image folders, not "
                         f"{source.kind} sources; write the hold-out as its own split instead.")
    order = np.random.default_rng(0).permutation(len(source.paths))
    keep = np.sort(order[start:stop])
    return FolderSource(list(np.asarray(source.paths)[keep]),
                        list(np.asarray(source.labels)[keep]), source.class_names,
                        source.location, split)


def resolve(data, split=None, *, data_dir=None, strict=False, labels_file=None, label_offset=0,
            download=True):
    """The `Source` for `data`: a folder, a TFRecord file pattern (or file), or a TFDS name.

    `split` may carry a slice in TFDS's syntax, e.g. "train[:45000]" and "train[45000:]".
    A TFDS dataset missing from `data_dir` is downloaded and prepared, as `tfds.load` does,
    unless `download=False`."""
    if isinstance(data, Source):
        return data
    sliced = split_slice(split)
    if sliced and not (isinstance(data, str) and _TFDS_NAME.match(data)
                       and not os.path.exists(os.path.expanduser(data))):
        base, start, stop = sliced
        source = resolve(data, base, data_dir=data_dir, strict=strict,
                         labels_file=labels_file, label_offset=label_offset, download=download)
        return _sliced(source, split, start, stop)
    if not isinstance(data, (str, os.PathLike)):
        raise ValueError(f"data must be a TFDS name, a folder or a TFRecord file pattern; "
                         f"got {data!r}.")
    text = os.fspath(data)
    path = os.path.expanduser(text)
    if data_dir is not None and not os.path.isabs(path) and os.path.exists(
            os.path.join(data_dir, path)) and not _TFDS_NAME.match(text):
        path = os.path.join(data_dir, path)
    if os.path.isdir(path):
        return _folder_source(path, split, strict, labels_file, label_offset)
    if os.path.isfile(path) or any(c in path for c in "*?["):
        return TFRecordSource(path, split, label_offset)
    if _TFDS_NAME.match(text) and not text.startswith(("/", ".", "~")):
        return TFDSSource(text, split, data_dir, download)
    raise FileNotFoundError(f"data={text!r}: no such folder or file. data must be a TFDS name "
                            "(e.g. 'cifar10'), a folder or a TFRecord file pattern.")


def describe(data, split=None, data_dir=None, **kwargs):
    """`DatasetInfo(num_classes, num_examples, class_names, source, split, location)`."""
    return resolve(data, split, data_dir=data_dir, **kwargs).info()
