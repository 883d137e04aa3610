"""The converters of PyTorch-side checkpoints (.pth, .pt, .safetensors, .npz), by registration.

Converting a torchvision/timm state_dict needs the checkpoint layouts of `torch_convert`, which
sits above the models (it builds models through the registry), so it registers its two
converters here when the package is imported (`register_converter`): the registry pattern again.
The model constructors (below `torch_convert`) convert through them.
"""

import os

# PyTorch-side checkpoint files a named constructor converts (`kd.ResNet18(weights="x.pth")`).
TORCH_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")
# "path": convert(path, expected=<registry name>, **constructor kwargs) -> model;
# "into": load(model, path, row) for a model built for the row. Both from torch_convert.
_CONVERTERS = {}


def register_converter(kind, convert):
    """Registers the torch-checkpoint converter `kind` ("path" or "into")."""
    _CONVERTERS[kind] = convert
    return convert


def converter(kind):
    """The registered converter `kind` ("path" or "into")."""
    if kind not in _CONVERTERS:
        raise ValueError("No converter for torch checkpoints is registered: import "
                         "keras_deepnets (its weights.torch_convert registers them).")
    return _CONVERTERS[kind]


def is_torch_checkpoint(weights):
    """Whether `weights` is a path to a PyTorch-side checkpoint (.pth, .pt, .safetensors,
    .npz) rather than None, a tag or a Keras weights file."""
    return (isinstance(weights, (str, os.PathLike))
            and os.fspath(weights).lower().endswith(TORCH_CHECKPOINT_SUFFIXES))


def convert_checkpoint(weights, expected, **kwargs):
    """The model a named constructor returns for a PyTorch-side checkpoint: the registered
    converter builds the architecture the file holds, which must be `expected`'s."""
    if not os.path.isfile(weights):
        raise ValueError(f"weights={os.fspath(weights)!r}: no such file (a torchvision / timm "
                         "checkpoint: .pth, .pt, .safetensors or .npz).")
    return converter("path")(weights, expected=expected, **kwargs)
