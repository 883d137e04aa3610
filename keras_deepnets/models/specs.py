"""Architecture tables of the two papers: the only place depths and widths are written down.

VGG: Simonyan & Zisserman, ICLR 2015, Table 1. Each entry is a list of stages; a stage is a
list of convolutions, each `(filters, kernel_size)`; every stage ends with a 2x2 max-pool.
"LRN" after a convolution inserts AlexNet's local response normalisation (config A-LRN).

ResNet: He et al., CVPR 2016, Table 1 (ImageNet) and section 4.2 (CIFAR-10, 6n+2 layers).

LeNet-5: LeCun, Bottou, Bengio, Haffner, Proc. IEEE 1998, section II.B and Table I.

AlexNet: Krizhevsky, Sutskever, Hinton, NIPS 2012, section 3.5 and Figure 2; torchvision's
single-tower layout from Krizhevsky, "One weird trick for parallelizing CNNs", 2014.

GoogLeNet: Szegedy et al., "Going deeper with convolutions", CVPR 2015 (arXiv 2014), Table 1.

ResNeXt: Xie et al., "Aggregated residual transformations for deep neural networks", CVPR 2017,
Table 1 (ImageNet) and section 5.2 (CIFAR).
"""

import collections

# Keys are the paper's column letters; names map them to the constructors.
VGG_CONFIGS = {
    "A": [[(64, 3)], [(128, 3)], [(256, 3)] * 2, [(512, 3)] * 2, [(512, 3)] * 2],
    "A-LRN": [[(64, 3), "LRN"], [(128, 3)], [(256, 3)] * 2, [(512, 3)] * 2, [(512, 3)] * 2],
    "B": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 2, [(512, 3)] * 2, [(512, 3)] * 2],
    # C is D with the last convolution of stages 3-5 a 1x1: "additional non-linearity without
    # changing the receptive field" (paper, section 2.3).
    "C": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 2 + [(256, 1)],
          [(512, 3)] * 2 + [(512, 1)], [(512, 3)] * 2 + [(512, 1)]],
    "D": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 3, [(512, 3)] * 3, [(512, 3)] * 3],
    "E": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 4, [(512, 3)] * 4, [(512, 3)] * 4],
}

# ImageNet ResNets: depth -> (block, blocks per stage). Stage filters are 64/128/256/512
# (bottleneck outputs are 4x that).
IMAGENET_RESNETS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_STAGE_FILTERS = (64, 128, 256, 512)

# CIFAR-10 ResNets have 6n+2 weighted layers: n basic blocks in each of three stages.
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)
CIFAR_STAGE_FILTERS = (16, 32, 64)


def cifar_blocks_per_stage(depth):
    """n for a CIFAR ResNet of `depth` = 6n + 2 layers; ValueError for other depths."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"A CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110, 1202, ...); got depth={depth!r}."
        )
    return (depth - 2) // 6


# LeNet-5's C3 (paper Table I): which of S2's 6 maps each of C3's 16 maps reads. Maps 0-5 read 3
# contiguous maps, 6-11 four contiguous, 12-14 four non-contiguous, 15 all six: "to keep the
# number of connections within reasonable bounds" and "to break the symmetry in the network".
LENET5_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
# (layer, maps, kernel) of LeNet-5's feature layers; S2/S4 are 2x2 subsampling.
LENET5_LAYERS = (("C1", 6, 5), ("S2", 6, 2), ("C3", 16, 5), ("S4", 16, 2), ("C5", 120, 5))
LENET5_F6_UNITS = 84


# One AlexNet convolution: `groups=2` is the paper's split over two GPUs ("the kernels of the
# second, fourth, and fifth convolutional layers are connected only to those kernel maps in the
# previous layer which reside on the same GPU", section 3.5); `lrn` and `pool` say what follows
# its ReLU (LRN, then a 3x3/2 overlapping max-pool, section 3.4).
AlexConv = collections.namedtuple("AlexConv", "filters kernel stride padding groups lrn pool")
ALEXNET_CONVS = {
    "paper": (AlexConv(96, 11, 4, 0, 1, True, True), AlexConv(256, 5, 1, 2, 2, True, True),
              AlexConv(384, 3, 1, 1, 1, False, False), AlexConv(384, 3, 1, 1, 2, False, False),
              AlexConv(256, 3, 1, 1, 2, False, True)),
    "torchvision": (AlexConv(64, 11, 4, 2, 1, False, True),
                    AlexConv(192, 5, 1, 2, 1, False, True),
                    AlexConv(384, 3, 1, 1, 1, False, False),
                    AlexConv(256, 3, 1, 1, 1, False, False),
                    AlexConv(256, 3, 1, 1, 1, False, True)),
}
ALEXNET_FC_UNITS = 4096
ALEXNET_POOL = (3, 2)  # overlapping pooling: 3x3 windows, stride 2 (section 3.4)


# GoogLeNet's Inception modules (Table 1): name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj. A 3x3/2 max-pool comes before the first module of stages 4 and 5.
Inception = collections.namedtuple("Inception",
                                   "name n1x1 n3x3_reduce n3x3 n5x5_reduce n5x5 pool_proj")
GOOGLENET_INCEPTIONS = (
    Inception("3a", 64, 96, 128, 16, 32, 32), Inception("3b", 128, 128, 192, 32, 96, 64),
    Inception("4a", 192, 96, 208, 16, 48, 64), Inception("4b", 160, 112, 224, 24, 64, 64),
    Inception("4c", 128, 128, 256, 24, 64, 64), Inception("4d", 112, 144, 288, 32, 64, 64),
    Inception("4e", 256, 160, 320, 32, 128, 128),
    Inception("5a", 256, 160, 320, 32, 128, 128), Inception("5b", 384, 192, 384, 48, 128, 128),
)
# The auxiliary classifiers (section 5) read the outputs of these modules.
GOOGLENET_AUX_AFTER = ("4a", "4d")
GOOGLENET_AUX_UNITS = (128, 1024)  # the 1x1 reduction's filters, the hidden FC's units


# ResNeXt on ImageNet: name -> (ResNet depth whose blocks per stage it takes, cardinality,
# width per group). The stride sits on the 3x3 (the paper's code; torchvision's too).
IMAGENET_RESNEXTS = {"resnext50_32x4d": (50, 32, 4), "resnext101_32x8d": (101, 32, 8),
                     "resnext101_64x4d": (101, 64, 4)}
# ResNeXt-29 on CIFAR (section 5.2): three stages of three bottlenecks after a 3x3 stem of 64,
# stage outputs 256/512/1024; name -> (cardinality, width per group).
CIFAR_RESNEXTS = {"resnext29_8x64d": (8, 64), "resnext29_16x64d": (16, 64)}
CIFAR_RESNEXT_DEPTHS = (3, 3, 3)
CIFAR_RESNEXT_FILTERS = (64, 128, 256)
