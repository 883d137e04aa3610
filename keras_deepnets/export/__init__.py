"""Export to a TF Serving SavedModel, to TFLite (float32, float16, dynamic-range and
full-integer int8) and to ONNX (float32, float16, static int8), with measured fidelity.

    >>> from keras_deepnets import export
    >>> export.export_saved_model(model, "saved_models/resnet20/1")           # doctest: +SKIP
    >>> export.export_tflite(model, "resnet20_int8.tflite", quantize="int8",
    ...                      representative_data="path/to/cifar10")            # doctest: +SKIP
    >>> export.export_onnx(model, "resnet20_float32.onnx")                     # doctest: +SKIP
    >>> export.export_model("resnet20", weights="w.weights.h5", formats=["saved_model", "tflite"],
    ...                     quantize=["none", "int8"], representative_data="cifar10")  # +SKIP

`scripts/export.py` is the command line; training ends with `export_keras_and_saved_model`: the
`.keras` file and the next SavedModel version, in `export_model`'s layout.
"""

from keras_deepnets.export.bundle import (FORMATS, export_keras_and_saved_model, export_model,
                                         next_version)
from keras_deepnets.export.onnx_export import ONNX_QUANTIZE_MODES, OnnxModel, export_onnx
from keras_deepnets.export.saved_model import (CLASSIFY_BYTES, SERVING_DEFAULT,
                                               export_saved_model, load_signature)
from keras_deepnets.export.source import ExportError, load_model
from keras_deepnets.export.tflite import QUANTIZE_MODES, LiteRTModel, export_tflite
from keras_deepnets.export.verify import (Fidelity, compare, format_table, tie_aware_agreement,
                                          verify)

__all__ = ["export_saved_model", "export_tflite", "export_onnx", "export_model",
           "export_keras_and_saved_model", "load_model", "load_signature",
           "LiteRTModel", "OnnxModel", "verify", "compare", "tie_aware_agreement",
           "format_table", "Fidelity", "ExportError",
           "QUANTIZE_MODES", "ONNX_QUANTIZE_MODES", "FORMATS", "SERVING_DEFAULT", "CLASSIFY_BYTES",
           "next_version"]
