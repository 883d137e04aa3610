"""`export_model`: everything `scripts/export.py` and the training scripts write, in one call.

Layout under `output_dir` (default `saved_models/<name>/`), as TF Serving expects it:

    saved_models/resnet20/1/                  SavedModel (version 1; the next export is 2)
    saved_models/resnet20/resnet20.keras      the Keras model (training's end-of-run export)
    saved_models/resnet20/resnet20_int8.tflite
    saved_models/resnet20/resnet20_float32.tflite ...
    saved_models/resnet20/resnet20_float32.onnx, resnet20_int8.onnx ...

TF Serving loads the highest numeric sub-folder and ignores the files beside it. Training writes
the same layout (`export_keras_and_saved_model`): each run adds the next version, so a server
watching the folder picks up a new model and a rollback is a folder away.
"""

import os
import tempfile

from keras_deepnets import data as data_lib
from keras_deepnets.export import inputs, onnx_export, saved_model, tflite
from keras_deepnets.export.source import (ExportError, image_size as resolve_image_size,
                                          input_channels, load_model, model_name)
from keras_deepnets.models.common import require_tensorflow_backend
from keras_deepnets.preprocessing import model_preprocessing

FORMATS = ("saved_model", "tflite", "onnx")


def next_version(base_dir):
    """1 + the highest numeric sub-folder of `base_dir` (1 when there is none)."""
    if not os.path.isdir(base_dir):
        return 1
    versions = [int(n) for n in os.listdir(base_dir) if n.isdigit()]
    return max(versions, default=0) + 1


def class_names_from(data, classes):
    """The class names of a dataset spec when it has `classes` of them, else None."""
    try:
        names = data_lib.describe(data, "train" if inputs.sources.has_splits(data) else None)
    except (ValueError, FileNotFoundError):
        return None
    return list(names.class_names) if names.num_classes == classes else None


def check_request(formats, quantize, representative_data):
    """Validated (formats, quantize) lists: checked before any model is loaded, so that a typo
    costs no time."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    quantize = [quantize] if isinstance(quantize, str) else list(quantize)
    for fmt in formats:
        if fmt not in FORMATS:
            raise ExportError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    for mode in quantize:
        tflite.check_quantize(mode)
        if "onnx" in formats and mode not in onnx_export.ONNX_QUANTIZE_MODES:
            raise ExportError(f"ONNX export has no {mode!r} quantization; it takes "
                              f"{', '.join(onnx_export.ONNX_QUANTIZE_MODES)}.")
    if ("int8" in quantize and {"tflite", "onnx"} & set(formats)
            and representative_data is None):
        raise ExportError("int8 quantization needs representative data (--representative_data).")
    return formats, quantize


def export_model(model, output_dir=None, *, weights=None, formats=("saved_model",),
                 quantize=("none",), representative_data=None, preprocessing="auto",
                 preprocessing_data=None, class_names=None, image_size=None, top_k=5,
                 version=None, int8_io=False, num_calibration=200, name=None):
    """Exports `model` (a `keras.Model`, `.keras` file or registry name with `weights`) to the
    requested `formats` ("saved_model", "tflite", "onnx") in the `quantize` modes of the files
    (TFLite: none, float16, dynamic, int8; ONNX: none, float16, int8); returns {label: path},
    labels "saved_model", "tflite_<float32|float16|dynamic|int8>" and
    "onnx_<float32|float16|int8>".

    `preprocessing_data` (default `representative_data`): the training data whose mean image
    the CIFAR preprocessing subtracts, and whose class names the bytes signature returns.
    `name` (default the registry name, file stem or `model.name`) names the default folder and
    the `.tflite` and `.onnx` files. Other arguments as in `export_saved_model`, `export_tflite`
    and `export_onnx` (the `.onnx` file takes what `serving_default` takes).
    """
    require_tensorflow_backend("Export (SavedModel, TFLite, ONNX)", ExportError)
    formats, quantize = check_request(formats, quantize, representative_data)
    name = name or model_name(model)
    model = load_model(model, weights)
    size = resolve_image_size(model, image_size)
    data = preprocessing_data if preprocessing_data is not None else representative_data
    data = data if isinstance(data, (str, os.PathLike)) else None  # a spec, not arrays
    mode = model_preprocessing(model)  # what the model's weights expect
    channels = input_channels(model)
    pretrained = inputs.is_pretrained(model)
    preset = None if preprocessing is None else inputs.eval_preset(preprocessing, size, data,
                                                                    mode, channels, pretrained)
    if class_names is None and data is not None:
        class_names = class_names_from(data, int(model.output_shape[-1]))
    output_dir = os.fspath(output_dir or os.path.join("saved_models", name))
    os.makedirs(output_dir, exist_ok=True)
    if ("int8" in quantize and {"tflite", "onnx"} & set(formats)
            and isinstance(representative_data, (str, os.PathLike))):
        calibration = preset or inputs.eval_preset("auto", size, data, mode, channels, pretrained)
        representative_data = inputs.load_images(
            representative_data, calibration, split="train", max_examples=num_calibration,
            batch_size=num_calibration)
    files = dict(name=name, quantize=quantize, representative_data=representative_data,
                 num_calibration=num_calibration)
    paths = {}
    if {"saved_model", "tflite"} & set(formats):
        with tempfile.TemporaryDirectory(prefix="export_") as tmp:
            if "saved_model" in formats:
                version = next_version(output_dir) if version is None else int(version)
                target = os.path.join(output_dir, str(version))
            else:
                target = os.path.join(tmp, "saved_model")
            saved = saved_model.export_saved_model(
                model, target, image_size=size, preprocessing=preset, class_names=class_names,
                top_k=top_k)
            if "saved_model" in formats:
                paths["saved_model"] = saved
            if "tflite" in formats:
                paths.update(_export_tflite(saved, output_dir, int8_io=int8_io, **files))
    if "onnx" in formats:
        paths.update(_export_onnx(model, output_dir, size, **files))
    return paths


def _export_tflite(saved, output_dir, *, name, quantize, representative_data, num_calibration,
                   int8_io):
    paths = {}
    for mode in quantize:
        path = os.path.join(output_dir, f"{name}_{tflite.SUFFIX[mode]}.tflite")
        paths[f"tflite_{tflite.SUFFIX[mode]}"] = tflite.export_tflite(
            saved, path, quantize=mode, representative_data=representative_data,
            num_calibration=num_calibration, int8_io=int8_io and mode == "int8")
    return paths


def _export_onnx(model, output_dir, size, *, name, quantize, representative_data,
                 num_calibration):
    paths = {}
    for mode in quantize:
        path = os.path.join(output_dir, f"{name}_{onnx_export.SUFFIX[mode]}.onnx")
        paths[f"onnx_{onnx_export.SUFFIX[mode]}"] = onnx_export.export_onnx(
            model, path, quantize=mode, representative_data=representative_data,
            num_calibration=num_calibration, image_size=size)
    return paths


def export_keras_and_saved_model(model, export_dir, **options):
    """What training writes at the end of a run: `<export_dir>/<model.name>.keras` (replaced by
    each run) and the next SavedModel version `<export_dir>/<n>/` through `export_model`, so that
    training and `scripts/export.py` share one layout that TF Serving loads. `options` go to
    `export_model` (e.g. `preprocessing`, `class_names`). Returns {"keras": path,
    "saved_model": path}."""
    model = load_model(model)
    export_dir = os.fspath(export_dir)
    os.makedirs(export_dir, exist_ok=True)
    keras_path = os.path.join(export_dir, f"{model.name}.keras")
    model.save(keras_path)
    paths = export_model(model, export_dir, formats=("saved_model",), **options)
    return {"keras": keras_path, "saved_model": paths["saved_model"]}
