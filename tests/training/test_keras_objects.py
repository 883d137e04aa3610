"""A run as a Keras user writes one: a top-3 metric object, EarlyStopping on val_top3, CSVLogger,
TerminateOnNaN, a LambdaCallback and a callback of their own that records the logs, and AdamW
on a CosineDecay schedule, on real CIFAR-10 images under MirroredStrategy over 2 logical CPUs;
then its config.json replayed. Such a run killed with -9 mid-epoch and resumed by the same
command; and the objects a run cannot take, refused in one line."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_deepnets import training
from training_helpers import ENV, csv_rows

RUN = textwrap.dedent("""
    import json, sys
    import keras
    from keras_deepnets import training
    training.configure_cpu_devices(2)

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs, self.batches, self.began, self.ended = [], [], 0, 0
        def on_train_begin(self, logs=None):
            self.began += 1
        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append([epoch, dict(logs)])
        def on_train_batch_end(self, batch, logs=None):
            self.batches.append([batch, dict(logs)])
        def on_train_end(self, logs=None):
            self.ended += 1

    def run(data, model_dir, replay, change):
        rec, seen = Recorder(), []
        callbacks = [rec, keras.callbacks.EarlyStopping(monitor="val_top3", mode="max",
                                                        patience=0),
                     keras.callbacks.CSVLogger(model_dir + "_csvlogger.csv"),
                     keras.callbacks.TerminateOnNaN(),
                     keras.callbacks.LambdaCallback(
                         on_epoch_end=lambda epoch, logs: seen.append([epoch, logs["val_loss"]]))]
        if replay == "no":
            result = training.train(
                model="resnet20", data=data, max_examples=192, max_val_examples=96,
                batch_size=32, epochs=4, distribution_strategy="mirrored", num_cpu_devices=2,
                model_dir=model_dir, export_dir="", verbose=2, tensorboard=True, steps_per_loop=2,
                metrics=["top1", keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")],
                optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(
                    2e-3, 24, warmup_target=None), weight_decay=0.05),
                monitor="val_top3", callbacks=callbacks)
        else:  # the run's config.json again, in another folder; "control": one setting changed
            changed = {"seed": 1} if change == "control" else {}
            result = training.train(replay, model_dir=model_dir, callbacks=callbacks, **changed)
        print(json.dumps({"epochs": rec.epochs, "batches": rec.batches, "began": rec.began,
                          "ended": rec.ended, "seen": seen, "steps": result.steps,
                          "history": result.history, "summary": result.summary},
                         default=float))

    # One process for several runs (the replay and its control): a run starts from its
    # arguments alone, and each fresh process costs ~10 s of TensorFlow start-up.
    for job in json.loads(sys.argv[2]):
        run(sys.argv[1], *job)
""")


def _runs(data, *jobs):
    """Runs each job (model_dir, replay: "no" or a config.json, change: "none" or "control") in
    one fresh process; returns each one's record, with the output it printed as "stdout"."""
    jobs = [[str(model_dir), str(replay), change] for model_dir, replay, change in jobs]
    proc = subprocess.run([sys.executable, "-c", RUN, str(data), json.dumps(jobs)],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out, lines = [], []
    for line in proc.stdout.splitlines():
        if line.startswith('{"epochs"'):  # a job's record ends its output
            out.append({**json.loads(line), "stdout": "\n".join(lines)})
            lines = []
        else:
            lines.append(line)
    assert len(out) == len(jobs), proc.stdout[-3000:]
    return out


def _scalars(folder):
    """{tag: [(step, value)]} of the TensorBoard event files in `folder`."""
    import tensorflow as tf

    out = {}
    for path in sorted(folder.iterdir()):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") \
                    else value.simple_value
                out.setdefault(value.tag, []).append((event.step, number))
    return out


@pytest.mark.slow
def test_keras_metrics_callbacks_and_optimizer_under_mirrored_then_replayed(cifar10_dir,
                                                                           tmp_path):
    run_dir = tmp_path / "run"
    (out,) = _runs(cifar10_dir, (run_dir, "no", "none"))
    history = csv_rows(run_dir / "history.csv")
    assert list(history[0]) == [
        "epoch", "step", "lr", "loss", "top1", "top3", "val_loss", "val_top1", "val_top3",
        "val_examples", "images_per_sec", "epoch_seconds", "input_seconds", "eval_seconds",
        "save_seconds", "wall_seconds"]
    # EarlyStopping(patience=0) stops after the first epoch whose val_top3 is no better
    val_top3 = [float(r["val_top3"]) for r in history]
    stop = next((i for i in range(1, len(val_top3)) if val_top3[i] <= max(val_top3[:i])),
                None)
    assert len(history) == (4 if stop is None else stop + 1)
    assert out["summary"]["stopped_early"] == (stop is not None)
    # the user's callback got each epoch's record as logs, CSVLogger wrote the same figures
    assert out["began"] == out["ended"] == 1
    logged = csv_rows(str(run_dir) + "_csvlogger.csv")
    assert [e for e, _ in out["epochs"]] == [int(r["epoch"]) for r in logged] == list(
        range(len(history)))
    for (_, logs), record, line in zip(out["epochs"], history, logged):
        for key in ("loss", "top1", "top3", "val_loss", "val_top1", "val_top3", "lr"):
            assert float(record[key]) == pytest.approx(logs[key]) == pytest.approx(
                float(line[key])), key
    # the metric by its name in the result, the epoch lines and TensorBoard
    assert [r["val_top3"] for r in out["history"]] == pytest.approx(val_top3)
    for record in history:
        assert f"val_top3 {float(record['val_top3']):.4f}" in out["stdout"]
    board = _scalars(run_dir / "tensorboard" / "validation")
    assert board["epoch_top3"] == [(int(r["step"]), pytest.approx(float(r["val_top3"])))
                                   for r in history]
    # LambdaCallback saw each epoch's validation loss; TerminateOnNaN let the finite run be
    assert out["seen"] == [[int(r["epoch"]) - 1, pytest.approx(float(r["val_loss"]))]
                           for r in history]
    # per call of steps_per_loop=2 steps (6 steps an epoch): the epoch's running figures
    assert [b for b, _ in out["batches"][:3]] == [1, 3, 5]
    assert out["batches"][2][1]["top3"] == pytest.approx(out["epochs"][0][1]["top3"])
    # the monitored figure ranks epochs; the steps' lr is the CosineDecay's
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["monitor"] == "val_top3" and summary["best_score"] == max(val_top3)
    lrs = [s["lr"] for s in out["steps"]]
    np.testing.assert_allclose(lrs, [2e-3 * 0.5 * (1 + np.cos(np.pi * min(i, 24) / 24))
                                     for i in range(len(lrs))], rtol=1e-5)
    record = json.loads((run_dir / "config.json").read_text())["requested"]
    assert record["optimizer"]["optimizer"]["class_name"] == "AdamW"
    assert record["optimizer"]["optimizer"]["config"]["learning_rate"]["class_name"] == \
        "CosineDecay"
    assert record["metrics"][1]["class_name"] == "SparseTopKCategoricalAccuracy"
    # the replay runs every step as the run did; a changed seed does not
    config = run_dir / "config.json"
    again, control = _runs(cifar10_dir, (tmp_path / "again", config, "none"),
                           (tmp_path / "control", config, "control"))
    assert [s["loss"] for s in again["steps"]] == [s["loss"] for s in out["steps"]]
    assert [s["top3"] for s in again["steps"]] == [s["top3"] for s in out["steps"]]
    assert control["steps"][0]["loss"] != out["steps"][0]["loss"]


RESUMABLE = textwrap.dedent("""
    import sys
    import keras
    from keras_deepnets import training

    data, model_dir = sys.argv[1:3]
    training.train(
        model="resnet20", data=data, max_examples=512, max_val_examples=64, batch_size=32,
        epochs=3, backup_steps=4, model_dir=model_dir, export_dir="", verbose=2,
        tensorboard=False,
        metrics=["top1", keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")],
        optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(2e-3, 48),
                                         weight_decay=0.05),
        callbacks=[keras.callbacks.CSVLogger(model_dir + "_csvlogger.csv", append=True)])
""")


def _backups(model_dir):
    return sorted(int(p.name.split("-")[1].split(".")[0])
                  for p in (model_dir / "backup").glob("ckpt-*.index"))


@pytest.mark.slow
def test_kill_9_mid_epoch_with_keras_objects_resumes_step_for_step(cifar10_dir, tmp_path):
    """AdamW on CosineDecay, a top-3 metric object and CSVLogger; the run killed with -9 in
    epoch 2 (16 steps an epoch, a backup every 4) and started again with the same command
    continues exactly as a run that was never killed: the same loss and top-3 at every step,
    the optimizer's moments and the schedule's position restored."""
    cmd = [sys.executable, "-c", RESUMABLE, str(cifar10_dir)]
    whole = subprocess.run(cmd + [str(tmp_path / "whole")], env=ENV, capture_output=True,
                           text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]
    model_dir = tmp_path / "run"
    proc = subprocess.Popen(cmd + [str(model_dir)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = _backups(model_dir) if (model_dir / "backup").is_dir() else []
        if done and 16 < done[-1] < 32:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd + [str(model_dir)], env=ENV, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Resuming from backup" in rerun.stdout and "Epoch 1/3" not in rerun.stdout
    steps, resumed = (csv_rows(d / "train_steps.csv") for d in (tmp_path / "whole", model_dir))
    assert [int(r["step"]) for r in resumed] == list(range(1, 49))  # no step twice, none lost
    for key in ("lr", "loss", "top3"):
        assert [r[key] for r in resumed] == [r[key] for r in steps], key
    history = csv_rows(model_dir / "history.csv")
    assert [r["val_top3"] for r in history] == [
        r["val_top3"] for r in csv_rows(tmp_path / "whole" / "history.csv")]
    # CSVLogger appended the epochs the second process ran to those of the first
    assert [int(r["epoch"]) for r in csv_rows(str(model_dir) + "_csvlogger.csv")] == [0, 1, 2]


@pytest.mark.parametrize("objects, message", [
    ({"callbacks": [keras.callbacks.ReduceLROnPlateau()]},
     r"callbacks: ReduceLROnPlateau is not supported: the lr comes from the run's schedule"),
    ({"callbacks": [keras.callbacks.BackupAndRestore("/tmp/x")]},
     r"callbacks: BackupAndRestore is not supported: the run backs itself up"),
    ({"callbacks": ["early"]}, r"callbacks: each must be a keras.callbacks.Callback; got str"),
    ({"callbacks": [keras.callbacks.EarlyStopping(monitor="val_top3", mode="max")]},
     r"monitors 'val_top3', which this run does not report; it reports loss, top1, top5, "
     r"val_loss, val_top1, val_top5"),
    ({"callbacks": [keras.callbacks.EarlyStopping(monitor="val_top1")]},
     r"EarlyStopping\(monitor='val_top1'\) needs mode='max' or mode='min'"),
    ({"metrics": ["top-3"]}, r"metrics: unknown name 'top-3'; names: top1, top5, top<k>"),
    ({"metrics": [keras.metrics.Mean(name="loss")]}, r"metrics: the name 'loss' is taken"),
    ({"metrics": ["top1", keras.metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")]},
     r"metrics: names must differ; got top1, top1"),
    ({"optimizer": "adam"}, r"optimizer: expected a keras.optimizers.Optimizer .*; got str"),
    ({"loss": "mse"}, r"loss: expected a keras.losses.Loss .*; got str"),
])
def test_objects_the_run_cannot_take_are_one_line_errors_before_any_work(objects, message,
                                                                         tmp_path):
    model_dir = tmp_path / "run"
    with pytest.raises(training.ConfigError, match=message) as raised:
        training.train(model="resnet20", use_synthetic_data=True, synthetic_examples=32,
                       max_val_examples=16, batch_size=16, epochs=1, model_dir=str(model_dir),
                       export_dir="", verbose=0, tensorboard=False, **objects)
    assert "\n" not in str(raised.value)
    assert not model_dir.exists() or not any(model_dir.iterdir())  # nothing was started
