"""The step profile (diagnostics/op_profile.py): a real trace of ResNet-20's step, read without
TensorBoard, holds exactly the model's convolutions and batch norms, forward and backward."""

import keras
import pytest

from keras_deepnets import registry
from keras_deepnets.diagnostics import op_profile


def test_resnet20_trace_has_every_layer_once_per_step(tmp_path):
    rows, wall = op_profile.profile_step("resnet20", batch_size=16, steps=2,
                                         model_dir=str(tmp_path))
    per_step = {r["category"]: r["kernels_per_step"] for r in rows}
    model = registry.get_model("resnet20")
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)
    norms = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert (convs, norms) == (19, 19)
    assert per_step["convolution forward"] == convs
    assert per_step["convolution backward (filter)"] == convs
    assert per_step["convolution backward (input)"] == convs - 1  # none for the images
    assert per_step["batch norm forward"] == per_step["batch norm backward"] == norms
    assert per_step["zero-pad shortcut backward"] > 0  # option A's two downsampling blocks
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert wall > 0
    assert "| convolution backward (filter) |" in op_profile.markdown(rows, wall)


def test_categories_and_errors(tmp_path):
    assert op_profile.category("sgd/Mul_3", "Mul") == op_profile.OPTIMIZER
    assert op_profile.category("gradient_tape/r/conv1/Conv2DBackpropFilter",
                               "_MklNativeConv2DBackpropFilter") == "convolution backward (filter)"
    assert op_profile.category("r/conv3_block1_0_pad/StridedSlice", "StridedSlice") == (
        "zero-pad shortcut (slice, pad) forward")
    assert op_profile.category("r/conv1_relu/Relu", "Relu") == "ReLU forward"
    with pytest.raises(FileNotFoundError, match="run with profile=N"):
        op_profile.find_trace(str(tmp_path))
    with pytest.raises(ValueError, match="steps must be"):
        op_profile.breakdown(str(tmp_path), 0)
