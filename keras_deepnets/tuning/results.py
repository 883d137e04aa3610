"""A search's results: one row per trial in `results.csv` and `results.md`, and `results.png`
(validation accuracy against depth and against multiply-adds, as in the ResNet paper's depth
studies), written in the project folder by the chief (or the only process).
"""

import csv
import os

COLUMNS = ("trial", "status", "depth", "layout", "block", "shortcut", "width", "stage_filters",
           "lr", "weight_decay", "params", "mult_adds", "val_accuracy", "wall_seconds",
           "peak_rss_mb", "rss_after_mb")
METRICS = ("val_accuracy", "params", "mult_adds", "wall_seconds", "peak_rss_mb", "rss_after_mb")


def trial_rows(tuner):
    """One dict per trial of `tuner` (finished or not), sorted by trial id."""
    rows = []
    # Trial ids are numbers as strings ("9" < "10" only as numbers).
    for trial_id in sorted(tuner.oracle.trials, key=lambda t: (len(t), t)):
        trial = tuner.oracle.trials[trial_id]
        row = {"trial": trial_id, "status": str(trial.status)}
        # describe() declares the space on a copy, never on the trial's own values.
        row.update(tuner.hypermodel.describe(trial.hyperparameters.copy()))
        for name in METRICS:
            if trial.metrics.exists(name):
                value = trial.metrics.get_last_value(name)
                row[name] = int(value) if name in ("params", "mult_adds") else value
        rows.append(row)
    return rows


def _fmt(name, value):
    if value is None or value == "":
        return ""
    if name == "mult_adds":
        return f"{value / 1e6:,.1f} M"
    if name == "params":
        return f"{value:,}"
    if name in ("val_accuracy", "width"):
        return f"{value:.4f}" if name == "val_accuracy" else f"{value:g}"
    if name in ("lr", "weight_decay"):
        return f"{value:.3g}"
    if name in ("wall_seconds", "peak_rss_mb", "rss_after_mb"):
        return f"{value:.0f}"
    return str(value)


def markdown_table(rows, columns=COLUMNS):
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---:" if c in METRICS or c in ("depth", "width", "lr", "weight_decay")
                          else "---" for c in columns) + "|"
    body = ["| " + " | ".join(_fmt(c, row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"


def plot(rows, path, title):
    """Accuracy against depth (left) and against multiply-adds (right), one marker per trial;
    colour = shortcut option, marker = block type."""
    # A Figure of its own, not pyplot's: matplotlib.use("Agg") would switch the whole
    # process's backend (a notebook's inline plots stop showing) and pyplot keeps every figure.
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    done = [r for r in rows if r.get("val_accuracy") is not None and r.get("mult_adds")]
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    markers = {"basic": "o", "bottleneck": "s"}
    for shortcut in sorted({r["shortcut"] for r in done}):
        for block, marker in markers.items():
            pts = [r for r in done if r["shortcut"] == shortcut and r["block"] == block]
            if not pts:
                continue
            label = f"shortcut {shortcut}, {block}"
            acc = [100 * r["val_accuracy"] for r in pts]
            axes[0].scatter([r["depth"] for r in pts], acc, marker=marker, label=label)
            axes[1].scatter([r["mult_adds"] / 1e6 for r in pts], acc, marker=marker, label=label)
    axes[0].set(xlabel="depth (weighted layers)", ylabel="validation accuracy (%)", title=title)
    axes[1].set(xlabel="multiply-adds (millions)", ylabel="validation accuracy (%)",
                xscale="log")
    axes[1].xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
    for ax in axes:
        ax.grid(alpha=0.3)
    if done:
        axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_results(tuner, directory=None):
    """Writes results.csv, results.md and results.png; returns their paths and the rows."""
    directory = directory or tuner.project_dir
    rows = trial_rows(tuner)
    paths = {k: os.path.join(directory, f"results.{k}") for k in ("csv", "md", "png")}
    tmp = paths["csv"] + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, paths["csv"])
    with open(paths["md"], "w") as f:
        f.write(markdown_table(rows))
    plot(rows, paths["png"], f"{tuner.project_name}: {len(rows)} trial(s)")
    return {"rows": rows, **paths}


def read_csv(path):
    """The rows of a results.csv (numbers as numbers), e.g. for a notebook's own plot."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = int(value) if key in ("depth", "params", "mult_adds") else float(value)
            except (TypeError, ValueError):
                pass
    return rows
