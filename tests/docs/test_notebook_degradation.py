"""docs/notebooks/01_degradation_and_residual_learning.ipynb runs top to bottom in Jupyter at a
tiny budget (40 real CIFAR-10 images, one epoch per net) and shows what it promises: the figures
it prints are those its runs wrote (history.csv) and those of the recorded runs' JSON."""

import json

import pytest
from notebook_helpers import (REPO, assert_clean_start, markdown_outputs, png_count,
                              run_notebook, table_rows, text)

from keras_deepnets import experiments
from keras_deepnets.training.records import read_history

NAME = "01_degradation_and_residual_learning.ipynb"
NETS = {"plain-20": "plain20", "plain-56": "plain56", "ResNet-20": "resnet20",
        "ResNet-56": "resnet56"}
LABELS = list(NETS)
RECORDED = REPO / "docs" / "results" / "one_cpu"  # the notebook's RESULTS_DIR


def assert_printed(text, value):
    """`text`, a figure printed with 2 decimals, is `value`."""
    assert abs(float(text) - value) <= 0.005 + 1e-9, (text, value)


def check_final_errors(table, out):
    """Each net's last-epoch training error and test error are its history.csv's last row."""
    finals = {row[0]: row for row in table_rows(table)}
    assert list(finals) == LABELS
    for label, name in NETS.items():
        last = read_history(out / name)[-1]
        assert last["epoch"] == 1
        assert_printed(finals[label][1], 100 * (1 - last["top1"]))
        assert_printed(finals[label][2], 100 * (1 - last["val_top1"]))


def check_recorded_runs(table):
    """The recorded runs' final errors are their JSON's, beside the paper's Table 6."""
    recorded = {row[0]: row for row in table_rows(table)}
    assert set(recorded) == set(LABELS)
    for name in ("degradation", "residual"):
        for series in experiments.get_experiment(name).series:
            row = recorded[series.label]
            assert row[4] == (str(series.paper) if series.paper else "Fig. 6 only")
            assert "epochs" in row[1]
    for path in ("fast_5epochs/degradation.json", "fast_10epochs/residual.json"):
        for run in json.loads((RECORDED / path).read_text())["runs"]:
            row = recorded[run["label"]]
            assert_printed(row[2], run["final"]["train_error"])
            assert_printed(row[3], run["final"]["test_error"])


@pytest.mark.slow
def test_degradation_notebook(cifar10_small, tmp_path):
    out = tmp_path / "runs"
    nb = run_notebook(NAME, {"DATA": str(cifar10_small), "EPOCHS": 1, "BATCH_SIZE": 8,
                             "OUTPUT_DIR": str(out)})
    assert_clean_start(nb)
    stdout = text(nb)
    tables = markdown_outputs(nb)
    # Parameter counts: each ResNet's trainable count rounds to its Table 6 entry (e.g.
    # "269,722 (0.27M)" beside "0.27M"); a plain net has its ResNet's count.
    counts = {row[0]: row for row in table_rows(tables[0])}
    assert list(counts) == LABELS
    for depth in ("20", "56"):
        resnet, plain = counts[f"ResNet-{depth}"], counts[f"plain-{depth}"]
        assert resnet[1:3] == plain[1:3]
        assert resnet[1].endswith(f"({resnet[4]})"), resnet
    # Every net trained through the core, with Keras's progress bar and the time estimates.
    for label in LABELS:
        assert f"== {label}: " in stdout
    assert stdout.count("Done: 1 epoch(s)") == 4
    assert "\u2501" in stdout  # Keras 3's progress bar
    assert "about" in stdout and "min plus testing" in stdout
    # The curves: the PNG on disk and inline; the final errors are the runs' history.csv.
    assert (out / "curves.png").stat().st_size > 10_000
    check_final_errors(tables[1], out)
    check_recorded_runs(tables[2])
    assert png_count(nb) == 2  # the curves and the recorded runs against the paper
