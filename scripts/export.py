"""Exports a model to a TF Serving SavedModel, TFLite and/or ONNX, optionally printing a fidelity
table.

    python scripts/export.py --model=resnet20 --weights=w.weights.h5 --format=saved_model,tflite \
        --quantize=none,float16,dynamic,int8 --representative_data=/path/to/cifar10 --verify

--model: a .keras file or a registry name (with --weights). Output: --output_dir (default
saved_models/<name>/) gets the SavedModel in a numbered version folder (TF Serving's layout) and
<name>_<float32|float16|dynamic|int8>.tflite and <name>_<float32|float16|int8>.onnx (ONNX takes
none, float16 and int8). --representative_data, --verify_data and
--preprocessing_data take what the training scripts' --data takes (TFDS name, folder, TFRecord
pattern). --verify runs every export on real images (--verify_data, default the evaluation
split of the representative data) and prints max |difference| from the Keras model, top-1
agreement, file size and latency per image.
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import sys

from absl import app, flags

from keras_deepnets import export
from keras_deepnets.export import inputs
from keras_deepnets.preprocessing import model_preprocessing

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A .keras file or a registry name (see list_models()).")
flags.DEFINE_string("weights", None, "Weights for a registry name: a .weights.h5 file or "
                    "'imagenet'.")
flags.DEFINE_list("format", ["saved_model"], "saved_model, tflite and/or onnx "
                  "(comma-separated).")
flags.DEFINE_list("quantize", ["none"], "Modes of the TFLite and ONNX files: none (float32), "
                  "float16, dynamic (TFLite only), int8.")
flags.DEFINE_string("representative_data", None, "Calibration images for int8, as --data of "
                    "the training scripts (its training split is used).")
flags.DEFINE_integer("num_calibration", 200, "Images that calibrate int8.")
flags.DEFINE_boolean("int8_io", False, "int8 input and output tensors (default float32).")
flags.DEFINE_string("output_dir", None, "Default saved_models/<name>/.")
flags.DEFINE_integer("version", None, "SavedModel version folder; default the next free one.")
flags.DEFINE_string("preprocessing", "auto", "Preprocessing of the bytes signature and of the "
                    "data read here: auto, imagenet_eval or cifar_eval.")
flags.DEFINE_string("preprocessing_data", None, "Training data for the CIFAR mean image and the "
                    "class names; default --representative_data, then --verify_data.")
flags.DEFINE_integer("image_size", None, "Square input size; default the model's.")
flags.DEFINE_integer("top_k", 5, "Classes returned by the bytes signature.")
flags.DEFINE_boolean("verify", False, "Print the fidelity table of every export.")
flags.DEFINE_string("verify_data", None, "Images for --verify; default the evaluation split of "
                    "--representative_data.")
flags.DEFINE_string("verify_split", "test", "Split of --verify_data (ignored for a folder that "
                    "is a split itself).")
flags.DEFINE_integer("verify_examples", 1000, "Images --verify compares on.")
flags.DEFINE_integer("latency_images", 50, "Single-image calls --verify times.")
flags.mark_flag_as_required("model")


def _preprocessing_data():
    return FLAGS.preprocessing_data or FLAGS.representative_data or FLAGS.verify_data


def _fidelity_table(model, paths):
    data = FLAGS.verify_data or FLAGS.representative_data
    if data is None:
        raise export.ExportError("--verify needs real images: --verify_data (or "
                                 "--representative_data).")
    size = export.source.image_size(model, FLAGS.image_size)
    preset = inputs.eval_preset(FLAGS.preprocessing, size, data=_preprocessing_data(),
                                mode=model_preprocessing(model),
                                channels=export.source.input_channels(model),
                                pretrained=inputs.is_pretrained(model))
    images = inputs.take_images(
        inputs.load_images(data, preset, split=FLAGS.verify_split,
                           max_examples=FLAGS.verify_examples), FLAGS.verify_examples)
    rows = export.verify(model, paths, images, latency_images=FLAGS.latency_images)
    return export.format_table(rows, title=f"Fidelity of {model.name} on {len(images)} images "
                                           f"of {data} (latency: median of single-image calls)")


def run():
    export.bundle.check_request(FLAGS.format, FLAGS.quantize, FLAGS.representative_data)
    model = export.load_model(FLAGS.model, FLAGS.weights)
    paths = export.export_model(
        model, FLAGS.output_dir, name=export.source.model_name(FLAGS.model),
        formats=FLAGS.format, quantize=FLAGS.quantize,
        representative_data=FLAGS.representative_data, preprocessing=FLAGS.preprocessing,
        preprocessing_data=_preprocessing_data(),
        image_size=FLAGS.image_size, top_k=FLAGS.top_k, version=FLAGS.version,
        int8_io=FLAGS.int8_io, num_calibration=FLAGS.num_calibration)
    for label, path in paths.items():
        print(f"{label}: {path}")
    if FLAGS.verify:
        print(_fidelity_table(model, paths))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        run()
    except (export.ExportError, FileNotFoundError) as error:
        # A user's mistake: one line, no traceback.
        print(f"export.py: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
