"""Weight files into built models: `.weights.h5` files and the pretrained files of `pretrained`.

Low in the layering (it imports only `pretrained`): the model constructors load their `weights`
argument through it. Converting a keras.applications model into ours, which builds one of our
models, sits above the models in `keras_deepnets.weights`.

keras.applications' ResNets give every convolution a bias; ours have none (the BN after it has a
shift of its own, as in the paper's Caffe models and torchvision). A conv bias `b` followed by BN
is the same function as no bias and a BN whose moving mean is `mean - b`, so we fold it there.
"""

import os
import warnings

import keras
import numpy as np

from keras_deepnets import pretrained


# PyTorch-side checkpoint files a named constructor converts (`kd.ResNet18(weights="x.pth")`).
TORCH_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")
# The converter of those files: `torch_convert` registers it when the package is imported (it
# sits above the models, which therefore cannot import it; the registry pattern again).
_CHECKPOINT_CONVERTERS = []


def register_checkpoint_converter(convert):
    """Registers `convert(path, expected=<registry name>, **constructor kwargs) -> model`."""
    _CHECKPOINT_CONVERTERS[:] = [convert]
    return convert


def is_torch_checkpoint(weights):
    """Whether `weights` is a path to a PyTorch-side checkpoint (.pth, .pt, .safetensors,
    .npz) rather than None, "imagenet" or a Keras weights file."""
    return (isinstance(weights, (str, os.PathLike))
            and os.fspath(weights).lower().endswith(TORCH_CHECKPOINT_SUFFIXES))


def convert_checkpoint(weights, expected, **kwargs):
    """The model a named constructor returns for a PyTorch-side checkpoint: the registered
    converter builds the architecture the file holds, which must be `expected`'s."""
    if not _CHECKPOINT_CONVERTERS:
        raise ValueError(f"weights={os.fspath(weights)!r} is a PyTorch-side checkpoint, and no "
                         "converter is registered: import keras_deepnets (its torch_convert "
                         "registers one).")
    if not os.path.isfile(weights):
        raise ValueError(f"weights={os.fspath(weights)!r}: no such file (a torchvision / timm "
                         "checkpoint: .pth, .pt, .safetensors or .npz).")
    return _CHECKPOINT_CONVERTERS[0](weights, expected=expected, **kwargs)


def keras_cache_dir():
    """Where keras.utils.get_file keeps downloaded models (`$KERAS_HOME/models`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def load_pretrained(model, row):
    """Loads the pretrained weights `row` (a `pretrained.Pretrained`) into `model`, built with
    the row's architecture and the same include_top and classes."""
    loaders = {pretrained.KERAS_APPLICATIONS: _load_keras_applications}
    if row.source not in loaders:
        raise ValueError(f"No loader for weights from {row.source!r}; loaders exist for "
                         f"{sorted(loaders)}.")
    loaders[row.source](model, row)


def _load_keras_applications(model, row):
    """keras.applications downloads and caches the file; its model's weights are copied over."""
    include_top = model.get_config()["include_top"]
    constructor = getattr(keras.applications, row.architecture)
    try:
        reference = constructor(include_top=include_top, weights=row.weights,
                                input_shape=(224, 224, 3) if include_top else (None, None, 3))
    except Exception as error:  # keras raises a bare Exception when the download fails
        fname = row.file_name(include_top)
        raise FileNotFoundError(
            f"{row.source}'s weights={row.weights!r} for {row.model} are not available: {error}\n"
            f"Offline, download {row.url + fname} elsewhere and put it at "
            f"{os.path.join(keras_cache_dir(), fname)} (keras.applications' cache); "
            "or pass weights=None or a .weights.h5 path."
        ) from None
    copy_keras_applications_weights(reference, model)
    del reference


def load_weights_file(model, path):
    """`model.load_weights(path)` with an error that says what did not fit."""
    path = os.fspath(path)
    if is_torch_checkpoint(path):
        raise ValueError(f"weights={path!r} is a PyTorch-side checkpoint: load it through a named "
                         "constructor (kd.ResNet50(weights=...), kd.get_model('vgg16_bn', "
                         "weights=...)) or kd.from_torchvision(...), which convert it.")
    if not path.endswith((".weights.h5", ".keras")):
        raise ValueError(f"weights={path!r}: expected a '.weights.h5' file saved by "
                         "model.save_weights(), or a '.keras' file.")
    try:
        with warnings.catch_warnings():
            # Keras warns per unmatched container before it raises; our error says it once.
            warnings.simplefilter("ignore", UserWarning)
            model.load_weights(path)
    except Exception as error:
        detail = " ".join(str(error).split("\n\n")[:2]).strip()
        raise ValueError(
            f"The weights in {path!r} do not fit {model.name!r} "
            f"({len(model.weights)} weight tensors): {detail}. A weights file must come from "
            "save_weights() of the same architecture (same depth, shortcut option, classes "
            "and include_top)."
        ) from None


def _bn_name(conv_name):
    return conv_name[: -len("_conv")] + "_bn"


def copy_keras_applications_weights(source, target):
    """Copies a keras.applications VGG/ResNet's weights into our model of the same architecture,
    layer by layer by name, folding conv biases into the following BN's moving mean."""
    folded = {}
    copied = set()
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(f"{source.name} has no layer {layer.name!r}: the two models differ "
                             "in architecture.") from None
        values = src.get_weights()
        if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias and src.use_bias:
            kernel, bias = values
            folded[_bn_name(layer.name)] = bias
            values = [kernel]
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name in folded:
            gamma, beta, mean, var = values
            values = [gamma, beta, mean - folded.pop(layer.name), var]
        expected = [tuple(w.shape) for w in layer.weights]
        if [tuple(np.shape(v)) for v in values] != expected:
            raise ValueError(f"Layer {layer.name!r}: shapes {[np.shape(v) for v in values]} from "
                             f"{source.name} do not fit {expected}.")
        layer.set_weights(values)
        copied.add(layer.name)
    missed = [src.name for src in source.layers if src.weights and src.name not in copied]
    if missed or folded:
        raise ValueError(f"Weights of {source.name} left over: {missed or sorted(folded)}; the "
                         "two models differ in architecture.")
