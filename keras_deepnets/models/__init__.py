"""Architectures: spec tables (`specs`), custom layers, ResNet blocks, and the builders."""

from keras_deepnets.models.alexnet import AlexNet, AlexNetModel
from keras_deepnets.models.batchnorm import BatchNormalization
from keras_deepnets.models.layers import (AdaptiveAveragePooling, CeilMaxPooling2D,
                                          LocalResponseNormalization,
                                          PartialConv2D, ScaledTanh, TrainableSubsampling,
                                          ZeroPadShortcut)
from keras_deepnets.models.common import inference_model
from keras_deepnets.models.grouped_conv import GroupedConv2D
from keras_deepnets.models.pointwise_conv import PointwiseConv2D
from keras_deepnets.models.googlenet import GoogLeNet, GoogLeNetModel
from keras_deepnets.models.lenet import LeNet5, LeNet5Model
from keras_deepnets.models.resnet import (
    Plain18, Plain20, Plain32, Plain34, Plain44, Plain50, Plain56, Plain101, Plain110, Plain152,
    Plain1202, ResNet, ResNet18, ResNet20, ResNet32, ResNet34, ResNet44, ResNet50, ResNet56,
    ResNet101, ResNet110, ResNet152, ResNet1202, ResNetModel)
from keras_deepnets.models.resnext import (ResNeXt29_8x64d, ResNeXt29_16x64d, ResNeXt50_32x4d,
                                           ResNeXt101_32x8d, ResNeXt101_64x4d)
from keras_deepnets.models.vgg import (
    VGG, VGG11, VGG11_LRN, VGG13, VGG16, VGG16C, VGG19, VGGModel)

__all__ = [
    "AlexNet",
    "AlexNetModel",
    "AdaptiveAveragePooling",
    "CeilMaxPooling2D",
    "GoogLeNet",
    "GoogLeNetModel",
    "GroupedConv2D",
    "PointwiseConv2D",
    "inference_model",
    "ResNeXt29_8x64d",
    "ResNeXt29_16x64d",
    "ResNeXt50_32x4d",
    "ResNeXt101_32x8d",
    "ResNeXt101_64x4d",
    "LeNet5",
    "LeNet5Model",
    "PartialConv2D",
    "ScaledTanh",
    "TrainableSubsampling",
    "BatchNormalization",
    "LocalResponseNormalization",
    "ZeroPadShortcut",
    "ResNet",
    "ResNetModel",
    "VGG",
    "VGGModel",
    "VGG11",
    "VGG11_LRN",
    "VGG13",
    "VGG16C",
    "VGG16",
    "VGG19",
    "ResNet18",
    "Plain18",
    "ResNet34",
    "Plain34",
    "ResNet50",
    "Plain50",
    "ResNet101",
    "Plain101",
    "ResNet152",
    "Plain152",
    "ResNet20",
    "Plain20",
    "ResNet32",
    "Plain32",
    "ResNet44",
    "Plain44",
    "ResNet56",
    "Plain56",
    "ResNet110",
    "Plain110",
    "ResNet1202",
    "Plain1202",
]
