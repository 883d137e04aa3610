"""AlexNet (Krizhevsky, Sutskever, Hinton, "ImageNet classification with deep convolutional
neural networks", NIPS 2012), the network VGG deepened.

`variant="paper"` (section 3.5, Figure 2): five convolutions of 96-256-384-384-256 filters, an
11x11/4 stem, LRN after the first two (section 3.3), overlapping 3x3/2 max-pools (section 3.4),
the two-GPU split as `groups=2` on conv2, conv4 and conv5, then FC-4096, FC-4096 with dropout
0.5 (section 4.2) and the classifier: 60,965,224 parameters. The input is 227x227: the paper's
Figure 2 says 224, but (224 - 11) / 4 + 1 = 54.25 does not give its 55x55 maps, and 227 does
(the correction every reimplementation makes, Caffe's reference model included).

`variant="torchvision"`: the single-tower layout torchvision ships (Krizhevsky 2014, "One weird
trick for parallelizing convolutional neural networks"): 64-192-384-256-256 filters, no LRN, no
groups, padding 2 on the stem, adaptive 6x6 average pooling before the classifier (so any input
of at least 63x63 works), dropout before each hidden FC layer: 61,100,840 parameters, the layout
`from_torchvision` loads torchvision's weights into. torchvision flattens channels-first; the
converter reorders fc1's columns for Keras's channels-last flatten.

Example:
    >>> import keras_deepnets as kd
    >>> kd.AlexNet(weights=None).count_params()
    60965224
"""

import keras
from keras import layers

from keras_deepnets.models import specs
from keras_deepnets.models.common import (DeepNet, accepts_pretrained, builds_in_data_format,
                                          check_contract, classifier, finish, make_input,
                                          model_inputs, pool, variant_names)
from keras_deepnets.models.grouped_conv import GroupedConv2D
from keras_deepnets.models.layers import (AdaptiveAveragePooling, Conv2D,
                                          LocalResponseNormalization, split_shape)
from keras_deepnets.registry import register_model

VARIANTS = tuple(specs.ALEXNET_CONVS)
DEFAULT_SIZE = {"paper": 227, "torchvision": 224}


def feature_map_size(size, variant, exact=True):
    """The side of conv5's pooled map for an input of side `size`; ValueError when the
    variant's arithmetic cannot take it. `exact`: the paper's stem must divide out exactly
    (its classifier is made for the 6x6 map of 227x227); headless, any size its strides
    survive (a valid convolution drops the remainder, as keras.applications' and PyTorch's
    networks do)."""
    convs = specs.ALEXNET_CONVS[variant]
    stem = convs[0]
    if exact and variant == "paper" and (size - stem.kernel) % stem.stride:
        raise ValueError(
            f"The paper's AlexNet needs (side - 11) divisible by 4 for its 11x11/4 stem (227 "
            f"gives the paper's 55x55 maps; its text's 224 does not divide out); got {size}. "
            "Use 227, include_top=False (any size), or variant='torchvision' for other sizes.")
    side = size
    window, stride = specs.ALEXNET_POOL
    for conv in convs:
        side = (side + 2 * conv.padding - conv.kernel) // conv.stride + 1
        if conv.pool:
            if side < window:
                raise ValueError(
                    f"An input of {size}x{size} is too small for AlexNet ({variant}): a 3x3 "
                    f"max-pool would meet a {max(side, 0)}x{max(side, 0)} map; use at least "
                    f"{67 if variant == 'paper' else 63}.")
            side = (side - window) // stride + 1
    return side


def _features(x, variant):
    window, stride = specs.ALEXNET_POOL
    for i, conv in enumerate(specs.ALEXNET_CONVS[variant], start=1):
        if conv.padding:
            x = layers.ZeroPadding2D(conv.padding, name=f"conv{i}_pad")(x)
        layer = GroupedConv2D if conv.groups > 1 else Conv2D
        x = layer(conv.filters, conv.kernel, strides=conv.stride, groups=conv.groups,
                  name=f"conv{i}")(x)
        x = layers.Activation("relu", name=f"conv{i}_relu")(x)
        if conv.lrn:
            x = LocalResponseNormalization(name=f"conv{i}_lrn")(x)
        if conv.pool:
            x = layers.MaxPooling2D(window, strides=stride, name=f"pool{i}")(x)
    return x


def _top(x, variant, dropout):
    """FC-4096, FC-4096, the classifier's input. The paper drops out the two hidden layers'
    outputs; torchvision drops out their inputs (the same network at inference)."""
    if variant == "torchvision":
        x = AdaptiveAveragePooling(6, name="avg_pool_6x6")(x)
    x = layers.Flatten(name="flatten")(x)
    for fc in ("fc1", "fc2"):
        if variant == "torchvision":
            x = layers.Dropout(dropout, name=fc + "_dropout")(x)
        x = layers.Dense(specs.ALEXNET_FC_UNITS, activation="relu", name=fc)(x)
        if variant == "paper":
            x = layers.Dropout(dropout, name=fc + "_dropout")(x)
    return x


@keras.saving.register_keras_serializable(package="keras_deepnets")
class AlexNetModel(DeepNet):
    """AlexNet; see the module docstring for the two variants.

    Args:
        variant: "paper" (227x227, LRN, two-GPU groups) or "torchvision" (single tower).
        dropout: the hidden FC layers' dropout rate (the paper's 0.5).
        include_top, weights (None or a .weights.h5 file), input_tensor, input_shape (default
        227x227x3 for the paper, 224x224x3 for torchvision), pooling, classes,
        classifier_activation, name: as in keras.applications.
    """

    @builds_in_data_format
    def __init__(self, variant="paper", dropout=0.5, include_top=True, weights=None,
                 input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", name="alexnet", **kwargs):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
        weights_source = check_contract(include_top=include_top, weights=weights,
                                        input_shape=input_shape, pooling=pooling, classes=classes,
                                        classifier_activation=classifier_activation,
                                        weights_names=(), model_label=name)
        inputs, source = make_input(input_tensor, input_shape, default_size=DEFAULT_SIZE[variant],
                                    min_size=1, include_top=include_top, needs_static=True)
        for side in split_shape(inputs.shape[1:])[:2]:
            if side is not None:
                feature_map_size(side, variant, exact=include_top)
        x = _features(inputs, variant)
        if include_top:
            x = classifier(_top(x, variant, dropout), classes=classes,
                           classifier_activation=classifier_activation)
        else:
            x = pool(x, pooling)
        super().__init__(model_inputs(inputs, source), x, name=name, **kwargs)
        self._set_arch(variant=variant, dropout=float(dropout), include_top=include_top,
                       input_shape=tuple(inputs.shape[1:]), pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights_source)


@accepts_pretrained(lambda kwargs: variant_names("alexnet", kwargs.get("variant")))
def AlexNet(variant="paper", name=None, **kwargs):
    """AlexNet (Krizhevsky et al. 2012): `kd.AlexNet(weights=None)` is the paper's two-tower
    network at 227x227; `variant="torchvision"` the single-tower one torchvision's weights fit.
    keras.applications' arguments, plus `dropout=0.5`."""
    name = name or ("alexnet" if variant == "paper" else f"alexnet_{variant}")
    return AlexNetModel(variant=variant, name=name, **kwargs)


register_model("alexnet", AlexNet, "imagenet")
register_model("alexnet_torchvision", AlexNet, "imagenet", variant="torchvision")
