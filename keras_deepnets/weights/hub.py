"""timm's ResNets on the Hugging Face Hub: `weights="hf://timm/resnet50.a1_in1k"`.

`huggingface_hub.hf_hub_download` fetches and caches the files: it already honours `HF_HOME`,
`HF_ENDPOINT` (a mirror) and `HF_HUB_OFFLINE`, verifies what it downloads and shares its cache
with timm itself, so a model a user has already used with timm is not downloaded again. The
repository's `config.json` (timm's `pretrained_cfg`) says the architecture, mean/std, crop and
interpolation; the row made from it is what the model records.
"""

import json
import math
import os
import re
import socket
import urllib.parse

import huggingface_hub
from huggingface_hub import constants as hub_constants
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
PROBE_SECONDS = 3  # a Hub that does not answer a TCP connection in this long is unreachable
_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def repo_of(tag):
    """"hf://timm/resnet50.a1_in1k@<revision>" -> ("timm/resnet50.a1_in1k", "<revision>"); the
    revision (a commit hash, branch or tag of the repository) is None when not given."""
    repo, _, revision = tag[len(table.HUB_PREFIX):].strip("/").partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")) or (_ and not revision):
        raise table.WeightsError(f"weights={tag!r}: a Hub tag is hf://<owner>/<repository>"
                                 "[@<revision>], e.g. hf://timm/resnet50.a1_in1k.")
    return repo, revision or None


def _reachable():
    """Whether the Hub's endpoint takes a TCP connection (with a proxy set: assumed, the proxy
    decides). huggingface_hub itself retries a refused connection five times over ~23 s,
    printing each retry, before it says the file is not cached."""
    if any(os.environ.get(name) for name in _PROXIES):
        return True
    url = urllib.parse.urlsplit(hub_constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def local_only():
    """Whether Hub files must come from the Hugging Face cache alone: HF_HUB_OFFLINE, or an
    endpoint that takes no connection (said at once instead of after five retries)."""
    return hub_constants.HF_HUB_OFFLINE or not _reachable()


def call(fetch, tag, what, repo):
    """`fetch()` (a huggingface_hub download of `what`, e.g. "config.json of owner/repo") with
    the Hub's faults as one-line errors that say what to do. Presets use it too."""
    try:
        return fetch()
    except hub_errors.LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"weights={tag!r}: {what} is not in the Hugging Face cache and the "
            "Hub cannot be reached (HF_HUB_OFFLINE set, or no network). Fetch it where the Hub "
            f"is reachable (huggingface-cli download {repo}) and copy the cache (HF_HOME), or "
            "point HF_ENDPOINT at a mirror.") from None
    except (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError,
            hub_errors.EntryNotFoundError) as error:
        raise FileNotFoundError(f"weights={tag!r}: the Hub has no {what} "
                                f"({type(error).__name__}).") from None
    except (hub_errors.HfHubHTTPError, OSError) as error:
        raise FileNotFoundError(f"weights={tag!r}: downloading {what} failed: "
                                f"{str(error).splitlines()[0]}. Set HF_HUB_OFFLINE=1 to use the "
                                "local cache only, or HF_ENDPOINT for a mirror.") from None


def _download(repo, filename, tag, revision=None):
    local = local_only()
    return call(lambda: huggingface_hub.hf_hub_download(
        repo, filename, revision=revision, local_files_only=local),
        tag, f"{filename} of {repo}", repo)


def _preprocessing(cfg, tag):
    key = (tuple(round(v, 3) for v in cfg.get("mean", (0.485, 0.456, 0.406))),
           tuple(round(v, 3) for v in cfg.get("std", (0.229, 0.224, 0.225))))
    if key not in _MODES:
        raise table.WeightsError(f"weights={tag!r}: mean {key[0]} / std {key[1]} is none of the "
                                 "preprocessing modes this package has (torchvision's ImageNet "
                                 "mean/std, or 0.5/0.5).")
    return _MODES[key]


def row_for(tag):
    """The weights row of a Hub tag, from the repository's config.json; its `revision` is the
    commit the config came from (the weights are fetched at that same commit)."""
    repo, revision = repo_of(tag)
    path = _download(repo, "config.json", tag, revision)
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    commit = os.path.basename(os.path.dirname(path))  # the cache's snapshots/<commit>/
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
        licence=config.get("license") or "see the model card on the Hub", model_kwargs=kwargs,
        revision=commit if _COMMIT.match(commit) else revision)


def fetch(row):
    """The local path of a Hub row's weights (safetensors, else pytorch_model.bin)."""
    repo, _ = repo_of(row.tag)
    try:
        return _download(repo, WEIGHT_FILES[0], row.tag, row.revision)
    except FileNotFoundError as first:
        try:
            return _download(repo, WEIGHT_FILES[1], row.tag, row.revision)
        except FileNotFoundError:
            raise first from None
