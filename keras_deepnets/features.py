"""Backbones for detection and segmentation: a model's stage outputs as a dict, with their
strides and channels (keras-hub's `pyramid_outputs`, timm's `features_only`).

Levels, as in FPN (Lin et al. 2017) and keras-hub:
- ResNets: `C<n>` is the output of stage `conv<n>` (its last block, after the addition and
  ReLU). ImageNet ResNets have C2..C5, strides 4, 8, 16, 32 (channels 64/128/256/512 for
  ResNet-18/34, 256/512/1024/2048 for the bottleneck ResNets); the CIFAR ResNets C2..C4,
  strides 1, 2, 4.
- VGG: `C<n>` is block n's last convolution (after its ReLU, before the max-pool), as timm's
  VGG features: strides 1, 2, 4, 8, 16 for n = 1..5 (channels 64, 128, 256, 512, 512).

Example:
    >>> backbone = kd.feature_extractor(kd.ResNet50(weights=None), levels=(3, 4, 5))
    >>> {k: v.shape for k, v in backbone(images).items()}    # doctest: +SKIP
    {'C3': (1, 28, 28, 512), 'C4': (1, 14, 14, 1024), 'C5': (1, 7, 7, 2048)}
    >>> kd.feature_info(backbone)[0]
    {'level': 3, 'name': 'C3', 'stride': 8, 'channels': 512}
"""

import re

import keras

from keras_deepnets.models.layers import DATA_FORMATS, image_shape, split_shape


def _stage_tensors(model):
    """{level: the tensor of that level} for a ResNet or a VGG of this package."""
    names = [layer.name for layer in model.layers]
    resnet = {}
    for name in names:
        match = re.fullmatch(r"conv(\d)_block(\d+)_out", name)
        if match:  # later blocks of the stage come later in the graph
            resnet[int(match.group(1))] = model.get_layer(name).output
    if resnet:
        return resnet
    vgg = {int(m.group(1)): model.get_layer(name).input
           for name in names for m in [re.fullmatch(r"block(\d)_pool", name)] if m}
    if vgg:
        return vgg
    raise ValueError(f"feature_extractor takes the ResNets and VGGs of keras_deepnets (stage "
                     f"layers conv<n>_block<k>_out or block<n>_pool); {model.name!r} has "
                     f"neither.")


def feature_extractor(model, levels=None, name=None):
    """A Keras model with the same input whose output is {"C<n>": stage n's output}.

    Args:
        model: a ResNet or VGG of this package (any weights, with or without its top).
        levels: the stage numbers to return (default: every stage the model has, e.g. 2..5).
        name: the new model's name (default `<model>_features`).
    """
    stages = _stage_tensors(model)
    levels = tuple(sorted(stages)) if levels is None else tuple(levels)
    unknown = [lv for lv in levels if lv not in stages]
    if unknown or not levels:
        raise ValueError(f"levels {list(levels)} are not stages of {model.name!r}; it has "
                         f"levels {sorted(stages)}.")
    outputs = {f"C{lv}": stages[lv] for lv in levels}
    return keras.Model(model.input, outputs, name=name or f"{model.name}_features")


def feature_info(extractor):
    """[{level, name, stride, channels}] of a `feature_extractor` model, from the shapes its
    outputs have for an input of its own size (224x224 when the size is free)."""
    fmt = next((layer.data_format for layer in extractor.layers
                if getattr(layer, "data_format", None) in DATA_FORMATS), "channels_last")
    height, _, channels = split_shape(extractor.input_shape[1:], fmt)
    size = height or 224
    shapes = extractor.compute_output_shape((1, *image_shape(size, size, channels, fmt)))
    info = []
    for k, shape in shapes.items():
        side, _, maps = split_shape(shape[1:], fmt)
        info.append({"level": int(k[1:]), "name": k, "stride": size // side, "channels": maps})
    return info
