"""Time to accuracy: how long a machine takes to train a CIFAR model to a test top-1, one
recipe beside another (the fast recipe against the paper's, compressed to the same epochs).

The clock is the training core's: each epoch's record carries `wall_seconds` since the run began
(model build, tracing, the per-epoch test evaluation included; a resumed run continues from the
recorded time, so the downtime between a kill and the restart is not counted). The record also
keeps the whole command's wall time (`started`: the script's start, imports included).

Example:
    >>> from keras_deepnets.experiments import time_to_accuracy
    >>> record = time_to_accuracy.run("cifar10", "/tmp/tta", recipes=("fast", "paper"),
    ...                               epochs=15)                        # doctest: +SKIP
    >>> record["runs"][0]["reached_target_seconds"]                     # doctest: +SKIP

Command line: scripts/time_to_accuracy.py.
"""

import json
import os
import platform
import time

import keras
import tensorflow as tf

from keras_deepnets import registry, training
from keras_deepnets.experiments import report
from keras_deepnets.experiments.definitions import EXPERIMENTS
from keras_deepnets.experiments.runner import check_test_data, load_record, write_json
from keras_deepnets.training.recipes import RECIPES

RECORD_VERSION = 1
# The ResNet-20 bfloat16 step speed (img/s, batch 128, scripts/benchmarks/benchmark.py train) of
# the machine the first 60-minute goal was set on; on a slower machine the budget scales by this /
# its own.
REFERENCE_STEP_IPS = 1158.0
# Where the paper's own recipe falls short of the paper's figure on a copy of the data (the
# shared CIFAR-10 is a JPEG copy), the goal is what that recipe reached there minus 0.3 points:
# the copy's cost is not counted against a faster recipe, a real loss of accuracy is.
GOAL_MARGIN = 0.003
# The paper's CIFAR schedule: 64k iterations at batch 128 on 50k images, about 164 epochs.
PAPER_RECIPE_EPOCHS = 64000 * 128 / 50000


def paper_top1(model):
    """The ResNet paper's CIFAR-10 test top-1 for `model` (Table 6), or None."""
    for experiment in EXPERIMENTS.values():
        for series in experiment.series:
            if series.model == model and series.paper is not None and not series.shortcut \
                    and "Table 6" in experiment.paper_column:
                return round(1.0 - series.paper / 100.0, 4)
    return None


def _check(model, recipes, epochs, target_top1, step_ips):
    info = registry.model_info(model)  # ValueError naming the models when unknown
    if info.family != "cifar":
        raise ValueError(f"time to accuracy trains CIFAR models; {model!r} is an ImageNet model. "
                         f"CIFAR models: {', '.join(registry.list_models('cifar'))}.")
    unknown = [r for r in recipes if r not in RECIPES]
    if not recipes or unknown:
        raise ValueError(f"recipes must be some of {', '.join(RECIPES)}; got "
                         f"{list(recipes)!r}.")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise ValueError(f"epochs must be a positive whole number (or None: each recipe's "
                         f"own); got {epochs!r}.")
    if step_ips is not None and (isinstance(step_ips, bool)
                                 or not isinstance(step_ips, (int, float)) or not step_ips > 0):
        raise ValueError(f"step_ips is this machine's ResNet-20 bfloat16 step in img/s, a "
                         f"positive number; got {step_ips!r}.")
    if target_top1 is not None and not 0.0 < target_top1 <= 1.0:
        raise ValueError(f"target_top1 is a fraction in (0, 1], e.g. 0.9125; got "
                         f"{target_top1!r}.")


def goal_top1(paper, paper_recipe_top1):
    """The time-to-accuracy goal: the paper's test top-1, or, where the paper's recipe reached
    less on this data (`paper_recipe_top1`), that figure minus GOAL_MARGIN."""
    if paper_recipe_top1 is None:
        return paper
    return round(min(paper, paper_recipe_top1 - GOAL_MARGIN), 4)


def _check_paper_recipe(top1, epochs):
    if top1 is None:
        return
    if isinstance(top1, bool) or not isinstance(top1, (int, float)) or not 0.0 < top1 <= 1.0:
        raise ValueError(f"paper_recipe_top1 is the test top-1 the paper's recipe reached on "
                         f"this data, a fraction in (0, 1], e.g. 0.8725; got {top1!r}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"paper_recipe_epochs is how many epochs that run of the paper's "
                         f"recipe trained (its full 64k iterations: {PAPER_RECIPE_EPOCHS:.0f}), "
                         f"a positive whole "
                         f"number; got {epochs!r}.")


def set_goal(record, paper_recipe_top1, paper_recipe_epochs):
    """Records what the paper's recipe reached on this data (`paper_recipe_full_test_top1`,
    after `paper_recipe_epochs`), the goal that follows (`goal_top1`) and, per run, the first
    epoch whose test top-1 reached it: what a run stopped at the goal reports, as the stop rule
    reads the same once-per-epoch evaluations (the schedule up to that epoch is the same)."""
    _check_paper_recipe(paper_recipe_top1, paper_recipe_epochs)
    goal = goal_top1(record["paper_test_top1"], paper_recipe_top1)
    record.update(paper_recipe_full_test_top1=paper_recipe_top1,
                  paper_recipe_epochs=paper_recipe_epochs, goal_top1=goal)
    for run in record["runs"]:
        hit = _first_reaching(run["curve"], goal)
        run["reached_goal_epoch"] = hit and hit["epoch"]
        run["reached_goal_seconds"] = hit and hit["wall_seconds"]
    return record


def _first_reaching(curve, top1):
    """The first point of a run's curve whose test top-1 reached `top1` (None: never, or no
    `top1`)."""
    return next((p for p in curve if top1 is not None and p["test_top1"] is not None
                 and p["test_top1"] >= top1), None)


class StopAt(keras.callbacks.Callback):
    """Stops a run once its test top-1 reaches `target_top1` (None: never)."""

    def __init__(self, target_top1):
        super().__init__()
        self.target_top1 = target_top1

    def on_epoch_end(self, epoch, logs=None):
        if self.target_top1 is not None and (logs or {}).get("val_top1", 0.0) >= \
                self.target_top1:
            self.model.stop_training = True


def _run_entry(recipe, result, target):
    tested = [r for r in result.history if r.get("val_top1") is not None]
    curve = [{"epoch": int(r["epoch"]), "wall_seconds": r["wall_seconds"], "lr": r["lr"],
              "train_top1": r["top1"], "test_top1": r.get("val_top1"),
              "images_per_sec": r["images_per_sec"]} for r in result.history]
    reached = _first_reaching(curve, target)
    return {"recipe": recipe, "model_dir": result.model_dir,
            "config": _read_json(os.path.join(result.model_dir, "flags.json")),
            "epochs": len(result.history),
            "stopped_at_target": bool(result.summary["stopped_early"]),
            "test_top1": tested[-1]["val_top1"] if tested else None,
            "best_test_top1": max((r["val_top1"] for r in tested), default=None),
            "train_top1": result.history[-1]["top1"] if result.history else None,
            "wall_seconds": result.summary["wall_seconds"],
            "images_per_sec": result.summary["images_per_sec"],
            "reached_target_seconds": reached and reached["wall_seconds"],
            "reached_target_epoch": reached and reached["epoch"], "curve": curve}


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def machine():
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": gpus, "tensorflow": tf.__version__,
            "keras": keras.__version__}


def run(data, output_dir, *, model="resnet20", recipes=("fast", "paper"), epochs=None,
        target_top1="paper", started=None, command=None, data_dir=None, max_examples=None,
        max_val_examples=None, seed=0, verbose=2, step_ips=None, paper_recipe_top1=None,
        paper_recipe_epochs=None, **train_overrides):
    """Trains `model` once per recipe (the same `epochs` for all; None: each recipe's own
    length) with a test evaluation after every epoch; writes `time_to_accuracy.json`, `.md`
    and `.png` under `output_dir` and returns the record. Running it again resumes.

    Args:
        target_top1: stop a run once its test top-1 reaches this fraction; "paper": the ResNet
            paper's figure for `model` (ResNet-20: 0.9125); None: run every epoch.
        started: `time.time()` at the command's start (default: now), for the whole wall time.
        command: the command line, kept in the record.
        step_ips: this machine's ResNet-20 bfloat16 training step in img/s at batch 128, as
            `scripts/benchmarks/benchmark.py train --models=resnet20` prints it; recorded as
            `resnet20_bf16_step_ips` with the 60-minute budget scaled to it.
        paper_recipe_top1, paper_recipe_epochs: the test top-1 the paper's recipe reached on
            this data and after how many epochs, when measured (see `set_goal`).
        train_overrides: more `training.train` fields for every run (e.g. mixed_precision).
    """
    started = time.time() if started is None else started
    data = os.fspath(data) if isinstance(data, os.PathLike) else data  # a pathlib.Path too
    target = paper_top1(model) if target_top1 == "paper" else target_top1
    recipes = list(recipes)
    _check(model, recipes, epochs, target, step_ips)
    _check_paper_recipe(paper_recipe_top1, paper_recipe_epochs)
    check_test_data(data, data_dir)
    os.makedirs(output_dir, exist_ok=True)
    flags = json.loads(json.dumps({
        "model": model, "recipes": recipes, "epochs": epochs, "target_top1": target,
        "data": data, "max_examples": max_examples, "max_val_examples": max_val_examples,
        "seed": seed, "overrides": train_overrides}))
    path = os.path.join(output_dir, "time_to_accuracy.json")
    record = load_record(path, flags) or {"version": RECORD_VERSION, "flags": flags, "runs": [],
                                    "paper_test_top1": paper_top1(model), "machine": machine()}
    record["command"] = command or record.get("command")
    if step_ips:
        record.update(resnet20_bf16_step_ips=float(step_ips),
                      budget_minutes=round(60 * max(1.0, REFERENCE_STEP_IPS / step_ips), 1))
    to_train = [r for r in recipes if not any(run["recipe"] == r for run in record["runs"])]
    for recipe in to_train:
        result = training.train(
            model=model, data=data, data_dir=data_dir, recipe=recipe, epochs=epochs,
            max_examples=max_examples, max_val_examples=max_val_examples, seed=seed,
            model_dir=os.path.join(output_dir, recipe), export_dir="", eval_every=1,
            verbose=verbose, callbacks=[StopAt(target)], **train_overrides)
        record["runs"].append(_run_entry(recipe, result, target))
        write_json(path, record)
        del result
        keras.backend.clear_session()
    if to_train or "command_wall_seconds" not in record:  # a rerun with all done keeps it
        record["command_wall_seconds"] = time.time() - started
    if paper_recipe_top1 is not None:
        set_goal(record, paper_recipe_top1, paper_recipe_epochs)
    return _write_outputs(record, output_dir)


def _write_outputs(record, output_dir):
    path = os.path.join(output_dir, "time_to_accuracy.json")
    record["outputs"] = {"json": path, "table": write_table(record, output_dir),
                         "plot": plot(record, os.path.join(output_dir, "time_to_accuracy.png"))}
    write_json(path, record)
    return record


def redraw(output_dir, paper_recipe_top1=None, paper_recipe_epochs=None):
    """Rewrites `output_dir`'s table and plot from its `time_to_accuracy.json`, without
    training, after recording the paper's recipe's figure (`set_goal`) when given; the runs,
    their clocks and the command stay as they were."""
    path = os.path.join(output_dir, "time_to_accuracy.json")
    if not os.path.isfile(path):
        raise ValueError(f"No time_to_accuracy.json in {output_dir!r} to redraw: run "
                         f"time_to_accuracy.run (scripts/time_to_accuracy.py) there first.")
    record = _read_json(path)
    if paper_recipe_top1 is not None:
        set_goal(record, paper_recipe_top1, paper_recipe_epochs)
    return _write_outputs(record, output_dir)


def _minutes(seconds):
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _speed(record):
    if not record.get("resnet20_bf16_step_ips"):
        return ""
    return (f" This machine's ResNet-20 bfloat16 step: {record['resnet20_bf16_step_ips']:.0f} "
            f"img/s (the goal's machine: {REFERENCE_STEP_IPS:.0f}), so the 60-minute budget "
            f"scales to {record['budget_minutes']:.0f} min.")


def _pct(fraction):
    return "-" if fraction is None else f"{100 * fraction:.2f}%"


def _reached(run, key):
    epoch = run.get(f"reached_{key}_epoch")
    return f"epoch {epoch}, {_minutes(run[f'reached_{key}_seconds'])}" if epoch else "no"


def _goal_line(record):
    if record.get("goal_top1") is None:
        return []
    return ["", f"Goal: {_pct(record['goal_top1'])}. The paper's recipe reached "
                f"{_pct(record['paper_recipe_full_test_top1'])} on this data after "
                f"{record['paper_recipe_epochs']} epochs (its full 64k iterations: "
                f"{PAPER_RECIPE_EPOCHS:.0f}), so the goal is the lower of the paper's figure and "
                f"that minus {100 * GOAL_MARGIN:.1f} points. \"Reached goal\" is the first "
                f"epoch whose test top-1 reached it, as a run stopped at the goal reports."]


def write_table(record, output_dir):
    """`time_to_accuracy.md`: one row per recipe."""
    flags, target = record["flags"], record["flags"]["target_top1"]
    goal = record.get("goal_top1") is not None
    lines = [f"# Time to accuracy: {flags['model']} on CIFAR-10", "",
             f"Machine: {record['machine']['cpu']}, {record['machine']['cores']} cores, "
             f"TF {record['machine']['tensorflow']}. Target test top-1 (the runs' stop rule): "
             f"{_pct(target)} (the paper's: {_pct(record['paper_test_top1'])})."
             f"{_speed(record)}", *_goal_line(record), "",
             "| recipe | epochs | test top-1 (last) | best | training top-1 | reached target "
             + ("| reached goal " if goal else "") + "| wall | images/s |",
             "|---|---|---|---|---|---|" + ("---|" if goal else "") + "---|---|"]
    for r in record["runs"]:
        lines.append(f"| {r['recipe']} | {r['epochs']} | {_pct(r['test_top1'])} | "
                     f"{_pct(r['best_test_top1'])} | {_pct(r['train_top1'])} | "
                     f"{_reached(r, 'target')} | " + (f"{_reached(r, 'goal')} | " if goal else "")
                     + f"{_minutes(r['wall_seconds'])} | {r['images_per_sec']:.0f} |")
    if record.get("command"):
        lines += ["", f"Command: `{record['command']}`"]
    path = os.path.join(output_dir, "time_to_accuracy.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)
    return path


def plot(record, path):
    """Test error (bold) and training error (thin) against wall-clock minutes, per recipe."""
    fig, ax = report.new_plot()
    for i, r in enumerate(record["runs"]):
        minutes = [p["wall_seconds"] / 60 for p in r["curve"]]
        ax.plot(minutes, [100 * (1 - p["train_top1"]) for p in r["curve"]], color=f"C{i}",
                lw=0.8)
        tested = [(m, p["test_top1"]) for m, p in zip(minutes, r["curve"])
                  if p["test_top1"] is not None]
        ax.plot([m for m, _ in tested], [100 * (1 - t) for _, t in tested], color=f"C{i}",
                lw=2.5, marker="o", ms=3, label=f"{r['recipe']} recipe ({r['epochs']} epochs)")
    if record["paper_test_top1"]:
        ax.axhline(100 * (1 - record["paper_test_top1"]), color="k", ls="--", lw=0.8,
                   label="the paper's test error")
    if record.get("goal_top1") is not None and record["goal_top1"] != record["paper_test_top1"]:
        ax.axhline(100 * (1 - record["goal_top1"]), color="k", ls=":", lw=0.8,
                   label="the goal on this data (the paper's recipe here - 0.3)")
    ax.set(xlabel="wall-clock minutes", ylabel="top-1 error (%)", ylim=(0, None),
           title=f"{record['flags']['model']} on CIFAR-10: time to accuracy "
                 f"({record['machine']['cpu']}, {record['machine']['cores']} cores)")
    return report.finish_plot(fig, ax, path)
