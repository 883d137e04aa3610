"""The papers' design space as KerasTuner HyperModels that build through the package's generic
`ResNet` (no block code here): depth, block type, shortcut option, width, lr and weight decay.

Every hyperparameter's default is the paper's choice, so `hp.Fixed` on the rest (or a tuner's
first trial of a Bayesian search) reproduces a network of the paper:

- CIFAR-10 (He et al. 2016, section 4.2): depth 6n+2 with n basic blocks per stage, filters
  16/32/64, option A shortcuts, lr 0.1 (batch 128), weight decay 1e-4.
- ImageNet (Table 1): the named depths 18..152 (or any stage repeats), bottleneck blocks from 50
  on, filters 64/128/256/512, option B shortcuts, lr 0.1 (batch 256), weight decay 1e-4.

Example:
    >>> import keras_deepnets, keras_tuner as kt
    >>> from keras_deepnets.tuning import CifarResNetHyperModel
    >>> hm = CifarResNetHyperModel(depths=(20, 56))
    >>> hp = kt.HyperParameters(); hp.Fixed("depth", 56)
    >>> hm.build(hp).count_params() == keras_deepnets.ResNet56().count_params()   # A, 16-32-64
    True
"""

import contextlib

import keras_tuner as kt

from keras_deepnets import registry
from keras_deepnets.models import ResNet, specs
from keras_deepnets.models.blocks import BLOCKS, normalize_shortcut

# Channels are rounded to a multiple of 4 after the width multiplier: CIFAR's narrowest stage
# (16 x 0.25 = 4) stays possible, and 4 wastes little on hardware that prefers 8.
CHANNEL_MULTIPLE = 4
SHORTCUT_NAMES = ("A", "B", "C", "none")  # hp values are strings: "none" is the plain network


def scale_filters(filters, width):
    """`filters x width` rounded to the nearest multiple of CHANNEL_MULTIPLE (at least one)."""
    return max(CHANNEL_MULTIPLE, int(round(filters * width / CHANNEL_MULTIPLE)) * CHANNEL_MULTIPLE)


def layers_per_block(block):
    return 3 if block == "bottleneck" else 2


def _choices(values, what, check=None):
    """A non-empty tuple of distinct values, each passed through `check` (which raises)."""
    values = tuple(dict.fromkeys(values if isinstance(values, (list, tuple)) else (values,)))
    if not values:
        raise ValueError(f"The search space needs at least one {what}.")
    return tuple(check(v) for v in values) if check else values


def _check_block(block):
    if block not in BLOCKS:
        raise ValueError(f"Unknown block type {block!r}; the ResNet paper has 'basic' (two 3x3) "
                         "and 'bottleneck' (1x1-3x3-1x1).")
    return block


def _check_shortcut(shortcut):
    normalized = normalize_shortcut(shortcut)  # raises a ValueError naming the options
    return "none" if normalized is None else normalized


def _check_positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"A cardinality or group width must be a positive integer; got "
                         f"{value!r}.")
    return value


def _check_width(width):
    if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
        raise ValueError(f"A width multiplier must be a positive number; got {width!r}.")
    return float(width)


def _check_range(value, what):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (min, max) pair of positive numbers; "
                         f"got {value!r}.") from None
    if not 0 < low <= high:
        raise ValueError(f"{what} must satisfy 0 < min <= max; got {value!r}.")
    return low, high


class ResNetHyperModel(kt.HyperModel):
    """The shared part of the two searches; subclasses say how a layout is chosen.

    Hyperparameters (names as in `hp.Fixed(name, value)`): `depth` (or `stage_repeats`),
    `block`, `shortcut` ("A", "B", "C", "none"), `width`, `lr` (at the recipe's batch size; the
    trial scales it linearly to its batch) and `weight_decay`.
    """

    family = None  # "cifar" or "imagenet": registry family, recipe, stem and input size
    base_filters = None

    def __init__(self, *, blocks, shortcuts, widths, lr_range, weight_decay_range, default_block,
                 default_shortcut, classes=None, input_shape=None, name=None):
        super().__init__(name=name or f"{self.family}_resnet")
        self.blocks = _choices(blocks, "block type", _check_block)
        self.shortcuts = _choices(shortcuts, "shortcut option", _check_shortcut)
        self.widths = _choices(widths, "width multiplier", _check_width)
        self.lr_range = _check_range(lr_range, "lr_range")
        self.weight_decay_range = _check_range(weight_decay_range, "weight_decay_range")
        # The paper's choice when it is in the space, else the first value given.
        self.default_block = default_block if default_block in self.blocks else self.blocks[0]
        self.default_shortcut = (default_shortcut if default_shortcut in self.shortcuts
                                 else self.shortcuts[0])
        self.classes, self.input_shape = classes, input_shape
        self._declaring = False

    # -- the search space -------------------------------------------------------------------

    def layout(self, hp):
        """Declares the layout hyperparameter; returns `(stage_depths, label)`."""
        raise NotImplementedError

    def architecture(self, hp):
        """Declares every hyperparameter and returns the `ResNet` keyword arguments, checked:
        a ValueError names what is impossible (e.g. an `hp.Fixed("depth", 33)`)."""
        stage_depths, _ = self.layout(hp)
        block = _check_block(hp.Choice("block", list(self.blocks), default=self.default_block))
        shortcut = _check_shortcut(hp.Choice("shortcut", list(self.shortcuts),
                                             default=self.default_shortcut))
        width = _check_width(hp.Choice("width", list(self.widths),
                                       default=1.0 if 1.0 in self.widths else self.widths[0]))
        lr_low, lr_high = self.lr_range
        hp.Float("lr", lr_low, lr_high, sampling="log" if lr_low < lr_high else "linear",
                 default=min(max(0.1, lr_low), lr_high))
        wd_low, wd_high = self.weight_decay_range
        hp.Float("weight_decay", wd_low, wd_high,
                 sampling="log" if wd_low < wd_high else "linear",
                 default=min(max(1e-4, wd_low), wd_high))
        filters = tuple(scale_filters(f, width) for f in self.base_filters)
        return {"block": block, "stage_depths": tuple(stage_depths), "stage_filters": filters,
                "stem": self.family, "shortcut": None if shortcut == "none" else shortcut}

    def training_settings(self, hp):
        """The trial's `lr` and `weight_decay` (declared by `architecture`)."""
        self.architecture(hp)
        return {"lr": hp.get("lr"), "weight_decay": hp.get("weight_decay")}

    def describe(self, hp):
        """The table's view of a trial: depth in weighted layers, layout, block, shortcut, width."""
        arch = self.architecture(hp)
        _, label = self.layout(hp)
        depth = layers_per_block(arch["block"]) * sum(arch["stage_depths"]) + 2
        return {"depth": depth, "layout": label, "block": arch["block"],
                "shortcut": arch["shortcut"] or "none", "width": hp.get("width"),
                "stage_filters": "-".join(str(f) for f in arch["stage_filters"]),
                "lr": hp.get("lr"), "weight_decay": hp.get("weight_decay")}

    def registry_name(self, hp):
        """The registry model whose recipe (and input size, classes) the trial trains with:
        the paper's network of the same depth when there is one (ResNet-110's warm-up)."""
        name = f"resnet{self.describe(hp)['depth']}"
        if name in registry.list_models(self.family):
            return name
        return "resnet20" if self.family == "cifar" else "resnet50"

    # -- building ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def declaring(self):
        """While active, `build` only declares the hyperparameters and returns None: the tuner
        explores the space (conditional scopes, hp.Fixed checks) without building Keras models."""
        self._declaring = True
        try:
            yield
        finally:
            self._declaring = False

    def build(self, hp, **kwargs):
        """The network for `hp`; `kwargs` (`classes`, `input_shape`, ...) go to `ResNet`."""
        arch = self.architecture(hp)
        if self._declaring:
            return None
        kwargs.setdefault("classes", self.classes)
        if self.input_shape is not None:
            kwargs.setdefault("input_shape", self.input_shape)
        name = f"resnet{self.describe(hp)['depth']}_{self.family}_tuned"
        return ResNet(**arch, name=kwargs.pop("name", name), **kwargs)


class CifarResNetHyperModel(ResNetHyperModel):
    """CIFAR-10 ResNets of depth 6n+2 (He et al. 2016, section 4.2).

    `depths` name the layouts by the paper's basic-block depth 6n+2 (n blocks per stage); a
    bottleneck block keeps the same n, so the network has 9n+2 weighted layers (the table's
    `depth` column counts them; `layout` keeps the paper's name).

    Raises:
        ValueError: a depth not of the form 6n+2, an unknown block or shortcut, a width <= 0,
            an empty choice or a bad range.
    """

    family = "cifar"
    base_filters = specs.CIFAR_STAGE_FILTERS

    def __init__(self, depths=(20, 32, 44, 56, 110), blocks=("basic", "bottleneck"),
                 shortcuts=("A", "B", "C", "none"), widths=(0.5, 1.0, 2.0), lr_range=(0.01, 0.4),
                 weight_decay_range=(1e-5, 1e-3), classes=10, input_shape=None, name=None):
        self.depths = _choices(depths, "depth", self._check_depth)
        super().__init__(blocks=blocks, shortcuts=shortcuts, widths=widths, lr_range=lr_range,
                         weight_decay_range=weight_decay_range, default_block="basic",
                         default_shortcut="A", classes=classes, input_shape=input_shape,
                         name=name)

    @staticmethod
    def _check_depth(depth):
        specs.cifar_blocks_per_stage(depth)  # the clear "6n+2" ValueError
        return depth

    def layout(self, hp):
        depth = self._check_depth(hp.Choice("depth", list(self.depths)))
        n = specs.cifar_blocks_per_stage(depth)
        return (n, n, n), f"6n+2={depth}"


class ImageNetResNetHyperModel(ResNetHyperModel):
    """ImageNet ResNets (He et al. 2016, Table 1) by named depth or by stage repeats.

    With `depths` (default 18, 34, 50, 101, 152) the hyperparameter `depth` picks the paper's
    stage repeats of that network; with `stage_repeats` (e.g. `[(2, 2, 2, 2), (3, 4, 6, 3)]`)
    the hyperparameter `stage_repeats` ("3-4-6-3") picks them directly. The block type is
    searched separately (default bottleneck, the paper's from 50 layers on), so "34 with
    bottlenecks" is ResNet-50.

    ResNeXt (Xie et al. 2017): `cardinalities` (e.g. (1, 32, 64)) and `group_widths` (e.g.
    (4, 8)) add the hyperparameters `cardinality` (bottleneck blocks only) and `group_width`
    (when the cardinality is above 1): cardinality 32 with group width 4 at depth 50 is
    ResNeXt-50 32x4d, stride on the grouped 3x3 as in the paper. The default (1,) is ResNet.

    Raises:
        ValueError: a depth that is not in Table 1, repeats that are not positive integers,
            an unknown block or shortcut, a width <= 0, a cardinality or group width that is
            not a positive integer, an empty choice or a bad range.
    """

    family = "imagenet"
    base_filters = specs.IMAGENET_STAGE_FILTERS

    def __init__(self, depths=(18, 34, 50, 101, 152), stage_repeats=None,
                 blocks=("basic", "bottleneck"), shortcuts=("A", "B", "C", "none"),
                 widths=(0.5, 1.0, 2.0), lr_range=(0.01, 0.4), weight_decay_range=(1e-5, 1e-3),
                 cardinalities=(1,), group_widths=(4,), classes=1000, input_shape=None,
                 name=None):
        self.cardinalities = _choices(cardinalities, "cardinality", _check_positive_int)
        self.group_widths = _choices(group_widths, "group width", _check_positive_int)
        if stage_repeats is not None:
            self.layouts = {self._repeats_label(r): tuple(r)
                            for r in _choices([tuple(r) if not isinstance(r, str) else r
                                               for r in stage_repeats], "stage layout",
                                              self._check_repeats)}
            self.layout_hp = "stage_repeats"
        else:
            self.layouts = {d: specs.IMAGENET_RESNETS[d][1]
                            for d in _choices(depths, "depth", self._check_depth)}
            self.layout_hp = "depth"
        super().__init__(blocks=blocks, shortcuts=shortcuts, widths=widths, lr_range=lr_range,
                         weight_decay_range=weight_decay_range, default_block="bottleneck",
                         default_shortcut="B", classes=classes, input_shape=input_shape,
                         name=name)

    def architecture(self, hp):
        """ResNet's keyword arguments, with ResNeXt's `groups`/`width_per_group` when the
        space has cardinalities above 1 and the block is a bottleneck."""
        arch = super().architecture(hp)
        if self.cardinalities == (1,) or arch["block"] != "bottleneck":
            return arch
        with hp.conditional_scope("block", ["bottleneck"]):
            groups = hp.Choice("cardinality", list(self.cardinalities),
                               default=self.cardinalities[0])
        if groups == 1:
            return arch
        with hp.conditional_scope("cardinality", [c for c in self.cardinalities if c > 1]):
            width = hp.Choice("group_width", list(self.group_widths))
        return {**arch, "groups": groups, "width_per_group": width, "stride_in_1x1": False}

    def describe(self, hp):
        description = super().describe(hp)
        arch = self.architecture(hp)
        if arch.get("groups", 1) > 1:
            description["block"] = f"bottleneck {arch['groups']}x{arch['width_per_group']}d"
        return description

    @staticmethod
    def _check_depth(depth):
        if depth not in specs.IMAGENET_RESNETS:
            raise ValueError(f"The ResNet paper's ImageNet depths are "
                             f"{', '.join(map(str, specs.IMAGENET_RESNETS))}; got depth={depth!r}. "
                             "Use stage_repeats=[(a, b, c, d), ...] for other layouts.")
        return depth

    @staticmethod
    def _repeats_label(repeats):
        return repeats if isinstance(repeats, str) else "-".join(str(r) for r in repeats)

    @staticmethod
    def _check_repeats(repeats):
        values = repeats.split("-") if isinstance(repeats, str) else repeats
        try:
            values = tuple(int(v) for v in values)
        except (TypeError, ValueError):
            values = ()
        if len(values) != len(specs.IMAGENET_STAGE_FILTERS) or min(values) < 1:
            raise ValueError(f"stage_repeats must be {len(specs.IMAGENET_STAGE_FILTERS)} positive "
                             f"integers (blocks in conv2_x..conv5_x), e.g. (3, 4, 6, 3); got "
                             f"{repeats!r}.")
        return values

    def layout(self, hp):
        keys = list(self.layouts)
        if self.layout_hp == "depth":
            default = 50 if 50 in keys else keys[0]
            depth = self._check_depth(hp.Choice("depth", keys, default=default))
            if depth not in self.layouts:  # an hp.Fixed outside the given depths
                return specs.IMAGENET_RESNETS[depth][1], f"table1-{depth}"
            return self.layouts[depth], f"table1-{depth}"
        label = hp.Choice("stage_repeats", keys)
        repeats = self._check_repeats(label)
        return repeats, label


def hypermodel_for(family, **kwargs):
    """The HyperModel of `family` ("cifar" or "imagenet") with `kwargs` for its constructor."""
    classes = {"cifar": CifarResNetHyperModel, "imagenet": ImageNetResNetHyperModel}
    if family not in classes:
        raise ValueError(f"family must be 'cifar' or 'imagenet'; got {family!r}.")
    return classes[family](**kwargs)
