"""The constructors' `weights=` argument, resolved in one place (`resolve_weights`).

`weights=` is None; a tag of the weights table ("imagenet", "IMAGENET1K_V2", "DEFAULT", a
registered tag) or of the Hugging Face Hub ("hf://timm/resnet50.a1_in1k"); a preset (a folder
`kd.save_preset` wrote, `file://` of one, `hf://owner/repo[@revision]`); a PyTorch-side
checkpoint (.pth, .pt, .safetensors, .npz); or a Keras weights file (.weights.h5, .keras).
`resolve_weights` says which, with its row, folder or path, or raises the error that says what
is accepted. The named constructors (`models.common.accepts_pretrained`) serve every kind; a
model class building its own architecture in place (`ResNetModel`, `VGGModel`, ...) serves None,
weights files and keras.applications' rows of that architecture (`in_place=`).
"""

import dataclasses
import os

from keras_deepnets.weights import converters, hub, presets, table

NONE, ROW, PRESET, CHECKPOINT, FILE = "none", "row", "preset", "checkpoint", "file"


@dataclasses.dataclass(frozen=True)
class WeightsSource:
    """What a `weights=` value names: `kind` (NONE, ROW, PRESET, CHECKPOINT, FILE) and `value`
    (the table's row, the preset's folder, the checkpoint's or file's path)."""

    kind: str
    value: object = None

    @property
    def row(self):
        """The weights table's row of a tag, else None."""
        return self.value if self.kind == ROW else None


def resolve_weights(weights, names, *, in_place=None):
    """What `weights=` names for a constructor that builds one of the registry names `names`
    (a tag's row is the first of them that has it, e.g. ("alexnet", "alexnet_torchvision")).

    `in_place`: the model's label when a model class resolves for itself, `names` then being
    keras.applications' name of its architecture, or none. It reads no preset and converts no
    checkpoint (those are paths to it: a file, or the error that none exists), and a tag must
    be keras.applications' for `names`.
    """
    if weights is None:
        return WeightsSource(NONE)
    if in_place is None:
        folder = presets.find(weights)
        if folder is not None:
            return WeightsSource(PRESET, folder)
        if converters.is_torch_checkpoint(weights):
            return WeightsSource(CHECKPOINT, weights)
    if table.is_tag(weights):
        if in_place is None:
            return WeightsSource(ROW, _tag_row(weights, names))
        return WeightsSource(ROW, _in_place_row(weights, names, in_place))
    _check_file(weights)
    return WeightsSource(FILE, weights)


def _tag_row(tag, names):
    """The row a tag asks for (`table.resolve`; a Hub tag's from its config.json)."""
    if table.is_hub_tag(tag):
        row = hub.row_for(tag)
        if row.model not in names:
            raise table.WeightsError(
                f"weights={tag!r} holds timm's {row.architecture} ({row.model}), which the "
                f"{names[0]} constructor cannot load; use kd.get_model({row.model!r}, "
                f"weights={tag!r}).")
        return row
    return table.resolve(names, tag)


def _in_place_row(tag, names, label):
    """keras.applications' row of `tag` for the first of `names` that has one."""
    for name in names:
        found = table.rows(name, tag, publisher=table.KERAS_APPLICATIONS)
        if found:
            return found[0]
    having = sorted({row.model for row in table.rows(tag=tag)})
    raise ValueError(
        f"{label} has no pretrained weights for weights={tag!r}. Models with "
        f"weights={tag!r}: {', '.join(having) or 'none'}. Use "
        "weights=None or a .weights.h5 path."
    )


def _check_file(weights):
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "weights must be None, a tag such as 'imagenet' or a path to a .weights.h5 "
            "file; "
            f"got {weights!r}."
        )
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights={str(weights)!r} is neither None, a tag such as 'imagenet' nor an "
            "existing file."
        )
