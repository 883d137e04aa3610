"""A fresh process that loads a preset, as a user's script or another worker would:
`python preset_worker.py WEIGHTS NAME` loads it through `kd.get_model(NAME, weights=WEIGHTS)`
and through the named constructor of NAME, and prints one JSON line each: the logits on
../shared/torchvision's photos and what the model recorded."""

import json
import pathlib
import sys

import numpy as np

import keras_deepnets as kd

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"

if __name__ == "__main__":
    weights, name = sys.argv[1:3]
    images = np.load(TORCHVISION / "inputs_224.npz")["images_nhwc"]
    constructor = getattr(kd, kd.model_info(name).constructor.__name__)
    for model in (kd.get_model(name, weights=weights), constructor(weights=weights)):
        logits = np.asarray(model(images, training=False), np.float64)
        print(json.dumps({"logits": logits.tolist(), "name": model.name,
                          "preprocessing": model.preprocessing,
                          "evaluation": model.evaluation}))
