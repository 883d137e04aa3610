"""LeNet-5 on the real digits through the training core (experiments/lenet.py, the function
behind scripts/train_lenet.py), and what the run exports: a greyscale SavedModel equal to Keras
and an int8 TFLite calibrated on the digits by name."""

import keras
import numpy as np
import pytest

from keras_deepnets import export
from keras_deepnets.data.digits import arrays
from keras_deepnets.experiments import lenet
from keras_deepnets.export.saved_model import predict_saved_model


def test_learns_the_real_digits_and_exports(tmp_path):
    record = lenet.train_digits("paper", output_dir=str(tmp_path))
    assert record["test_examples"] == 450 and record["train_examples"] == 1347
    assert record["test_accuracy"] >= 0.95  # 98.0% when measured (96.7% the modern variant)
    assert (tmp_path / "lenet_digits.json").exists()
    assert len(record["history"]["val_top1"]) == 10

    images, labels = arrays("test")
    model = keras.models.load_model(tmp_path / "export" / "lenet5.keras")
    ours = model.predict(images, verbose=0)
    assert np.mean(ours.argmax(-1) == labels) == pytest.approx(record["test_accuracy"])
    saved = tmp_path / "export" / "1"
    served = predict_saved_model(export.load_signature(str(saved)), images)
    np.testing.assert_allclose(served, ours, atol=1e-5)
    with pytest.raises(export.ExportError, match="no signature 'classify_image_bytes'"):
        export.load_signature(str(saved), export.CLASSIFY_BYTES)  # greyscale: no photo preset

    paths = export.export_model(model, tmp_path / "lite", formats=("tflite",), quantize=("int8",),
                                representative_data="digits", num_calibration=100)
    lite = export.LiteRTModel(paths["tflite_int8"]).predict(images)
    assert np.mean(lite.argmax(-1) == ours.argmax(-1)) >= 0.97  # int8 rounding only


def test_bad_arguments():
    with pytest.raises(ValueError, match="epochs must be a positive whole number"):
        lenet.train_digits(epochs=0)
    with pytest.raises(ValueError, match="variant must be one of paper, modern"):
        lenet.train_digits(variant="lenet1")
