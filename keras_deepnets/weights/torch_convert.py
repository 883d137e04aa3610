"""torchvision / timm ResNet and torchvision VGG checkpoints as keras_deepnets models that
compute what torchvision computes (`from_torchvision`).

The architecture comes from the keys and shapes: blocks per stage and whether blocks have a
`conv3` (bottleneck) give the depth (18, 34, 50, 101, 152). torchvision's ResNet-50/101/152 are
"v1.5" (the bottleneck's stride on the 3x3), so they are built with `stride_in_1x1=False`; its
BN epsilon is 1e-5 (keras.applications' weights use 1.001e-5). timm's ResNets use torchvision's
key names. VGG: the convolutions of `features` (with BN or not) and the gaps left by the
max-pools give the configuration (A, B, D, E: vgg11/13/16/19); torchvision flattens the last
feature map channels-first, Keras channels-last, so fc1's columns are reordered. timm's VGG
(`pre_logits`, `head.fc`) is out of scope: the error says so. Tensors are OIHW (PyTorch) and
become HWIO (Keras); Linear's [out, in] becomes Dense's [in, out].

Strict: every tensor of the file is used (the classifier `fc` only when the model keeps a
1000-class top: with `include_top=False` or other `classes` it is left out on purpose, for
fine-tuning), every shape is checked against the Keras layer, and a file that matches no
supported layout is an error naming what it found.
"""

import functools
import os
import re
import typing

import numpy as np

from keras_deepnets import registry
from keras_deepnets.models import specs  # (importing models registers the constructors)
from keras_deepnets.models.layers import split_shape
from keras_deepnets.weights import table
from keras_deepnets.weights.converters import register_converter
from keras_deepnets.weights.torch_files import CheckpointError, read_state_dict

TORCHVISION_BN_EPSILON = 1e-5

# (blocks per stage, bottleneck) -> depth, as in torchvision's resnet.py.
RESNET_DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34,
                 ((3, 4, 6, 3), True): 50, ((3, 4, 23, 3), True): 101,
                 ((3, 8, 36, 3), True): 152}

# torchvision's VGG configurations: convolutions per block -> depth.
VGG_DEPTHS = {(1, 1, 2, 2, 2): 11, (2, 2, 2, 2, 2): 13, (2, 2, 3, 3, 3): 16, (2, 2, 4, 4, 4): 19}

_LAYOUTS = ("torchvision/timm ResNet-18/34/50/101/152, torchvision VGG-11/13/16/19 with or "
            "without BN, torchvision AlexNet and GoogLeNet")

# torchvision's AlexNet: the indices of its five convolutions in `features` (ReLUs and
# max-pools between them), and of its three Linear layers in `classifier` (dropouts, ReLUs).
ALEXNET_CONVS = (0, 3, 6, 8, 10)
ALEXNET_LINEARS = (1, 4, 6)


class Layout(typing.NamedTuple):
    """What a checkpoint is: the registry model to build and which tensors go where."""

    name: str  # registry name, e.g. "resnet50"
    kwargs: dict  # constructor arguments the file decides (v1.5, BN epsilon)
    body: list  # [(Keras layer, kind, torch prefix)] always loaded
    head: list  # the top's layers, the classifier last (loaded as include_top/classes allow)
    optional: tuple = ()  # loaded when the model has these layers (GoogLeNet's aux heads)


def architecture(state, where):
    """The `Layout` of a torchvision/timm ResNet or torchvision VGG state_dict;
    CheckpointError naming what was found when it is neither."""
    if any(k.startswith(("pre_logits.", "head.fc.")) for k in state):
        raise CheckpointError(f"{where}: timm's VGG layout (pre_logits, head.fc) is not "
                              f"supported; supported: {_LAYOUTS}.")
    if "conv1.conv.weight" in state:
        return _googlenet_layout(state, where)
    if "features.0.weight" in state:
        if np.shape(state["features.0.weight"])[-1] == 11:  # AlexNet's 11x11 stem; VGG's 3x3
            return _alexnet_layout(state, where)
        return _vgg_layout(state, where)
    return _resnet_layout(state, where)


def _resnet_layout(state, where):
    blocks = []
    for stage in range(1, 5):
        found = {int(m.group(1)) for k in state
                 for m in [re.match(rf"layer{stage}\.(\d+)\.", k)] if m}
        blocks.append(max(found) + 1 if found else 0)
    bottleneck = "layer1.0.conv3.weight" in state
    depth = RESNET_DEPTHS.get((tuple(blocks), bottleneck))
    if "conv1.weight" not in state or depth is None:
        raise CheckpointError(
            f"{where}: no supported layout ({_LAYOUTS}) matches it: found "
            f"{'conv1.weight, ' if 'conv1.weight' in state else 'no conv1.weight, '}"
            f"blocks per stage {tuple(blocks)}, {'bottleneck' if bottleneck else 'basic'} "
            f"blocks; first keys: {', '.join(list(state)[:4])}.")
    kwargs = {"bn_epsilon": TORCHVISION_BN_EPSILON}
    name = f"resnet{depth}"
    if bottleneck:
        kwargs["stride_in_1x1"] = False  # torchvision's v1.5
        groups, width = _cardinality(state, where)
        if (groups, width) != (1, 64):  # ResNeXt: the first bottleneck's 3x3 is grouped
            name = f"resnext{depth}_{groups}x{width}d"
            if name not in registry.list_models():
                raise CheckpointError(
                    f"{where}: a ResNet-{depth} with {groups} group(s) of width {width} in its "
                    f"bottlenecks ({name}); supported: {', '.join(specs.IMAGENET_RESNEXTS)}.")
    return Layout(name, kwargs, _resnet_pairs(state, blocks, bottleneck),
                  [("predictions", "dense", "fc")])


def _cardinality(state, where):
    """(groups, width per group) of a bottleneck ResNet from layer1.0's 3x3: torchvision's
    width = planes * width_per_group / 64 * groups, with planes 64 in the first stage."""
    width, per_group = np.shape(state["layer1.0.conv2.weight"])[:2]
    if not per_group or width % per_group:
        raise CheckpointError(f"{where}: layer1.0.conv2.weight has shape "
                              f"{np.shape(state['layer1.0.conv2.weight'])}: no grouping fits.")
    return width // per_group, per_group


def _resnet_pairs(state, blocks, bottleneck):
    """[(Keras layer name, kind, torch prefix)] for the whole network but the classifier."""
    pairs = [("conv1_conv", "conv", "conv1"), ("conv1_bn", "bn", "bn1")]
    for stage, n in enumerate(blocks):
        for block in range(n):
            keras_name = f"conv{stage + 2}_block{block + 1}"
            torch_name = f"layer{stage + 1}.{block}"
            for k in range(1, 4 if bottleneck else 3):
                pairs += [(f"{keras_name}_{k}_conv", "conv", f"{torch_name}.conv{k}"),
                          (f"{keras_name}_{k}_bn", "bn", f"{torch_name}.bn{k}")]
            if f"{torch_name}.downsample.0.weight" in state:
                pairs += [(f"{keras_name}_0_conv", "conv", f"{torch_name}.downsample.0"),
                          (f"{keras_name}_0_bn", "bn", f"{torch_name}.downsample.1")]
    return pairs


def _vgg_layout(state, where):
    """torchvision's `features` is conv, [bn,] relu per convolution and a max-pool after each
    block: within a block the convolutions' indices step by 2 (3 with BN), across a pool by one
    more."""
    convs = sorted(int(m.group(1)) for k in state
                   for m in [re.match(r"features\.(\d+)\.weight$", k)]
                   if m and np.ndim(state[k]) == 4)
    if not convs:
        raise CheckpointError(f"{where}: `features` holds no convolution weights.")
    bn = f"features.{convs[0] + 1}.running_mean" in state
    step, blocks = (3 if bn else 2), [1]
    for a, b in zip(convs, convs[1:]):
        if b - a not in (step, step + 1):
            blocks = None
            break
        blocks[-1:] = [blocks[-1] + 1] if b - a == step else [blocks[-1], 1]
    depth = VGG_DEPTHS.get(tuple(blocks or ()))
    if depth is None:
        raise CheckpointError(f"{where}: no supported layout ({_LAYOUTS}) matches it: found a "
                              f"VGG-like `features` with convolutions at {convs}.")
    body, it = [], iter(convs)
    for b, n in enumerate(blocks):
        for c in range(n):
            index = next(it)
            body.append((f"block{b + 1}_conv{c + 1}", "conv", f"features.{index}"))
            if bn:
                body.append((f"block{b + 1}_conv{c + 1}_bn", "bn", f"features.{index + 1}"))
    head = [("fc1", "dense_chw", "classifier.0"), ("fc2", "dense", "classifier.3"),
            ("predictions", "dense", "classifier.6")]
    return Layout(f"vgg{depth}{'_bn' if bn else ''}", {}, body, head)


def _alexnet_layout(state, where):
    convs = tuple(sorted(int(m.group(1)) for k in state
                         for m in [re.match(r"features\.(\d+)\.weight$", k)] if m))
    if convs != ALEXNET_CONVS:
        raise CheckpointError(f"{where}: an 11x11 stem like AlexNet's, but convolutions at "
                              f"features {list(convs)}, not torchvision's {list(ALEXNET_CONVS)}.")
    body = [(f"conv{i + 1}", "conv", f"features.{index}") for i, index in enumerate(convs)]
    fc1, fc2, top = ALEXNET_LINEARS
    head = [("fc1", "dense_chw", f"classifier.{fc1}"), ("fc2", "dense", f"classifier.{fc2}"),
            ("predictions", "dense", f"classifier.{top}")]
    return Layout("alexnet_torchvision", {}, body, head)


def _googlenet_layout(state, where):
    """torchvision's GoogLeNet: BasicConv2d (`.conv`, `.bn`) everywhere; an Inception module's
    branch1 is the 1x1, branch2 / branch3 the reduce-then-3x3 / "5x5" pairs, branch4 the
    pool and its projection; aux1/aux2 the auxiliary heads (loaded when the model has them)."""
    from_inceptions = sorted({k.split(".")[0] for k in state if k.startswith("inception")})
    expected = [f"inception{spec.name}" for spec in specs.GOOGLENET_INCEPTIONS]
    if from_inceptions != expected:
        raise CheckpointError(f"{where}: a GoogLeNet-like stem, but Inception modules "
                              f"{from_inceptions}, not torchvision's {expected}.")
    body = []
    for name in ["conv1", "conv2", "conv3"]:
        body += [(name, "conv", f"{name}.conv"), (name + "_bn", "bn", f"{name}.bn")]
    branches = (("1x1", "branch1"), ("3x3_reduce", "branch2.0"), ("3x3", "branch2.1"),
                ("5x5_reduce", "branch3.0"), ("5x5", "branch3.1"), ("pool_proj", "branch4.1"))
    for module in expected:
        for ours, theirs in branches:
            body += [(f"{module}_{ours}", "conv", f"{module}.{theirs}.conv"),
                     (f"{module}_{ours}_bn", "bn", f"{module}.{theirs}.bn")]
    aux = []
    for i in (1, 2):
        aux += [(f"aux{i}_conv", "conv", f"aux{i}.conv.conv"),
                (f"aux{i}_conv_bn", "bn", f"aux{i}.conv.bn"),
                (f"aux{i}_fc1", "dense_chw", f"aux{i}.fc1"),
                (f"aux{i}_predictions", "dense", f"aux{i}.fc2")]
    return Layout("googlenet_torchvision", {}, body, [("predictions", "dense", "fc")],
                  tuple(aux))


def _arrays(kind, prefix, state, used, where, model=None, layer_name=None):
    """The Keras weights of one layer from the torch tensors under `prefix`."""
    def take(suffix):
        key = f"{prefix}.{suffix}"
        if key not in state:
            raise CheckpointError(f"{where}: {key} is missing (a {_LAYOUTS} state_dict has it).")
        used.add(key)
        return np.asarray(state[key], np.float32)

    if kind == "conv":
        out = [take("weight").transpose(2, 3, 1, 0)]  # OIHW -> HWIO
        return out + ([take("bias")] if f"{prefix}.bias" in state else [])
    if kind == "bn":
        if f"{prefix}.num_batches_tracked" in state:
            used.add(f"{prefix}.num_batches_tracked")  # a counter PyTorch keeps; Keras has none
        return [take("weight"), take("bias"), take("running_mean"), take("running_var")]
    weight = take("weight")
    if kind == "dense_chw":  # torchvision flattens [C, H, W]; Keras [H, W, C] in both formats
        # the Flatten before "fc1" / "aux1_fc1" is "flatten" / "aux1_flatten"
        flatten = model.get_layer(layer_name.rsplit("fc1", 1)[0] + "flatten")
        height, width, channels = split_shape(flatten.input.shape[1:], flatten.data_format)
        if channels * height * width != weight.shape[1]:
            raise CheckpointError(f"{where}: {prefix}.weight has {weight.shape[1]} inputs; the "
                                  f"Keras model flattens {height}x{width}x{channels}.")
        weight = weight.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(
            weight.shape[0], -1)
    return [weight.T, take("bias")]  # Linear [out, in] -> Dense [in, out]


def _load(model, pairs, state, where):
    used = set()
    for layer_name, kind, prefix in pairs:
        layer = model.get_layer(layer_name)
        arrays = _arrays(kind, prefix, state, used, where, model, layer_name)
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise CheckpointError(
                f"{where}: {prefix}'s tensors have shapes "
                f"{[a.shape for a in arrays]} after conversion; the Keras layer {layer_name} "
                f"expects {expected} (a checkpoint of another width, groups or classes?).")
        layer.set_weights(arrays)
    return used


def from_torchvision(source, **kwargs):
    """A keras_deepnets model holding the weights of a torchvision / timm checkpoint.

    Args:
        source: a `.pth`/`.pt` (torch's zip format; read without torch, code in the pickle is
            refused), `.safetensors` or `.npz` path, or a dict of arrays.
        kwargs: to the constructor (`include_top`, `classes`, `classifier_activation`,
            `input_shape`, `pooling`, `name`, ...). With `include_top=False` the file's top is
            left out; with other `classes`, its last classifier layer (a fresh one is built).
            `preprocessing` overrides what the model records (default: the pretrained-sources
            table's for a published file name, else "torch").

    Returns: the model (e.g. `resnet50`, built v1.5 with BN epsilon 1e-5; `vgg16_bn`).
    """
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the state_dict"
    state = read_state_dict(source)
    return _convert(state, where, architecture(state, where), kwargs)


# A named constructor asked for `expected` may load a file of these registry names: the file
# decides BN (VGG) and the torchvision variant (AlexNet, GoogLeNet), as it decides the epsilon.
def _accepted(expected):
    return {expected, f"{expected}_bn", f"{expected}_torchvision"}


@functools.partial(register_converter, "path")
def from_constructor(source, expected, **kwargs):
    """`kd.ResNet18(weights="resnet18-f37072fd.pth")`: the checkpoint converted as
    `from_torchvision` does, after checking that it holds `expected`'s architecture."""
    where = os.fspath(source)
    state = read_state_dict(source)
    layout = architecture(state, where)
    if layout.name not in _accepted(expected):
        raise CheckpointError(
            f"{where} holds torchvision's {layout.name}, which the {expected} constructor "
            f"cannot load; use kd.get_model({layout.name!r}, weights=...) or "
            "kd.from_torchvision(...).")
    for key, value in (("variant", "torchvision"), ("batch_norm", layout.name.endswith("_bn"))):
        if key in kwargs and kwargs.pop(key) != value:
            raise ValueError(f"{where} holds torchvision's {layout.name}: it needs "
                             f"{key}={value!r}; leave {key} unset to load it.")
    return _convert(state, where, layout, kwargs)


def _preprocessing(where, layout, requested):
    """The preprocessing the weights expect: `requested`, else the pretrained-sources table's
    for a published file name (torchvision's GoogLeNet: "tf"), else torchvision's "torch"."""
    row = next(iter(table.rows(file=where)), None)
    if row is not None and row.model != layout.name:
        raise CheckpointError(f"{where}: its name is torchvision's {row.model} file, but its "
                              f"tensors are a {layout.name}; rename it if that is intended.")
    return requested or (row.preprocessing if row is not None else "torch")


def _convert(state, where, layout, kwargs):
    for key in ("weights", "stride_in_1x1", "bn_epsilon"):
        if key in kwargs:
            raise ValueError(f"from_torchvision decides {key!r} from the file ({layout.name}: "
                             f"{layout.kwargs}); do not pass it.")
    kwargs = {**kwargs, "preprocessing": _preprocessing(where, layout,
                                                        kwargs.get("preprocessing"))}
    model = registry.get_model(layout.name, weights=None, **layout.kwargs, **kwargs)
    load_layout(model, state, where, layout, fresh_classifier="classes" in kwargs)
    return model


@functools.partial(register_converter, "into")
def load_into(model, path, row):
    """Loads the checkpoint of the weights-table row `row` into `model`, built for it
    (`loading.pretrained_model`): the file's layout must be the row's model, every tensor is
    used and every shape fits."""
    where = f"{path} ({row.publisher}'s {row.model} weights {row.tag!r})"
    state = read_state_dict(path)
    layout = architecture(state, where)
    if layout.name != row.model:
        raise CheckpointError(f"{where}: the file holds a {layout.name}, not the {row.model} "
                              "its row says; the row's URL or model is wrong.")
    config = model.get_config()
    for key, value in layout.kwargs.items():  # what the shapes cannot tell (the stride's place)
        if key != "bn_epsilon" and key in config and config[key] != value:
            raise CheckpointError(f"{where}: the file holds torchvision's {layout.name} "
                                  f"({key}={value!r}); the row builds {key}={config[key]!r}.")
    load_layout(model, state, where, layout, fresh_classifier=False)


def _head_pairs(model, state, where, layout, fresh_classifier):
    """The top's (layer, kind, prefix) to load: the hidden FC layers, and the classifier when
    its width is the file's (`fresh_classifier`: another width starts fresh, for fine-tuning)."""
    *hidden, classifier = layout.head
    weight = state.get(classifier[2] + ".weight")
    if weight is None and not fresh_classifier:
        raise CheckpointError(f"{where}: has no classifier ({classifier[2]}); pass "
                              "include_top=False, or classes=N for a fresh classifier.")
    units = model.get_layer(classifier[0]).units
    if weight is not None and units == weight.shape[0]:
        return hidden + [classifier]
    if weight is not None and not fresh_classifier:
        raise CheckpointError(f"{where}: its classifier has {weight.shape[0]} classes, the model "
                              f"{units}.")
    return hidden


def _check_covered(model, pairs, where, layout):
    """Every layer of the model with weights gets some, but a fresh classifier: a model built
    with other arguments than the file's (shortcut option C's extra projections) is an error,
    not a model with layers left at their random start."""
    loaded = {name for name, _, _ in pairs} | {layout.head[-1][0]}  # (classifier: checked)
    left = [layer.name for layer in model.layers if layer.weights and layer.name not in loaded]
    if left:
        raise CheckpointError(f"{where}: the model has {len(left)} layer(s) with weights the "
                              f"{layout.name} file has none for: {', '.join(left[:4])}"
                              f"{' ...' if len(left) > 4 else ''} (built with other arguments "
                              "than the weights need?).")


def load_layout(model, state, where, layout, fresh_classifier):
    """Loads `state` (a state_dict of `layout`) into the built `model`; the top only when the
    model has one. Strict: every tensor is used or left out on purpose."""
    pairs = list(layout.body)
    if model.get_config().get("include_top", True):
        pairs += _head_pairs(model, state, where, layout, fresh_classifier)
    names = {layer.name for layer in model.layers}
    optional = [pair for pair in layout.optional if pair[0] in names]
    if optional and not any(k.startswith(optional[0][2] + ".") for k in state):
        raise CheckpointError(f"{where}: the model has {optional[0][0]} but the file has no "
                              f"{optional[0][2]}.* tensors (a checkpoint saved without them).")
    _check_covered(model, pairs + optional, where, layout)
    used = _load(model, pairs + optional, state, where)
    for _, _, prefix in layout.optional:  # heads the model does not have: left out on purpose
        used |= {k for k in state if k.startswith(prefix + ".")}
    for _, _, prefix in layout.head:  # the top's tensors not loaded were left out on purpose
        used |= {f"{prefix}.weight", f"{prefix}.bias"} & set(state)
    unused = sorted(set(state) - used)
    if unused:
        raise CheckpointError(f"{where}: {len(unused)} tensor(s) the {layout.name} layout does "
                              f"not have: {', '.join(unused[:6])}"
                              f"{' ...' if len(unused) > 6 else ''}.")
