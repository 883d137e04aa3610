"""A process that loads weights by tag, as a user's script or a worker of a multi-worker job
would: `python load_worker.py TAG [URL SHA256 [DIE_AT]]` (with a URL: registered first as
resnet18's). Prints one JSON line: the logits' checksum on ../shared/torchvision's photos.

DIE_AT kills the process with SIGKILL (what `kill -9` sends) at one point of the conversion
that follows the download: "converting" (half-way through setting the converted weights),
"saving" (the converted file written under its temporary name) or "vouching" (renamed into
place, its .json not yet written)."""

import itertools
import json
import os
import pathlib
import signal
import sys

import keras
import numpy as np

import keras_deepnets as kd
from keras_deepnets.weights import store

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


def die_at(point):
    if point == "converting":
        real_set, calls = keras.layers.Layer.set_weights, itertools.count()

        def set_weights(layer, weights):
            if next(calls) == 10:
                _kill()
            return real_set(layer, weights)
        keras.layers.Layer.set_weights = set_weights
    elif point == "saving":
        real_digest = store.file_digest
        store.file_digest = lambda path, *a: (_kill() if ".part" in path
                                              else real_digest(path, *a))
    elif point == "vouching":
        real_replace = os.replace

        def replace(src, dst):
            real_replace(src, dst)
            if str(dst).endswith(".weights.h5"):
                _kill()
        os.replace = replace
    else:
        raise SystemExit(f"DIE_AT={point!r}: converting, saving or vouching")


if __name__ == "__main__":
    tag = sys.argv[1]
    if len(sys.argv) > 2:
        kd.register_weights(tag, model="resnet18", url=sys.argv[2], sha256=sys.argv[3])
    if len(sys.argv) > 4:
        die_at(sys.argv[4])
    model = kd.ResNet18(weights=tag, classifier_activation=None)
    images = np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"]
    logits = np.asarray(model(images, training=False), np.float64)
    print(json.dumps({"sum": float(logits.sum()), "abs": float(np.abs(logits).sum()),
                      "preprocessing": model.preprocessing, "evaluation": model.evaluation}))
