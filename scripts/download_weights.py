"""Prefetches pretrained weights into the cache, on a machine with internet, for machines
without: copy the cache folder (KERAS_DEEPNETS_HOME, default ~/.keras/keras_deepnets) there,
or serve its downloads/ folder over HTTP and set KERAS_DEEPNETS_MIRROR to it.

    python scripts/download_weights.py --models=resnet50,vgg16_bn --tags=imagenet,IMAGENET1K_V2
    python scripts/download_weights.py --models=resnet18 --convert   # the converted file too

The table of every file: `python scripts/model_table.py --weights`.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys

from absl import app, flags

from keras_deepnets.weights import prefetch, store

FLAGS = flags.FLAGS
flags.DEFINE_list("models", None, "Registry names, e.g. resnet50,vgg16_bn.")
flags.DEFINE_list("tags", ["imagenet"], "Tags: imagenet, DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2, "
                  "hf://timm/..., or registered ones.")
flags.DEFINE_bool("convert", False, "Also build each model and cache its converted weights.")


def main(argv):
    del argv
    if not FLAGS.models:
        print("error: --models is required (e.g. --models=resnet50,vgg16_bn)", file=sys.stderr)
        return 2
    try:
        done = prefetch.prefetch(FLAGS.models, FLAGS.tags, convert=FLAGS.convert)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for model, tag, path in done:
        print(f"{model} {tag}: {path}")
    print(f"Cache: {store.home()}")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
