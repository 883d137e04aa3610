"""The pretrained weights this package can load: one table, one frozen row per (model, weights).

Every fact about a published weights file lives here and nowhere else: which of our models it
fits, who published it, its file name and address, the preprocessing and BN epsilon it was
trained with, and its published accuracy. The models read the table to validate `weights=...`
and to build with the right epsilon; `weight_files` downloads and loads the files; `weights`
converts keras.applications models. This module imports nothing of the package, so any of them
can import it without an import circle.

Two kinds of rows, one table (`SOURCES`):
- keras.applications' files, which the constructors download by name (`weights="imagenet"`);
  `PRETRAINED` is their (model, weights) index.
- torchvision's published files, which the user brings (nothing is downloaded here) and
  `kd.from_torchvision` converts; `FILES` indexes every row by its file name, so a file's name
  says which weights set it is (torchvision's tensors alone cannot tell IMAGENET1K_V1 from V2)
  and so which evaluation transform its accuracy was published with.

Example:
    >>> from keras_deepnets import pretrained
    >>> row = pretrained.find("resnet50", "imagenet")
    >>> row.source, row.preprocessing, row.bn_epsilon, row.top1
    ('keras.applications', 'caffe', 1.001e-05, 74.9)
"""

import dataclasses
import math

KERAS_APPLICATIONS = "keras.applications"
TORCHVISION = "torchvision"
_TORCHVISION_URL = "https://download.pytorch.org/models/"
# keras.applications' ResNets were built with this BN epsilon (keras/src/applications/resnet.py);
# their weights, moving variances included, expect it.
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{}/"


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published weights file for one of our architectures.

    Attributes:
        model: the registry name whose architecture the weights fit, e.g. "resnet50".
        weights: the value of the constructors' `weights=` argument that asks for this file;
            None for files the user brings (torchvision's, through `kd.from_torchvision`).
        source: who publishes the file ("keras.applications"); picks the loader.
        architecture: the source's own name for the network (keras.applications' constructor).
        file: the file name with the classifier (include_top=True).
        file_notop: the file name without it; None when `file` serves both.
        url: the folder `file` and `file_notop` are downloaded from.
        preprocessing: the `preprocess_input` mode the weights were trained with ("caffe",
            "torch", or "tf" for torchvision's GoogLeNet, whose weights run with
            `transform_input=True`, i.e. pixels scaled to [-1, 1]).
        bn_epsilon: the BatchNormalization epsilon the weights expect; None: no BN in the network.
        top1: the published ImageNet top-1 accuracy (%, single centre crop), None if unknown.
        resize, crop: the published evaluation transform (shorter side resized to `resize`,
            centre crop `crop`): torchvision's IMAGENET1K_V2 weights use 232, V1 256; None
            where the publisher does not say (keras.applications).
        top5: the published top-5 accuracy (%), None if unknown.
        model_kwargs: constructor arguments the weights need, as (name, value) pairs (e.g.
            torchvision's ResNet-50 is "v1.5": `stride_in_1x1=False`).
    """

    model: str
    weights: str
    source: str
    architecture: str
    file: str
    file_notop: str | None
    url: str
    preprocessing: str
    bn_epsilon: float | None
    top1: float | None
    resize: int | None = None
    crop: int | None = None
    top5: float | None = None
    model_kwargs: tuple = ()

    def file_name(self, include_top):
        """The file to download for a model with or without the classifier."""
        return self.file if include_top or self.file_notop is None else self.file_notop

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
                f"bn_epsilon={requested!r} conflicts with weights={self.weights!r}: "
                f"the {self.source} {self.architecture} weights were trained with "
                f"bn_epsilon={self.bn_epsilon!r}. Leave bn_epsilon unset (or pass "
                f"{self.bn_epsilon!r}) to load them, or use weights=None to train with "
                f"bn_epsilon={requested!r}.")
        return self.bn_epsilon


def _keras_applications(model, architecture, folder, bn_epsilon, top1):
    """A keras.applications row; file names as in keras/src/applications/{vgg16,vgg19,resnet}.py."""
    stem = f"{model}_weights_tf_dim_ordering_tf_kernels"
    return Pretrained(model=model, weights="imagenet", source=KERAS_APPLICATIONS,
                      architecture=architecture, file=stem + ".h5",
                      file_notop=stem + "_notop.h5", url=_KERAS_APPLICATIONS_URL.format(folder),
                      preprocessing="caffe", bn_epsilon=bn_epsilon, top1=top1)


def _torchvision(file, model, top1, top5, resize=256, preprocessing="torch", bn_epsilon=1e-5,
                 **model_kwargs):
    """A torchvision row: the file of `torchvision.models.<name>(weights=...)` (the weights enums
    of torchvision 0.29.1, models/{resnet,vgg,alexnet,googlenet}.py: url, transforms' resize,
    "acc@1", "acc@5")."""
    return Pretrained(model=model, weights=None, source=TORCHVISION,
                      architecture=file.split("-")[0], file=file, file_notop=None,
                      url=_TORCHVISION_URL, preprocessing=preprocessing, bn_epsilon=bn_epsilon,
                      top1=top1, resize=resize, crop=224, top5=top5,
                      model_kwargs=tuple(sorted(model_kwargs.items())))


_V15 = {"stride_in_1x1": False}  # torchvision's bottleneck ResNets: stride on the 3x3

# Top-1: keras.io/api/applications, "Available models"; torchvision: its weights enums.
SOURCES = (
    _keras_applications("vgg16", "VGG16", "vgg16", None, 71.3),
    _keras_applications("vgg19", "VGG19", "vgg19", None, 71.3),
    _keras_applications("resnet50", "ResNet50", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 74.9),
    _keras_applications("resnet101", "ResNet101", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 76.4),
    _keras_applications("resnet152", "ResNet152", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 76.6),
    _torchvision("resnet18-f37072fd.pth", "resnet18", 69.758, 89.078),
    _torchvision("resnet34-b627a593.pth", "resnet34", 73.314, 91.420),
    _torchvision("resnet50-0676ba61.pth", "resnet50", 76.130, 92.862, **_V15),
    _torchvision("resnet50-11ad3fa6.pth", "resnet50", 80.858, 95.434, 232, **_V15),
    _torchvision("resnet101-63fe2227.pth", "resnet101", 77.374, 93.546, **_V15),
    _torchvision("resnet101-cd907fc2.pth", "resnet101", 81.886, 95.780, 232, **_V15),
    _torchvision("resnet152-394f9c45.pth", "resnet152", 78.312, 94.046, **_V15),
    _torchvision("resnet152-f82ba261.pth", "resnet152", 82.284, 96.002, 232, **_V15),
    _torchvision("resnext50_32x4d-7cdf4587.pth", "resnext50_32x4d", 77.618, 93.698),
    _torchvision("resnext50_32x4d-1a0047aa.pth", "resnext50_32x4d", 81.198, 95.340, 232),
    _torchvision("resnext101_32x8d-8ba56ff5.pth", "resnext101_32x8d", 79.312, 94.526),
    _torchvision("resnext101_32x8d-110c445d.pth", "resnext101_32x8d", 82.834, 96.228, 232),
    _torchvision("resnext101_64x4d-173b62eb.pth", "resnext101_64x4d", 83.246, 96.454, 232),
    _torchvision("vgg11-8a719046.pth", "vgg11", 69.020, 88.628, bn_epsilon=None),
    _torchvision("vgg11_bn-6002323d.pth", "vgg11_bn", 70.370, 89.810),
    _torchvision("vgg13-19584684.pth", "vgg13", 69.928, 89.246, bn_epsilon=None),
    _torchvision("vgg13_bn-abd245e5.pth", "vgg13_bn", 71.586, 90.374),
    _torchvision("vgg16-397923af.pth", "vgg16", 71.592, 90.382, bn_epsilon=None),
    _torchvision("vgg16_bn-6c64b313.pth", "vgg16_bn", 73.360, 91.516),
    _torchvision("vgg19-dcbb9e9d.pth", "vgg19", 72.376, 90.876, bn_epsilon=None),
    _torchvision("vgg19_bn-c79401a0.pth", "vgg19_bn", 74.218, 91.842),
    _torchvision("alexnet-owt-7be5be79.pth", "alexnet_torchvision", 56.522, 79.066,
                 bn_epsilon=None),
    # torchvision runs these weights with transform_input=True: (x - 0.5) / 0.5 per channel
    _torchvision("googlenet-1378be20.pth", "googlenet_torchvision", 69.778, 89.530,
                 preprocessing="tf", bn_epsilon=1e-3),
)
# (model, weights) -> row, for the rows the constructors load by name (weights="imagenet").
PRETRAINED = {(row.model, row.weights): row for row in SOURCES if row.weights is not None}
# file name -> row, for every published file.
FILES = {row.file: row for row in SOURCES}


def is_pretrained_name(weights):
    """Whether `weights` names pretrained weights ("imagenet") rather than None or a file."""
    return isinstance(weights, str) and any(weights == w for _, w in PRETRAINED)


def find(model, weights):
    """The row of `model`'s `weights` (e.g. "resnet50", "imagenet"), or None if there is none."""
    return PRETRAINED.get((model, weights))


def models_with(weights):
    """Sorted registry names that have `weights` (e.g. every model with "imagenet" weights)."""
    return sorted(model for model, w in PRETRAINED if w == weights)


def find_file(path):
    """The row of a published weights file, by its base name (e.g. ".../resnet50-11ad3fa6.pth"),
    or None for a file the table does not know."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return FILES.get(name)


def best_row(model):
    """The row with the best published ImageNet top-1 for the registry name `model`, or None
    when the table has none."""
    rows = [row for row in SOURCES if row.model == model and row.top1 is not None]
    return max(rows, key=lambda row: row.top1) if rows else None


def published_top1(model):
    """The best published ImageNet top-1 (%) of any weights for `model`, or None."""
    row = best_row(model)
    return None if row is None else row.top1


def rows_from(source):
    """`{model: row}` of the rows loadable by name that `source` publishes (e.g.
    "keras.applications"); torchvision's files are in `FILES`, several per model."""
    return {row.model: row for row in PRETRAINED.values() if row.source == source}
