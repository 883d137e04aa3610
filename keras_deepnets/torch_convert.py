"""torchvision / timm ResNet checkpoints as keras_deepnets models that compute what torchvision
computes (`from_torchvision`).

The architecture comes from the keys and shapes: blocks per stage and whether blocks have a
`conv3` (bottleneck) give the depth (18, 34, 50, 101, 152). torchvision's ResNet-50/101/152 are
"v1.5" (the bottleneck's stride on the 3x3), so they are built with `stride_in_1x1=False`; its
BN epsilon is 1e-5 (keras.applications' weights use 1.001e-5). timm's ResNets use torchvision's
key names. Tensors are OIHW (PyTorch) and become HWIO (Keras); Linear's [out, in] becomes
Dense's [in, out].

Strict: every tensor of the file is used (the classifier `fc` only when the model keeps a
1000-class top: with `include_top=False` or other `classes` it is left out on purpose, for
fine-tuning), every shape is checked against the Keras layer, and a file that matches no
supported layout is an error naming what it found.
"""

import os
import re

import numpy as np

import keras_deepnets.models  # noqa: F401  (the constructors register into the registry)
from keras_deepnets import registry
from keras_deepnets.torch_files import CheckpointError, read_state_dict

TORCHVISION_BN_EPSILON = 1e-5

# (blocks per stage, bottleneck) -> depth, as in torchvision's resnet.py.
RESNET_DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34,
                 ((3, 4, 6, 3), True): 50, ((3, 4, 23, 3), True): 101,
                 ((3, 8, 36, 3), True): 152}

# VGG is the next layout (issue 15); until then it is named in the error.
_LAYOUTS = "torchvision/timm ResNet-18/34/50/101/152"


def resnet_architecture(state, where):
    """(registry name, constructor kwargs) of the torchvision ResNet whose state_dict is
    `state`; CheckpointError when the keys are not a supported ResNet."""
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
    if bottleneck:
        kwargs["stride_in_1x1"] = False  # torchvision's v1.5
    return f"resnet{depth}", kwargs


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


def _arrays(kind, prefix, state, used, where):
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
    return [take("weight").T, take("bias")]  # Linear [out, in] -> Dense [in, out]


def _load(model, pairs, state, where):
    used = set()
    for layer_name, kind, prefix in pairs:
        layer = model.get_layer(layer_name)
        arrays = _arrays(kind, prefix, state, used, where)
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
            `input_shape`, `name`, ...). Without a 1000-class top the file's `fc` is left out.

    Returns: the model (e.g. `resnet50`, built v1.5 with BN epsilon 1e-5).
    """
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the state_dict"
    state = read_state_dict(source)
    name, arch_kwargs = resnet_architecture(state, where)
    for key in ("weights", "stride_in_1x1", "bn_epsilon"):
        if key in kwargs:
            raise ValueError(f"from_torchvision decides {key!r} from the file ({name}: "
                             f"{arch_kwargs}); do not pass it.")
    model = registry.get_model(name, weights=None, **arch_kwargs, **kwargs)
    blocks = [sum(1 for k in state if re.match(rf"layer{s}\.\d+\.conv1\.weight$", k))
              for s in range(1, 5)]
    pairs = _resnet_pairs(state, blocks, "layer1.0.conv3.weight" in state)
    fc = state.get("fc.weight")
    top = (kwargs.get("include_top", True) and fc is not None
           and model.output_shape[-1] == fc.shape[0])
    if top:
        pairs.append(("predictions", "dense", "fc"))
    used = _load(model, pairs, state, where)
    if not top:
        used |= {"fc.weight", "fc.bias"}  # a fresh classifier, or none, was asked for
    unused = sorted(set(state) - used)
    if unused:
        raise CheckpointError(f"{where}: {len(unused)} tensor(s) the {name} layout does not have: "
                              f"{', '.join(unused[:6])}{' ...' if len(unused) > 6 else ''}.")
    return model


