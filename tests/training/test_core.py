"""The training core's parts: one score per run, Keras callbacks as the place for side jobs, and
a NaN under MirroredStrategy stopping with a checkpoint that loads and evaluates."""

import csv
import json
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_deepnets import training
from keras_deepnets.training import inputs
from keras_deepnets.training.state import TrainState, monitor_key
from training_helpers import ENV, run_script


def test_epochs_without_evaluation_do_not_compete():
    # eval_every=2: epoch 1 has only a training top-1 (0.9), epoch 2 a validation top-1 (0.3).
    # Before, the loop scored epoch 1 by its training top-1 and kept its weights as "best"
    # while the summary ranked by validation top-1 only.
    state = TrainState(monitor_key(None, True, ["top1", "top5"]))
    assert state.score({"top1": 0.9}) is None
    assert not state.update_best(state.score({"top1": 0.9}))
    assert state.update_best(state.score({"top1": 0.5, "val_top1": 0.3}))
    assert not state.update_best(0.25) and state.update_best(0.31)
    history = [{"top1": 0.9}, {"top1": 0.5, "val_top1": 0.3}]
    assert not state.plateaued(None, history)  # an unscored epoch is no plateau either
    assert state.plateaued(0.3005, history) and not state.plateaued(0.32, history)
    train_only = TrainState(monitor_key(None, False, ["top1", "top5"]))
    assert train_only.score({"top1": 0.9}) == 0.9
    # a figure that should go down: the lowest validation loss is the best
    by_loss = TrainState(monitor_key("val_loss", True, ["top1"]), mode="min")
    history = [{"val_loss": 2.0}, {"val_loss": 1.5}, {"val_loss": 1.7}]
    assert by_loss.best_record(history) == {"val_loss": 1.5}
    assert by_loss.update_best(by_loss.score(history[0]))
    assert by_loss.update_best(by_loss.score(history[1]))
    assert not by_loss.update_best(by_loss.score(history[2]))
    with pytest.raises(ValueError, match="val_top3.*reports loss, top1, val_loss, val_top1"):
        monitor_key("val_top3", True, ["top1"])


class WeightsEachEpoch(keras.callbacks.Callback):
    """A callback as a user would write one: the weights at each epoch's end; and a slow one
    (half a second at each epoch's end), whose time must show in save_seconds, the column of
    the epoch-end jobs."""

    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = [w.copy() for w in self.model.get_weights()]
        time.sleep(SLOW_CALLBACK)


SLOW_CALLBACK = 0.5


def test_best_weights_file_is_the_summarys_best_epoch(cifar10_dir, tmp_path, monkeypatch):
    """eval_every=2 over 4 epochs on 64 images (memorised: training top-1 runs ahead of the
    validation top-1): best.weights.h5, summary.json and the plateau rule rank the same
    numbers, and a callback sees every epoch. The training input is made once for the run,
    not once per epoch (each tf.data pipeline costs its start-up and its prefetch's fill): a
    spy on the real dataset function counts the pipelines made."""
    made = []

    def counted(*args, **kwargs):
        made.append(args[4:])  # (epoch, first step, the steps of each epoch from there)
        return real(*args, **kwargs)

    real = inputs.train_dataset_fn
    monkeypatch.setattr(inputs, "train_dataset_fn", counted)
    keep = WeightsEachEpoch()
    result = training.train(model="resnet20", data=str(cifar10_dir), max_examples=64,
                            max_val_examples=64, batch_size=32, epochs=4, eval_every=2,
                            lr=0.05, model_dir=str(tmp_path / "run"), export_dir="", verbose=0,
                            tensorboard=False, backup_steps=0, callbacks=[keep])
    assert sorted(keep.weights) == [1, 2, 3, 4]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["monitor"] == "val_top1" and summary["best_epoch"] in (2, 4)
    scored = {r["epoch"]: r["val_top1"] for r in result.history if r.get("val_top1") is not None}
    assert sorted(scored) == [2, 4] and summary["best_score"] == max(scored.values())
    result.model.load_weights(tmp_path / "run" / "checkpoints" / "best.weights.h5")
    for saved, kept in zip(result.model.get_weights(), keep.weights[summary["best_epoch"]]):
        np.testing.assert_array_equal(saved, kept)
    check_time_split(tmp_path / "run" / "history.csv", result.history)
    assert all(r["save_seconds"] >= SLOW_CALLBACK for r in result.history)
    assert made == [(0, 0, [2, 2, 2, 2])]


def check_time_split(history_csv, history):
    """Each record says where its wall time went: the columns are in history.csv, >= 0, and
    between two records the wall time is the previous record's saves plus this record's input, loop
    and evaluation (the rest, a few Python lines, stays small)."""
    with open(history_csv, newline="") as f:
        records = [{k: float(v) for k, v in record.items() if v} for record in csv.DictReader(f)]
    assert len(records) == len(history)
    split = ("epoch_seconds", "input_seconds", "eval_seconds", "save_seconds")
    for record, kept in zip(records, history):
        assert all(record[key] >= 0 for key in split), record
        assert all(record[key] == pytest.approx(kept[key]) for key in split + ("wall_seconds",))
    assert records[0]["wall_seconds"] >= sum(records[0][k] for k in split[:3])
    for previous, record in zip(records, records[1:]):
        between = record["wall_seconds"] - previous["wall_seconds"]
        parts = (previous["save_seconds"] + record["input_seconds"] + record["epoch_seconds"]
                 + record["eval_seconds"])
        assert parts <= between + 1e-3 and between - parts <= 0.05 * between + 0.25, (
            previous, record)


NAN_RUN = textwrap.dedent("""
    import json, sys
    import keras
    import numpy as np
    from keras_deepnets import training
    training.configure_cpu_devices(2)

    class Poison(keras.callbacks.Callback):
        # The classifier's kernel turns NaN after global step 6 (mid epoch 2, 4 steps an
        # epoch): the next step's loss is NaN. (Not the first conv: ReLU on CPUs maps its
        # NaNs to 0.)
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.steps == 6:
                w = self.model.get_layer("predictions").kernel
                w.assign(np.full(w.shape, np.nan, "float32"))

    try:
        training.train(model="resnet20", data=sys.argv[1], max_examples=128,
                       max_val_examples=64, batch_size=32, epochs=3, lr=0.05,
                       distribution_strategy="mirrored", num_cpu_devices=2,
                       model_dir=sys.argv[2], export_dir="",
                       verbose=0, tensorboard=False, backup_steps=0, callbacks=[Poison()])
    except training.TrainingDiverged as e:
        print(json.dumps({"diverged": str(e)}))
""")


@pytest.mark.slow
def test_nan_under_mirrored_stops_naming_a_checkpoint_that_loads(cifar10_dir, tmp_path):
    model_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", NAN_RUN, str(cifar10_dir), str(model_dir)],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    message = json.loads(proc.stdout.strip().splitlines()[-1])["diverged"]
    assert "global step 7" in message and "Mirrored" not in message
    last = model_dir / "checkpoints" / "last.weights.h5"
    assert str(last) in message and str(model_dir / "backup" / "ckpt-4") in message
    # The named weights are epoch 1's: they load and evaluate to that epoch's figures.
    with open(model_dir / "history.csv", newline="") as f:
        records = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in records] == [1]
    evaluate = run_script("train_cifar.py", "--eval_only", f"--data={cifar10_dir}",
                          "--max_val_examples=64", "--batch_size=32",
                          f"--model_dir={tmp_path / 'eval'}", f"--weights={last}")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert f"top-1 {float(records[0]['val_top1']):.4f}" in evaluate.stdout, evaluate.stdout


def test_importing_the_package_leaves_devices_for_logical_cpus():
    """A tensor made at import time (a module-level tf.constant) initialises TensorFlow's
    devices; after that, configure_cpu_devices (MirroredStrategy without GPUs) cannot work."""
    code = ("import keras_deepnets, keras_deepnets.data, keras_deepnets.export, "
            "keras_deepnets.training, keras_deepnets.tuning, keras_deepnets.experiments\n"
            "from keras_deepnets import training\ntraining.configure_cpu_devices(2)\n"
            "import tensorflow as tf\nprint(len(tf.config.list_logical_devices('CPU')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=ENV)
    assert proc.returncode == 0 and proc.stdout.split() == ["2"], proc.stderr[-2000:]
