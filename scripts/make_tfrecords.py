"""Writes sharded TFRecords (TensorFlow's ImageNet format) from an image folder.

    python scripts/make_tfrecords.py --data ~/imagenet --output_dir ~/imagenet-tfrecords \
        --splits train,validation --num_shards 1024,128

`--data` is a folder of class folders (one split), or a folder with train/ and val/ (etc.)
sub-folders. Shards already complete are skipped, so an interrupted run can be resumed.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

from absl import app, flags, logging

from keras_deepnets.data import tfrecords
from keras_deepnets.data.sources import has_splits

FLAGS = flags.FLAGS
flags.DEFINE_string("data", None, "Image folder (class folders, or train/ val/ sub-folders).")
flags.DEFINE_string("output_dir", None, "Where the shards go.")
flags.DEFINE_list("splits", ["train"], "Splits to write (names of sub-folders of --data); for a "
                  "folder without split sub-folders, the name the shards get.")
flags.DEFINE_list("num_shards", [], "Shards per split (default: ~1024 examples per shard).")
flags.DEFINE_integer("workers", None, "Parallel writers (default: CPU count).")
flags.DEFINE_integer("seed", 0, "Seed of the shuffle across shards.")
flags.DEFINE_bool("strict", False, "Stop at the first bad image instead of skipping it.")
flags.mark_flags_as_required(["data", "output_dir"])


def main(argv):
    del argv
    if not os.path.isdir(FLAGS.data):
        raise app.UsageError(f"--data={FLAGS.data} is not a folder.")
    if FLAGS.num_shards and len(FLAGS.num_shards) != len(FLAGS.splits):
        raise app.UsageError("--num_shards needs one number per split.")
    if not has_splits(FLAGS.data) and len(FLAGS.splits) != 1:
        raise app.UsageError(f"{FLAGS.data} has no split sub-folders: give one --splits name.")
    for i, split in enumerate(FLAGS.splits):
        shards = int(FLAGS.num_shards[i]) if FLAGS.num_shards else None
        paths, written = tfrecords.write_tfrecords(
            FLAGS.data, FLAGS.output_dir, split=split, num_shards=shards, seed=FLAGS.seed,
            workers=FLAGS.workers, strict=FLAGS.strict)
        logging.info("%s: %d shards (%d written now, %d already complete) in %s", split,
                     len(paths), written, len(paths) - written, FLAGS.output_dir)
        print(f"{split}: {len(paths)} shards, {written} written, "
              f"{len(paths) - written} skipped (complete)")


if __name__ == "__main__":
    app.run(main)
