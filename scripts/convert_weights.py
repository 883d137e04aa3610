"""Converts a torchvision / timm ResNet or torchvision VGG checkpoint into Keras weights or a
model.

    python scripts/convert_weights.py --source=resnet18-f37072fd.pth --output=resnet18.weights.h5
    python scripts/convert_weights.py --source=model.safetensors --output=resnet50.keras

Reads .pth (torch's zip format, without torch; code in its pickle is refused), .safetensors
and .npz; prints the architecture found and the checks made. The same from Python:
keras_deepnets.from_torchvision(source).
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys

from absl import app, flags

from keras_deepnets import model_stats
from keras_deepnets.weights import torch_convert, torch_files

flags.DEFINE_string("source", None, "The checkpoint: .pth/.pt, .safetensors or .npz.")
flags.DEFINE_string("output", None, "Where to write: <path>.weights.h5 (weights only) or "
                    "<path>.keras (the whole model).")
FLAGS = flags.FLAGS


def convert(source, output):
    """Converts and writes; returns the lines to print."""
    if not output or not output.endswith((".weights.h5", ".keras")):
        raise ValueError(f"--output must end in .weights.h5 or .keras; got {output!r}.")
    state = torch_files.read_state_dict(source)
    layout = torch_convert.architecture(state, source)
    name, kwargs = layout.name, layout.kwargs
    model = torch_convert.from_torchvision(state)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    if output.endswith(".keras"):
        model.save(output)
    else:
        model.save_weights(output)
    settings = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    call = ", ".join([repr(name), "weights=None"] + ([settings] if settings else []))
    return [f"Found: torchvision {name}{f' ({settings})' if settings else ''}; {len(state)} "
            f"tensors, {model_stats(model).trainable_params:,} trainable parameters.",
            "Checked: every tensor used, every shape matched its Keras layer.",
            f"Wrote {output} (kd.get_model({call}) takes it)."]

def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    if not FLAGS.source:
        sys.exit("error: --source is required (a .pth, .safetensors or .npz checkpoint).")
    try:
        print("\n".join(convert(FLAGS.source, FLAGS.output)))
    except ValueError as e:  # CheckpointError is a ValueError
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
