"""get_config/from_config round-trips and .keras files give identical outputs."""

import numpy as np
import pytest

import keras
import keras_deepnets as kd


def _perturb_bn(model):
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])


@pytest.mark.parametrize("build", [
    lambda: kd.ResNet20(),
    lambda: kd.Plain20(),
    lambda: kd.ResNet("bottleneck", (1, 2), (8, 16), stem="cifar", shortcut="C",
                      stride_in_1x1=False, classes=3),
    lambda: kd.ResNet18(include_top=False, pooling="max", input_shape=(64, 64, 3)),
    lambda: kd.VGG11_LRN(input_shape=(64, 64, 3), classes=5),
    lambda: kd.VGG([[8], [(16, 1), 16]], batch_norm=True, input_shape=(32, 32, 3), classes=2),
])
def test_keras_file_round_trip(build, tmp_path):
    model = build()
    _perturb_bn(model)
    config = model.get_config()
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == config
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    x = np.random.default_rng(1).normal(size=(2, *model.input_shape[1:])).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_config_keeps_constructor_arguments():
    config = kd.ResNet56(shortcut="b").get_config()
    assert config["stage_depths"] == (9, 9, 9) and config["shortcut"] == "B"
    assert config["stem"] == "cifar" and config["classes"] == 10


def test_weights_file_round_trip_and_mismatch(tmp_path):
    path = str(tmp_path / "r20.weights.h5")
    source = kd.ResNet20()
    _perturb_bn(source)
    source.save_weights(path)
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 3)).astype("float32")
    loaded = kd.ResNet20(weights=path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), source.predict(x, verbose=0))
    with pytest.raises(ValueError, match="do not fit 'resnet32'"):
        kd.ResNet32(weights=path)
    with pytest.raises(ValueError, match="do not fit 'resnet20'"):
        kd.ResNet20(weights=path, classes=5)
    with pytest.raises(ValueError, match=".weights.h5"):
        wrong = tmp_path / "weights.bin"
        wrong.write_bytes(b"x")
        kd.ResNet20(weights=str(wrong))
