"""LeNet-5 (models/lenet.py): the paper's parameter counts layer by layer, Table I's partial
connections, the trainable subsampling, both variants, serialisation, and learning real digits."""

import keras
import numpy as np
import pytest

import keras_deepnets as kd
from keras_deepnets.models import specs

# LeCun et al. 1998, section II.B: trainable parameters of each layer (60,000 in all).
PAPER_PARAMS = {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164}


def test_paper_parameter_counts_layer_by_layer():
    model = kd.LeNet5(weights=None)
    counts = {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}
    assert counts == {**PAPER_PARAMS, "predictions": 84 * 10 + 10}
    assert sum(PAPER_PARAMS.values()) == 60000
    assert kd.get_model("lenet5_modern").count_params() == 156 + 2416 + 48120 + 10164 + 850
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 10)


def test_c3_reads_only_table_one():
    """Output map j of C3 responds to input map i exactly when Table I connects them."""
    layer = kd.LeNet5(weights=None).get_layer("C3")
    rng = np.random.default_rng(0)
    for i in range(6):
        x = np.zeros((1, 14, 14, 6), "float32")
        x[..., i] = rng.normal(size=(14, 14))
        moved = np.abs(layer(x).numpy() - layer(np.zeros_like(x)).numpy()).max(axis=(0, 1, 2))
        assert set(np.flatnonzero(moved > 0)) == {
            j for j, row in enumerate(specs.LENET5_C3_TABLE) if i in row}


def test_subsampling_is_a_coefficient_times_the_sum_plus_a_bias():
    layer = kd.models.TrainableSubsampling(2)
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 3)).astype("float32")
    layer.build(x.shape)
    layer.coefficient.assign([0.5, -1.0, 2.0])
    layer.bias.assign([0.1, 0.2, 0.3])
    sums = x.reshape(1, 2, 2, 2, 2, 3).sum(axis=(2, 4))
    np.testing.assert_allclose(layer(x).numpy(), sums * [0.5, -1.0, 2.0] + [0.1, 0.2, 0.3],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["paper", "modern"])
def test_keras_file_round_trip(variant, tmp_path):
    model = kd.LeNet5(variant=variant)
    model.save(tmp_path / "lenet.keras")
    again = keras.models.load_model(tmp_path / "lenet.keras")
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-7)
    assert again.get_config()["variant"] == variant


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant must be one of paper, modern; got 'lenet'"):
        kd.LeNet5(variant="lenet")
    with pytest.raises(ValueError, match="too small"):
        kd.LeNet5(input_shape=(28, 28, 1))


def test_multiply_adds_count_the_custom_layers():
    """Section II.B's connections less the bias terms (C1 122,304 - 4,704; C3 151,600 - 1,600;
    C5 48,120 - 120; F6 10,164 - 84); a subsampling unit is one multiplication (the paper counts
    its four inputs and bias as 5 connections)."""
    layers = {"C1": 117_600, "S2": 14 * 14 * 6, "C3": 150_000, "S4": 5 * 5 * 16,
              "C5": 48_000, "F6": 10_080, "predictions": 840}
    assert kd.model_stats(kd.LeNet5()).mult_adds == sum(layers.values()) == 328_096
