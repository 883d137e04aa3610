"""The search spaces: the papers' defaults, hp.Fixed overrides, and clear errors for impossible
networks. Nothing here trains."""

import keras_tuner as kt
import pytest

import keras_deepnets
from keras_deepnets import training, tuning


def fixed(**values):
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def test_cifar_defaults_are_the_paper():
    hm = tuning.CifarResNetHyperModel()
    hp = kt.HyperParameters()
    assert hm.describe(hp) == {"depth": 20, "layout": "6n+2=20", "block": "basic",
                               "shortcut": "A", "width": 1.0, "stage_filters": "16-32-64",
                               "lr": 0.1, "weight_decay": 1e-4}
    assert hm.build(hp).count_params() == keras_deepnets.ResNet20().count_params()
    assert hm.registry_name(fixed(depth=110)) == "resnet110"  # its recipe warms up


def test_imagenet_defaults_are_the_paper():
    hm = tuning.ImageNetResNetHyperModel()
    arch = hm.architecture(kt.HyperParameters())
    assert arch == {"block": "bottleneck", "stage_depths": (3, 4, 6, 3),
                    "stage_filters": (64, 128, 256, 512), "stem": "imagenet", "shortcut": "B"}
    assert hm.describe(fixed(depth=152))["depth"] == 152
    assert hm.describe(fixed(depth=34, block="basic"))["depth"] == 34
    assert hm.describe(fixed(depth=34))["depth"] == 50  # 34's repeats with bottlenecks = 50


def test_fixed_overrides_build_that_network():
    hm = tuning.CifarResNetHyperModel()
    model = hm.build(fixed(depth=56, shortcut="B"))
    assert model.count_params() == keras_deepnets.get_model("resnet56", shortcut="B").count_params()
    plain = hm.build(fixed(depth=32, shortcut="none"))
    assert plain.count_params() == keras_deepnets.get_model("plain32").count_params()
    bottleneck = hm.describe(fixed(depth=20, block="bottleneck", width=0.5))
    assert (bottleneck["depth"], bottleneck["stage_filters"]) == (29, "8-16-32")  # 9n+2


def test_fixed_overrides_reach_the_tuner(tmp_path):
    hps = fixed(depth=44, block="basic", shortcut="C", width=0.5, lr=0.05)
    tuner = tuning.make_tuner("random", tuning.CifarResNetHyperModel(), max_trials=2,
                              hyperparameters=hps, directory=str(tmp_path),
                              train_config=training.TrainConfig(use_synthetic_data=True))
    trial = tuner.oracle.create_trial("tuner0")
    assert {k: trial.hyperparameters.get(k) for k in ("depth", "block", "shortcut", "width",
                                                       "lr")} == \
        {"depth": 44, "block": "basic", "shortcut": "C", "width": 0.5, "lr": 0.05}
    assert 1e-5 <= trial.hyperparameters.get("weight_decay") <= 1e-3  # still searched


def test_width_multiplier_rounds_to_multiples_of_4():
    assert tuning.CHANNEL_MULTIPLE == 4
    assert [tuning.scale_filters(16, w) for w in (0.25, 0.5, 1, 1.5, 2)] == [4, 8, 16, 24, 32]
    assert tuning.scale_filters(64, 0.3) == 20 and tuning.scale_filters(16, 0.01) == 4


def test_stage_repeats_space():
    hm = tuning.ImageNetResNetHyperModel(stage_repeats=[(1, 1, 1, 1), "2-2-2-2"])
    desc = hm.describe(fixed(stage_repeats="1-1-1-1", block="basic"))
    assert (desc["depth"], desc["layout"]) == (10, "1-1-1-1")


@pytest.mark.parametrize("kwargs, message", [
    ({"depths": (20, 33)}, r"6n\+2 layers .*got depth=33"),
    ({"depths": (20, 0)}, r"6n\+2"),
    ({"depths": ()}, "at least one depth"),
    ({"blocks": ("basic", "wide")}, "block type"),
    ({"shortcuts": ("A", "D")}, "shortcut option"),
    ({"widths": (1.0, -0.5)}, "width multiplier"),
    ({"lr_range": (0.4, 0.01)}, "lr_range"),
])
def test_impossible_cifar_spaces(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tuning.CifarResNetHyperModel(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"depths": (18, 40)}, "18, 34, 50, 101, 152"),
    ({"stage_repeats": [(3, 4, 6)]}, "4 positive integers"),
    ({"stage_repeats": ["3-x-6-3"]}, "4 positive integers"),
])
def test_impossible_imagenet_spaces(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tuning.ImageNetResNetHyperModel(**kwargs)


def test_impossible_fixed_value_fails_before_any_trial(tmp_path):
    with pytest.raises(ValueError, match="6n\\+2"):
        tuning.make_tuner("random", tuning.CifarResNetHyperModel(), max_trials=2,
                          hyperparameters=fixed(depth=33), directory=str(tmp_path))
    with pytest.raises(ValueError, match="shortcut"):
        tuning.CifarResNetHyperModel().build(fixed(shortcut="D"))


def test_bad_tuner_settings(tmp_path):
    hm = tuning.CifarResNetHyperModel()
    with pytest.raises(ValueError, match="tuner must be one of"):
        tuning.make_tuner("grid", hm, directory=str(tmp_path))
    with pytest.raises(ValueError, match="max_trials"):
        tuning.make_tuner("random", hm, max_trials=0, directory=str(tmp_path))
    with pytest.raises(ValueError, match="own machine"):
        tuning.make_tuner("random", hm, directory=str(tmp_path),
                          train_config={"distribution_strategy": "multi_worker"})
    with pytest.raises(ValueError, match="ResNet HyperModel"):
        tuning.RandomSearch(kt.HyperModel(), max_trials=1, directory=str(tmp_path))
    with pytest.raises(ValueError, match="family"):
        tuning.hypermodel_for("mnist")


@pytest.mark.parametrize("kind", ["random", "hyperband", "bayesian"])
def test_every_tuner_kind_proposes_networks_of_the_space(kind, tmp_path):
    hm = tuning.CifarResNetHyperModel(depths=(8, 14, 20))
    tuner = tuning.make_tuner(kind, hm, max_trials=3, epochs=3, directory=str(tmp_path))
    assert isinstance(tuner, tuning.TUNERS[kind]) and tuner.oracle.objective.name == "val_accuracy"
    for i in range(2):
        trial = tuner.oracle.create_trial(f"tuner{i}")
        desc = hm.describe(trial.hyperparameters.copy())
        assert desc["depth"] in (8, 14, 20, 11, 20, 29)  # 6n+2 basic or 9n+2 bottleneck
        if kind == "hyperband":
            assert 1 <= trial.hyperparameters.get("tuner/epochs") <= 3


def test_imagenet_space_with_resnext_cardinality():
    hm = tuning.ImageNetResNetHyperModel(depths=(50,), cardinalities=(1, 32), group_widths=(4, 8))
    assert "groups" not in hm.architecture(kt.HyperParameters())  # the first trial: ResNet-50
    hp = fixed(cardinality=32, group_width=4)
    assert hm.describe(hp)["block"] == "bottleneck 32x4d"
    model = hm.build(hp)
    assert model.count_params() == keras_deepnets.ResNeXt50_32x4d().count_params()
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)  # on the grouped 3x3
    basic = hm.architecture(fixed(block="basic", cardinality=32))
    assert "groups" not in basic  # cardinality applies to bottlenecks only
    with pytest.raises(ValueError, match="cardinality or group width must be a positive"):
        tuning.ImageNetResNetHyperModel(cardinalities=(0, 32))
