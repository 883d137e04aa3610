"""timm's ResNets on the Hugging Face Hub: `weights="hf://timm/resnet50.a1_in1k"`.

`huggingface_hub.hf_hub_download` fetches and caches the files: it already honours `HF_HOME`,
`HF_ENDPOINT` (a mirror) and `HF_HUB_OFFLINE`, verifies what it downloads and shares its cache
with timm itself, so a model a user has already used with timm is not downloaded again. The
repository's `config.json` (timm's `pretrained_cfg`) says the architecture, mean/std, crop and
interpolation; the row made from it is what the model records.
"""

import json
import math

import huggingface_hub
from huggingface_hub import errors as hub_errors

from keras_deepnets.weights import table

# timm architecture -> (our registry name, constructor arguments). timm's ResNets use
# torchvision's tensor names, stride on the 3x3 ("v1.5") and BN epsilon 1e-5.
_V15 = (("bn_epsilon", 1e-5), ("stride_in_1x1", False))
TIMM_ARCHITECTURES = {
    "resnet18": ("resnet18", (("bn_epsilon", 1e-5),)),
    "resnet34": ("resnet34", (("bn_epsilon", 1e-5),)),
    "resnet50": ("resnet50", _V15),
    "resnet101": ("resnet101", _V15),
    "resnet152": ("resnet152", _V15),
    "resnext50_32x4d": ("resnext50_32x4d", (("bn_epsilon", 1e-5),)),
    "resnext101_32x8d": ("resnext101_32x8d", (("bn_epsilon", 1e-5),)),
    "resnext101_64x4d": ("resnext101_64x4d", (("bn_epsilon", 1e-5),)),
}
# mean/std (timm's pretrained_cfg) -> our preprocessing mode.
_MODES = {((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)): "torch",
          ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)): "tf"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def repo_of(tag):
    """"hf://timm/resnet50.a1_in1k" -> "timm/resnet50.a1_in1k"."""
    repo = tag[len(table.HUB_PREFIX):].strip("/")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise table.WeightsError(f"weights={tag!r}: a Hub tag is hf://<owner>/<repository>, e.g. "
                                 "hf://timm/resnet50.a1_in1k.")
    return repo


def _download(repo, filename, tag):
    try:
        return huggingface_hub.hf_hub_download(repo, filename)
    except hub_errors.LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"weights={tag!r}: {filename} of {repo} is not in the Hugging Face cache and the "
            "Hub cannot be reached (HF_HUB_OFFLINE set, or no network). Fetch it where the Hub "
            f"is reachable (huggingface-cli download {repo}) and copy the cache (HF_HOME), or "
            "point HF_ENDPOINT at a mirror.") from None
    except (hub_errors.RepositoryNotFoundError, hub_errors.EntryNotFoundError) as error:
        raise FileNotFoundError(f"weights={tag!r}: the Hub has no {filename} in {repo} "
                                f"({type(error).__name__}).") from None
    except (hub_errors.HfHubHTTPError, OSError) as error:
        raise FileNotFoundError(f"weights={tag!r}: downloading {filename} of {repo} failed: "
                                f"{str(error).splitlines()[0]}. Set HF_HUB_OFFLINE=1 to use the "
                                "local cache only, or HF_ENDPOINT for a mirror.") from None


def _preprocessing(cfg, tag):
    key = (tuple(round(v, 3) for v in cfg.get("mean", (0.485, 0.456, 0.406))),
           tuple(round(v, 3) for v in cfg.get("std", (0.229, 0.224, 0.225))))
    if key not in _MODES:
        raise table.WeightsError(f"weights={tag!r}: mean {key[0]} / std {key[1]} is none of the "
                                 "preprocessing modes this package has (torchvision's ImageNet "
                                 "mean/std, or 0.5/0.5).")
    return _MODES[key]


def row_for(tag):
    """The weights row of a Hub tag, from the repository's config.json."""
    repo = repo_of(tag)
    with open(_download(repo, "config.json", tag), encoding="utf-8") as f:
        config = json.load(f)
    arch = config.get("architecture")
    if arch not in TIMM_ARCHITECTURES:
        raise table.WeightsError(f"weights={tag!r} is timm's {arch!r}; supported timm "
                                 f"architectures: {', '.join(TIMM_ARCHITECTURES)}.")
    model, kwargs = TIMM_ARCHITECTURES[arch]
    cfg = config.get("pretrained_cfg", {})
    crop = int(cfg.get("input_size", (3, 224, 224))[-1])
    return table.Pretrained(
        model=model, tag=tag, publisher=table.TIMM, architecture=arch, file=WEIGHT_FILES[0],
        url=f"{table.HUB_PREFIX}{repo}/", format=table.TORCH_STATE_DICT,
        preprocessing=_preprocessing(cfg, tag), bn_epsilon=1e-5, crop=crop,
        resize=int(math.floor(crop / float(cfg.get("crop_pct", 0.875)))),
        interpolation=cfg.get("interpolation", "bilinear"),
        classes=int(config.get("num_classes", cfg.get("num_classes", 1000))),
        licence=config.get("license") or "see the model card on the Hub", model_kwargs=kwargs)


def fetch(row):
    """The local path of a Hub row's weights (safetensors, else pytorch_model.bin)."""
    repo = repo_of(row.tag)
    try:
        return _download(repo, WEIGHT_FILES[0], row.tag)
    except FileNotFoundError as first:
        try:
            return _download(repo, WEIGHT_FILES[1], row.tag)
        except FileNotFoundError:
            raise first from None
