"""CIFAR-sized VGG configs A-E for the `vgg` experiment: built by
`keras_deepnets.models.vgg.cifar_vgg` and registered as `vgg11_bn_cifar` ... `vgg19_bn_cifar`
(CIFAR family) in `keras_deepnets.registry`."""

from keras_deepnets.models.vgg import CIFAR_VGGS as CONFIGS  # noqa: F401
from keras_deepnets.models.vgg import cifar_vgg  # noqa: F401
