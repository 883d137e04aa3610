"""The pretrained weights this package can load: one table, one frozen row per published file.

Every fact about a published weights file lives here and nowhere else: which of our models it
fits, its tag, who published it, its address and hash, the preprocessing, evaluation transform
and BN epsilon it was trained with, and its published accuracy (timm's `default_cfgs` keeps a
model's pretrained facts the same way). It imports only the registry and the store (whose
cache folder keeps the registered rows), so every other module may import it.

Tags (the constructors' `weights=` argument), resolved per model by `resolve`:
- "imagenet": keras.applications' file where keras.applications has the model (its contract),
  otherwise torchvision's IMAGENET1K_V1 file.
- "IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT" (the best): torchvision's own names.
- "hf://<org>/<name>": a timm model on the Hugging Face Hub (rows made by `weights.hub`).
- tags added with `register_weights` (a team's own files on its own server).

Hashes: torchvision's file names carry the first hex digits of the file's SHA-256
(`torch.hub`'s `check_hash`); keras.applications publishes MD5s (the `file_hash` of
keras/src/applications); every registered row gives a full SHA-256.

Example:
    >>> from keras_deepnets.weights import table
    >>> row = table.resolve("resnet34", "imagenet")
    >>> row.publisher, row.tag, row.file, row.top1
    ('torchvision', 'IMAGENET1K_V1', 'resnet34-b627a593.pth', 73.314)
"""

import dataclasses
import html
import json
import math
import os
import re

from keras_deepnets import registry
from keras_deepnets.weights import store

KERAS_APPLICATIONS = "keras.applications"
TORCHVISION = "torchvision"
TIMM = "timm"
USER = "user"
# What a row's file is, and so how it becomes our model's weights.
KERAS_APPLICATIONS_H5 = "keras_applications_h5"  # a keras.applications model's weights
TORCH_STATE_DICT = "torch_state_dict"  # .pth / .safetensors / .npz: converted
KERAS_WEIGHTS = "keras_weights"  # a .weights.h5 of our own model: loaded as it is
FORMATS = (KERAS_APPLICATIONS_H5, TORCH_STATE_DICT, KERAS_WEIGHTS)
PREPROCESSING_MODES = ("caffe", "torch", "tf")
HUB_PREFIX = "hf://"
_TORCHVISION_URL = "https://download.pytorch.org/models/"
# keras.applications' ResNets were built with this BN epsilon (keras/src/applications/resnet.py);
# their weights, moving variances included, expect it.
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{}/"
_HEX = re.compile(r"^[0-9a-f]+$")


class WeightsError(ValueError):
    """A `weights=` value this package cannot serve (names the model, the tag and what to do)."""


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published weights file for one of our architectures.

    Attributes:
        model: the registry name whose architecture the weights fit, e.g. "resnet50".
        tag: the `weights=` value that asks for it ("imagenet", "IMAGENET1K_V2", a user's tag).
        publisher: "keras.applications", "torchvision", "timm" or "user".
        architecture: the publisher's own name for the network.
        file, file_notop: the file name with the classifier, and without it (None: `file`
            serves both).
        url: the folder `file` and `file_notop` are downloaded from.
        file_hash, file_notop_hash: hex digests; 64 digits: SHA-256, 32: MD5 (keras'), fewer:
            the leading digits of the SHA-256 (torchvision's, taken from the file name).
        format: what the file holds (one of FORMATS).
        preprocessing: the `preprocess_input` mode the weights were trained with ("caffe",
            "torch"; "tf" for torchvision's GoogLeNet, run with `transform_input=True`).
        bn_epsilon: the BatchNormalization epsilon the weights expect; None: no BN.
        top1, top5: published ImageNet accuracy (%, single centre crop); None if unknown.
        resize, crop, interpolation: the published evaluation transform (shorter side resized
            to `resize` with antialias, centre `crop`); None where the publisher does not say.
        size_mb: the file's size as published (torchvision's `_file_size`), None if unknown.
        licence: the licence the publisher states for the weights.
        classes: the classifier's width.
        model_kwargs: constructor arguments the weights need, as sorted (name, value) pairs
            (torchvision's ResNet-50 is "v1.5": `stride_in_1x1=False`).
        default: torchvision's DEFAULT weights of the model (its best).
        revision: for a Hub row, the repository's commit the files are fetched at (from the
            tag's `@revision`, else the commit the Hub served when the row was made).
    """

    model: str
    tag: str
    publisher: str
    architecture: str
    file: str
    url: str
    format: str
    preprocessing: str
    file_notop: str | None = None
    file_hash: str | None = None
    file_notop_hash: str | None = None
    bn_epsilon: float | None = None
    top1: float | None = None
    top5: float | None = None
    resize: int | None = None
    crop: int | None = None
    interpolation: str | None = None
    size_mb: float | None = None
    licence: str | None = None
    classes: int = 1000
    model_kwargs: tuple = ()
    default: bool = False
    revision: str | None = None

    def file_name(self, include_top):
        """The file to download for a model with or without the classifier."""
        return self.file if include_top or self.file_notop is None else self.file_notop

    def hash_for(self, include_top):
        return self.file_hash if include_top or self.file_notop is None else self.file_notop_hash

    def as_dict(self):
        """The row as a plain dict (what `list_weights` rows print as)."""
        return {**dataclasses.asdict(self), "model_kwargs": dict(self.model_kwargs)}

    def describe(self):
        """One line: publisher, tag, published top-1 and preprocessing."""
        top1 = f", top-1 {self.top1}%" if self.top1 is not None else ""
        return (f"{self.publisher}'s {self.model} weights {self.tag!r}{top1}, preprocessing "
                f"{self.preprocessing!r}")

    def bn_epsilon_for(self, requested, default):
        """The BN epsilon a model loading these weights is built with.

        `requested` is the caller's explicit `bn_epsilon` (None when not given). The weights'
        moving variances were estimated under their own epsilon, so a different explicit one is
        an error rather than silently replaced: the caller asked for two incompatible things.
        """
        if self.bn_epsilon is None:
            return default if requested is None else float(requested)
        if requested is not None and not math.isclose(float(requested), self.bn_epsilon,
                                                      rel_tol=1e-6):
            raise ValueError(
                f"bn_epsilon={requested!r} conflicts with weights={self.tag!r}: "
                f"the {self.publisher} {self.architecture} weights were trained with "
                f"bn_epsilon={self.bn_epsilon!r}. Leave bn_epsilon unset (or pass "
                f"{self.bn_epsilon!r}) to load them, or use weights=None to train with "
                f"bn_epsilon={requested!r}.")
        return self.bn_epsilon


def _keras_applications(model, architecture, folder, bn_epsilon, top1, hashes, licence):
    """A keras.applications row; file names and MD5s as in keras/src/applications/
    {vgg16,vgg19,resnet}.py."""
    stem = f"{model}_weights_tf_dim_ordering_tf_kernels"
    return Pretrained(model=model, tag="imagenet", publisher=KERAS_APPLICATIONS,
                      architecture=architecture, file=stem + ".h5", file_notop=stem + "_notop.h5",
                      url=_KERAS_APPLICATIONS_URL.format(folder), format=KERAS_APPLICATIONS_H5,
                      file_hash=hashes[0], file_notop_hash=hashes[1], preprocessing="caffe",
                      bn_epsilon=bn_epsilon, top1=top1, licence=licence,
                      model_kwargs=(("bn_epsilon", bn_epsilon),) if bn_epsilon else ())


def _torchvision(file, model, top1, top5, size_mb, tag="IMAGENET1K_V1", default=False,
                 preprocessing="torch", bn_epsilon=1e-5, resize=None, **model_kwargs):
    """A torchvision row: the file of `torchvision.models.<name>(weights=...)` (the weights enums
    of torchvision 0.29.1, models/{resnet,vgg,alexnet,googlenet}.py: url, transforms' resize,
    "acc@1", "acc@5", "_file_size"). V2 files were evaluated at resize 232, V1 at 256 (and
    ResNeXt-101 64x4d's only file, trained with the V2 recipe, at 232)."""
    if model.startswith("resne"):  # the ResNet builder takes the epsilon; VGG's BN fixes 1e-5
        model_kwargs["bn_epsilon"] = bn_epsilon
    return Pretrained(model=model, tag=tag, publisher=TORCHVISION,
                      architecture=file.split("-")[0], file=file, url=_TORCHVISION_URL,
                      format=TORCH_STATE_DICT, file_hash=file.rsplit("-", 1)[1].split(".")[0],
                      preprocessing=preprocessing, bn_epsilon=bn_epsilon, top1=top1, top5=top5,
                      resize=resize or (232 if tag == "IMAGENET1K_V2" else 256), crop=224,
                      interpolation="bilinear", size_mb=size_mb,
                      licence="BSD-3-Clause (torchvision)", default=default,
                      model_kwargs=tuple(sorted(model_kwargs.items())))


# torchvision's bottleneck ResNets and ResNeXts are "v1.5" (stride on the 3x3).
_V15 = {"stride_in_1x1": False}
_V2 = {"tag": "IMAGENET1K_V2", "default": True}
_VGG = {"bn_epsilon": None, "default": True}
_KA_RESNET_LICENCE = "MIT (Kaiming He's deep-residual-networks release)"
_KA_VGG_LICENCE = "CC BY 4.0 (the VGG authors' release)"

# keras.applications' files: model, its constructor, folder, BN epsilon, top-1 (keras.io/api/
# applications, "Available models"), MD5s (with, without the classifier), licence.
_EPS_KA = KERAS_APPLICATIONS_BN_EPSILON
_KERAS_APPLICATIONS_ROWS = (
    ("vgg16", "VGG16", "vgg16", None, 71.3,
     ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"), _KA_VGG_LICENCE),
    ("vgg19", "VGG19", "vgg19", None, 71.3,
     ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"), _KA_VGG_LICENCE),
    ("resnet50", "ResNet50", "resnet", _EPS_KA, 74.9,
     ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
     _KA_RESNET_LICENCE),
    ("resnet101", "ResNet101", "resnet", _EPS_KA, 76.4,
     ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
     _KA_RESNET_LICENCE),
    ("resnet152", "ResNet152", "resnet", _EPS_KA, 76.6,
     ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
     _KA_RESNET_LICENCE),
)

# torchvision's top-1/top-5 and sizes: its weights enums.
SOURCES = (
    *(_keras_applications(*row) for row in _KERAS_APPLICATIONS_ROWS),
    _torchvision("resnet18-f37072fd.pth", "resnet18", 69.758, 89.078, 44.661, default=True),
    _torchvision("resnet34-b627a593.pth", "resnet34", 73.314, 91.420, 83.275, default=True),
    _torchvision("resnet50-0676ba61.pth", "resnet50", 76.130, 92.862, 97.781, **_V15),
    _torchvision("resnet50-11ad3fa6.pth", "resnet50", 80.858, 95.434, 97.79, **_V2, **_V15),
    _torchvision("resnet101-63fe2227.pth", "resnet101", 77.374, 93.546, 170.511, **_V15),
    _torchvision("resnet101-cd907fc2.pth", "resnet101", 81.886, 95.780, 170.53, **_V2, **_V15),
    _torchvision("resnet152-394f9c45.pth", "resnet152", 78.312, 94.046, 230.434, **_V15),
    _torchvision("resnet152-f82ba261.pth", "resnet152", 82.284, 96.002, 230.474, **_V2, **_V15),
    _torchvision("resnext50_32x4d-7cdf4587.pth", "resnext50_32x4d", 77.618, 93.698, 95.789,
                 **_V15),
    _torchvision("resnext50_32x4d-1a0047aa.pth", "resnext50_32x4d", 81.198, 95.340, 95.833,
                 **_V2, **_V15),
    _torchvision("resnext101_32x8d-8ba56ff5.pth", "resnext101_32x8d", 79.312, 94.526, 339.586,
                 **_V15),
    _torchvision("resnext101_32x8d-110c445d.pth", "resnext101_32x8d", 82.834, 96.228, 339.673,
                 **_V2, **_V15),
    _torchvision("resnext101_64x4d-173b62eb.pth", "resnext101_64x4d", 83.246, 96.454, 319.318,
                 default=True, resize=232, **_V15),
    _torchvision("vgg11-8a719046.pth", "vgg11", 69.020, 88.628, 506.84, **_VGG),
    _torchvision("vgg11_bn-6002323d.pth", "vgg11_bn", 70.370, 89.810, 506.881, default=True),
    _torchvision("vgg13-19584684.pth", "vgg13", 69.928, 89.246, 507.545, **_VGG),
    _torchvision("vgg13_bn-abd245e5.pth", "vgg13_bn", 71.586, 90.374, 507.59, default=True),
    _torchvision("vgg16-397923af.pth", "vgg16", 71.592, 90.382, 527.796, **_VGG),
    _torchvision("vgg16_bn-6c64b313.pth", "vgg16_bn", 73.360, 91.516, 527.866, default=True),
    _torchvision("vgg19-dcbb9e9d.pth", "vgg19", 72.376, 90.876, 548.051, **_VGG),
    _torchvision("vgg19_bn-c79401a0.pth", "vgg19_bn", 74.218, 91.842, 548.143, default=True),
    _torchvision("alexnet-owt-7be5be79.pth", "alexnet_torchvision", 56.522, 79.066, 233.087,
                 **_VGG),
    # torchvision runs these weights with transform_input=True: (x - 0.5) / 0.5 per channel
    _torchvision("googlenet-1378be20.pth", "googlenet_torchvision", 69.778, 89.530, 49.731,
                 default=True, preprocessing="tf", bn_epsilon=1e-3),
)
# Rows the user adds (`register_weights`), kept apart from the published ones in this file of
# the cache folder, so that every process sharing the folder sees them.
REGISTERED_FILE = "registered_weights.json"
_READ = {}  # path -> (the file's (inode, mtime, size), its rows): read again when it changes
# Tags that mean something for every model; a registered tag may not take them.
RESERVED_TAGS = ("imagenet", "DEFAULT")
# Suffixes of the weights files `weights=` also takes (a path, not a tag).
FILE_SUFFIXES = (".h5", ".keras", ".pth", ".pt", ".safetensors", ".npz", ".bin")
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")


def registered_path():
    """The file that keeps the registered rows: `<cache folder>/registered_weights.json`."""
    return os.path.join(store.home(), REGISTERED_FILE)


def _registered_rows():
    """The rows `register_weights` added, in this process or any other sharing the cache
    folder (read again only when the file changed)."""
    path = registered_path()
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return ()
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if path not in _READ or _READ[path][0] != key:
        _READ[path] = (key, _read_rows(path))
    return _READ[path][1]


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _read_rows(path):
    try:
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)["rows"]
        return tuple(Pretrained(**{**row, "model_kwargs": tuple(
            (k, _frozen(v)) for k, v in sorted(row["model_kwargs"].items()))}) for row in rows)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise WeightsError(f"{path} does not hold registered weights rows ({type(error).__name__}"
                           f": {error}); delete it and register the weights again.") from None


def _update_registered(change):
    """Applies `change` (old rows -> new rows) to the registered rows under the file's lock
    and writes them atomically: a reader sees the old file or the new one, never half."""
    path = registered_path()
    with store.lock(path):
        rows = _read_rows(path) if os.path.exists(path) else ()
        new = tuple(change(rows))
        try:
            store.write_json(path, {"rows": [row.as_dict() for row in new]})
        except (OSError, TypeError) as error:
            raise WeightsError(f"register_weights: cannot write {path} ({error}); set "
                               f"{store.ENV_HOME} to a writable folder, and model_kwargs to "
                               "JSON values.") from None
    return len(rows) - len(new)


def is_hub_tag(weights):
    """Whether `weights` names a timm model on the Hugging Face Hub ("hf://timm/resnet50.a1_in1k")."""
    return isinstance(weights, str) and weights.startswith(HUB_PREFIX)


def is_tag(weights):
    """Whether `weights` names pretrained weights (a tag) rather than None or a file path."""
    if not isinstance(weights, str) or not weights:
        return False
    if is_hub_tag(weights):
        return True
    return not (os.sep in weights or "/" in weights or weights.lower().endswith(FILE_SUFFIXES)
                or os.path.exists(weights))


def rows(model=None, tag=None, *, publisher=None, file=None):
    """The table's rows (published, then registered) that match every argument given: the one
    way to ask the table.

    Args:
        model: a registry name ("resnet50"); the rows whose weights fit it.
        tag: a `weights=` tag. "imagenet" is keras.applications' file where keras.applications
            has the model, otherwise torchvision's IMAGENET1K_V1; "DEFAULT" is torchvision's
            best (the rows marked `default`); any other tag matches the rows of that tag.
        publisher: "keras.applications", "torchvision", "timm" or "user".
        file: a weights file's path or name (".../resnet50-11ad3fa6.pth"): the rows that publish
            a file of that name, with or without the classifier.

    Example:
        >>> [row.tag for row in table.rows("resnet50", publisher=table.TORCHVISION)]
        ['IMAGENET1K_V1', 'IMAGENET1K_V2']
    """
    found = [row for row in SOURCES + _registered_rows()
             if model in (None, row.model) and publisher in (None, row.publisher)]
    if file is not None:
        name = str(file).replace("\\", "/").rsplit("/", 1)[-1]
        found = [row for row in found if name in (row.file, row.file_notop)]
    return found if tag is None else _tagged(found, tag)


def _tagged(found, tag):
    """The rows of `found` that `tag` names, each model's "imagenet" and "DEFAULT" resolved."""
    if tag == "imagenet":  # keras.applications' where it has the model, else torchvision's V1
        keras_has = {r.model for r in found if r.tag == "imagenet"}
        return [r for r in found if r.tag == "imagenet" or (
            r.model not in keras_has and r.publisher == TORCHVISION and r.tag == "IMAGENET1K_V1")]
    if tag == "DEFAULT":
        return [r for r in found if r.default]
    return [r for r in found if r.tag == tag]


def _tags_of(model):
    """The tags `weights=` takes for `model`, "imagenet" and "DEFAULT" included where they
    resolve."""
    found = rows(model)
    named = [t for t in RESERVED_TAGS if _tagged(found, t)]
    return named + sorted({r.tag for r in found} - set(named))


def resolve(models, weights):
    """The row a tag asks for: the first of `models` (a registry name, or several to try in
    order, e.g. ("alexnet", "alexnet_torchvision")) that has it.

    None when `weights` is None, a file path or a Hub tag (`weights.hub` makes those rows);
    `WeightsError` naming the model's tags when none of `models` has it.
    """
    if not is_tag(weights) or is_hub_tag(weights):
        return None
    models = (models,) if isinstance(models, str) else tuple(models)
    for model in models:
        picked = rows(model, weights)
        if picked:
            return picked[0]
    raise WeightsError(_unknown_tag_message(models, weights))


def _unknown_tag_message(models, tag):
    """What to say when none of `models` has weights tagged `tag`."""
    label = models[0]
    tags = [t for m in models for t in _tags_of(m)]
    if not tags:
        with_weights = sorted({r.model for r in rows()})
        return (f"{label} has no pretrained weights (weights={tag!r}). Models with weights: "
                f"{', '.join(with_weights)}. Use weights=None, a .weights.h5 path or a preset "
                "folder (kd.save_preset); torchvision/timm checkpoint files (.pth, "
                ".safetensors, .npz) load into the models listed.")
    elsewhere = sorted({r.model for r in rows(tag=tag)} - set(models))
    where = (f" {tag!r} is a tag of other architectures: {', '.join(elsewhere)}."
             if elsewhere else "")
    return (f"{label} has no weights tagged {tag!r}.{where} Its tags: "
            f"{', '.join(dict.fromkeys(tags))} (kd.list_weights({label!r}) lists each file).")


def is_cached(row):
    """Whether the row's file (with or without the classifier) is on disk already: in the
    cache folder's downloads/, or keras.applications' own cache for its files (a listing: the
    hash is checked when the file is used)."""
    folders = [os.path.join(store.home(), "downloads")]
    if row.publisher == KERAS_APPLICATIONS:
        folders.append(store.keras_cache_dir())
    return any(os.path.isfile(os.path.join(folder, row.file_name(top)))
               for folder in folders for top in (True, False))


class WeightsTable(list):
    """Weights rows (a list of frozen `Pretrained`, indexable and iterable as data) that show as
    a table: in a terminal (`repr`, `str`) and in a notebook (`_repr_html_`), one line per file
    with its tag, publisher, published top-1, size, preprocessing and whether it is cached."""

    def cells(self):
        """(header, rows of strings); a model column when the rows are of several models."""
        several = len({row.model for row in self}) > 1
        header = ("model",) * several + ("tag", "publisher", "top-1 %", "MB", "preprocessing",
                                         "cached")
        body = [(row.model,) * several + (
            row.tag + (" (DEFAULT)" if row.default else ""), row.publisher,
            "-" if row.top1 is None else f"{row.top1:g}",
            "-" if row.size_mb is None else f"{row.size_mb:.1f}", row.preprocessing,
            "yes" if is_cached(row) else "no") for row in self]
        return header, body

    def __repr__(self):
        if not self:
            return "(no weights rows)"
        header, body = self.cells()
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        lines = [header, tuple("-" * w for w in widths), *body]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
                         for line in lines)

    __str__ = __repr__

    def _repr_html_(self):
        header, body = self.cells()
        def row_html(cells, tag):
            return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
        return ("<table><thead>" + row_html(header, "th") + "</thead><tbody>"
                + "".join(row_html(cells, "td") for cells in body) + "</tbody></table>")


def list_weights(model=None):
    """Every weights row (published and registered), or only `model`'s (a registry name), as
    a `WeightsTable`: it prints as a table (tag, publisher, top-1, size, preprocessing, cached)
    in a terminal and a notebook, and is a list of frozen `Pretrained` rows with model, tag,
    publisher, url, hash, size, top-1/top-5, evaluation resize/crop/interpolation,
    preprocessing and licence (`row.as_dict()`).

    Example:
        >>> [row.tag for row in kd.list_weights("resnet50")]
        ['imagenet', 'IMAGENET1K_V1', 'IMAGENET1K_V2']
    """
    return WeightsTable(rows(None if model is None else registry.model_info(model).name))


def torch_layout(model):
    """(registry name, constructor arguments) that a torchvision-layout checkpoint (.pth,
    .safetensors, .npz) of `model` is loaded into: torchvision's own variant, as
    `from_torchvision` builds it. Its tensors' shapes cannot tell it from the paper's (the
    bottleneck's stride on the 3x3, "v1.5"; AlexNet's and GoogLeNet's torchvision variants), so
    it is read off torchvision's rows of this table; the BN epsilon is left to the row."""
    for name in (model, f"{model}_torchvision"):
        rows = [r for r in SOURCES if r.model == name and r.publisher == TORCHVISION]
        if rows:
            return name, {k: v for k, v in rows[0].model_kwargs if k != "bn_epsilon"}
    return model, {}


def _torch_build(model, model_kwargs, file):
    """The registry name and constructor arguments of a registered torchvision-layout file;
    arguments that contradict the layout are an error (shapes would not catch them)."""
    name, needs = torch_layout(model)
    fixed = {**registry.model_info(name).kwargs, **needs}
    for key, value in model_kwargs.items():
        if key in fixed and fixed[key] != value:
            raise WeightsError(
                f"register_weights: {file} is a torchvision-layout file, which holds "
                f"torchvision's {name} ({key}={fixed[key]!r}); model_kwargs has {key}={value!r}. "
                f"Leave {key} out, or save the weights with model.save_weights() (.weights.h5) "
                "to keep another variant.")
    return name, {**needs, **model_kwargs}


def _check_registration(tag, model, url, sha256, preprocessing):
    if not isinstance(tag, str) or not is_tag(tag) or is_hub_tag(tag) or tag in RESERVED_TAGS:
        raise WeightsError(f"register_weights: tag must be a name that is not a path, "
                           f"{HUB_PREFIX}... or one of {RESERVED_TAGS}; got {tag!r}.")
    info = registry.model_info(model)  # ValueError listing the names when unknown
    published = [r for r in SOURCES if r.tag == tag and r.model in (info.name,
                                                                    torch_layout(info.name)[0])]
    if published:
        raise WeightsError(f"register_weights: {info.name} already has weights tagged {tag!r} "
                           f"({published[0].url}); choose another tag.")
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "file://")):
        raise WeightsError(f"register_weights: url must start with http://, https:// or "
                           f"file://; got {url!r}.")
    if not isinstance(sha256, str) or len(sha256) != 64 or not _HEX.match(sha256.lower()):
        raise WeightsError(f"register_weights: sha256 must be the file's full SHA-256, 64 hex "
                           f"digits (sha256sum FILE); got {sha256!r}.")
    if preprocessing not in PREPROCESSING_MODES:
        raise WeightsError(f"register_weights: preprocessing must be one of "
                           f"{', '.join(PREPROCESSING_MODES)}; got {preprocessing!r}.")
    return info.name


def _format_of(url, file):
    if file.lower().endswith(".weights.h5"):
        return KERAS_WEIGHTS
    if file.lower().endswith(_CHECKPOINT_SUFFIXES):
        return TORCH_STATE_DICT
    raise WeightsError(f"register_weights: {url!r} must end in .weights.h5 (our model's "
                       f"save_weights) or one of {', '.join(_CHECKPOINT_SUFFIXES)}.")


def _replace_registered(row, overwrite):
    """The registered rows with `row` in place of the one of its model and tag: the same file
    again (its hash) updates the row; another file needs `overwrite`."""
    def change(rows):
        for old in rows:
            if (old.model, old.tag) == (row.model, row.tag) and old.file_hash != row.file_hash \
                    and not overwrite:
                raise WeightsError(
                    f"register_weights: {row.model} already has weights tagged {row.tag!r}, "
                    f"another file ({old.url}{old.file}, sha256 {old.file_hash}); pass "
                    "overwrite=True to replace them, or choose another tag.")
        return [r for r in rows if (r.model, r.tag) != (row.model, row.tag)] + [row]
    _update_registered(change)


def register_weights(tag, *, model, url, sha256, preprocessing="torch", classes=1000,
                     model_kwargs=None, overwrite=False, **facts):
    """Adds a weights file of your own (a team's fine-tuned weights on an internal server),
    used exactly like the published ones: `kd.get_model(model, weights=tag)`.

    The row is kept in the cache folder ($KERAS_DEEPNETS_HOME/registered_weights.json), so
    every process sharing that folder (a script, a second worker, tomorrow's notebook) loads
    the tag without registering it again; `unregister_weights(tag)` removes it. Registering
    the same file (its hash) again updates the row; another file under a taken tag is an
    error unless `overwrite=True`. A torchvision-layout file builds torchvision's variant, as
    `from_torchvision` does (ResNet-50/101/152 and ResNeXts: stride on the 3x3).

    Args:
        tag: the name `weights=` will take.
        model: the registry name the weights fit ("resnet50").
        url: the file's address (http://, https://, file://): a `.weights.h5` saved by our
            model's `save_weights()`, or a torchvision-layout `.pth` / `.safetensors` / `.npz`.
        sha256: the file's full SHA-256 (checked after every download).
        preprocessing: the `preprocess_input` mode the weights expect.
        classes: the classifier's width.
        model_kwargs: constructor arguments the weights need (JSON values).
        overwrite: replace another file registered under this model and tag.
        facts: other `Pretrained` fields (top1, top5, resize, crop, interpolation, licence,
            bn_epsilon).

    Returns: the new row.
    """
    name = _check_registration(tag, model, url, sha256, preprocessing)
    file = url.rstrip("/").rsplit("/", 1)[-1]
    fmt = _format_of(url, file)
    unknown = sorted(set(facts) - {f.name for f in dataclasses.fields(Pretrained)})
    if unknown:
        raise WeightsError(f"register_weights: unknown field(s) {unknown}; see "
                           "keras_deepnets.weights.table.Pretrained.")
    model_kwargs = dict(model_kwargs or {})
    if fmt == TORCH_STATE_DICT:  # the file decides the variant, as from_torchvision's does
        name, model_kwargs = _torch_build(name, model_kwargs, file)
    row = Pretrained(model=name, tag=tag, publisher=facts.pop("publisher", USER),
                     architecture=facts.pop("architecture", name), file=file,
                     url=url[: len(url) - len(file)], format=fmt, file_hash=sha256.lower(),
                     preprocessing=preprocessing, classes=int(classes),
                     model_kwargs=tuple(sorted(model_kwargs.items())), **facts)
    _replace_registered(row, overwrite)
    return row


def unregister_weights(tag, legacy_tag=None, *, model=None):
    """Removes the rows `register_weights` added under `tag` (only `model`'s when given, a
    registry name); False if there was none. `unregister_weights(model, tag)`, the older
    order, still works."""
    if legacy_tag is not None:
        model, tag = tag, legacy_tag
    names = (None,) if model is None else (registry.model_info(model).name,
                                           torch_layout(registry.model_info(model).name)[0])
    if not os.path.exists(registered_path()):
        return False
    return _update_registered(lambda rows: [r for r in rows if not (
        r.tag == tag and (names == (None,) or r.model in names))]) > 0


def markdown(rows):
    """The rows as a Markdown table (scripts/model_table.py --weights, download_weights.py
    --list)."""
    def cell(value, fmt="{}"):
        return "-" if value is None else fmt.format(value)

    lines = ["| model | tag | publisher | file | hash | MB | top-1 | top-5 | eval resize/crop "
             "| preprocessing | licence |", "|---|---|---|---|---|---:|---:|---:|---|---|---|"]
    for r in rows:
        tag = r.tag + (" (DEFAULT)" if r.default else "")
        evaluation = f"{r.resize}/{r.crop} {r.interpolation}" if r.resize else "-"
        lines.append(f"| `{r.model}` | `{tag}` | {r.publisher} | [{r.file}]({r.url}{r.file}) | "
                     f"{cell(r.file_hash)} | {cell(r.size_mb, '{:.1f}')} | "
                     f"{cell(r.top1, '{:.3f}')} | {cell(r.top5, '{:.3f}')} | {evaluation} | "
                     f"{r.preprocessing} | {cell(r.licence)} |")
    return "\n".join(lines)
