"""ONNX export (float32, float16, static int8) and a small runner on ONNX Runtime.

The `.onnx` file takes what the SavedModel's `serving_default` takes: `images` float32
[batch, size, size, channels], preprocessed as the Keras model's input, -> `predictions`.

Conversion: Keras's own `model.export(path, format="onnx")`, which on the TensorFlow backend
traces the model with `training=False` and hands the function to tf2onnx, after patching
tf2onnx's constant folding for numpy 2 (tf2onnx 1.17, its latest release, still calls
`np.object`, gone in numpy 2): the patch is kept by Keras, so this is the better-kept path on
TF 2.21 than calling tf2onnx directly. A TensorFlow op that tf2onnx cannot convert stays in the
graph as an op ONNX does not define; `export_onnx` finds such nodes and names their Keras layer.

- float16: onnxconverter-common's `convert_float_to_float16` (weights and compute in float16,
  float32 `images` and `predictions` kept, so every format takes the same input).
- int8: onnxruntime's `quantize_static` (QDQ, int8 weights per channel, uint8 activations:
  the U8S8 pairing ONNX Runtime fuses into int8 kernels on x86, see `_quantize_int8`),
  calibrated on the same representative images, drawn the same way, as TFLite's int8.
"""

import contextlib
import logging
import os
import re
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from keras_deepnets.export import inputs
from keras_deepnets.export.source import (ExportError, image_size as resolve_image_size,
                                          input_channels, load_model)

ONNX_QUANTIZE_MODES = ("none", "float16", "int8")
SUFFIX = {"none": "float32", "float16": "float16", "int8": "int8"}
INPUT_NAME = "images"
OUTPUT_NAME = "predictions"


def check_quantize(quantize):
    if quantize not in ONNX_QUANTIZE_MODES:
        raise ExportError(f"Unknown ONNX quantization {quantize!r}; use one of "
                          f"{', '.join(ONNX_QUANTIZE_MODES)}.")
    return quantize


@contextlib.contextmanager
def _quiet_converter():
    """tf2onnx logs every op it cannot convert and Keras's patch warns about `np.object`; the
    unconvertible ops become one ExportError instead."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _layer_of(node_name, model):
    """The Keras layer whose name scope holds a TF node ("functional/odd_1/Op" -> "odd")."""
    names = {layer.name: layer for layer in model.layers}
    for part in node_name.split("/"):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in names:
                return names[candidate]
    return None


def _check_ops(proto, model):
    """Refuses a graph holding ops ONNX does not define (what tf2onnx leaves unconverted)."""
    import onnx

    for node in proto.graph.node:
        if not onnx.defs.has(node.op_type, node.domain or ""):
            layer = _layer_of(node.name, model)
            where = (f"layer {layer.name!r} ({type(layer).__name__})" if layer is not None
                     else f"node {node.name!r}")
            raise ExportError(f"Cannot export {where} to ONNX: its TensorFlow op "
                              f"{node.op_type} has no ONNX conversion in tf2onnx.")


def _rename_output(proto):
    """Names the graph's output `predictions`, as the SavedModel's signature does."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [OUTPUT_NAME if name == old else name for name in node.output]
    proto.graph.output[0].name = OUTPUT_NAME
    return proto


def _convert_float32(model, size, opset):
    """The float32 ONNX proto of `model` on [batch, size, size, channels] images."""
    import onnx

    spec = tf.TensorSpec([None, size, size, input_channels(model)], tf.float32, name=INPUT_NAME)
    with tempfile.TemporaryDirectory(prefix="onnx_export_") as tmp:
        path = os.path.join(tmp, "model.onnx")
        with _quiet_converter():
            try:
                model.export(path, format="onnx", input_signature=[spec], opset_version=opset,
                             verbose=False)
            except Exception as error:  # tf2onnx raises many types; one line, no traceback
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise ExportError(f"tf2onnx could not convert {model.name}: "
                                  f"{type(error).__name__}: {first}") from None
        proto = onnx.load(path)
    _check_ops(proto, model)
    return _rename_output(proto)


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over single-image batches."""

    def __init__(self, images):
        self._images = iter(images)

    def get_next(self):
        image = next(self._images, None)
        return None if image is None else {INPUT_NAME: image[None]}


def _quantize_int8(float_path, output_path, images):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="onnx_int8_") as tmp:
        prepared = os.path.join(tmp, "prepared.onnx")
        # Shape inference and graph fusions first (BN into Conv and the like), as onnxruntime's
        # quantization guide asks: the quantizer then sees the graph ORT will run.
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        # uint8 activations (U8S8), not int8: on x86 ONNX Runtime fuses DQ -> Conv -> Q into
        # QLinearConv only for uint8 activations (its Conv selector takes int8 on ARM only).
        # It turns an int8 Q -> DQ pair into uint8 itself (QDQS8ToU8Transformer), but only
        # where the Q feeds a single DQ: every activation that fans out (MaxPool's output, each
        # block's output, read by the next block's convs and its shortcut Add) stayed int8, so
        # the Convs reading it, and the Adds reading or writing it beside uint8, ran in float
        # between DequantizeLinear and QuantizeLinear. ResNet-50 (ORT 1.32): 20 of 53 Convs
        # and all 16 Adds in float, int8 no faster than float32; with uint8, 53 QLinearConv
        # and 16 QLinearAdd, about 3x float32's speed at batch 1.
        quantize_static(prepared, output_path, _Calibration(images),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        extra_options={"ActivationSymmetric": False,
                                       "WeightSymmetric": True})


def export_onnx(model, output_path, *, quantize="none", representative_data=None,
                num_calibration=200, image_size=None, preprocessing="auto", opset=None):
    """Converts a model to an `.onnx` file at `output_path`; returns the path.

    Args:
        model: a `keras.Model`, a `.keras` file or a registry name.
        quantize: "none" (float32), "float16" (float16 weights and compute, float32 input and
            output) or "int8" (static, needs `representative_data`).
        representative_data, num_calibration, image_size, preprocessing: as in `export_tflite`.
        opset: the ONNX opset; default tf2onnx's.
    """
    check_quantize(quantize)
    if quantize == "int8" and representative_data is None:
        raise ExportError("quantize='int8' needs representative_data: real images to calibrate "
                          "the int8 ranges (--representative_data, as the training scripts' "
                          "--data).")
    import onnx

    model = load_model(model)
    size = resolve_image_size(model, image_size)
    output_path = os.fspath(output_path)
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    proto = _convert_float32(model, size, opset)
    if quantize == "float16":
        from onnxconverter_common import float16

        proto = float16.convert_float_to_float16(proto, keep_io_types=True)
    if quantize != "int8":
        onnx.save(proto, output_path)
        return output_path
    images = inputs.take_images(
        inputs.calibration_data(representative_data, model, size, preprocessing,
                                num_calibration), num_calibration)
    with tempfile.TemporaryDirectory(prefix="onnx_export_") as tmp:
        float_path = os.path.join(tmp, "float32.onnx")
        onnx.save(proto, float_path)
        _quantize_int8(float_path, output_path, images)
    return output_path


class OnnxModel:
    """An `.onnx` file on ONNX Runtime's CPU provider, predicting from float images.

    Example:
        >>> runner = OnnxModel("saved_models/resnet20/resnet20_int8.onnx")
        >>> probabilities = runner.predict(images)          # doctest: +SKIP
    """

    def __init__(self, path, num_threads=None):
        import onnxruntime as ort

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ExportError(f"ONNX file {path} does not exist.")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        try:
            self.session = ort.InferenceSession(path, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # ORT raises its own pybind types for a bad file
            raise ExportError(f"{path} is not an ONNX model ONNX Runtime can load: "
                              f"{str(error).splitlines()[0]}") from None
        self.path = path
        self.size_bytes = os.path.getsize(path)
        spec = self.session.get_inputs()[0]
        self._input = spec.name
        self.input_shape = tuple(int(d) for d in spec.shape[1:])

    def run(self, images):
        """The output of one batch, as it is (no shape check, for timing loops)."""
        return self.session.run(None, {self._input: images})[0]

    def predict(self, images, batch_size=64):
        """Float outputs for float images [n, size, size, channels] (the Keras model's input)."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise ExportError(f"{os.path.basename(self.path)} takes images of shape [batch, "
                              f"{', '.join(map(str, self.input_shape))}]; got {images.shape}.")
        return np.concatenate([self.run(images[i:i + batch_size])
                               for i in range(0, len(images), batch_size)])
