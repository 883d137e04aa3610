"""GoogLeNet, Inception v1 (Szegedy et al., "Going deeper with convolutions", CVPR 2015), the
ILSVRC 2014 winner beside VGG's runner-up.

`variant="paper"` (Table 1, Figure 3): a 7x7/2 stem, 3x3/2 max-pools, LRN after the first pool
and after the 3x3 stem convolution (the paper gives no LRN constants; AlexNet's are used), nine
Inception modules of four branches (1x1; 1x1-3x3; 1x1-5x5; 3x3 max-pool-1x1), global average
pooling, dropout 0.4 and the classifier; convolutions with biases, no BN. Pools round up (Caffe's
arithmetic, which the paper's model was trained with): 224 -> 112 -> 56 -> 28 -> 14 -> 7.

`variant="torchvision"`: what torchvision ships, so its weights load: BN (epsilon 1e-3) after
every convolution (which then has no bias), no LRN, the "5x5" branch a 3x3 (torchvision keeps it
for weight compatibility; the layer keeps the name `_5x5`), the last pool 2x2/2, dropout 0.2,
6,624,904 parameters without the auxiliary heads. torchvision's released ImageNet weights expect
`transform_input=True`, i.e. inputs scaled to [-1, 1] (preprocessing mode "tf").

`aux_classifiers=True` adds section 5's two auxiliary classifiers on 4a and 4d (5x5/3 average
pool, 1x1 convolution of 128, FC-1024, dropout 0.7, the classifier; torchvision pools
adaptively to 4x4 instead) and makes a training model with three outputs `[main, aux1, aux2]`,
trained with the paper's loss, main + 0.3 x (aux1 + aux2). `inference_model(model)` is the same
network without them, sharing its weights.
"""

import keras
from keras import layers

from keras_deepnets.models import specs
from keras_deepnets.models.batchnorm import BatchNormalization
from keras_deepnets.models.common import (DeepNet, accepts_pretrained, builds_in_data_format,
                                          check_contract, classifier, finish, make_input,
                                          model_inputs, pool, variant_names)
from keras_deepnets.models.layers import (AdaptiveAveragePooling, CeilMaxPooling2D, Conv2D,
                                          LocalResponseNormalization, channel_axis, split_shape)
from keras_deepnets.registry import register_model

VARIANTS = ("paper", "torchvision")
DROPOUT = {"paper": 0.4, "torchvision": 0.2}
AUX_DROPOUT = 0.7
AUX_LOSS_WEIGHT = 0.3  # section 5: "their loss gets added to the total loss ... weighted by 0.3"
TORCHVISION_BN_EPSILON = 1e-3
MIN_SIZE = 32  # four stride-2 stages and the stem: smaller inputs pool to nothing


def conv(x, filters, kernel, name, variant, strides=1):
    """Convolution and ReLU; in torchvision's variant with BN between (and no bias)."""
    padding = "same"
    if strides > 1:  # PyTorch pads kernel // 2 on every side; "same" would pad less on top
        x = layers.ZeroPadding2D(kernel // 2, name=name + "_pad")(x)
        padding = "valid"
    bn = variant == "torchvision"
    x = Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=not bn,
                      name=name)(x)
    if bn:
        x = BatchNormalization(epsilon=TORCHVISION_BN_EPSILON, momentum=0.9, name=name + "_bn")(x)
    return layers.Activation("relu", name=name + "_relu")(x)


def inception(x, spec, variant):
    """One Inception module (Figure 2b): four branches, concatenated along the channels."""
    name = f"inception{spec.name}"
    five = 5 if variant == "paper" else 3
    branches = [
        conv(x, spec.n1x1, 1, name + "_1x1", variant),
        conv(conv(x, spec.n3x3_reduce, 1, name + "_3x3_reduce", variant), spec.n3x3, 3,
             name + "_3x3", variant),
        conv(conv(x, spec.n5x5_reduce, 1, name + "_5x5_reduce", variant), spec.n5x5, five,
             name + "_5x5", variant),
        conv(layers.MaxPooling2D(3, strides=1, padding="same", name=name + "_pool")(x),
             spec.pool_proj, 1, name + "_pool_proj", variant),
    ]
    return layers.Concatenate(axis=channel_axis(), name=name)(branches)


def _stem(x, variant):
    x = conv(x, 64, 7, "conv1", variant, strides=2)
    x = CeilMaxPooling2D(3, 2, name="pool1")(x)
    if variant == "paper":
        x = LocalResponseNormalization(name="pool1_lrn")(x)
    x = conv(x, 64, 1, "conv2", variant)
    x = conv(x, 192, 3, "conv3", variant)
    if variant == "paper":
        x = LocalResponseNormalization(name="conv3_lrn")(x)
    return CeilMaxPooling2D(3, 2, name="pool2")(x)


def aux_head(x, index, variant, classes, classifier_activation):
    """Section 5's auxiliary classifier on a 14x14 map (at 224x224): 4x4 pooled, 1x1-128,
    FC-1024, dropout 0.7, the classifier (with the main classifier's activation)."""
    name = f"aux{index}"
    if variant == "paper":
        x = layers.AveragePooling2D(5, strides=3, name=name + "_pool")(x)
        if split_shape(x.shape[1:])[:2] != (4, 4):
            raise ValueError(
                "The paper's auxiliary classifiers flatten a 4x4 map (5x5/3 pooling of 4a's "
                f"14x14 at a 224x224 input); this input gives {split_shape(x.shape[1:])[:2]}. Use "
                "input_shape=(224, 224, 3), or variant='torchvision' (adaptive 4x4 pooling).")
    else:
        x = AdaptiveAveragePooling(4, name=name + "_pool")(x)
    reduce_filters, units = specs.GOOGLENET_AUX_UNITS
    x = conv(x, reduce_filters, 1, name + "_conv", variant)
    x = layers.Flatten(name=name + "_flatten")(x)
    x = layers.Dense(units, activation="relu", name=name + "_fc1")(x)
    x = layers.Dropout(AUX_DROPOUT, name=name + "_dropout")(x)
    return classifier(x, classes=classes, classifier_activation=classifier_activation,
                      name=name + "_predictions")


def _body(inputs, variant, aux_classifiers, classes, classifier_activation):
    """The stem and the nine modules; returns (features, [aux logits])."""
    x, aux, stage = _stem(inputs, variant), [], "3"
    for spec in specs.GOOGLENET_INCEPTIONS:
        if spec.name[0] != stage:
            stage = spec.name[0]
            last = stage == "5" and variant == "torchvision"  # torchvision's last pool: 2x2/2
            x = CeilMaxPooling2D(2 if last else 3, 2, name=f"pool{int(stage) - 1}")(x)
        x = inception(x, spec, variant)
        if aux_classifiers and spec.name in specs.GOOGLENET_AUX_AFTER:
            aux.append(aux_head(x, len(aux) + 1, variant, classes, classifier_activation))
    return x, aux


def _check(variant, aux_classifiers, dropout, include_top):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}.")
    if not isinstance(aux_classifiers, bool):
        raise ValueError(f"aux_classifiers must be True or False; got {aux_classifiers!r}.")
    if dropout is not None and not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1) or None (the variant's: {DROPOUT}); got "
                         f"{dropout!r}.")
    if aux_classifiers and not include_top:
        raise ValueError("aux_classifiers=True needs include_top=True: the auxiliary "
                         "classifiers are part of the training model's top. For features, use "
                         "include_top=False without them.")


@keras.saving.register_keras_serializable(package="keras_deepnets")
class GoogLeNetModel(DeepNet):
    """GoogLeNet; see the module docstring for the variants and the auxiliary classifiers.

    Args:
        variant: "paper" (Table 1, LRN, no BN) or "torchvision" (BN, torchvision's weights).
        aux_classifiers: add the two auxiliary classifiers: three outputs, for training.
        dropout: before the classifier; None: the variant's (paper 0.4, torchvision 0.2).
        include_top, weights (None or a .weights.h5 file), input_tensor, input_shape (default
        224x224x3), pooling, classes, classifier_activation, name: as in keras.applications.
    """

    aux_loss_weight = AUX_LOSS_WEIGHT  # the training step's weight of each auxiliary loss

    @builds_in_data_format
    def __init__(self, variant="paper", aux_classifiers=False, dropout=None, include_top=True,
                 weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", name="googlenet", **kwargs):
        _check(variant, aux_classifiers, dropout, include_top)
        dropout = DROPOUT[variant] if dropout is None else float(dropout)
        weights_source = check_contract(include_top=include_top, weights=weights,
                                        input_shape=input_shape, pooling=pooling, classes=classes,
                                        classifier_activation=classifier_activation,
                                        weights_names=(), model_label=name)
        inputs, source = make_input(input_tensor, input_shape, default_size=224,
                                    min_size=MIN_SIZE, include_top=include_top,
                                    needs_static=aux_classifiers)
        x, aux = _body(inputs, variant, aux_classifiers, classes, classifier_activation)
        if include_top:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = layers.Dropout(dropout, name="dropout")(x)
            x = classifier(x, classes=classes, classifier_activation=classifier_activation)
        else:
            x = pool(x, pooling)
        super().__init__(model_inputs(inputs, source), [x, *aux] if aux else x, name=name,
                         **kwargs)
        self._set_arch(variant=variant, aux_classifiers=aux_classifiers, dropout=dropout,
                       include_top=include_top, input_shape=tuple(inputs.shape[1:]),
                       pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights_source)

    def inference_model(self):
        """This network without the auxiliary classifiers (itself when it has none), holding
        the same weights: what evaluation, export and `model_stats` use."""
        if not self._arch["aux_classifiers"]:
            return self
        plain = GoogLeNetModel(**{**self._arch, "aux_classifiers": False}, name=self.name)
        for layer in plain.layers:
            if layer.weights:
                layer.set_weights(self.get_layer(layer.name).get_weights())
        return plain


@accepts_pretrained(lambda kwargs: variant_names("googlenet", kwargs.get("variant")))
def GoogLeNet(variant="paper", name=None, **kwargs):
    """GoogLeNet (Szegedy et al. 2014): `kd.GoogLeNet(weights=None)` is Table 1's network;
    `variant="torchvision"` the BN one torchvision's weights fit; `aux_classifiers=True` the
    training model with section 5's auxiliary classifiers. keras.applications' arguments, plus
    `dropout`."""
    name = name or ("googlenet" if variant == "paper" else f"googlenet_{variant}")
    return GoogLeNetModel(variant=variant, name=name, **kwargs)


register_model("googlenet", GoogLeNet, "imagenet")
register_model("googlenet_torchvision", GoogLeNet, "imagenet", variant="torchvision")
