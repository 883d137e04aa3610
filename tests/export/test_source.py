"""What can be exported, and the errors for what cannot."""

import pytest

import keras_deepnets
from keras_deepnets import export
from keras_deepnets.export import source


def test_registry_name_with_weights(tmp_path):
    model = keras_deepnets.get_model("resnet20")
    weights = tmp_path / "w.weights.h5"
    model.save_weights(weights)
    loaded = export.load_model("ResNet20", str(weights))
    assert loaded.name == "resnet20"
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert (a == b).all()


def test_keras_file(tmp_path):
    model = keras_deepnets.get_model("plain20")
    path = tmp_path / "mine.keras"
    model.save(path)
    assert export.load_model(str(path)).count_params() == model.count_params()
    assert source.model_name(str(path)) == "mine"
    assert source.model_name("ResNet56") == "resnet56"


@pytest.mark.parametrize("make, message", [
    (lambda d: str(d / "missing.keras"), "does not exist"),
    (lambda d: str(d / "sub" / "missing"), "does not exist"),
    (lambda d: str(d), "is a folder"),
    (lambda d: "resnet21", "neither an existing .keras file nor a registered model"),
    (lambda d: 42, "must be a keras.Model, a .keras file or a registry name"),
])
def test_bad_model(tmp_path, make, message):
    with pytest.raises(export.ExportError, match=message):
        export.load_model(make(tmp_path))


def test_not_a_model_file(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(export.ExportError, match="is not a Keras model"):
        export.load_model(str(text))
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as z:
        z.writestr("readme.txt", "no model here")
    with pytest.raises(export.ExportError, match="Could not load .* as a Keras model"):
        export.load_model(str(tmp_path / "empty.keras"))


def test_bad_weights(tmp_path):
    with pytest.raises(export.ExportError, match="Weights file .* does not exist"):
        export.load_model("resnet20", str(tmp_path / "w.weights.h5"))
    other = keras_deepnets.get_model("resnet32")
    other.save_weights(tmp_path / "r32.weights.h5")
    with pytest.raises(export.ExportError, match="do not fit"):
        export.load_model("resnet20", str(tmp_path / "r32.weights.h5"))


def test_image_size():
    model = keras_deepnets.get_model("resnet18", include_top=False, pooling="avg")
    with pytest.raises(export.ExportError, match="pass image_size="):
        source.image_size(model)
    assert source.image_size(model, 160) == 160
    with pytest.raises(export.ExportError, match="does not fit the model's input shape"):
        source.image_size(keras_deepnets.get_model("resnet20"), 64)


def test_export_model_rejects_bad_modes(tmp_path):
    with pytest.raises(export.ExportError, match="Unknown format 'pytorch'; use one of "
                       "saved_model, tflite, onnx"):
        export.export_model("resnet20", tmp_path, formats=["pytorch"])
    with pytest.raises(export.ExportError, match="Unknown quantization 'int4'"):
        export.export_model("resnet20", tmp_path, formats=["tflite"], quantize=["int4"])
    with pytest.raises(export.ExportError, match="needs representative data"):
        export.export_model("resnet20", tmp_path, formats=["tflite"], quantize=["int8"])


def test_next_version(tmp_path):
    assert export.next_version(tmp_path / "none") == 1
    (tmp_path / "1").mkdir()
    (tmp_path / "7").mkdir()
    (tmp_path / "model.tflite").write_bytes(b"")
    assert export.next_version(tmp_path) == 8
