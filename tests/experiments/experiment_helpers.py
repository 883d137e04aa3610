"""Checks of an experiment's outputs against what its real training runs wrote."""

import csv
import json
import pathlib
import statistics
import struct

from keras_deepnets.experiments import get_experiment, report

# 20 training images at batch 10: 2 iterations an epoch; one test batch of 10 images. (Here, not
# in conftest.py: `from conftest import` picks whichever conftest the full suite loaded first.)
TINY = {"max_examples": 20, "max_val_examples": 10, "batch_size": 10}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the PNG's IHDR chunk; asserts the file is a PNG."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def table_row(table, label):
    """The cells of the table row of series `label`."""
    line = next(row for row in table.splitlines() if row.startswith(f"| {label} |"))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_multiple(value, unit):
    return abs(value / unit - round(value / unit)) < 1e-6


def check_outputs(output_dir, name, labels=None):
    """The plot, table and JSON of experiment `name` under `output_dir` hold every series (or
    `labels`) x repeat, each with the curves its training core run wrote: one training-error
    point per iteration run, one test-error point per epoch. Returns (record, table)."""
    experiment = get_experiment(name)
    labels = labels or experiment.labels
    out = pathlib.Path(output_dir)
    assert png_size(out / f"{name}.png") == (report.PLOT_SIZE[0] * report.PLOT_DPI,
                                             report.PLOT_SIZE[1] * report.PLOT_DPI)
    record = json.loads((out / f"{name}.json").read_text())
    flags = record["flags"]
    budget, repeats = flags["budget"], flags["repeats"]
    assert record["experiment"] == name and flags["series"] == labels
    runs = record["runs"]
    assert [(r["label"], r["repeat"]) for r in runs] == [(label, i) for label in labels
                                                         for i in range(repeats)]
    series = {s.label: s for s in experiment.series}
    for run in runs:
        config, curves = run["config"], run["curves"]
        # The run trained what the experiment defines, with the run's settings.
        assert config["model"] == series[run["label"]].model == run["model"]
        assert config["shortcut"] == series[run["label"]].shortcut
        assert config["seed"] == run["seed"] == flags["seed"] + run["repeat"]
        assert config["epochs"] == budget and config["batch_size"] == (flags["batch_size"] or 128)
        steps_per_epoch, total = config["steps_per_epoch"], config["total_steps"]
        assert total == budget * steps_per_epoch > 0
        # The curves are the core's own records (fractions there, percentages here).
        steps = read_csv(pathlib.Path(run["model_dir"]) / "train_steps.csv")
        epochs = read_csv(pathlib.Path(run["model_dir"]) / "history.csv")
        assert curves["iteration"] == [int(r["step"]) for r in steps] == list(range(1, total + 1))
        assert curves["train_error"] == [100 * float(r["top1_error"]) for r in steps]
        assert curves["test_iteration"] == [int(r["step"]) for r in epochs] == [
            steps_per_epoch * (e + 1) for e in range(budget)]
        assert curves["test_error"] == [100 * (1 - float(r["val_top1"])) for r in epochs]
        # Errors of whole batches: a multiple of one image in the batch / in the test set.
        batch, tested = config["batch_size"], flags["max_val_examples"]
        assert all(0 <= e <= 100 and _is_multiple(e, 100 / batch) for e in curves["train_error"])
        assert all(0 <= e <= 100 and _is_multiple(e, 100 / tested) for e in curves["test_error"])
        assert run["final"] == {"train_error": curves["epoch_train_error"][-1],
                                "test_error": curves["test_error"][-1],
                                "best_test_error": min(curves["test_error"])}
        assert run["wall_seconds"] > 0
    assert record["wall_seconds"] >= sum(r["wall_seconds"] for r in runs) - 1e-6
    assert record["outputs"] == {"plot": str(out / f"{name}.png"),
                                 "table": str(out / f"{name}.md"),
                                 "json": str(out / f"{name}.json")}

    table = (out / f"{name}.md").read_text()
    assert experiment.paper_column in table and f"{repeats} run(s) per model" in table
    means = {}
    for s in experiment.series:
        if s.label not in labels:
            assert f"| {s.label} |" not in table
            continue
        cells = table_row(table, s.label)
        finals = [r["final"] for r in runs if r["label"] == s.label]
        for column, key in ((1, "train_error"), (2, "test_error"), (3, "best_test_error")):
            values = [f[key] for f in finals]
            means[(s.label, key)] = statistics.fmean(values)
            expected = f"{statistics.fmean(values):.2f}"
            if repeats > 1:
                expected += f" ± {statistics.stdev(values):.2f}"
            assert cells[column] == expected, (s.label, cells)
        if s.paper is not None:
            assert cells[4].startswith(f"{s.paper:.2f}"), cells
        if s.paper_note:
            assert s.paper_note in cells[4], cells
    # The paper's findings, judged on this run's numbers (tiny runs: either verdict can come).
    for f in experiment.findings:
        if f.worse in labels and f.better in labels:
            worse, better = means[(f.worse, f.metric)], means[(f.better, f.metric)]
            verdict = "reproduced" if worse > better else "NOT reproduced"
            assert (f"- Paper: {f.text}. This run: {verdict} (final {f.metric.replace('_', ' ')} "
                    f"{f.worse} {worse:.2f}% vs {f.better} {better:.2f}%).") in table, table
    return record, table
