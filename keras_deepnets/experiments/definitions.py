"""The papers' comparisons as data: which models each experiment trains, and the paper's numbers
to print beside ours.

References:
    He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition", CVPR 2016 (ResNet paper).
    Simonyan, Zisserman. "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    ICLR 2015 (VGG paper).
"""

import dataclasses

from keras_deepnets.experiments import cifar_vgg


@dataclasses.dataclass(frozen=True)
class Series:
    """One line of a figure / row of a table: a registry model, optionally with a shortcut."""

    label: str
    model: str
    shortcut: str = None
    paper: float = None  # the paper's error (%) for this row, when the paper gives one
    paper_note: str = None  # e.g. "6.61 +- 0.16 (5 runs)", or the row's meaning when no number


@dataclasses.dataclass(frozen=True)
class Finding:
    """A claim of the paper checked on our run: `worse` ends with a higher `metric` than
    `better`."""

    text: str
    worse: str  # series label
    better: str
    metric: str = "train_error"  # "train_error" or "test_error" (final epoch)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    source: str  # the figure / table reproduced
    series: tuple
    paper_column: str  # what the paper's numbers are
    findings: tuple = ()
    note: str = ""

    @property
    def labels(self):
        return [s.label for s in self.series]


_TABLE6 = "CIFAR-10 test error (%), ResNet paper Table 6 (best of 5 runs; 110: mean +- std too)"
_FIG6 = "no number: Fig. 6 shows the curves only"

EXPERIMENTS = {e.name: e for e in (
    Experiment(
        "degradation", "Plain nets: deeper is worse (degradation)",
        "ResNet paper, Fig. 1 and Fig. 6 (left)",
        (Series("plain-20", "plain20", paper_note=_FIG6),
         Series("plain-56", "plain56", paper_note=_FIG6)),
        "the paper's observation",
        (Finding("plain-56 has higher training error than plain-20 (Fig. 1, Fig. 6 left)",
                 worse="plain-56", better="plain-20", metric="train_error"),
         Finding("plain-56 has higher test error than plain-20 (Fig. 1)",
                 worse="plain-56", better="plain-20", metric="test_error"))),
    Experiment(
        "residual", "Residual learning: deeper is better",
        "ResNet paper, Fig. 6 (middle) and Table 6",
        (Series("ResNet-20", "resnet20", paper=8.75), Series("ResNet-56", "resnet56", paper=6.97)),
        _TABLE6,
        (Finding("ResNet-56 has lower training error than ResNet-20 (Fig. 6 middle)",
                 worse="ResNet-20", better="ResNet-56", metric="train_error"),
         Finding("ResNet-56 has lower test error than ResNet-20 (Table 6)",
                 worse="ResNet-20", better="ResNet-56", metric="test_error"))),
    Experiment(
        "shortcuts", "Shortcut options A, B, C against plain (CIFAR analogue of Table 3)",
        "ResNet paper, Table 3 (ImageNet, 34 layers); here on CIFAR-10 at 32 layers",
        # 32 layers: the CIFAR depth closest to Table 3's 34 layers.
        (Series("plain-32", "plain32", paper=28.54, paper_note="plain-34"),
         Series("ResNet-32 A", "resnet32", "A", paper=25.03, paper_note="ResNet-34 A"),
         Series("ResNet-32 B", "resnet32", "B", paper=24.52, paper_note="ResNet-34 B"),
         Series("ResNet-32 C", "resnet32", "C", paper=24.19, paper_note="ResNet-34 C")),
        "ImageNet top-1 error (%), 10-crop, ResNet-34, ResNet paper Table 3: the ImageNet "
        "analogue, not CIFAR numbers",
        (Finding("option A beats plain (Table 3)", worse="plain-32", better="ResNet-32 A",
                 metric="test_error"),),
        note="Table 3 finds A < plain and C <= B <= A in error, with small gaps between A, B "
             "and C; on CIFAR the paper uses option A only."),
    Experiment(
        "depth", "ResNet depth series 20/32/44/56/110",
        "ResNet paper, Table 6",
        (Series("ResNet-20", "resnet20", paper=8.75), Series("ResNet-32", "resnet32", paper=7.51),
         Series("ResNet-44", "resnet44", paper=7.17), Series("ResNet-56", "resnet56", paper=6.97),
         Series("ResNet-110", "resnet110", paper=6.43, paper_note="6.61 +- 0.16 over 5 runs")),
        _TABLE6,
        (Finding("ResNet-110 has lower test error than ResNet-20 (Table 6)", worse="ResNet-20",
                 better="ResNet-110", metric="test_error"),),
        note="With the paper's recipe ResNet-110 warms up at lr 0.01 for its first 400 "
             "iterations (section 4.2), as the training core's recipe does; the fast recipe's "
             "linear warm-up replaces it."),
    Experiment(
        "vgg", "VGG depth: configs A to E, CIFAR-sized, with batch norm",
        "VGG paper, Table 3 (ImageNet); here on CIFAR-10 at 32x32",
        tuple(Series(f"VGG-{c} ({depth})", name, paper=paper)
              for (c, (name, depth)), paper in zip(cifar_vgg.CONFIGS.items(),
                                                   (29.6, 28.7, 28.1, 27.0, 27.3))),
        "ImageNet top-1 val error (%), single scale, train/test S=Q=256, VGG paper Table 3 (no "
        "batch norm): the ImageNet analogue",
        (Finding("VGG-E (19) has lower test error than VGG-A (11) (Table 3)",
                 worse="VGG-A (11)", better="VGG-E (19)", metric="test_error"),),
        note="CIFAR-sized VGG: the paper's conv configs at 32x32 input with batch norm, global "
             "average pooling and one Dense(10) instead of the FC-4096 top "
             "(keras_deepnets.experiments.cifar_vgg); trained with the ResNet paper's CIFAR "
             "recipe."),
)}


def get_experiment(name):
    """The `Experiment` called `name`; ValueError listing the valid names otherwise."""
    key = name.lower() if isinstance(name, str) else name
    if key not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}. Valid experiments: "
                         f"{', '.join(EXPERIMENTS)}.")
    return EXPERIMENTS[key]


def list_experiments():
    return list(EXPERIMENTS)
