"""Prints how closely the converted models compute torchvision's logits on the fixtures of
../shared/torchvision (the table in docs/models.md).

    python scripts/check_torchvision_fixtures.py --fixtures=../shared/torchvision

For each ResNet and VGG fixture: the exact state_dict rebuilt with numpy, written as .safetensors,
converted by keras_deepnets.from_torchvision, run on the four real photos; prints max |difference|
/ max |logit| and whether the top-5 classes are torchvision's.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys
import tempfile

import numpy as np
from absl import app, flags
from safetensors.numpy import save_file

from keras_deepnets import from_torchvision

flags.DEFINE_string("fixtures", "../shared/torchvision", "The torchvision fixtures folder.")
flags.DEFINE_list("models", ["resnet18", "resnet34", "resnet50", "resnet101", "vgg11",
                                "vgg11_bn", "vgg16_bn", "alexnet", "googlenet"], "Fixtures.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    sys.path.insert(0, FLAGS.fixtures)
    from seeded_weights import load_fixture  # the fixtures' own numpy-only rebuild

    images = np.load(os.path.join(FLAGS.fixtures, "inputs_224.npz"))["images_nhwc"]
    print("| model | max abs difference / max abs logit | same top-5 |\n|---|---|---|")
    for name in FLAGS.models:
        state, fixture = load_fixture(name)
        with tempfile.TemporaryDirectory() as tmp:
            save_file(state, os.path.join(tmp, "w.safetensors"))
            model = from_torchvision(os.path.join(tmp, "w.safetensors"),
                                     classifier_activation=None)
        out, ref = model(images, training=False).numpy(), fixture["logits"]
        same = bool((np.argsort(-out, 1)[:, :5] == np.argsort(-ref, 1)[:, :5]).all())
        print(f"| {name} | {np.abs(out - ref).max() / np.abs(ref).max():.1e} | "
              f"{'yes' if same else 'NO'} |", flush=True)


if __name__ == "__main__":
    app.run(main)
