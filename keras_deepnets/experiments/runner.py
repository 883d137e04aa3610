"""Runs an experiment: every series x repeat through `keras_deepnets.training.train`, with the
ResNet paper's CIFAR recipe scaled to the budget, and a JSON record of every run.

The paper trains 64k iterations (~182 epochs at batch 128) with lr 0.1 divided by 10 at 32k and
48k (section 4.2). A budget of E epochs keeps that shape: the training core puts the two drops
at 50% and 75% of the E epochs when no explicit boundaries are given.

Errors in the record are percentages, as in the papers' figures and tables. The record is written
after every run, and a run already in it is not trained again, so an interrupted experiment
resumes where it stopped (a run cut short resumes from the training core's epoch backup).
"""

import json
import os
import re
import time

import keras

from keras_deepnets import training
from keras_deepnets.data import describe
from keras_deepnets.experiments import report  # matplotlib is imported by its plot, not here
from keras_deepnets.experiments.definitions import get_experiment
from keras_deepnets.training import plots
from keras_deepnets.training.inputs import VAL_SPLITS

RECORD_VERSION = 1


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number; got {value!r}.")


def _select(experiment, only):
    """The experiment's series, or those named in `only` (labels or registry names)."""
    if not only:
        return list(experiment.series)
    wanted = {o.lower() for o in only}
    chosen = [s for s in experiment.series if s.label.lower() in wanted or s.model in wanted]
    known = {s.label.lower() for s in experiment.series} | {s.model for s in experiment.series}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"Unknown series {', '.join(unknown)} for experiment "
                         f"{experiment.name!r}; its series: {', '.join(experiment.labels)}.")
    return chosen


def check_test_data(data, data_dir):
    """Fails early, before any training, when the data cannot be read or has no test split
    (the experiments' bold curves are test error)."""
    if not data or not isinstance(data, str):
        raise ValueError("data is required: a folder with train/ and test/ class folders (e.g. "
                         "the CIFAR-10 JPEG copy) or the TFDS name 'cifar10'.")
    try:
        describe(data, split="train", data_dir=data_dir)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise ValueError(f"Cannot read --data={data!r}: {e}") from None
    for split in VAL_SPLITS:
        try:
            describe(data, split=split, data_dir=data_dir)
            return
        except (ValueError, FileNotFoundError, OSError):
            continue
    raise ValueError(f"--data={data!r} has no test split ({', '.join(VAL_SPLITS)}); the "
                     "experiments plot test error.")


def _slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _pct(fraction):
    return None if fraction is None else 100.0 * float(fraction)


def _curves(result):
    """Per-iteration training error (the papers' thin lines) and the test error at the end of
    every epoch (bold lines), on the same iteration axis (`plots.error_curves`)."""
    (iterations, train), (tested, test) = plots.error_curves(result.steps, result.history)
    return {
        "iteration": iterations, "train_error": train,
        "epoch_iteration": [int(r["step"]) for r in result.history],
        "epoch_train_error": [_pct(1 - r["top1"]) for r in result.history],
        "test_iteration": tested, "test_error": test,
    }


def _run_entry(series, repeat, seed, model_dir, result, wall):
    curves = _curves(result)
    with open(os.path.join(model_dir, "flags.json")) as f:
        config = json.load(f)
    return {
        "label": series.label, "model": series.model, "shortcut": series.shortcut,
        "repeat": repeat, "seed": seed, "model_dir": model_dir, "config": config,
        "curves": curves,
        "final": {"train_error": curves["epoch_train_error"][-1],
                  "test_error": curves["test_error"][-1] if curves["test_error"] else None,
                  "best_test_error": min(curves["test_error"]) if curves["test_error"] else None},
        "wall_seconds": wall, "train_wall_seconds": result.summary.get("wall_seconds"),
        "images_per_sec": result.summary.get("images_per_sec"),
    }


def load_record(path, flags):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        record = json.load(f)
    if record.get("flags") != flags:
        raise ValueError(f"{path} holds a run with other settings ({record.get('flags')}); use "
                         "another --output_dir or delete it.")
    return record


def write_json(path, record):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)  # never half a record, even if killed while writing


def run_experiment(name, data, budget, output_dir, *, repeats=1, series=None, max_examples=None,
                   max_val_examples=None, batch_size=None, seed=0, data_dir=None, verbose=0,
                   **train_overrides):
    """Trains every series of experiment `name` `repeats` times; writes `<name>.json`, the plot
    `<name>.png` and the table `<name>.md` under `output_dir`; returns the record (a dict).

    Args:
        name: "degradation", "residual", "shortcuts", "depth" or "vgg" (see definitions.py).
        data: a folder with train/ and test/ (the CIFAR-10 JPEG copy) or a TFDS name ("cifar10").
        budget: epochs per run; the paper's lr drops are placed at 50% and 75% of it.
        repeats: runs per series with seeds seed, seed+1, ...; the table reports mean and
            standard deviation, as the paper does for ResNet-110.
        series: only these series (labels such as "plain-56", or registry names).
        max_examples, max_val_examples: train / test on the first N images (a subset that fits
            a small machine).
        batch_size: default the recipe's 128.
        verbose: the training core's verbosity (0 silent, 2 one line per epoch).
        train_overrides: any other `TrainConfig` field (e.g. `lr=0.05`), recorded in the flags.
    """
    experiment = get_experiment(name)
    _check_counts(budget=budget, repeats=repeats, max_examples=max_examples,
                  max_val_examples=max_val_examples, batch_size=batch_size)
    chosen = _select(experiment, series)
    check_test_data(data, data_dir)
    _make_output_dir(output_dir)
    flags = {"experiment": experiment.name, "data": data, "data_dir": data_dir, "budget": budget,
             "repeats": repeats, "series": [s.label for s in chosen], "max_examples": max_examples,
             "max_val_examples": max_val_examples, "batch_size": batch_size, "seed": seed,
             "overrides": train_overrides}
    flags = json.loads(json.dumps(flags))  # as it reads back from the record (tuples -> lists)
    json_path = os.path.join(output_dir, experiment.name + ".json")
    record = load_record(json_path, flags) or {
        "version": RECORD_VERSION, "experiment": experiment.name, "title": experiment.title,
        "source": experiment.source, "flags": flags, "runs": [], "wall_seconds": 0.0}
    done = {(r["label"], r["repeat"]) for r in record["runs"]}
    train_args = dict(data=data, data_dir=data_dir, epochs=budget, max_examples=max_examples,
                      max_val_examples=max_val_examples, batch_size=batch_size, verbose=verbose)
    for s in chosen:
        for repeat in (r for r in range(repeats) if (s.label, r) not in done):
            model_dir = os.path.join(output_dir, "runs", f"{_slug(s.label)}-r{repeat}")
            entry = _train_series(s, repeat, seed + repeat, model_dir, train_args, train_overrides)
            record["runs"].append(entry)
            record["wall_seconds"] += entry["wall_seconds"]
            write_json(json_path, record)
    record["outputs"] = report.write_outputs(record, output_dir)
    record["outputs"]["json"] = json_path
    write_json(json_path, record)
    return record


def _check_counts(**counts):
    """Each of `counts` a positive whole number; the optional ones (all but budget and repeats)
    may be None."""
    for name, value in counts.items():
        if value is not None or name in ("budget", "repeats"):
            _check_positive_int(name, value)


def _make_output_dir(output_dir):
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise ValueError(f"output_dir {output_dir!r} cannot be created "
                         f"({e.strerror or e}).") from None


def _train_series(series, repeat, seed, model_dir, train_args, train_overrides):
    """One run of `series` through the training core; its entry of the record."""
    overrides = {"shortcut": series.shortcut} if series.shortcut else {}
    overrides.update(train_overrides)
    start = time.time()
    result = training.train(model=series.model, seed=seed, model_dir=model_dir, export_dir="",
                            tensorboard=False, backup_steps=0, **train_args, **overrides)
    entry = _run_entry(series, repeat, seed, model_dir, result, time.time() - start)
    del result
    keras.backend.clear_session()  # free the graph before the next model
    return entry
