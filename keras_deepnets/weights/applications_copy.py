"""keras.applications' VGG/ResNet weights copied into ours, layer by layer by name.

keras.applications' ResNets give every convolution a bias; ours have none (the BN after it has a
shift of its own, as in the paper's Caffe models and torchvision). A conv bias `b` followed by BN
is the same function as no bias and a BN whose moving mean is `mean - b`, so we fold it there.
"""

import keras
import numpy as np


def _bn_name(conv_name):
    return conv_name[: -len("_conv")] + "_bn"


def copy_keras_applications_weights(source, target):
    """Copies a keras.applications VGG/ResNet's weights into our model of the same architecture,
    layer by layer by name, folding conv biases into the following BN's moving mean."""
    folded = {}
    copied = set()
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(f"{source.name} has no layer {layer.name!r}: the two models differ "
                             "in architecture.") from None
        values = src.get_weights()
        if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias and src.use_bias:
            kernel, bias = values
            folded[_bn_name(layer.name)] = bias
            values = [kernel]
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name in folded:
            gamma, beta, mean, var = values
            values = [gamma, beta, mean - folded.pop(layer.name), var]
        expected = [tuple(w.shape) for w in layer.weights]
        if [tuple(np.shape(v)) for v in values] != expected:
            raise ValueError(f"Layer {layer.name!r}: shapes {[np.shape(v) for v in values]} from "
                             f"{source.name} do not fit {expected}.")
        layer.set_weights(values)
        copied.add(layer.name)
    missed = [src.name for src in source.layers if src.weights and src.name not in copied]
    if missed or folded:
        raise ValueError(f"Weights of {source.name} left over: {missed or sorted(folded)}; the "
                         "two models differ in architecture.")
