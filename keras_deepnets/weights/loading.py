"""Weights into built models: pretrained rows of the table (`load_row`, fetched, converted and
cached) and `.weights.h5` files (`load_weights_file`).

Low in the layering (it imports the table, the store, the Hub rows, the converters' registry
and the registry): the model constructors load their `weights` argument through it. Row files
are loaded by their format: keras.applications' (`applications_copy`), PyTorch-side
checkpoints (the registered converters, `converters`) and our own `.weights.h5`.
"""

import os
import sys
import warnings

import keras
import numpy as np

from keras_deepnets import registry
from keras_deepnets.weights import applications_copy, converters, hub, store, table


def load_row(model, row, verbose=True):
    """Loads the weights of `row` into `model` (built for them): from the converted cache, else
    fetched (downloaded, verified), converted and cached, so the next call neither downloads
    nor converts. Records the row's preprocessing on the model and says what was loaded."""
    path = store.converted_path(row, model)
    with store.lock(path):
        cached = store.load_converted(model, path)
        if not cached:
            include_top = model.get_config().get("include_top", True)
            source = fetch_file(row, include_top, verbose)
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


def fetch_file(row, include_top, verbose, keras_cache=True):
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
    applications_copy.copy_keras_applications_weights(reference, model)
    del reference


def _load_torch(model, path, row):
    converters.converter("into")(model, path, row)


def _load_keras_weights(model, path, row):
    del row
    load_weights_file(model, path)


_FORMATS = {table.KERAS_APPLICATIONS_H5: _load_keras_applications,
            table.TORCH_STATE_DICT: _load_torch, table.KERAS_WEIGHTS: _load_keras_weights}


def load_weights_file(model, path):
    """`model.load_weights(path)` with an error that says what did not fit."""
    path = os.fspath(path)
    if converters.is_torch_checkpoint(path):
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
