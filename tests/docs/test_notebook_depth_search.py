"""docs/notebooks/03_depth_search.ipynb runs top to bottom in Jupyter: two trials of a random
search over depths 8 and 14 on 40 real CIFAR-10 images, then its table and plot."""

import pytest
from notebook_helpers import (assert_clean_start, markdown_outputs, png_count, run_notebook,
                              table_rows, text)

NAME = "03_depth_search.ipynb"


@pytest.mark.slow
def test_depth_search_notebook(cifar10_small, tmp_path):
    out = tmp_path / "tuning"
    nb = run_notebook(NAME, {
        "DATA": str(cifar10_small), "MAX_TRIALS": 2, "EPOCHS": 1, "MAX_EXAMPLES": 40,
        "MAX_VAL_EXAMPLES": 20, "BATCH_SIZE": 8, "TRAIN_STEPS": 2, "DEPTHS": (8, 14),
        "BLOCKS": ("basic",), "SHORTCUTS": ("A",), "WIDTHS": (0.5,), "OUTPUT_DIR": str(out)})
    assert_clean_start(nb)
    stdout = text(nb)
    assert "Searching: 2 trials" in stdout and "min on a 2-core CPU" in stdout
    table = markdown_outputs(nb)[-1]
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    rows = table_rows(table)
    assert len(rows) == 2
    depth = header.index("depth")
    assert {row[depth] for row in rows} <= {"8", "14"}
    assert (out / "cifar_depth" / "results.png").stat().st_size > 10_000
    assert png_count(nb) == 1
    assert "Best trial's hyperparameters:" in stdout
