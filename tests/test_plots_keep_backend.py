"""The package's plots (training curves, the depth search's results, the experiments' figures)
draw on a Figure of their own: they leave matplotlib's backend and pyplot's figures alone, so
a notebook's inline plots keep showing after `training.train` (which draws curves.png)."""

import matplotlib
import pytest
from matplotlib import pyplot as plt

from keras_deepnets.experiments import report
from keras_deepnets.training.records import Records
from keras_deepnets.tuning import results


@pytest.fixture
def svg_backend():
    """A backend other than Agg, as Jupyter's inline one is; restored afterwards."""
    before = matplotlib.get_backend()
    plt.close("all")
    matplotlib.use("svg")
    yield "svg"
    plt.close("all")
    matplotlib.use(before)


def _unchanged(backend, path):
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == []  # no figure left open in pyplot
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_curves_keep_the_backend(svg_backend, tmp_path):
    records = Records(str(tmp_path), writes_files=True, tensorboard=False)
    for step in range(1, 4):
        records.add_step(step, 1, 0.1, 2.0 / step, {"top1": 0.9 / step})
    records.add_epoch({"epoch": 1, "step": 3, "loss": 1.0, "top1": 0.3, "top5": 0.7,
                       "val_loss": 1.1, "val_top1": 0.25, "val_top5": 0.6, "lr": 0.1})
    _unchanged(svg_backend, tmp_path / "curves.png" if records.write_curves("t") else None)


def test_search_plot_keeps_the_backend(svg_backend, tmp_path):
    rows = [{"val_accuracy": 0.5, "mult_adds": 4e7, "shortcut": "A", "block": "basic",
             "depth": 20}]
    results.plot(rows, str(tmp_path / "r.png"), "search")
    _unchanged(svg_backend, tmp_path / "r.png")


def test_experiment_plot_keeps_the_backend(svg_backend, tmp_path):
    curves = {"iteration": [1, 2], "train_error": [90.0, 80.0], "test_iteration": [2],
              "test_error": [85.0]}
    record = {"title": "t", "source": "s", "flags": {"budget": 1, "repeats": 1},
              "runs": [{"label": "ResNet-20", "curves": curves}]}
    report.plot(record, str(tmp_path / "e.png"))
    _unchanged(svg_backend, tmp_path / "e.png")
