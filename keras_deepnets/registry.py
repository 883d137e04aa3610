"""One registry of named models, used by the command lines, the tuner and the tests.

A leaf module: it imports nothing of the package. The constructors register themselves here
(`models/resnet.py` and `models/vgg.py`, beside their definitions, as timm's `@register_model`
does), so the registry never imports the models and the models never import what imports them.
Importing anything under `keras_deepnets` runs the package's `__init__`, which imports the
models: by the time any code can call `get_model`, every model is registered.

Example:
    >>> import keras_deepnets
    >>> "resnet56" in keras_deepnets.list_models()
    True
    >>> model = keras_deepnets.get_model("plain20", classes=10)
"""

import dataclasses

# family -> (input size, classes) the family's models are made for.
# "digits": LeNet-5's 32x32 greyscale digits (the paper's MNIST padded from 28x28).
FAMILIES = {"imagenet": (224, 1000), "cifar": (32, 10), "digits": (32, 10)}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the scripts need to know about a model before building it."""

    name: str
    constructor: object
    kwargs: dict  # the registered defaults; get_model's keyword arguments override them
    family: str  # "imagenet", "cifar" or "digits": the input, classes and recipe it was made for
    input_size: int
    classes: int


_REGISTRY = {}


def register_model(name, constructor=None, family=None, **defaults):
    """Registers `name` -> `constructor(**defaults)` and returns `constructor`.

    `register_model("resnet56", ResNet56, "cifar")` registers at once; without a constructor it
    returns a decorator: `@register_model("resnet56", family="cifar")`. Names are lower case and
    unique; `family` is one of FAMILIES ("imagenet", "cifar", "digits").
    """
    if not isinstance(name, str) or not name or name != name.lower():
        raise ValueError(f"A model name is a non-empty lower-case string; got {name!r}.")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}; got {family!r} for {name!r}.")
    if constructor is None:
        return lambda fn: register_model(name, fn, family, **defaults)
    if not callable(constructor):
        raise ValueError(f"The constructor of {name!r} must be callable; got {constructor!r}.")
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    size, classes = FAMILIES[family]
    _REGISTRY[name] = ModelInfo(name, constructor, dict(defaults), family, size, classes)
    return constructor


def list_models(family=None):
    """Sorted registry names, optionally only one family ("imagenet" or "cifar")."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be None or one of {sorted(FAMILIES)}; got {family!r}.")
    return sorted(n for n, info in _REGISTRY.items() if family in (None, info.family))


def model_info(name):
    """The `ModelInfo` of `name`; ValueError listing the valid names when unknown."""
    key = name.lower() if isinstance(name, str) else None
    if key not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(list_models())}.")
    return _REGISTRY[key]


def get_model(name, **kwargs):
    """Builds the registered model `name`; `kwargs` go to its constructor (they override the
    registered defaults, e.g. `get_model("resnet56", shortcut="B")`)."""
    info = model_info(name)
    return info.constructor(**{**info.kwargs, **kwargs})
