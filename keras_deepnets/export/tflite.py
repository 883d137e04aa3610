"""TFLite conversion (float32, float16, dynamic-range int8, full-integer int8) through a SavedModel,
and a small runner on the LiteRT interpreter (`ai_edge_litert`; `tf.lite.Interpreter` is
deprecated in TF 2.21).

Full-integer int8: every op runs in int8, calibrated on real images. By default the model keeps
float32 input and output (a quantize op in front, a dequantize op behind): clients and the
verification code feed the same preprocessed float images to every format, and the two extra ops
cost nothing next to the convolutions. `int8_io=True` makes the input and output int8 too, for
integer-only accelerators; `LiteRTModel` then applies the tensors' scale and zero point itself.
"""

import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from keras_deepnets.export import inputs, saved_model
from keras_deepnets.export.source import ExportError, load_model

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")
# The file name suffix of each mode; "none" is float32.
SUFFIX = {"none": "float32", "float16": "float16", "dynamic": "dynamic", "int8": "int8"}


def check_quantize(quantize):
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"Unknown quantization {quantize!r}; use one of "
                          f"{', '.join(QUANTIZE_MODES)}.")
    return quantize


def _representative(images, count):
    """The converter's calibration callable: `count` single-image batches."""
    calibration = inputs.take_images(images, count)

    def generate():
        for image in calibration:
            yield [image[None]]

    return generate


def _converter(saved_model_dir, quantize, representative_data, num_calibration, int8_io):
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[saved_model.SERVING_DEFAULT])
    if quantize == "none":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = _representative(representative_data, num_calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter  # "dynamic": Optimize.DEFAULT without calibration data quantizes weights


def export_tflite(model_or_saved_model, output_path, *, quantize="none", representative_data=None,
                  num_calibration=200, image_size=None, int8_io=False, preprocessing="auto"):
    """Converts a model to a `.tflite` file at `output_path`; returns the path.

    Args:
        model_or_saved_model: a `keras.Model`, a `.keras` file, a registry name, or a SavedModel
            folder written by `export_saved_model` (its `serving_default` is converted).
        quantize: "none" (float32), "float16" (float16 weights), "dynamic" (int8 weights, float
            activations) or "int8" (full integer, needs `representative_data`).
        representative_data: calibration images for "int8": preprocessed float images (an array,
            a `tf.data.Dataset` of images or `(images, labels)`, or an iterable of batches), or
            a dataset spec as the training scripts' `--data` (TFDS name, folder or TFRecord
            pattern), whose training split is read through `preprocessing`.
        num_calibration: how many images calibrate the int8 ranges.
        image_size: the square input size; default the model's.
        int8_io: with "int8", int8 input and output instead of float32 (see the module doc).
        preprocessing: for a dataset spec: "auto", a preset name or a `data.Preset` (see
            `inputs.eval_preset`).
    """
    check_quantize(quantize)
    if quantize == "int8" and representative_data is None:
        raise ExportError("quantize='int8' needs representative_data: real images to calibrate "
                          "the int8 ranges (--representative_data, as the training scripts' "
                          "--data).")
    if int8_io and quantize != "int8":
        raise ExportError("int8_io applies to quantize='int8' only.")
    with tempfile.TemporaryDirectory(prefix="tflite_export_") as tmp:
        source = os.fspath(model_or_saved_model) if isinstance(
            model_or_saved_model, (str, os.PathLike)) else None
        if source is not None and os.path.isdir(source):
            function = saved_model.load_signature(source)
            size = saved_model.signature_image_size(function)
            if image_size not in (None, size):
                raise ExportError(f"image_size={image_size} but {source} takes {size} px images.")
            saved_model_dir, model = source, None
        else:
            model = load_model(model_or_saved_model)
            saved_model_dir = saved_model.export_saved_model(
                model, os.path.join(tmp, "saved_model"), image_size=image_size,
                preprocessing=None)
            size = saved_model.signature_image_size(saved_model.load_signature(saved_model_dir))
        representative_data = inputs.calibration_data(representative_data, model, size,
                                                      preprocessing, num_calibration)
        converter = _converter(saved_model_dir, quantize, representative_data, num_calibration,
                               int8_io)
        content = converter.convert()
    output_path = os.fspath(output_path)
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, "wb") as f:
        f.write(content)
    return output_path


class LiteRTModel:
    """A `.tflite` file on the LiteRT interpreter, predicting float outputs from float images
    whatever its input/output types.

    Example:
        >>> runner = LiteRTModel("saved_models/resnet20/resnet20_int8.tflite")
        >>> probabilities = runner.predict(images)          # doctest: +SKIP
    """

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ExportError(f"TFLite file {path} does not exist.")
        try:
            self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
        except ValueError as error:
            raise ExportError(f"{path} is not a TFLite model: {error}") from None
        self.path = path
        self.size_bytes = os.path.getsize(path)
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])
        self._batch = None

    def _resize(self, batch):
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self._input["index"], [batch, *self.input_shape])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def _run(self, images):
        self._resize(len(images))
        if self._input["dtype"] != np.float32:
            scale, zero = self._input["quantization"]
            info = np.iinfo(self._input["dtype"])
            images = np.clip(np.round(images / scale + zero), info.min, info.max)
        self.interpreter.set_tensor(self._input["index"], images.astype(self._input["dtype"]))
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output["index"])
        if out.dtype != np.float32:
            scale, zero = self._output["quantization"]
            out = (out.astype(np.float32) - zero) * scale
        return out

    def predict(self, images, batch_size=64):
        """Float outputs for float images [n, size, size, 3] (the Keras model's input)."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise ExportError(f"{os.path.basename(self.path)} takes images of shape [batch, "
                              f"{', '.join(map(str, self.input_shape))}]; got {images.shape}.")
        return np.concatenate([self._run(images[i:i + batch_size])
                               for i in range(0, len(images), batch_size)])

    def latency_ms(self, images, warmup=3):
        """Median milliseconds per single-image invocation over `images`."""
        return median_latency_ms(lambda x: self._run(x), images, warmup)


def median_latency_ms(run, images, warmup=3):
    """Median wall time in ms of `run(image[None])` over `images` (after `warmup` calls)."""
    images = np.asarray(images, np.float32)
    for image in images[:warmup]:
        run(image[None])
    times = []
    for image in images:
        start = time.perf_counter()
        run(image[None])
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))
