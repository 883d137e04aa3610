"""LeNet-5 (LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 1998, section II.B), the first network of the lineage VGG and ResNet
continue.

`variant="paper"`: C1 (6 maps, 5x5) - S2 (trainable 2x2 subsampling: a coefficient and a bias
per map) - C3 (16 maps, 5x5, partially connected by Table I) - S4 - C5 (120 maps, 5x5, a full
convolution that ends at 1x1) - F6 (84 units), every layer followed by the scaled tanh
1.7159 tanh(2a/3). Trainable parameters: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164,
the paper's 60,000 in all. The paper's output layer is Euclidean RBF units with fixed,
hand-drawn 7x12 codes that the paper does not print; here the output is a Dense classifier
(softmax by default: 84 x 10 + 10 = 850 parameters more, 60,850 with the top).

`variant="modern"`: what the same layout is taught as today: ReLU, 2x2 max-pooling (no
parameters) and a fully connected C3 (2,416 parameters); 61,706 with the top.
"""

import keras
from keras import layers

from keras_deepnets.models import specs
from keras_deepnets.models.common import (DeepNet, accepts_pretrained, builds_in_data_format,
                                          check_contract, classifier, finish, make_input,
                                          model_inputs, pool)
from keras_deepnets.models.layers import (Conv2D, PartialConv2D, ScaledTanh, TrainableSubsampling,
                                          image_shape)
from keras_deepnets.registry import register_model

VARIANTS = ("paper", "modern")


def _act(x, variant, name):
    if variant == "paper":
        return ScaledTanh(name=name + "_tanh")(x)
    return layers.Activation("relu", name=name + "_relu")(x)


def _features(x, variant):
    """C1 .. C5 by the spec table; returns the 1x1x120 C5 output."""
    for name, maps, kernel in specs.LENET5_LAYERS:
        if name.startswith("S"):
            x = (TrainableSubsampling(kernel, name=name)(x) if variant == "paper"
                 else layers.MaxPooling2D(kernel, name=name)(x))
        elif name == "C3" and variant == "paper":
            x = PartialConv2D(specs.LENET5_C3_TABLE, kernel, name=name)(x)
        else:
            x = Conv2D(maps, kernel, padding="valid", name=name)(x)
        x = _act(x, variant, name)
    return x


@keras.saving.register_keras_serializable(package="keras_deepnets")
class LeNet5Model(DeepNet):
    """LeNet-5; see the module docstring for the two variants.

    Args:
        variant: "paper" (Table I's C3, trainable subsampling, scaled tanh) or "modern".
        include_top: F6 and the classifier (False: the C5 features, optionally pooled).
        weights, input_tensor, input_shape (default (32, 32, 1), the paper's padded 28x28 digits),
        pooling, classes (default 10), classifier_activation, name: as in keras.applications.
    """

    @builds_in_data_format
    def __init__(self, variant="paper", include_top=True, weights=None, input_tensor=None,
                 input_shape=None, pooling=None, classes=10, classifier_activation="softmax",
                 name="lenet5", **kwargs):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}.")
        weights_source = check_contract(include_top=include_top, weights=weights,
                                        input_shape=input_shape, pooling=pooling, classes=classes,
                                        classifier_activation=classifier_activation,
                                        weights_names=(), model_label=name)
        if input_shape is None and input_tensor is None:
            input_shape = image_shape(32, 32, 1)
        inputs, source = make_input(input_tensor, input_shape, default_size=32, min_size=32,
                                    include_top=include_top, needs_static=True)
        x = _features(inputs, variant)
        if include_top:
            x = layers.Flatten(name="flatten")(x)
            x = _act(layers.Dense(specs.LENET5_F6_UNITS, name="F6")(x), variant, "F6")
            x = classifier(x, classes=classes, classifier_activation=classifier_activation)
        else:
            x = pool(x, pooling)
        super().__init__(model_inputs(inputs, source), x, name=name, **kwargs)
        self._set_arch(variant=variant, include_top=include_top,
                       input_shape=tuple(inputs.shape[1:]), pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights_source)


@accepts_pretrained(
    lambda kwargs: "lenet5_modern" if kwargs.get("variant") == "modern" else "lenet5")
def LeNet5(variant="paper", **kwargs):
    """LeNet-5 (LeCun et al. 1998); `kd.LeNet5(weights=None)` is the paper's 60,000-parameter
    network with a Dense softmax output."""
    return LeNet5Model(variant=variant, **kwargs)


register_model("lenet5", LeNet5, "digits")
register_model("lenet5_modern", LeNet5, "digits", variant="modern")
