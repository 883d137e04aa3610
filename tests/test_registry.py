"""The registry every script, the tuner and the tests go through."""

import pytest

import keras_deepnets as kd
from keras_deepnets import registry

PAPER_MODELS = (
    [f"resnet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110, 1202)]
    + [f"plain{d}" for d in (18, 34, 20, 32, 44, 56, 110)]
    + ["vgg11", "vgg11_lrn", "vgg13", "vgg16c", "vgg16", "vgg19", "vgg16_bn"]
)


def test_every_network_of_the_papers_is_registered():
    assert set(PAPER_MODELS) <= set(kd.list_models())
    assert kd.list_models() == sorted(kd.list_models())


def test_families():
    cifar = kd.list_models("cifar")
    assert "resnet56" in cifar and "plain20" in cifar and "resnet50" not in cifar
    assert kd.model_info("ResNet56").input_size == 32 and kd.model_info("vgg16").classes == 1000


def test_get_model_passes_overrides():
    model = kd.get_model("resnet56", shortcut="B", classes=100)
    assert model.get_config()["shortcut"] == "B" and model.output_shape == (None, 100)
    assert kd.get_model("vgg11_bn", input_shape=(32, 32, 3), classes=10).get_config()["batch_norm"]
    assert kd.get_model("plain20").get_config()["shortcut"] is None


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        kd.get_model("resnet51")
    assert all(name in str(info.value) for name in ("resnet50", "plain56", "vgg19_bn"))


def test_names_are_unique():
    with pytest.raises(ValueError, match="already registered"):
        kd.register_model("resnet18", kd.ResNet18, "imagenet")


def test_register_model_as_a_decorator(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after the test

    @kd.register_model("tiny_test_net", family="cifar", classes=3)
    def tiny(**kwargs):
        return kwargs

    assert tiny.__name__ == "tiny"  # the decorator returns the constructor itself
    assert kd.get_model("tiny_test_net", width=2) == {"classes": 3, "width": 2}
    assert kd.model_info("tiny_test_net").input_size == 32
    assert "tiny_test_net" in kd.list_models("cifar")


@pytest.mark.parametrize("args, kwargs, match", [
    (("tiny", kd.ResNet20, "mnist"), {}, "family must be one of"),
    (("Tiny", kd.ResNet20, "cifar"), {}, "lower-case"),
    (("tiny", 42, "cifar"), {}, "callable"),
    (("tiny",), {}, "family must be one of"),
])
def test_register_model_checks_its_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kd.register_model(*args, **kwargs)
    assert "tiny" not in kd.list_models()


def test_each_constructor_registers_its_own_names():
    """The constructors register beside their definitions (the registry imports no model)."""
    assert kd.model_info("resnet56").constructor is kd.ResNet56
    assert kd.model_info("plain1202").constructor is kd.Plain1202
    assert kd.model_info("vgg16_bn").constructor is kd.VGG16
    assert kd.model_info("vgg16_bn").kwargs == {"batch_norm": True}
    assert "vgg11_lrn_bn" not in kd.list_models()
    with pytest.raises(ValueError, match="family must be None or one of"):
        kd.list_models("mnist")
