"""CIFAR-sized VGG: the VGG paper's configs A-E (Table 1) at 32x32 input, with batch norm.

Decision: the paper's classifier (FC-4096, FC-4096, FC-1000 on a 7x7x512 map) is made for
224x224 ImageNet images; at 32x32 the five 2x2 max-pools leave a 1x1x512 map, and two 4096-wide
layers would hold ~19M of the parameters for 10 classes. We keep the paper's convolutional
configs unchanged and replace the top by global average pooling + one Dense(10) softmax, as the
common CIFAR VGGs do (e.g. Liu's pytorch-cifar, Zagoruyko's cifar.torch). Batch norm after every
convolution (torchvision's `vgg*_bn`; not in the paper, which trained the deeper nets from
shallower ones instead) lets A-E train from scratch with the ResNet paper's CIFAR recipe.

The models are registered in the CIFAR family (32x32 input, 10 classes, the CIFAR recipe and
input presets) as `vgg11_bn_cifar` ... `vgg19_bn_cifar`, so the training core trains them by
name like any other registry model.
"""

import keras

from keras_deepnets import registry
from keras_deepnets.models import vgg
from keras_deepnets.models.common import classifier

# VGG paper, Table 1: config letter -> (registry name, weight layers).
CONFIGS = {"A": ("vgg11_bn_cifar", 11), "B": ("vgg13_bn_cifar", 13), "C": ("vgg16c_bn_cifar", 16),
           "D": ("vgg16_bn_cifar", 16), "E": ("vgg19_bn_cifar", 19)}


def cifar_vgg(config, classes=10, input_shape=None, classifier_activation="softmax", name=None,
              **kwargs):
    """VGG `config` (A-E) with batch norm, global average pooling and one Dense(`classes`)."""
    name = name or CONFIGS[config.upper()][0]
    features = vgg.VGGModel(config, batch_norm=True, include_top=False, pooling="avg",
                            input_shape=input_shape or (32, 32, 3), name=name + "_features",
                            **kwargs)
    outputs = classifier(features.output, classes=classes,
                         classifier_activation=classifier_activation)
    # One flat functional model (not a nested one), so it saves, loads and exports as any other.
    return keras.Model(features.inputs, outputs, name=name)


def _constructor(config):
    def constructor(**kwargs):
        return cifar_vgg(config, **kwargs)

    constructor.__name__ = CONFIGS[config][0]
    constructor.__doc__ = f"CIFAR-sized VGG config {config} with batch norm (see cifar_vgg)."
    return constructor


def register():
    """Adds the CIFAR VGGs to the registry (once; later calls do nothing)."""
    for config, (name, _) in CONFIGS.items():
        if name not in registry.list_models():
            registry.register_model(name, _constructor(config), "cifar")


register()
