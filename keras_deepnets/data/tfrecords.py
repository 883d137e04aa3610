"""Writing TFRecord shards in TensorFlow's ImageNet format (`image/encoded`, `image/class/label`,
`image/class/text`, `image/class/synset`, `image/format`, `image/filename`), as
`sources.TFRecordSource` reads them. Labels are 0-based class indices (sorted folder names);
`dataset_info.json` beside the shards records that, the class names and the counts.
"""

import concurrent.futures
import json
import os

import numpy as np
import tensorflow as tf

from keras_deepnets.data import sources


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _format(head):
    for magic, name in ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"),
                        (b"BM", "BMP")):
        if head.startswith(magic):
            return name
    return "UNKNOWN"


def example(path, label, class_name):
    """One `tf.train.Example` holding the file's bytes as they are (no re-encoding)."""
    with open(path, "rb") as f:
        encoded = f.read()
    name = class_name.encode()
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes(encoded),
        "image/format": _bytes(_format(encoded[:4]).encode()),
        "image/filename": _bytes(os.path.basename(path).encode()),
        "image/class/label": _int(label),
        "image/class/text": _bytes(name),
        "image/class/synset": _bytes(name),
    }))


def shard_name(split, index, num_shards):
    return f"{split}-{index:05d}-of-{num_shards:05d}"


def _write_shard(path, items, class_names):
    # Written under a temporary name and renamed at the end: a shard that exists is complete.
    tmp = path + ".tmp"
    with tf.io.TFRecordWriter(tmp) as writer:
        for p, y in items:
            writer.write(example(p, y, class_names[y]).SerializeToString())
    os.replace(tmp, path)
    return path


def write_tfrecords(data, output_dir, split="train", num_shards=None, seed=0, workers=None,
                    strict=False, examples_per_shard=1024):
    """Writes `data` (an image folder, or anything `load` takes that is a folder) as shards
    `<split>-NNNNN-of-NNNNN` in `output_dir`, in parallel, skipping shards already complete.

    The examples are shuffled (with `seed`) across shards so that reading a few shards gives
    all classes. Bad files are skipped (logged) or, with `strict`, raise. Returns
    `(paths of the shards, number written now)`.
    """
    source = sources.resolve(data, None if not sources.has_splits(data) else split,
                             strict=strict)
    if source.kind != "folder":
        raise ValueError(f"write_tfrecords reads image folders; {data!r} is a {source.kind} "
                         "source.")
    order = np.random.default_rng(seed).permutation(len(source.paths))
    items = [(source.paths[i], int(source.labels[i])) for i in order]
    num_shards = num_shards or max(1, -(-len(items) // examples_per_shard))
    os.makedirs(output_dir, exist_ok=True)
    shards = [(os.path.join(output_dir, shard_name(split, i, num_shards)), items[i::num_shards])
              for i in range(num_shards)]
    todo = [(p, chunk) for p, chunk in shards if not os.path.isfile(p)]
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        list(pool.map(lambda job: _write_shard(*job, source.class_names), todo))
    _update_info(output_dir, split, len(items), source.class_names)
    return [p for p, _ in shards], len(todo)


def _update_info(output_dir, split, count, class_names):
    path = os.path.join(output_dir, sources.INFO_FILE)
    info = {}
    if os.path.isfile(path):
        with open(path) as f:
            info = json.load(f)
    if info.get("class_names", class_names) != class_names:
        raise ValueError(f"{path} lists other class names than {split}'s; write each data set "
                         "to its own folder.")
    info.update(class_names=class_names, label_offset=0)
    info.setdefault("splits", {})[split] = count
    with open(path, "w") as f:
        json.dump(info, f, indent=1)
