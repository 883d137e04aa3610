"""ResNet v1 (He et al., CVPR 2016): one builder for every depth, ImageNet and CIFAR, residual
and plain.

Example:
    >>> import keras_deepnets
    >>> model = keras_deepnets.ResNet34(weights=None)
    >>> model.output_shape
    (None, 1000)
    >>> keras_deepnets.ResNet56().count_params() > 0   # CIFAR-10, option A shortcuts, 32x32 input
    True
"""

import keras
from keras import layers

from keras_deepnets.models import specs
from keras_deepnets.models.blocks import BLOCKS, STEMS, BlockOptions, stage
from keras_deepnets.models.common import (DeepNet, check_contract, classifier, finish,
                                          graph_recursion_limit, make_input, model_inputs, pool)

# keras.applications has ImageNet weights for these (block, stage_depths) with the paper's layout.
_IMAGENET_WEIGHTS_ARCHS = {("bottleneck", specs.IMAGENET_RESNETS[d][1]): f"resnet{d}"
                           for d in (50, 101, 152)}
# keras.applications' ResNets were built with this epsilon; their weights expect it.
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5


def _check_int_tuple(value, what):
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                             for v in values):
        raise ValueError(f"{what} must be a non-empty sequence of positive integers; got {value!r}.")
    return values


@keras.saving.register_keras_serializable(package="keras_deepnets")
class ResNetModel(DeepNet):
    """Any ResNet v1 (post-activation) or its plain twin.

    Args:
        block: "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1, 4x expansion).
        stage_depths: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-34/50, (9, 9, 9) for ResNet-56.
        stage_filters: filters per stage (bottleneck outputs are 4x these).
        stem: "imagenet" (7x7/2 conv, 3x3/2 max-pool) or "cifar" (one 3x3 conv).
        stem_filters: filters of the stem; default the first stage's.
        shortcut: "A" zero-padding identity, "B" projection where the shape changes,
            "C" projection everywhere, None for the plain network.
        stride_in_1x1: bottleneck stride on the first 1x1 (paper) or, if False, on the 3x3 (v1.5).
        bn_epsilon, bn_momentum: BatchNormalization settings (momentum in Keras's convention).
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
        name: as in keras.applications. `classes` defaults to 1000 (ImageNet stem) or 10 (CIFAR).
    """

    def __init__(self, block="basic", stage_depths=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512),
                 stem="imagenet", stem_filters=None, shortcut="B", stride_in_1x1=True,
                 bn_epsilon=1e-5, bn_momentum=0.9, include_top=True, weights=None,
                 input_tensor=None, input_shape=None, pooling=None, classes=None,
                 classifier_activation="softmax", name="resnet", **kwargs):
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}; got {block!r}.")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {sorted(STEMS)}; got {stem!r}.")
        stage_depths = _check_int_tuple(stage_depths, "stage_depths")
        stage_filters = _check_int_tuple(stage_filters, "stage_filters")
        if len(stage_depths) != len(stage_filters):
            raise ValueError(f"stage_depths {stage_depths} and stage_filters {stage_filters} "
                             "must have the same length (one entry per stage).")
        stem_filters = stage_filters[0] if stem_filters is None else int(stem_filters)
        if classes is None:
            classes = 1000 if stem == "imagenet" else 10
        opts = BlockOptions(shortcut, stride_in_1x1, bn_epsilon, bn_momentum)
        imagenet_key = None
        if (stem == "imagenet" and opts.shortcut == "B" and opts.stride_in_1x1
                and stage_filters == specs.IMAGENET_STAGE_FILTERS and stem_filters == 64):
            imagenet_key = _IMAGENET_WEIGHTS_ARCHS.get((block, stage_depths))
        check_contract(include_top=include_top, weights=weights, input_shape=input_shape,
                       pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation,
                       imagenet_ok=imagenet_key is not None, model_label=name)
        if weights == "imagenet":
            opts.bn_epsilon = KERAS_APPLICATIONS_BN_EPSILON
        stem_fn, stem_stride = STEMS[stem]
        total_stride = stem_stride * 2 ** (len(stage_depths) - 1)
        inputs, source = make_input(input_tensor, input_shape,
                                    default_size=224 if stem == "imagenet" else 32,
                                    min_size=total_stride, include_top=include_top,
                                    needs_static=False)

        x = stem_fn(inputs, stem_filters, opts)
        for i, (depth, filters) in enumerate(zip(stage_depths, stage_filters)):
            # keras.applications' stage names: conv2 is the first stage after the stem.
            x = stage(x, BLOCKS[block], filters, depth, 1 if i == 0 else 2, f"conv{i + 2}", opts)
        if include_top:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = classifier(x, classes=classes, classifier_activation=classifier_activation)
        else:
            x = pool(x, pooling)
        with graph_recursion_limit(12 * sum(stage_depths) + 16):  # <= 12 layers per block
            super().__init__(model_inputs(inputs, source), x, name=name, **kwargs)
        self._set_arch(block=block, stage_depths=stage_depths, stage_filters=stage_filters,
                       stem=stem, stem_filters=stem_filters, shortcut=opts.shortcut,
                       stride_in_1x1=opts.stride_in_1x1, bn_epsilon=opts.bn_epsilon,
                       bn_momentum=opts.bn_momentum, include_top=include_top,
                       input_shape=tuple(inputs.shape[1:]), pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights, imagenet_key)


ResNet = ResNetModel  # the generic builder under its short name


def _constructor(depth, plain):
    """Makes the named constructor for one depth of the ResNet paper (no per-depth code)."""
    if depth in specs.IMAGENET_RESNETS:
        block, depths = specs.IMAGENET_RESNETS[depth]
        filters, stem, classes, default_shortcut = specs.IMAGENET_STAGE_FILTERS, "imagenet", 1000, "B"
    else:
        n = specs.cifar_blocks_per_stage(depth)
        block, depths = "basic", (n,) * 3
        filters, stem, classes, default_shortcut = specs.CIFAR_STAGE_FILTERS, "cifar", 10, "A"
    prefix = "Plain" if plain else "ResNet"

    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=classes, classifier_activation="softmax",
                    name=f"{prefix.lower()}{depth}", **kwargs):
        if plain:
            if kwargs.get("shortcut") is not None:
                raise ValueError(f"{prefix}{depth} has no shortcuts; use ResNet{depth}"
                                 f"(shortcut={kwargs['shortcut']!r}) instead.")
            kwargs["shortcut"] = None
        kwargs.setdefault("shortcut", default_shortcut)
        return ResNetModel(block, depths, filters, stem=stem, include_top=include_top,
                           weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                           pooling=pooling, classes=classes,
                           classifier_activation=classifier_activation, name=name, **kwargs)

    kind = "plain network (no shortcuts)" if plain else "residual network"
    data = ("ImageNet, Table 1" if stem == "imagenet"
            else "CIFAR-10, section 4.2: 6n+2 layers, 32x32x3 input, 10 classes")
    constructor.__name__ = constructor.__qualname__ = f"{prefix}{depth}"
    constructor.__doc__ = (
        f"{depth}-layer {kind} of the ResNet paper ({data}).\n\n"
        "keras.applications' arguments; keyword options `shortcut` (default "
        f"{'None' if plain else repr(default_shortcut)}), `stride_in_1x1`, `bn_epsilon`, "
        "`bn_momentum` go to `ResNetModel`.\n\n"
        f"Example:\n    >>> model = keras_deepnets.{prefix}{depth}(weights=None)\n")
    return constructor


ResNet18, ResNet34, ResNet50, ResNet101, ResNet152 = (_constructor(d, False) for d in (18, 34, 50, 101, 152))
ResNet20, ResNet32, ResNet44, ResNet56, ResNet110, ResNet1202 = (
    _constructor(d, False) for d in specs.CIFAR_DEPTHS)
Plain18, Plain34, Plain50, Plain101, Plain152 = (_constructor(d, True) for d in (18, 34, 50, 101, 152))
Plain20, Plain32, Plain44, Plain56, Plain110, Plain1202 = (
    _constructor(d, True) for d in specs.CIFAR_DEPTHS)
