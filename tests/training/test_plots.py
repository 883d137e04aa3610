"""keras_deepnets/training/plots.py: the one smoothing rule of every training curve (a run's
curves.png, the experiments' figures, the notebooks) and the curves read from a run's rows."""

import numpy as np
import pytest

from keras_deepnets.experiments import report
from keras_deepnets.training import plots
from keras_deepnets.training.records import Records


def test_smooth_is_a_trailing_mean_over_two_percent_of_the_run():
    values = np.random.default_rng(0).uniform(0, 100, 1000).tolist()
    window = 20  # 1000 // 50
    expected = [np.mean(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]
    np.testing.assert_allclose(plots.smooth(values), expected, rtol=1e-9)
    # Same length (point i stays at iteration i); short runs are drawn as they are.
    assert plots.smooth(values[:49]) == pytest.approx(values[:49])
    assert plots.smooth([]) == []
    # A step from 100 to 0 at iteration 500 has fallen to 0 one window later.
    step = plots.smooth([100.0] * 500 + [0.0] * 500)
    assert step[499] == 100 and step[509] == 50 and step[519] == 0


def _rows(n=120):
    steps = [{"step": s, "loss": 2.0 / s, "top1_error": 1 - s / (n + 1)} for s in range(1, n + 1)]
    epochs = [{"epoch": e, "step": e * n // 2, "top1": 0.5, "val_top1": 0.25 * e, "loss": 1.0,
               "val_loss": 1.5 / e} for e in (1, 2)]
    return steps, epochs


def test_error_curves_come_from_the_run_rows():
    steps, epochs = _rows()
    epochs.append({"epoch": 3, "step": 130, "top1": 0.6, "val_top1": None})  # not tested
    (iters, train), (tested, test) = plots.error_curves(steps, epochs)
    assert iters == list(range(1, 121)) and train[0] == pytest.approx(100 * (1 - 1 / 121))
    assert tested == [60, 120] and test == pytest.approx([75.0, 50.0])


def test_the_drawn_lines_are_the_smoothed_rows():
    steps, epochs = _rows()
    ax = plots.figure((4, 3)).subplots()
    plots.draw_errors(ax, steps, epochs, label="ResNet-20")
    thin, bold = ax.lines
    (iters, train), (tested, test) = plots.error_curves(steps, epochs)
    np.testing.assert_allclose(thin.get_xdata(), iters)
    np.testing.assert_allclose(thin.get_ydata(), plots.smooth(train))
    np.testing.assert_allclose(bold.get_ydata(), test)
    assert bold.get_label() == "ResNet-20" and bold.get_color() == thin.get_color()


def test_records_and_report_draw_through_plots(tmp_path, monkeypatch):
    """A run's curves.png and an experiment's figure smooth with plots.smooth."""
    smoothed = []
    monkeypatch.setattr(plots, "smooth", lambda v: smoothed.append(list(v)) or list(v))
    steps, epochs = _rows()
    records = Records(str(tmp_path), writes_files=True, tensorboard=False)
    records.steps, records.epochs = steps, epochs
    assert records.write_curves("t") == str(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert smoothed[0] == pytest.approx(plots.error_curves(steps, epochs)[0][1])  # the errors
    assert smoothed[1] == [r["loss"] for r in steps]  # and the loss
    curves = {"iteration": [1, 2, 3], "train_error": [90.0, 80.0, 70.0], "test_iteration": [3],
              "test_error": [85.0]}
    record = {"title": "t", "source": "s", "flags": {"budget": 1, "repeats": 1},
              "runs": [{"label": "ResNet-20", "curves": curves}]}
    report.plot(record, str(tmp_path / "e.png"))
    assert smoothed[2] == curves["train_error"]


def test_no_curves_without_top1_or_steps(tmp_path):
    assert Records(str(tmp_path), writes_files=True, tensorboard=False).write_curves("t") is None
    records = Records(str(tmp_path), writes_files=True, tensorboard=False, metric_names=("top5",))
    records.steps = _rows()[0]
    assert records.write_curves("t") is None
