"""ResNet building blocks as plain functions `(x, filters, stride, name, ...) -> tensor`.

Post-activation "v1" units exactly as the ResNet paper, Fig. 2 and Fig. 5: conv-BN-ReLU ...
conv-BN, add the shortcut, then ReLU. Layer names follow keras.applications
(`conv4_block3_2_conv`, `conv4_block3_0_conv` for a projection shortcut, `..._add`, `..._out`),
so that weights can be copied by name.
"""

import dataclasses

from keras import layers

from keras_deepnets.models.batchnorm import BatchNormalization
from keras_deepnets.models.grouped_conv import GroupedConv2D
from keras_deepnets.models.layers import Conv2D, ZeroPadShortcut, channel_axis
from keras_deepnets.models.pointwise_conv import PointwiseConv2D

SHORTCUTS = (None, "A", "B", "C")


def normalize_shortcut(shortcut):
    """Accepts None/"none"/"plain" (no shortcut) and "A"/"B"/"C" in either case."""
    if shortcut is None or (isinstance(shortcut, str) and shortcut.lower() in ("none", "plain")):
        return None
    if isinstance(shortcut, str) and shortcut.upper() in ("A", "B", "C"):
        return shortcut.upper()
    raise ValueError(
        f"Unknown shortcut option {shortcut!r}. Accepted: 'A' (zero-padding identity), "
        "'B' (projection where the shape changes), 'C' (projection everywhere), None (plain net)."
    )


@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """Settings every block of one network shares (so block signatures stay short).

    Frozen: every block of a network must see the same settings, so they are decided once,
    before the first block is built (`dataclasses.replace` makes a changed copy).
    """

    shortcut: str | None = "B"
    stride_in_1x1: bool = True
    bn_epsilon: float = 1e-5
    bn_momentum: float = 0.9
    # ResNeXt (Xie et al. 2017): the bottleneck's 3x3 in `groups` groups ("cardinality") of
    # `width_per_group` channels per 64 of the stage's filters; 1 and 64 are ResNet's bottleneck
    groups: int = 1
    width_per_group: int = 64

    def __post_init__(self):
        for field in ("groups", "width_per_group"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer; got {value!r}.")
        # Normalised on the way in; a frozen dataclass sets its own fields via object.__setattr__.
        object.__setattr__(self, "shortcut", normalize_shortcut(self.shortcut))
        object.__setattr__(self, "stride_in_1x1", bool(self.stride_in_1x1))
        object.__setattr__(self, "bn_epsilon", float(self.bn_epsilon))
        object.__setattr__(self, "bn_momentum", float(self.bn_momentum))


def conv_bn(x, filters, kernel_size, stride, name, opts, relu, groups=1):
    """conv (no bias: the BN after it has its own shift) -> BN -> optional ReLU.

    Strided 3x3 and 7x7 convolutions pad explicitly by k//2 on every side, as Caffe and PyTorch do;
    Keras's "same" would pad (0, 1) for an even input and shift the sampling grid by one pixel.
    """
    padding = "same"
    if stride > 1 and kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=name + "_pad")(x)
        padding = "valid"
    conv = Conv2D  # (ours: channels_first runs on any CPU)
    if groups > 1:
        conv = GroupedConv2D  # (Keras's grouped path is slow)
    elif kernel_size == 1 and stride == 1:
        conv = PointwiseConv2D  # (its bfloat16 weight gradient is faster as a matmul)
    x = conv(filters, kernel_size, strides=stride, padding=padding, use_bias=False,
             groups=groups, kernel_initializer="he_normal", name=name + "_conv")(x)
    x = BatchNormalization(epsilon=opts.bn_epsilon, momentum=opts.bn_momentum,
                           name=name + "_bn")(x)
    if relu:
        x = layers.Activation("relu", name=name + "_relu")(x)
    return x


def shortcut(x, filters, stride, name, opts):
    """The shortcut branch, decided by the shape as in torchvision: a change is needed when
    `stride != 1 or in_channels != filters`. Returns None for plain networks."""
    if opts.shortcut is None:
        return None
    changes = stride != 1 or x.shape[channel_axis()] != filters
    if opts.shortcut == "C" or (opts.shortcut == "B" and changes):
        return conv_bn(x, filters, 1, stride, name + "_0", opts, relu=False)
    if opts.shortcut == "A" and changes:
        return ZeroPadShortcut(filters, stride, name=name + "_0_pad")(x)
    return x


def merge(x, short, name):
    """Adds the shortcut (if any), then the block's final ReLU."""
    if short is not None:
        x = layers.Add(name=name + "_add")([short, x])
    return layers.Activation("relu", name=name + "_out")(x)


def basic_block(x, filters, stride, name, opts):
    """Two 3x3 convolutions (ResNet paper, Fig. 5 left); the stride sits on the first."""
    short = shortcut(x, filters, stride, name, opts)
    y = conv_bn(x, filters, 3, stride, name + "_1", opts, relu=True)
    y = conv_bn(y, filters, 3, 1, name + "_2", opts, relu=False)
    return merge(y, short, name)


def bottleneck_block(x, filters, stride, name, opts):
    """1x1 reduce, 3x3, 1x1 expand to 4*filters (ResNet paper, Fig. 5 right).

    The paper (and its Caffe release, and keras.applications) put the stride on the first 1x1;
    `stride_in_1x1=False` moves it to the 3x3, the "v1.5" of torchvision and NVIDIA, which costs
    more multiply-adds and is about 0.5% more accurate.

    ResNeXt's block (Xie et al. 2017, Fig. 3c) is this one with the 3x3 in `opts.groups` groups
    and `filters * width_per_group / 64 * groups` channels inside, as torchvision computes it.
    """
    out = 4 * filters
    width = filters * opts.width_per_group // 64 * opts.groups
    short = shortcut(x, out, stride, name, opts)
    s1, s3 = (stride, 1) if opts.stride_in_1x1 else (1, stride)
    y = conv_bn(x, width, 1, s1, name + "_1", opts, relu=True)
    y = conv_bn(y, width, 3, s3, name + "_2", opts, relu=True, groups=opts.groups)
    y = conv_bn(y, out, 1, 1, name + "_3", opts, relu=False)
    return merge(y, short, name)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}


def stage(x, block, filters, depth, stride, name, opts):
    """`depth` blocks; only the first changes the resolution."""
    for i in range(depth):
        x = block(x, filters, stride if i == 0 else 1, f"{name}_block{i + 1}", opts)
    return x


def imagenet_stem(x, filters, opts):
    """7x7/2 convolution and 3x3/2 max-pool (ResNet paper, Table 1, conv1 and conv2_x's pool)."""
    x = conv_bn(x, filters, 7, 2, "conv1", opts, relu=True)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def cifar_stem(x, filters, opts):
    """One 3x3 convolution with 16 filters at full 32x32 resolution (ResNet paper, section 4.2)."""
    return conv_bn(x, filters, 3, 1, "conv1", opts, relu=True)


STEMS = {"imagenet": (imagenet_stem, 4), "cifar": (cifar_stem, 1)}  # stem -> (builder, its stride)

