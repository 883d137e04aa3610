"""The pretrained weights this package can load: one table, one frozen row per (model, weights).

Every fact about a published weights file lives here and nowhere else: which of our models it
fits, who published it, its file name and address, the preprocessing and BN epsilon it was
trained with, and its published accuracy. The models read the table to validate `weights=...`
and to build with the right epsilon; `weight_files` downloads and loads the files; `weights`
converts keras.applications models. This module imports nothing of the package, so any of them
can import it without an import circle.

To add weights from another source (torchvision, timm), add rows to `PRETRAINED`: a row says
everything the loader and the checks need, and `weight_files.load_pretrained` gets a loader
for the new `source`.

Example:
    >>> from keras_deepnets import pretrained
    >>> row = pretrained.find("resnet50", "imagenet")
    >>> row.source, row.preprocessing, row.bn_epsilon, row.top1
    ('keras.applications', 'caffe', 1.001e-05, 74.9)
"""

import dataclasses
import math

KERAS_APPLICATIONS = "keras.applications"
# keras.applications' ResNets were built with this BN epsilon (keras/src/applications/resnet.py);
# their weights, moving variances included, expect it.
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{}/"


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published weights file for one of our architectures.

    Attributes:
        model: the registry name whose architecture the weights fit, e.g. "resnet50".
        weights: the value of the constructors' `weights=` argument that asks for this file.
        source: who publishes the file ("keras.applications"); picks the loader.
        architecture: the source's own name for the network (keras.applications' constructor).
        file: the file name with the classifier (include_top=True).
        file_notop: the file name without it; None when `file` serves both.
        url: the folder `file` and `file_notop` are downloaded from.
        preprocessing: the `preprocess_input` mode the weights were trained with.
        bn_epsilon: the BatchNormalization epsilon the weights expect; None: no BN in the network.
        top1: the published ImageNet top-1 accuracy (%, single 224 centre crop), None if unknown.
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


# (model, weights) -> row. Top-1: keras.io/api/applications, "Available models".
PRETRAINED = {(row.model, row.weights): row for row in (
    _keras_applications("vgg16", "VGG16", "vgg16", None, 71.3),
    _keras_applications("vgg19", "VGG19", "vgg19", None, 71.3),
    _keras_applications("resnet50", "ResNet50", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 74.9),
    _keras_applications("resnet101", "ResNet101", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 76.4),
    _keras_applications("resnet152", "ResNet152", "resnet", KERAS_APPLICATIONS_BN_EPSILON, 76.6),
)}


def is_pretrained_name(weights):
    """Whether `weights` names pretrained weights ("imagenet") rather than None or a file."""
    return isinstance(weights, str) and any(weights == w for _, w in PRETRAINED)


def find(model, weights):
    """The row of `model`'s `weights` (e.g. "resnet50", "imagenet"), or None if there is none."""
    return PRETRAINED.get((model, weights))


def models_with(weights):
    """Sorted registry names that have `weights` (e.g. every model with "imagenet" weights)."""
    return sorted(model for model, w in PRETRAINED if w == weights)


def rows_from(source):
    """`{model: row}` of every row `source` publishes (e.g. "keras.applications")."""
    return {row.model: row for row in PRETRAINED.values() if row.source == source}
