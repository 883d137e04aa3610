"""An experiment's outputs from its JSON record: the plot in the ResNet paper's style and the
Markdown table beside the paper's numbers. Both are pure functions of the record, so they can be
re-made at any time (`write_outputs(json.load(...), folder)`).
"""

import os
import statistics

from keras_deepnets.experiments.definitions import get_experiment
from keras_deepnets.training import plots
from keras_deepnets.training.recipes import FAST_CIFAR

PLOT_SIZE = (8, 5)  # inches
PLOT_DPI = 100  # so the PNG is 800 x 500 pixels


def by_series(record):
    """{label: [runs, one per repeat]} in the experiment's order."""
    groups = {}
    for run in record["runs"]:
        groups.setdefault(run["label"], []).append(run)
    return groups


def _mean_curve(runs, x_key, y_key):
    n = min(len(r["curves"][y_key]) for r in runs)
    xs = runs[0]["curves"][x_key][:n]
    ys = [statistics.fmean(r["curves"][y_key][i] for r in runs) for i in range(n)]
    return xs, ys


def plot(record, path):
    """ResNet paper Fig. 1 / Fig. 6 style (`plots.draw_run`): thin lines training error (per
    iteration, smoothed by `plots.smooth`), bold lines test error (at each epoch end), one
    colour per series; the mean over repeats."""
    fig, ax = new_plot()
    for i, (label, runs) in enumerate(by_series(record).items()):
        plots.draw_run(ax, _mean_curve(runs, "iteration", "train_error"),
                       _mean_curve(runs, "test_iteration", "test_error"), label=label,
                       color=f"C{i}")
    flags = record["flags"]
    repeats = f", mean of {flags['repeats']} runs" if flags["repeats"] > 1 else ""
    ax.set(xlabel="iteration", ylabel="error (%)",
           title=f"{record['title']}\n{record['source']}; budget {flags['budget']} epoch(s)"
                 f"{repeats}")
    return finish_plot(fig, ax, path)


def new_plot():
    """(figure, axes) of the experiments' size, on a Figure of their own (`plots.figure`)."""
    fig = plots.figure(PLOT_SIZE, PLOT_DPI)
    return fig, fig.subplots()


def finish_plot(fig, ax, path):
    """The experiments' common plot style (`plots.style_axes`); saves `fig` to `path`
    (PLOT_SIZE x PLOT_DPI) and leaves no pyplot state behind (`plots.figure`)."""
    plots.style_axes(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)  # no bbox_inches="tight": the size stays PLOT_SIZE x DPI
    return path


def _stat(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-", None
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f}", mean
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}", mean


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _changes(flags):
    """Settings that depart from the paper's recipe, said next to the numbers they produced."""
    overrides = flags.get("overrides") or {}
    if not overrides:
        return ""
    return (" Changed from the paper's recipe: "
            + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) + ".")


def _schedule(flags):
    """The lr schedule the runs followed, in words."""
    if (flags.get("overrides") or {}).get("recipe") == "fast":
        return (f"the fast recipe's lr: a linear warm-up to {FAST_CIFAR.lr:g} (batch "
                f"{FAST_CIFAR.batch_size}) over {FAST_CIFAR.warmup_epochs:g} epochs, then linear "
                f"to 0 at the end of the budget")
    return "lr 0.1 divided by 10 at 50% and 75% of the budget"


def table(record):
    """The Markdown table: our final errors (mean ± std over repeats) beside the paper's, the
    paper's findings checked on this run, and the settings and wall time."""
    experiment = get_experiment(record["experiment"])
    groups = by_series(record)
    flags = record["flags"]
    first = record["runs"][0]["config"] if record["runs"] else {}
    lines = [f"### {record['title']}", "",
             f"Reproduces {record['source']}. Budget {flags['budget']} epoch(s) = "
             f"{first.get('total_steps', '?')} iterations of batch {first.get('batch_size', '?')} "
             f"on {flags['max_examples'] or 'all'} training images (the paper: 64k iterations "
             f"on 45k images), {_schedule(flags)}; test error on "
             f"{flags['max_val_examples'] or 'all'} test images; {flags['repeats']} run(s) per "
             f"model; data {flags['data']}.{_changes(flags)}", "",
             "| model | train error (%) | test error (%) | best test error (%) | paper (%) "
             "| wall time |",
             "|---|---:|---:|---:|---:|---:|"]
    means = {}
    for s in experiment.series:
        runs = groups.get(s.label)
        if not runs:
            continue
        train, means[(s.label, "train_error")] = _stat([r["final"]["train_error"] for r in runs])
        test, means[(s.label, "test_error")] = _stat([r["final"]["test_error"] for r in runs])
        best, _ = _stat([r["final"]["best_test_error"] for r in runs])
        paper = "-" if s.paper is None else f"{s.paper:.2f}"
        if s.paper_note:
            paper = f"{paper} ({s.paper_note})" if s.paper is not None else s.paper_note
        wall = _duration(sum(r["wall_seconds"] for r in runs))
        lines.append(f"| {s.label} | {train} | {test} | {best} | {paper} | {wall} |")
    lines += ["", f"Paper column: {experiment.paper_column}.", ""]
    for f in experiment.findings:
        worse, better = means.get((f.worse, f.metric)), means.get((f.better, f.metric))
        if worse is None or better is None:
            continue
        kind = f.metric.replace("_", " ")
        verdict = "reproduced" if worse > better else "NOT reproduced"
        lines.append(f"- Paper: {f.text}. This run: {verdict} (final {kind} {f.worse} "
                     f"{worse:.2f}% vs {f.better} {better:.2f}%).")
    if experiment.note:
        lines += ["", experiment.note]
    lines += ["", f"Total wall time {_duration(record['wall_seconds'])} (building, training and "
                  "testing every run)."]
    return "\n".join(lines) + "\n"


def write_outputs(record, output_dir):
    """Writes `<name>.png` and `<name>.md` beside the record; returns their paths."""
    base = os.path.join(output_dir, record["experiment"])
    with open(base + ".md", "w") as f:
        f.write(table(record))
    return {"plot": plot(record, base + ".png"), "table": base + ".md"}
