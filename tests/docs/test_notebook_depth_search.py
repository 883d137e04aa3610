"""docs/notebooks/03_depth_search.ipynb runs top to bottom in Jupyter: two trials of a random
search over depths 8 and 14 on 40 real CIFAR-10 images, then its table and plot. The table and
the best trial it prints are KerasTuner's own record of the trials (trial_*/trial.json)."""

import ast
import json

import pytest
from notebook_helpers import (assert_clean_start, markdown_outputs, png_count, run_notebook,
                              table_rows, text)

NAME = "03_depth_search.ipynb"


def tuner_trials(project):
    """{trial id: (score, hyperparameter values)} from KerasTuner's trial.json files."""
    trials = {}
    for path in sorted(project.glob("trial_*/trial.json")):
        trial = json.loads(path.read_text())
        trials[trial["trial_id"]] = (trial["score"], trial["hyperparameters"]["values"])
    return trials


def check_table(table, trials):
    """One row per trial, with the trial's score and hyperparameters."""
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    rows = [dict(zip(header, row)) for row in table_rows(table)]
    assert sorted(row["trial"] for row in rows) == sorted(trials)
    for row in rows:
        score, values = trials[row["trial"]]
        assert row["status"] == "COMPLETED" and row["val_accuracy"] == f"{score:.4f}", row
        assert row["depth"] == str(values["depth"]) and row["depth"] in ("8", "14")
        assert row["lr"] == f"{values['lr']:.3g}" and row["block"] == values["block"]
        assert row["shortcut"] == values["shortcut"] and float(row["width"]) == values["width"]


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
    trials = tuner_trials(out / "cifar_depth")
    assert len(trials) == 2
    check_table(markdown_outputs(nb)[-1], trials)
    assert (out / "cifar_depth" / "results.png").stat().st_size > 10_000
    assert png_count(nb) == 1
    best = next(line for line in stdout.splitlines()
                if line.startswith("Best trial's hyperparameters:"))
    top = max(score for score, _ in trials.values())  # 20 images: two trials may tie
    assert ast.literal_eval(best.partition(":")[2].strip()) in [
        values for score, values in trials.values() if score == top]
