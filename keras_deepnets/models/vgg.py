"""VGG (Simonyan & Zisserman, ICLR 2015): one builder for configs A, A-LRN, B, C, D, E.

Example:
    >>> import keras_deepnets
    >>> model = keras_deepnets.VGG16(weights=None)
    >>> [l.name for l in model.layers[-3:]]
    ['fc2', 'fc2_dropout', 'predictions']
"""

import functools

import keras
from keras import layers

from keras_deepnets.models.batchnorm import BatchNormalization
from keras_deepnets.models.common import (DeepNet, accepts_pretrained, builds_in_data_format,
                                          check_contract, classifier, finish, make_input,
                                          model_inputs, pool)
from keras_deepnets.models.layers import Conv2D, LocalResponseNormalization, image_shape
from keras_deepnets.models.specs import VGG_CONFIGS
from keras_deepnets.registry import register_model

# Config letter -> registry name of the paper's network without batch norm: the key of the
# `pretrained` table that says which weights exist (keras.applications': VGG16 and VGG19).
_PAPER_CONFIGS = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16c", "D": "vgg16",
                  "E": "vgg19"}


def parse_config(config):
    """A config letter of Table 1, or a table: a list of stages, each a list whose items are
    `filters` (a 3x3 conv), `(filters, kernel_size)`, or "LRN". Each stage ends in a 2x2 max-pool.
    Returns the table as a list of lists of `(filters, kernel_size)` / "LRN"."""
    if isinstance(config, str):
        if config.upper() not in VGG_CONFIGS:
            raise ValueError(f"Unknown VGG config {config!r}; known: {sorted(VGG_CONFIGS)} "
                             "or a table of stages.")
        return VGG_CONFIGS[config.upper()]
    error = ValueError(
        "A VGG config table is a list of stages, each a non-empty list of filters, "
        f"(filters, kernel_size) pairs or 'LRN'; got {config!r}.")
    if not isinstance(config, (list, tuple)) or not config:
        raise error
    table = []
    for stage in config:
        if not isinstance(stage, (list, tuple)) or not stage:
            raise error
        items = []
        for item in stage:
            if item == "LRN":
                items.append("LRN")
            elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
                items.append((item, 3))
            elif (isinstance(item, (list, tuple)) and len(item) == 2
                  and all(isinstance(v, int) and v > 0 for v in item)):
                items.append(tuple(item))
            else:
                raise error
        table.append(items)
    return table


@keras.saving.register_keras_serializable(package="keras_deepnets")
class VGGModel(DeepNet):
    """Any VGG: stages of convolutions (stride 1, "same" padding, ReLU), each ended by a 2x2/2
    max-pool, then FC-4096, FC-4096 (with dropout 0.5, paper section 3.1) and the classifier.

    Args:
        config: "A", "A-LRN", "B", "C", "D", "E" or a table (see `parse_config`).
        batch_norm: BN after every convolution (torchvision's `vgg*_bn`; not in the paper). The
            convolutions keep their biases, as torchvision's do, so parameter counts agree.
        dropout: dropout rate of the two hidden FC layers.
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
        name: as in keras.applications.
    """

    @builds_in_data_format
    def __init__(self, config="D", batch_norm=False, dropout=0.5, include_top=True, weights=None,
                 input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", name="vgg", **kwargs):
        table = parse_config(config)
        key = config.upper() if isinstance(config, str) else None
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
        arch = None if batch_norm else _PAPER_CONFIGS.get(key)
        weights_source = check_contract(include_top=include_top, weights=weights,
                                        input_shape=input_shape, pooling=pooling, classes=classes,
                                        classifier_activation=classifier_activation,
                                        weights_names=(arch,) if arch else (), model_label=name)
        if (weights_source.row is not None and include_top
                and input_shape not in (None, (224, 224, 3))):
            raise ValueError(f"weights={weights!r} with include_top=True needs input_shape "
                             f"(224, 224, 3) (the FC layers fix it); got {input_shape}.")
        inputs, source = make_input(input_tensor, input_shape, default_size=224,
                                    min_size=2 ** len(table), include_top=include_top,
                                    needs_static=True)
        x = inputs
        for s, stage in enumerate(table, start=1):
            conv = 0
            for item in stage:
                if item == "LRN":
                    x = LocalResponseNormalization(name=f"block{s}_lrn")(x)
                    continue
                conv += 1
                filters, kernel = item
                lname = f"block{s}_conv{conv}"
                x = Conv2D(filters, kernel, padding="same", name=lname,
                                  activation=None if batch_norm else "relu")(x)
                if batch_norm:
                    x = BatchNormalization(epsilon=1e-5, momentum=0.9, name=lname + "_bn")(x)
                    x = layers.Activation("relu", name=lname + "_relu")(x)
            x = layers.MaxPooling2D(2, strides=2, name=f"block{s}_pool")(x)
        if include_top:
            x = layers.Flatten(name="flatten")(x)
            for fc in ("fc1", "fc2"):
                x = layers.Dense(4096, activation="relu", name=fc)(x)
                x = layers.Dropout(dropout, name=fc + "_dropout")(x)
            x = classifier(x, classes=classes, classifier_activation=classifier_activation)
        else:
            x = pool(x, pooling)
        super().__init__(model_inputs(inputs, source), x, name=name, **kwargs)
        # A table is kept as JSON-friendly lists, which parse_config reads back.
        self._set_arch(config=key or [[i if i == "LRN" else list(i) for i in st] for st in table],
                       batch_norm=bool(batch_norm), dropout=float(dropout),
                       include_top=include_top, input_shape=tuple(inputs.shape[1:]),
                       pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights_source)


VGG = VGGModel  # the generic builder under its short name


def _constructor(config, label, depth):
    """Makes the named constructor of one config of Table 1 and registers it, and its batch-norm
    variant "<label>_bn" (not for A-LRN: LRN and BN are alternatives; the paper dropped LRN)."""

    @accepts_pretrained(
        lambda kwargs: label.lower() + ("_bn" if kwargs.get("batch_norm") else ""))
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax", name=None,
                    batch_norm=False, **kwargs):
        if name is None:
            name = label.lower() + ("_bn" if batch_norm else "")
        return VGGModel(config, batch_norm=batch_norm, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation, name=name,
                        **kwargs)

    constructor.__name__ = constructor.__qualname__ = label
    constructor.__doc__ = (
        f"VGG config {config} of the VGG paper's Table 1 ({depth} weight layers).\n\n"
        "keras.applications' arguments, plus `batch_norm=False` and `dropout=0.5`.\n\n"
        f"Example:\n    >>> model = keras_deepnets.{label}(weights=None)\n")
    register_model(label.lower(), constructor, "imagenet")
    if "LRN" not in config:
        register_model(label.lower() + "_bn", constructor, "imagenet", batch_norm=True)
    return constructor


VGG11 = _constructor("A", "VGG11", 11)
VGG11_LRN = _constructor("A-LRN", "VGG11_LRN", 11)
VGG13 = _constructor("B", "VGG13", 13)
VGG16C = _constructor("C", "VGG16C", 16)
VGG16 = _constructor("D", "VGG16", 16)
VGG19 = _constructor("E", "VGG19", 19)


# CIFAR-sized VGG (the `vgg` experiment): configs A-E at 32x32 with batch norm. The paper's
# classifier (FC-4096, FC-4096 on a 7x7x512 map) is made for 224x224 ImageNet images; at 32x32 the
# five pools leave 1x1x512 and the two FC-4096 would hold ~19M parameters for 10 classes, so the
# top is global average pooling + one Dense(10), as the common CIFAR VGGs (Liu's pytorch-cifar,
# Zagoruyko's cifar.torch). BN (not in the paper, which initialised deep nets from shallow ones)
# lets A-E train from scratch with the ResNet paper's CIFAR recipe.
# Config letter -> (registry name, weight layers of the paper's Table 1).
CIFAR_VGGS = {"A": ("vgg11_bn_cifar", 11), "B": ("vgg13_bn_cifar", 13),
              "C": ("vgg16c_bn_cifar", 16), "D": ("vgg16_bn_cifar", 16),
              "E": ("vgg19_bn_cifar", 19)}


def cifar_vgg(config, classes=10, input_shape=None, classifier_activation="softmax", name=None,
              **kwargs):
    """VGG `config` (A-E) with batch norm, global average pooling and one Dense(`classes`)."""
    name = name or CIFAR_VGGS[config.upper()][0]
    default = image_shape(32, 32, 3, kwargs.get("data_format"))
    features = VGGModel(config, batch_norm=True, include_top=False, pooling="avg",
                        input_shape=input_shape or default, name=name + "_features", **kwargs)
    outputs = classifier(features.output, classes=classes,
                         classifier_activation=classifier_activation)
    # One flat functional model (not a nested one), so it saves, loads and exports as any other.
    return keras.Model(features.inputs, outputs, name=name)


for _config, (_name, _) in CIFAR_VGGS.items():  # the registry's names of the CIFAR-sized VGGs
    register_model(_name, accepts_pretrained(lambda kwargs, name=_name: name)(
        functools.partial(cifar_vgg, _config)), "cifar")
