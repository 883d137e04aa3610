"""Training curves as the ResNet paper draws them (Figs. 1, 4 and 6): the training error of every
iteration as a thin, smoothed line, the test (or validation) error after every epoch as a bold
one, on the same iteration axis. One module draws them for a run's curves.png
(training/records.py), the experiments' figures (experiments/report.py) and the notebooks, so
all of them smooth the same way (`smooth`).

    >>> from keras_deepnets.training import plots
    >>> fig, ax = plt.subplots()                                           # doctest: +SKIP
    >>> plots.draw_errors(ax, result.steps, result.history, label="ResNet-20")  # doctest: +SKIP
    >>> plots.label_errors(ax, "CIFAR-10")                                 # doctest: +SKIP

The files are drawn on a matplotlib Figure of their own (`figure`), not pyplot's:
matplotlib.use("Agg") would switch the whole process's backend (a notebook's inline plots stop
showing) and pyplot keeps every figure. A notebook passes its own pyplot axes instead.
"""

import os

# A curve is smoothed over 1/SMOOTHING_FRACTION of its points: 2%.
SMOOTHING_FRACTION = 50
# Fewer tests than this on a curve get a marker each (a few epochs: where the tests were).
MARKED_TESTS = 30


def smooth(values):
    """The package's one smoothing rule for per-iteration curves: a trailing moving average over
    `max(1, len(values) // 50)` points (about 2% of the run); each point is the mean of itself
    and the points before it in the window (fewer at the start).

    One batch's error is too noisy to read and the paper's curves are smooth (Caffe averages its
    displayed training loss the same way). The result has the length of `values`, so point i
    still belongs to iteration i and the last point averages the run's last iterations: the
    thin line ends where the run ended and can be read against the bold test points, which a
    fixed window of 20 'valid' points (shorter, shifted) could not; and a window proportional
    to the run draws a 100-iteration smoke run and a 64k-iteration run equally smoothly."""
    values = list(values)
    window = max(1, len(values) // SMOOTHING_FRACTION)
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def error_curves(steps, epochs):
    """(training, test) of one run, each (iterations, top-1 errors in %): the training error of
    every step's batch from its step rows (`TrainResult.steps`, train_steps.csv) and the
    validation error of every tested epoch from its epoch rows (`TrainResult.history`,
    history.csv; `val_top1`). Plain ints and floats (JSON-ready)."""
    train = ([int(r["step"]) for r in steps], [100.0 * float(r["top1_error"]) for r in steps])
    tested = [r for r in epochs if r.get("val_top1") is not None]
    test = ([int(r["step"]) for r in tested], [100.0 * (1 - float(r["val_top1"])) for r in tested])
    return train, test


def draw_run(ax, train, test, label=None, color=None):
    """Draws one run (or one series' mean over runs) on `ax`: `train` (iterations, values) thin
    and smoothed, `test` (iterations, values) bold in the same colour (matplotlib's next one when
    `color` is None), named `label` in the legend."""
    xs, ys = train
    (line,) = ax.plot(xs, smooth(ys), color=color, lw=0.8, alpha=0.8)
    xs, ys = test
    if len(xs):
        ax.plot(xs, ys, color=line.get_color(), lw=2.5, ms=4, label=label,
                marker="o" if len(xs) < MARKED_TESTS else None)
    return ax


def draw_errors(ax, steps, epochs, label=None, color=None):
    """A run's top-1 error curves (`error_curves` of its step and epoch rows) on `ax`."""
    return draw_run(ax, *error_curves(steps, epochs), label=label, color=color)


def label_errors(ax, title, tested="test", ylabel="top-1 error (%)"):
    """Axis labels of error curves against iterations, then `style_axes`."""
    ax.set(xlabel="iteration", ylabel=ylabel, title=title)
    return style_axes(ax, tested)


def style_axes(ax, tested="test"):
    """The curves' common style: a small title, a grid and the legend that says which line is
    which (bold: `tested`, thin: training)."""
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=f"bold: {tested}, thin: training", fontsize=8, title_fontsize=8)
    return ax


def figure(size, dpi=100):
    """A matplotlib Figure of its own (see the module docstring). matplotlib is imported here,
    by the runs that draw, not by every import of the training core."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=dpi)


def write_curves(path, steps, epochs, title, dpi=110):
    """A run's curves.png from its step and epoch rows: top-1 error on the left (`draw_errors`,
    validation after each epoch), the loss on the right (log scale), both smoothed by `smooth`.
    Returns `path`."""
    fig = figure((11, 4))
    ax_err, ax_loss = fig.subplots(1, 2)
    draw_errors(ax_err, steps, epochs, label="validation")
    label_errors(ax_err, title, tested="validation")
    validated = [r for r in epochs if r.get("val_loss") is not None]
    draw_run(ax_loss, ([r["step"] for r in steps], [r["loss"] for r in steps]),
             ([r["step"] for r in validated], [r["val_loss"] for r in validated]),
             label="validation")
    label_errors(ax_loss, "loss", tested="validation", ylabel="loss")
    ax_loss.set_yscale("log")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    return path
