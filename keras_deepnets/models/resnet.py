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

import dataclasses
import numbers

import keras
from keras import layers

from keras_deepnets.models import specs
from keras_deepnets.models.blocks import BLOCKS, STEMS, BlockOptions, stage
from keras_deepnets.models.common import (DeepNet, accepts_pretrained, builds_in_data_format,
                                          check_contract, classifier, finish,
                                          graph_recursion_limit, make_input, model_inputs, pool)
from keras_deepnets.registry import register_model

# The paper's ImageNet (block, stage_depths) -> registry name: the key of the `pretrained` table
# that says which weights exist for the architecture (keras.applications': ResNet-50/101/152).
_PAPER_IMAGENET_ARCHS = {(block, depths): f"resnet{d}"
                         for d, (block, depths) in specs.IMAGENET_RESNETS.items()}
# BN epsilon when neither the caller nor pretrained weights ask for another (PyTorch's and
# Caffe's); momentum 0.9 in Keras's convention is their 0.1.
DEFAULT_BN_EPSILON = 1e-5


def _paper_arch_key(block, stage_depths, stage_filters, stem, stem_filters, opts):
    """The registry name of the paper's ImageNet ResNet this architecture is, or None: only that
    layout (option B shortcuts, stride on the 1x1, 64-wide stem and stages) can take its
    pretrained weights."""
    if (stem == "imagenet" and opts.shortcut == "B" and opts.stride_in_1x1
            and (opts.groups, opts.width_per_group) == (1, 64)
            and stage_filters == specs.IMAGENET_STAGE_FILTERS and stem_filters == 64):
        return _PAPER_IMAGENET_ARCHS.get((block, stage_depths))
    return None


def _bn_epsilon(requested, row):
    """The BN epsilon to build with: an explicit `bn_epsilon`, else the one the pretrained weights
    `row` were trained with (keras.applications' 1.001e-5), else `DEFAULT_BN_EPSILON`.
    An explicit one that differs from the weights' is a ValueError (see `Pretrained`)."""
    if requested is not None and (isinstance(requested, bool)
                                  or not isinstance(requested, numbers.Real) or requested <= 0):
        raise ValueError(f"bn_epsilon must be a positive number, or None for the default "
                         f"({DEFAULT_BN_EPSILON}, or the pretrained weights' own); "
                         f"got {requested!r}.")
    if row is None:
        return DEFAULT_BN_EPSILON if requested is None else float(requested)
    return row.bn_epsilon_for(requested, DEFAULT_BN_EPSILON)


def _check_int_tuple(value, what):
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                             for v in values):
        raise ValueError(f"{what} must be a non-empty sequence of positive integers; "
                         f"got {value!r}.")
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
        groups, width_per_group: ResNeXt's cardinality and bottleneck width per group (per 64
            of a stage's filters); 1 and 64 are ResNet. Bottleneck blocks only.
        bn_epsilon, bn_momentum: BatchNormalization settings (momentum in Keras's convention).
            `bn_epsilon=None` (default) is 1e-5, or the pretrained weights' own epsilon when
            `weights` names some (1.001e-5 for keras.applications'); an explicit one that differs
            from the weights' raises ValueError.
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
        name: as in keras.applications. `classes` defaults to 1000 (ImageNet stem) or 10 (CIFAR).
    """

    @builds_in_data_format
    def __init__(self, block="basic", stage_depths=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512),
                 stem="imagenet", stem_filters=None, shortcut="B", stride_in_1x1=True,
                 groups=1, width_per_group=64, bn_epsilon=None, bn_momentum=0.9,
                 include_top=True, weights=None,
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
        opts = BlockOptions(shortcut, stride_in_1x1, DEFAULT_BN_EPSILON, bn_momentum, groups,
                            width_per_group)
        if block == "basic" and (opts.groups, opts.width_per_group) != (1, 64):
            raise ValueError(f"groups and width_per_group (ResNeXt) need block='bottleneck'; "
                             f"got groups={groups!r}, width_per_group={width_per_group!r} with "
                             "basic blocks.")
        arch = _paper_arch_key(block, stage_depths, stage_filters, stem, stem_filters, opts)
        weights_source = check_contract(include_top=include_top, weights=weights,
                                        input_shape=input_shape, pooling=pooling, classes=classes,
                                        classifier_activation=classifier_activation,
                                        weights_names=(arch,) if arch else (), model_label=name)
        opts = dataclasses.replace(opts, bn_epsilon=_bn_epsilon(bn_epsilon, weights_source.row))
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
                       stride_in_1x1=opts.stride_in_1x1, groups=opts.groups,
                       width_per_group=opts.width_per_group, bn_epsilon=opts.bn_epsilon,
                       bn_momentum=opts.bn_momentum, include_top=include_top,
                       input_shape=tuple(inputs.shape[1:]), pooling=pooling, classes=classes,
                       classifier_activation=classifier_activation)
        finish(self, weights_source)


ResNet = ResNetModel  # the generic builder under its short name


def _constructor(depth, plain):
    """Makes the named constructor for one depth of the ResNet paper (no per-depth code) and
    registers it as "resnet<depth>" / "plain<depth>" in the family of its stem's dataset."""
    if depth in specs.IMAGENET_RESNETS:
        block, depths = specs.IMAGENET_RESNETS[depth]
        filters, stem, classes = specs.IMAGENET_STAGE_FILTERS, "imagenet", 1000
        default_shortcut = "B"
    else:
        n = specs.cifar_blocks_per_stage(depth)
        block, depths = "basic", (n,) * 3
        filters, stem, classes, default_shortcut = specs.CIFAR_STAGE_FILTERS, "cifar", 10, "A"
    prefix = "Plain" if plain else "ResNet"
    default_name = f"{prefix.lower()}{depth}"

    @register_model(default_name, family=stem)
    @accepts_pretrained(lambda kwargs: default_name)
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=classes, classifier_activation="softmax",
                    name=default_name, **kwargs):
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


# One constructor per depth of the spec tables, each registered as it is made.
ResNet18, ResNet34, ResNet50, ResNet101, ResNet152 = (
    _constructor(d, False) for d in specs.IMAGENET_RESNETS)
ResNet20, ResNet32, ResNet44, ResNet56, ResNet110, ResNet1202 = (
    _constructor(d, False) for d in specs.CIFAR_DEPTHS)
Plain18, Plain34, Plain50, Plain101, Plain152 = (
    _constructor(d, True) for d in specs.IMAGENET_RESNETS)
Plain20, Plain32, Plain44, Plain56, Plain110, Plain1202 = (
    _constructor(d, True) for d in specs.CIFAR_DEPTHS)
