"""Checks shared by the fast (stand-in core) and slow (real core) tests."""

import json
import pathlib
import struct

from keras_deepnets.experiments import get_experiment, report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the PNG's IHDR chunk; asserts the file is a PNG."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def check_outputs(output_dir, name, budget, repeats, steps_per_epoch, labels=None):
    """The plot, table and JSON of experiment `name` hold every series (or `labels`) x repeat,
    with `budget * steps_per_epoch` training-error points and `budget` test-error points."""
    experiment = get_experiment(name)
    labels = labels or experiment.labels
    out = pathlib.Path(output_dir)
    width, height = png_size(out / f"{name}.png")
    assert (width, height) == (report.PLOT_SIZE[0] * report.PLOT_DPI,
                               report.PLOT_SIZE[1] * report.PLOT_DPI)
    record = json.loads((out / f"{name}.json").read_text())
    assert record["experiment"] == name and record["flags"]["budget"] == budget
    runs = record["runs"]
    assert [(r["label"], r["repeat"]) for r in runs] == [(label, i) for label in labels
                                                         for i in range(repeats)]
    for run in runs:
        curves = run["curves"]
        assert len(curves["train_error"]) == len(curves["iteration"]) == budget * steps_per_epoch
        assert len(curves["test_error"]) == len(curves["test_iteration"]) == budget
        assert curves["test_iteration"][-1] == curves["iteration"][-1]  # same x axis
        assert all(0 <= e <= 100 for e in curves["train_error"] + curves["test_error"])
        assert run["wall_seconds"] > 0 and run["config"]["steps_per_epoch"] == steps_per_epoch
        assert run["final"]["test_error"] == curves["test_error"][-1]
    assert record["wall_seconds"] >= sum(r["wall_seconds"] for r in runs) - 1e-6
    table = (out / f"{name}.md").read_text()
    for s in experiment.series:
        if s.label in labels:
            row = next(line for line in table.splitlines() if line.startswith(f"| {s.label} |"))
            if s.paper is not None:
                assert f"{s.paper:.2f}" in row, row
    assert experiment.paper_column in table
    return record, table
