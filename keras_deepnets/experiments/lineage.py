"""The model table and the lineage picture: every registered model's parameters, multiply-adds,
best published ImageNet top-1 (from the pretrained-sources table) and, optionally, its inference
speed measured on this machine; and accuracy against multiply-adds after Canziani, Paszke &
Culurciello 2016 ("An analysis of deep neural network models for practical applications",
Figure 2: point size = parameters).

Example:
    >>> from keras_deepnets.experiments import lineage
    >>> rows = lineage.table(["alexnet", "resnet50"], speed=True)       # doctest: +SKIP
    >>> lineage.plot(rows, "lineage.png")                               # doctest: +SKIP
"""

import time

import numpy as np
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.weights import table as weights_table
from keras_deepnets.experiments import report
from keras_deepnets.stats import model_stats

# LeNet-5 -> AlexNet -> VGG -> GoogLeNet -> ResNet (and its plain twins) -> ResNeXt
LINEAGE = (("lenet",), ("alexnet",), ("vgg",), ("googlenet",), ("resnet", "plain"),
           ("resnext",))


def lineage_order(name):
    """Sort key: the lineage, then family, residual before plain, depth, name."""
    digits = "".join(c for c in name.split("_")[0] if c.isdigit())
    lineage = next((i for i, prefixes in enumerate(LINEAGE) if name.startswith(prefixes)),
                   len(LINEAGE))
    return (lineage, registry.model_info(name).family, name.startswith("plain"),
            int(digits or 0), name)


def inference_images_per_sec(model, batch_size=8, steps=5):
    """Images/s of `model(x, training=False)` in one tf.function: median of `steps` batches."""
    x = tf.random.uniform((batch_size, *model.input_shape[1:]))
    forward = tf.function(lambda images: model(images, training=False))
    forward(x)  # tracing
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        np.asarray(forward(x))
        times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def table(names=None, speed=False, batch_size=8, steps=5, log=print):
    """One row per model: name, family, input, params, trainable, mult_adds, top1 (best
    published ImageNet top-1, %, or None), images_per_sec (with `speed`)."""
    rows = []
    for name in names or sorted(registry.list_models(), key=lineage_order):
        info = registry.model_info(name)
        model = registry.get_model(name)
        stats = model_stats(model)
        best = max((r for r in weights_table.rows(name) if r.top1 is not None),
                   key=lambda r: r.top1, default=None)  # the best published top-1
        rows.append({"name": name, "family": info.family, "input": model.input_shape[1],
                     "params": stats.params, "trainable": stats.trainable_params,
                     "mult_adds": stats.mult_adds, "top1": best and best.top1,
                     "top1_mult_adds": _published_mult_adds(name, best, stats),
                     "images_per_sec": (inference_images_per_sec(model, batch_size, steps)
                                        if speed else None)})
        if log:
            log(markdown([rows[-1]], header=not rows[:-1]))
        del model
    return rows


def _published_mult_adds(name, best, stats):
    """Multiply-adds of the network the published top-1 belongs to: torchvision's ResNet-50 and
    deeper are "v1.5" (stride on the 3x3: 4.09 G against the paper's 3.86 G)."""
    if best is None or not best.model_kwargs:
        return None if best is None else stats.mult_adds
    return model_stats(registry.get_model(name, **dict(best.model_kwargs))).mult_adds


def markdown(rows, header=True):
    lines = ["| model | family | input | parameters | trainable | multiply-adds | published "
             "top-1 | inference img/s |",
             "|---|---|---|---:|---:|---:|---:|---:|"] if header else []
    for r in rows:
        top1 = "-" if r["top1"] is None else f"{r['top1']:.1f}%"
        speed = "-" if r["images_per_sec"] is None else f"{r['images_per_sec']:.1f}"
        lines.append(f"| `{r['name']}` | {r['family']} | {r['input']}x{r['input']} | "
                     f"{r['params']:,} | {r['trainable']:,} | {r['mult_adds'] / 1e9:.3f} G | "
                     f"{top1} | {speed} |")
    return "\n".join(lines)


def plot(rows, path):
    """Published top-1 against G multiply-adds for every row with a published top-1; the
    marker's area grows with the parameters (Canziani et al. 2016, Figure 2)."""
    points = [r for r in rows if r["top1"] is not None]  # at the published network's cost
    if not points:
        raise ValueError("No model of the table has a published ImageNet top-1 to plot.")
    fig, ax = report.new_plot()
    for i, r in enumerate(points):
        lineage = lineage_order(r["name"])[0]
        ax.scatter(r["top1_mult_adds"] / 1e9, r["top1"], s=r["params"] / 2e5, alpha=0.5,
                   color=f"C{lineage}")
        ax.annotate(r["name"], (r["top1_mult_adds"] / 1e9, r["top1"]), fontsize=7,
                    xytext=(4, 4 if i % 2 else -10), textcoords="offset points")
    ax.set(xlabel="G multiply-adds at 224x224 (of the network the weights fit)",
           ylabel="best published top-1 (%)",
           title="ImageNet top-1 against operations; marker area ~ parameters")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=report.PLOT_DPI)
    return path
