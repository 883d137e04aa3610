"""What to export: a Keras model, a `.keras` file, or a registry name plus weights.

Every user mistake here (a missing path, a file that is not a model, an unknown name) becomes an
`ExportError` with one readable sentence, so that the command line never shows a TF traceback
for a typo.
"""

import os
import zipfile

import keras

# Importing anything under keras_deepnets runs the package's __init__ first, which registers its
# layers and models with Keras: `.keras` files load without a further import here.
from keras_deepnets.models.common import inference_model
from keras_deepnets.registry import get_model, model_info
from keras_deepnets.weights.loading import load_weights_file


class ExportError(ValueError):
    """A user-facing export problem: bad model path, mode, data or input."""


def _load_keras_file(path, weights):
    if not zipfile.is_zipfile(path):
        raise ExportError(f"{path} is not a Keras model: a .keras file is a zip archive written "
                          "by model.save().")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged or foreign archive
        raise ExportError(f"Could not load {path} as a Keras model: {error}") from None
    if weights is not None:
        load_weights_file(model, weights)
    return model


def load_model(model, weights=None):
    """A `keras.Model` from a model, a `.keras` path, or a registry name (built with `weights`:
    None, "imagenet" or a `.weights.h5` / `.keras` file); a training model with auxiliary
    classifiers becomes its inference model (`models.inference_model`)."""
    return inference_model(_load_model(model, weights))


def _load_model(model, weights):
    if isinstance(model, keras.Model):
        if weights is not None:
            load_weights_file(model, weights)
        return model
    if not isinstance(model, (str, os.PathLike)) or not str(model):
        raise ExportError(f"model must be a keras.Model, a .keras file or a registry name; got "
                          f"{model!r}.")
    path = os.fspath(model)
    if os.path.isdir(path):
        raise ExportError(f"{path} is a folder; --model takes a .keras file or a registry name "
                          "(a SavedModel folder can only be converted to TFLite).")
    if os.path.isfile(path):
        return _load_keras_file(path, weights)
    if path.endswith((".keras", ".h5")) or os.sep in path:
        raise ExportError(f"Model file {path} does not exist.")
    try:
        model_info(path)
    except ValueError as error:
        raise ExportError(f"{path!r} is neither an existing .keras file nor a registered model. "
                          f"{error}") from None
    if weights is not None and weights != "imagenet" and not os.path.isfile(weights):
        raise ExportError(f"Weights file {weights} does not exist.")
    try:
        return get_model(path, weights=weights)
    except (ValueError, FileNotFoundError) as error:
        raise ExportError(str(error)) from None


def model_name(model):
    """The name the default output folder uses: registry name, file stem or `model.name`."""
    if isinstance(model, keras.Model):
        return model.name
    base = os.path.basename(os.fspath(model).rstrip(os.sep))
    return base[: -len(".keras")] if base.endswith(".keras") else base.lower()


def input_channels(model):
    """The channels of the model's images: 3 (colour), or 1 (LeNet-5's greyscale digits)."""
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ExportError(f"Expected a model on [height, width, 3] (or greyscale [height, "
                          f"width, 1]) images; its input shape is {shape}.")
    return int(shape[-1])


def image_size(model, size=None):
    """The square input size to export with: `size`, else the model's static input size."""
    input_channels(model)  # checks the shape
    shape = tuple(model.input_shape[1:])
    height, width = shape[:2]
    if size is None:
        if height is None or width is None or height != width:
            raise ExportError(f"The model's input shape is {shape}; pass image_size= (the square "
                              "size to serve at).")
        return int(height)
    size = int(size)
    if height not in (None, size) or width not in (None, size):
        raise ExportError(f"image_size={size} does not fit the model's input shape {shape}.")
    return size
