"""docs/notebooks/01_degradation_and_residual_learning.ipynb runs top to bottom in Jupyter at a
tiny budget (40 real CIFAR-10 images, one epoch per net) and shows what it promises."""

import pytest
from notebook_helpers import (assert_clean_start, markdown_outputs, png_count, run_notebook,
                              table_rows, text)

from keras_deepnets import experiments

NAME = "01_degradation_and_residual_learning.ipynb"
LABELS = ["plain-20", "plain-56", "ResNet-20", "ResNet-56"]


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
    # The curves: the PNG on disk and inline, and the final errors are percentages.
    assert (out / "curves.png").stat().st_size > 10_000
    finals = {row[0]: row for row in table_rows(tables[1])}
    assert list(finals) == LABELS
    for row in finals.values():
        assert 0 <= float(row[1]) <= 100 and 0 <= float(row[2]) <= 100
    # The recorded runs beside the paper's Table 6, with their budgets.
    recorded = {row[0]: row for row in table_rows(tables[2])}
    assert set(recorded) == set(LABELS)
    for name in ("degradation", "residual"):
        for series in experiments.get_experiment(name).series:
            row = recorded[series.label]
            assert row[4] == (str(series.paper) if series.paper else "Fig. 6 only")
            assert "epochs" in row[1] and 0 < float(row[3]) < 100
    assert png_count(nb) == 2  # the curves and the recorded runs against the paper
