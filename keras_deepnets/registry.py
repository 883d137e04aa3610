"""One registry of named models, used by the command lines, the tuner and the tests.

Example:
    >>> import keras_deepnets
    >>> "resnet56" in keras_deepnets.list_models()
    True
    >>> model = keras_deepnets.get_model("plain20", classes=10)
"""

import dataclasses
import functools

from keras_deepnets.models import resnet, vgg
from keras_deepnets.models import specs


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the scripts need to know about a model before building it."""

    name: str
    constructor: object
    kwargs: dict
    family: str  # "imagenet" or "cifar": the input size, classes and recipe it was made for
    input_size: int
    classes: int


_REGISTRY = {}


def register_model(name, constructor, family, **kwargs):
    """Adds `name` -> `constructor(**kwargs)`; names are lower case and unique."""
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    size, classes = (224, 1000) if family == "imagenet" else (32, 10)
    _REGISTRY[name] = ModelInfo(name, constructor, dict(kwargs), family, size, classes)
    return constructor


def list_models(family=None):
    """Sorted registry names, optionally only one family ("imagenet" or "cifar")."""
    return sorted(n for n, info in _REGISTRY.items() if family in (None, info.family))


def model_info(name):
    """The `ModelInfo` of `name`; ValueError listing the valid names when unknown."""
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(list_models())}.")
    return _REGISTRY[key]


def get_model(name, **kwargs):
    """Builds the registered model `name`; `kwargs` go to its constructor (they override the
    registered defaults, e.g. `get_model("resnet56", shortcut="B")`)."""
    info = model_info(name)
    return info.constructor(**{**info.kwargs, **kwargs})


for _depth in specs.IMAGENET_RESNETS:
    register_model(f"resnet{_depth}", getattr(resnet, f"ResNet{_depth}"), "imagenet")
    register_model(f"plain{_depth}", getattr(resnet, f"Plain{_depth}"), "imagenet")
for _depth in specs.CIFAR_DEPTHS:
    register_model(f"resnet{_depth}", getattr(resnet, f"ResNet{_depth}"), "cifar")
    register_model(f"plain{_depth}", getattr(resnet, f"Plain{_depth}"), "cifar")
for _label in ("VGG11", "VGG11_LRN", "VGG13", "VGG16C", "VGG16", "VGG19"):
    register_model(_label.lower(), getattr(vgg, _label), "imagenet")
    if _label != "VGG11_LRN":  # LRN and BN are alternatives; the paper dropped LRN anyway
        register_model(_label.lower() + "_bn", getattr(vgg, _label), "imagenet", batch_norm=True)
for _config, (_name, _) in vgg.CIFAR_VGGS.items():  # the `vgg` experiment's CIFAR-sized VGGs
    register_model(_name, functools.partial(vgg.cifar_vgg, _config), "cifar")
