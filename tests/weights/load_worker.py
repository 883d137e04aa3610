"""A process that loads weights by tag, as a user's script or a worker of a multi-worker job
would: `python load_worker.py TAG [URL SHA256]` (with a URL: registered first as resnet18's).
Prints one JSON line: the logits' checksum on ../shared/torchvision's photos."""

import json
import pathlib
import sys

import numpy as np

import keras_deepnets as kd

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"

if __name__ == "__main__":
    tag = sys.argv[1]
    if len(sys.argv) > 2:
        kd.register_weights(tag, model="resnet18", url=sys.argv[2], sha256=sys.argv[3])
    model = kd.ResNet18(weights=tag, classifier_activation=None)
    images = np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"]
    logits = np.asarray(model(images, training=False), np.float64)
    print(json.dumps({"sum": float(logits.sum()), "abs": float(np.abs(logits).sum()),
                      "preprocessing": model.preprocessing, "evaluation": model.evaluation}))
