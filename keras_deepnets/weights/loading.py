"""Weights into built models: pretrained rows of the table (`load_row`), `.weights.h5` files,
and keras.applications' files.

Low in the layering (it imports the table, the store, the Hub rows and the registry): the model
constructors load their `weights` argument through it. Converting a torchvision/timm state_dict
needs the checkpoint layouts of `torch_convert`, which sits above the models (it builds models
through the registry), so it registers its two converters here when the package is imported
(`register_converter`): the registry pattern again.

keras.applications' ResNets give every convolution a bias; ours have none (the BN after it has a
shift of its own, as in the paper's Caffe models and torchvision). A conv bias `b` followed by BN
is the same function as no bias and a BN whose moving mean is `mean - b`, so we fold it there.
"""

import os
import sys
import warnings

import keras
import numpy as np

from keras_deepnets import registry
from keras_deepnets.weights import hub, store, table

# PyTorch-side checkpoint files a named constructor converts (`kd.ResNet18(weights="x.pth")`).
TORCH_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")
# "path": convert(path, expected=<registry name>, **constructor kwargs) -> model;
# "into": load(model, path, row) for a model built for the row. Both from torch_convert.
_CONVERTERS = {}


def register_converter(kind, convert):
    """Registers the torch-checkpoint converter `kind` ("path" or "into")."""
    _CONVERTERS[kind] = convert
    return convert


def _converter(kind):
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
    return _converter("path")(weights, expected=expected, **kwargs)


def named_row(models, weights):
    """The row a tag asks for (`table.resolve`; a Hub tag's from its config.json), for the
    first of `models` that has it; None for None or a path."""
    if table.is_hub_tag(weights):
        row = hub.row_for(weights)
        if row.model not in models:
            raise table.WeightsError(
                f"weights={weights!r} holds timm's {row.architecture} ({row.model}), which the "
                f"{models[0]} constructor cannot load; use kd.get_model({row.model!r}, "
                f"weights={weights!r}).")
        return row
    return table.resolve(models, weights)


def load_row(model, row, verbose=True):
    """Loads the weights of `row` into `model` (built for them): from the converted cache, else
    fetched (downloaded, verified), converted and cached, so the next call neither downloads
    nor converts. Records the row's preprocessing on the model and says what was loaded."""
    path = store.converted_path(row, model)
    with store.lock(path):
        cached = store.load_converted(model, path)
        if not cached:
            include_top = model.get_config().get("include_top", True)
            source = _fetch(row, include_top, verbose)
            _FORMATS[row.format](model, source, row)
            store.save_converted(model, path, row)
    if hasattr(model, "preprocessing"):
        model.preprocessing = row.preprocessing
    if hasattr(model, "evaluation") and row.resize and row.crop:
        model.evaluation = {"resize": row.resize, "crop": row.crop,
                            "interpolation": row.interpolation or "bilinear"}
    if verbose:
        print(f"keras_deepnets: loaded {row.describe()} "
              f"({'cached' if cached else 'converted'}: {path})", file=sys.stderr)
    return path


def _fetch(row, include_top, verbose, keras_cache=True):
    """The row's file: the Hub's cache, or our store (and, with `keras_cache`, keras.applications'
    own cache where it holds the file already: a user of keras.applications)."""
    if table.is_hub_tag(row.tag):
        return hub.fetch(row)
    use_keras = keras_cache and row.publisher == table.KERAS_APPLICATIONS
    return store.fetch(row, include_top, verbose=verbose,
                       elsewhere=(store.keras_cache_dir(),) if use_keras else ())


def _load_keras_applications(model, path, row):
    """keras.applications' own model reads its file; its weights are copied over."""
    include_top = model.get_config()["include_top"]
    constructor = getattr(keras.applications, row.architecture)
    reference = constructor(include_top=include_top, weights=path,
                            input_shape=(224, 224, 3) if include_top else (None, None, 3))
    copy_keras_applications_weights(reference, model)
    del reference


def _load_torch(model, path, row):
    _converter("into")(model, path, row)


def _load_keras_weights(model, path, row):
    del row
    load_weights_file(model, path)


_FORMATS = {table.KERAS_APPLICATIONS_H5: _load_keras_applications,
            table.TORCH_STATE_DICT: _load_torch, table.KERAS_WEIGHTS: _load_keras_weights}


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


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and np.isclose(a, b)
    return a == b


def build_kwargs(row, kwargs):
    """The constructor arguments that build `row.model` for the row's weights: the caller's,
    checked against what the weights need (the registry's defaults for the name, such as
    variant="torchvision", and the row's, such as stride_in_1x1=False)."""
    needed = {**registry.model_info(row.model).kwargs, **dict(row.model_kwargs)}
    for key, value in needed.items():
        if kwargs.get(key) is not None and not _same(kwargs[key], value):
            raise table.WeightsError(
                f"weights={row.tag!r} ({row.describe()}) needs {key}={value!r}; got "
                f"{key}={kwargs[key]!r}. Leave {key} unset to load them, or use weights=None.")
    return {**kwargs, **needed, "weights": None}


def pretrained_model(row, **kwargs):
    """`row.model` built for the row's weights (with the caller's other arguments), loaded."""
    model = registry.get_model(row.model, **build_kwargs(row, kwargs))
    load_row(model, row)
    return model


def transfer(source, **changes):
    """A model like `source` with `changes` to its config (e.g. `classes=10` for fine-tuning),
    holding `source`'s weights in every layer whose shapes agree: all but the classifiers
    ("predictions", GoogLeNet's "aux1_predictions", ...), which start fresh."""
    target = type(source).from_config({**source.get_config(), **changes})
    for layer in target.layers:
        if not layer.weights:
            continue
        weights = source.get_layer(layer.name).get_weights()
        if [np.shape(w) for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
        elif not layer.name.endswith("predictions"):
            raise ValueError(f"{changes} changes the shapes of {layer.name!r}, not only the "
                             "classifier's: these weights cannot be carried over.")
    return target


def prefetch(models, tags=("imagenet",), convert=False, verbose=True):
    """Downloads (and verifies) the files of `tags` for `models` into the cache, for a machine
    without internet to use (copy the cache folder, or serve its downloads/ as a mirror).
    keras.applications' rows fetch both files (with and without the classifier); `convert`
    also builds each model with its classifier and caches the converted weights. Returns
    [(model, tag, path)]; a tag a model lacks is skipped (it says so) unless it is the only
    one asked for."""
    done = []
    for model in models:
        name = registry.model_info(model).name
        for tag in tags:
            try:
                row = named_row((name,), tag)
            except table.WeightsError as error:
                if len(tags) == 1:
                    raise
                print(f"skipped: {error}", file=sys.stderr)
                continue
            for include_top in ((True, False) if row.file_notop else (True,)):
                # into our own downloads/ (not keras' cache): the folder to copy or mirror
                done.append((name, row.tag, _fetch(row, include_top, verbose, False)))
            if convert:
                registry.get_model(name, weights=tag)
    return done
