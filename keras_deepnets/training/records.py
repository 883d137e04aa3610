"""What a run leaves in its model_dir: flags JSON, config.json, CSV histories, TensorBoard logs,
the curves PNG (drawn by training/plots.py) and the summary. Only the chief writes; on resume
the histories are read back and cut to the restored step so they never hold the lost steps
twice.
"""

import csv
import json
import os
import time

from keras_deepnets.training import plots
from keras_deepnets.training.config import CONFIG_FILE

TIME_FIELDS = ("images_per_sec", "epoch_seconds", "input_seconds", "eval_seconds",
               "save_seconds", "wall_seconds")
# Where an epoch's wall time went: the training loop (epoch_seconds), making its input
# (input_seconds), evaluation (eval_seconds), then the actions' epoch-end saves (weights,
# records, backup: save_seconds), which come after the record's wall_seconds. So the wall time
# between two records is the previous record's save_seconds plus this record's input, loop and eval.


def epoch_fields(metric_names):
    """history.csv's columns for a run with these metrics (by name)."""
    figures = ("loss", *metric_names)
    return ("epoch", "step", "lr", *figures, *(f"val_{n}" for n in figures), "val_examples",
            *TIME_FIELDS)


def step_fields(metric_names):
    """train_steps.csv's columns: each metric on the step's batch, and top-1 error (the
    papers' curves) when top1 is a metric."""
    return ("step", "epoch", "lr", "loss", *metric_names,
            *(("top1_error",) if "top1" in metric_names else ()))


# Counters, read back as integers: a resumed run rewrites the records it read (history.csv on every
# epoch and at the end), which must keep "2", not become "2.0".
INTEGER_FIELDS = ("epoch", "step", "val_examples")


def _value(key, text):
    if text in ("", None):
        return None
    return int(float(text)) if key in INTEGER_FIELDS else float(text)


def _read_csv(path, keep):
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        records = [{k: _value(k, v) for k, v in record.items()} for record in csv.DictReader(f)]
    return [r for r in records if keep(r)]


def read_history(model_dir):
    """The epoch records of a run's `<model_dir>/history.csv` (numbers as the run wrote them;
    [] before its first epoch), e.g. for scripts that time runs
    (scripts/benchmarks/benchmark.py epoch_overhead)."""
    return _read_csv(os.path.join(model_dir, "history.csv"), lambda r: True)


def _write_csv(path, fields, records):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    os.replace(tmp, path)  # a kill -9 never leaves half a file


def _scalar(name, value, step):
    """tf.summary.scalar without the tensorboard package (TF 2.21 no longer installs it): the
    same event, tagged for TensorBoard's scalars plugin, through the core tf.summary.write."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step,
                     metadata=metadata.SerializeToString())


def format_duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Records:
    """Histories in memory (for the returned result) and, where `writes_files` (the chief), on
    disk: the CSVs, JSONs, curves.png and (with `tensorboard`) TensorBoard's event files."""

    def __init__(self, model_dir, writes_files, tensorboard=True, metric_names=("top1", "top5")):
        self.model_dir, self.writes_files = model_dir, writes_files
        self.names = tuple(metric_names)
        self.epoch_fields, self.step_fields = epoch_fields(self.names), step_fields(self.names)
        self.epochs, self.steps = [], []
        self.history_csv = os.path.join(model_dir, "history.csv")
        self.steps_csv = os.path.join(model_dir, "train_steps.csv")
        self._writers = None
        if writes_files and tensorboard:
            import tensorflow as tf

            self._writers = {
                k: tf.summary.create_file_writer(os.path.join(model_dir, "tensorboard", k))
                for k in ("train", "validation")}

    def restore(self, completed_epochs, global_step):
        """Reads back the histories of an interrupted run, up to the restored backup."""
        self.epochs = _read_csv(self.history_csv, lambda r: r["epoch"] <= completed_epochs)
        self.steps = _read_csv(self.steps_csv, lambda r: r["step"] <= global_step)

    def _write_json(self, name, obj):
        if self.writes_files:
            with open(os.path.join(self.model_dir, name), "w") as f:
                json.dump(obj, f, indent=2, default=str)  # a pathlib.Path as its text

    def write_flags(self, config_dict, extra):
        self._write_json("flags.json", {**config_dict, **extra})

    def write_config(self, record):
        """config.json: the run's settings, which `--config` / `train(config=path)` replays."""
        self._write_json(CONFIG_FILE, record)

    def add_step(self, step, epoch, lr, loss, values):
        """One step's record; `values`: each metric on the step's batch, by name."""
        record = {"step": step, "epoch": epoch, "lr": lr, "loss": loss, **values}
        if "top1" in values:
            record["top1_error"] = 1.0 - values["top1"]
        self.steps.append(record)
        if self._writers and step % 50 == 0:
            with self._writers["train"].as_default():
                _scalar("batch_loss", loss, step)
                _scalar("learning_rate", lr, step)

    def flush_steps(self):
        if self.writes_files:
            _write_csv(self.steps_csv, self.step_fields, self.steps)

    def flush_epochs(self):
        """Rewrites history.csv (records updated after they were added: `save_seconds`)."""
        if self.writes_files:
            _write_csv(self.history_csv, self.epoch_fields, self.epochs)

    def add_epoch(self, record):
        self.epochs.append(record)
        if not self.writes_files:
            return
        self.flush_epochs()
        self.flush_steps()
        if self._writers:
            for split, prefix in (("train", ""), ("validation", "val_")):
                with self._writers[split].as_default():
                    for name in ("loss", *self.names):
                        if record.get(prefix + name) is not None:
                            _scalar("epoch_" + name, record[prefix + name], int(record["step"]))
                self._writers[split].flush()

    def write_curves(self, title):
        """curves.png (`plots.write_curves`: the ResNet paper's Figs. 4 and 6); its path, or
        None where nothing is written or drawn (no step yet, or no top1 metric)."""
        if not self.writes_files or not self.steps or "top1" not in self.names:
            return None
        return plots.write_curves(os.path.join(self.model_dir, "curves.png"), self.steps,
                                  self.epochs, title)

    def write_summary(self, summary):
        self._write_json("summary.json", summary)

    def close(self):
        for writer in (self._writers or {}).values():
            writer.close()


def epoch_line(record, epochs, eta_seconds, save_seconds=None, metric_names=("top1", "top5")):
    """The end-of-epoch line: loss and metrics, validation, lr, images/s, where the epoch's
    time went (training loop, input, evaluation, saves so far) and ETA."""
    figures = ("loss", *metric_names)
    parts = [f"Epoch {int(record['epoch'])}/{epochs}", *(f"{n} {record[n]:.4f}" for n in figures)]
    if record.get("val_loss") is not None:
        parts += [f"val_{n} {record['val_' + n]:.4f}" for n in figures]
    split = [f"{name} {record[key]:.1f} s" for name, key in
             (("input", "input_seconds"), ("eval", "eval_seconds")) if record.get(key) is not None]
    if save_seconds is not None:
        split.append(f"saves {save_seconds:.1f} s")
    parts += [f"lr {record['lr']:.3g}", f"{record['images_per_sec']:.1f} img/s",
              f"{record['epoch_seconds']:.1f} s" + (f" ({', '.join(split)})" if split else ""),
              f"ETA {format_duration(eta_seconds)}"]
    return " - ".join(parts)


class Timer:
    """Wall seconds since it was made, plus `base` (a resumed run's wall time before)."""

    def __init__(self, base=0.0):
        self.start, self.base = time.time(), base

    def __call__(self):
        return self.base + time.time() - self.start
