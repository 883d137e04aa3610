"""ResNeXt (Xie et al., "Aggregated residual transformations for deep neural networks", CVPR
2017): ResNet's bottleneck with its 3x3 split into `groups` parallel paths ("cardinality"),
built by `ResNetModel` itself (`groups`, `width_per_group`), not a copy of it.

ImageNet (Table 1): ResNeXt-50 32x4d (25,028,904 parameters, 4.2 G multiply-adds like
ResNet-50's 4.1 G), ResNeXt-101 32x8d (88,791,336) and 64x4d, torchvision's layouts: stride on
the 3x3, BN epsilon 1e-5, option B shortcuts. CIFAR-10 (section 5.2): ResNeXt-29 8x64d and
16x64d, three stages of three bottlenecks after a 3x3 stem of 64 filters, projection shortcuts.

Example:
    >>> import keras_deepnets as kd
    >>> kd.ResNeXt50_32x4d(weights=None).count_params() > 25_000_000
    True
"""

from keras_deepnets.models import specs
from keras_deepnets.models.common import accepts_pretrained
from keras_deepnets.models.resnet import ResNetModel
from keras_deepnets.registry import register_model


def _constructor(name, stem, depths, filters, groups, width_per_group, classes):
    label = "ResNeXt" + name[len("resnext"):]

    @register_model(name, family="imagenet" if stem == "imagenet" else "cifar")
    @accepts_pretrained(lambda kwargs: name)
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=classes, classifier_activation="softmax", name=name,
                    **kwargs):
        kwargs.setdefault("stride_in_1x1", False)
        return ResNetModel("bottleneck", depths, filters, stem=stem, groups=groups,
                           width_per_group=width_per_group, include_top=include_top,
                           weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                           pooling=pooling, classes=classes,
                           classifier_activation=classifier_activation, name=name, **kwargs)

    constructor.__name__ = constructor.__qualname__ = label
    constructor.__doc__ = (
        f"{label} of the ResNeXt paper: cardinality {groups}, {width_per_group} channels per "
        f"group in the first stage's bottleneck.\n\nkeras.applications' arguments; other "
        f"keywords go to `ResNetModel`.\n\nExample:\n    >>> model = keras_deepnets.{label}()\n")
    return constructor


ResNeXt50_32x4d, ResNeXt101_32x8d, ResNeXt101_64x4d = (
    _constructor(name, "imagenet", specs.IMAGENET_RESNETS[depth][1],
                 specs.IMAGENET_STAGE_FILTERS, groups, width, 1000)
    for name, (depth, groups, width) in specs.IMAGENET_RESNEXTS.items())
ResNeXt29_8x64d, ResNeXt29_16x64d = (
    _constructor(name, "cifar", specs.CIFAR_RESNEXT_DEPTHS, specs.CIFAR_RESNEXT_FILTERS,
                 groups, width, 10)
    for name, (groups, width) in specs.CIFAR_RESNEXTS.items())
