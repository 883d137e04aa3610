"""Parameter counts and multiply-adds against the papers and torchvision."""

import functools

import keras
import pytest

import keras_deepnets as kd

# torchvision's counts of the same architectures (sum of p.numel() over model.parameters()),
# VGG config C from its Table 1 (paper: 134M), CIFAR ResNet-20 from the ResNet paper (0.27M).
TRAINABLE = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg16_bn": 138_365_992, "vgg16c": 133_638_952,
    "resnet20": 269_722,
}

# ResNet paper, Table 6 (parameters in millions, option A): 32/44/56/110/1202.
CIFAR_MILLIONS = {"resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}

# ResNet paper, Table 1 ("FLOPs" = multiply-adds), and the VGG-16/19 figures it quotes (sec. 3.3).
MULT_ADDS = {"resnet18": 1.8e9, "resnet34": 3.6e9, "resnet50": 3.8e9, "resnet101": 7.6e9,
             "resnet152": 11.3e9, "vgg16": 15.3e9, "vgg19": 19.6e9}


@functools.lru_cache(maxsize=None)
def stats(name):
    """Each model is built once for all the tests here (VGGs take seconds to initialise)."""
    result = kd.model_stats(kd.get_model(name))
    keras.backend.clear_session()
    return result


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_trainable_parameters_match_reference(name):
    assert stats(name).trainable_params == TRAINABLE[name]


@pytest.mark.parametrize("name", sorted(CIFAR_MILLIONS))
def test_cifar_parameters_match_table_6(name):
    millions = stats(name).trainable_params / 1e6
    assert round(millions, 2 if millions < 1 else 1) == CIFAR_MILLIONS[name]


@pytest.mark.parametrize("name", sorted(MULT_ADDS))
def test_mult_adds_within_3_percent_of_paper(name):
    mult_adds = stats(name).mult_adds
    assert abs(mult_adds / MULT_ADDS[name] - 1) < 0.03, mult_adds


def test_vgg_configs_grow_in_depth_and_weights():
    # Table 2 of the VGG paper: 133, 133, 134, 138, 144 million parameters for A..E.
    millions = [stats(n).params / 1e6 for n in ("vgg11", "vgg13", "vgg16c", "vgg16", "vgg19")]
    assert [round(m) for m in millions] == [133, 133, 134, 138, 144]


def test_plain_nets_have_the_same_weights_as_option_a_and_b_resnets():
    # Option A adds no parameters (ResNet paper, sec. 4.1: "no extra parameter compared to the
    # plain counterparts"); option B only the projections where the shape changes.
    plain = kd.model_stats(kd.Plain20()).trainable_params
    assert kd.model_stats(kd.ResNet20(shortcut="A")).trainable_params == plain
    b = kd.model_stats(kd.ResNet20(shortcut="B")).trainable_params
    c = kd.model_stats(kd.ResNet20(shortcut="C")).trainable_params
    projections_b = 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64  # two 1x1 convs + their BN gamma/beta
    assert b - plain == projections_b
    assert c > b  # C also projects the 7 identity shortcuts
    assert (kd.model_stats(kd.Plain34()).trainable_params
            < kd.model_stats(kd.ResNet34()).trainable_params)


def test_stats_reject_unknown_input_size():
    model = kd.ResNet18(include_top=False)  # input (None, None, 3)
    with pytest.raises(ValueError, match="input_shape"):
        kd.model_stats(model)
