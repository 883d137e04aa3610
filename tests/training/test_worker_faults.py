"""Reliability under faults: a worker of a two-worker MultiWorkerMirroredStrategy run
is killed with SIGKILL mid-epoch. The survivor must end on its own, soon, with the one-line
`WorkerLost` message (not hang, not a page of traceback); starting both workers again with the
same command resumes from the last backup without redoing a finished epoch, and both end with
the same weights.

Real processes on 127.0.0.1, each wait bounded. Synthetic data keeps the run short and needs no
shared data; the resume logic is the same as for real images.
"""

import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets.training import strategy
from training_helpers import ENV, free_ports, run_configs

EPOCHS, STEPS_PER_EPOCH = 2, 8
SURVIVOR_BOUND = 60  # seconds; TF ends the survivor in 2-12 s (connection reset, heartbeats)


def _kwargs(model_dir):
    return {"model": "resnet20", "use_synthetic_data": True, "synthetic_examples": 256,
            "batch_size": 32, "epochs": EPOCHS, "model_dir": str(model_dir), "export_dir": "",
            "verbose": 2, "tensorboard": False, "backup_steps": 2, "eval_every": 0,
            "lr": 0.05, "sync_bn": True}  # else BN moving statistics are per worker


def _start_workers(tmp_path, ports, tag):
    """Both workers, same command each time (as a cluster manager restarts them)."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": i}})}
        procs.append(run_configs([_kwargs(tmp_path / "run")], tmp_path / f"{tag}{i}",
                                 num_cpu_devices=1, env=env, wait=False))
    return procs


def _backups(model_dir):
    return sorted(int(p.name.split("-")[1].split(".")[0])
                  for p in (model_dir / "backup").glob("ckpt-*.index"))


def _wait_for_mid_epoch_backup(procs, model_dir, timeout=240):
    """The global step of a backup inside epoch 2 (not at an epoch end), once one exists."""
    deadline = time.time() + timeout
    while time.time() < deadline and all(p.poll() is None for p in procs):
        done = _backups(model_dir)
        if done and STEPS_PER_EPOCH < done[-1] < 2 * STEPS_PER_EPOCH - 2:
            return done[-1]
        time.sleep(0.05)
    _kill_all(procs)
    pytest.fail("no mid-epoch backup before the workers ended:\n"
                + "\n".join(p.communicate()[0][-2000:] for p in procs))


def _kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _communicate(procs, timeout, what):
    outputs = []
    deadline = time.time() + timeout
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=max(deadline - time.time(), 1))[0])
        except subprocess.TimeoutExpired:
            _kill_all(procs)
            pytest.fail(f"{what} did not end within {timeout} s")
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0], ids=["worker1_dies", "chief_dies"])
def test_kill_9_one_worker_survivor_ends_and_restart_resumes(tmp_path, victim):
    ports, model_dir = free_ports(2), tmp_path / "run"
    started = time.time()
    procs = _start_workers(tmp_path, ports, "first")
    killed_at = _wait_for_mid_epoch_backup(procs, model_dir)
    print(f"backup at step {killed_at} after {time.time() - started:.1f} s")
    procs[victim].send_signal(signal.SIGKILL)
    killed = time.time()
    survivor = procs[1 - victim]
    out = _communicate([survivor], SURVIVOR_BOUND, "the survivor (it hangs)")[0]
    print(f"survivor ended {time.time() - killed:.1f} s after the kill")
    _kill_all(procs)
    assert survivor.returncode == 1, out[-3000:]
    last = out.strip().splitlines()[-1]
    assert last.startswith("error: A peer worker of this multi-worker run died or is "
                           "unreachable") and "start all workers again" in last, out[-3000:]
    assert "Traceback" not in out, out[-3000:]

    restarted = time.time()
    procs = _start_workers(tmp_path, ports, "again")
    outputs = _communicate(procs, 300, "the restarted workers")
    print(f"restarted run took {time.time() - restarted:.1f} s")
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-3000:] for o in outputs)
    _check_resumed(outputs[0], model_dir, killed_at)
    w0, w1 = np.load(tmp_path / "again0" / "0.npz"), np.load(tmp_path / "again1" / "0.npz")
    assert w0.files == w1.files and len(w0.files) > 0
    for name in w0.files:  # trainable weights, then BN moving statistics
        np.testing.assert_array_equal(w0[name], w1[name])


def _check_resumed(chief_out, model_dir, killed_at):
    """Resumed from a backup at or after the one seen before the kill, in epoch 2; epoch 1 not
    run again; every step recorded once."""
    resumed = [line for line in chief_out.splitlines() if line.startswith("Resuming from backup")]
    assert resumed, chief_out[-3000:]
    step = int(resumed[0].split("global step ")[1].rstrip(").").split(")")[0])
    assert killed_at <= step < EPOCHS * STEPS_PER_EPOCH and "epoch 2," in resumed[0], resumed[0]
    assert "Epoch 1/2" not in chief_out and "Epoch 2/2" in chief_out, chief_out[-3000:]
    with open(model_dir / "train_steps.csv") as f:
        steps = [int(float(r["step"])) for r in csv.DictReader(f)]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1)), steps
    with open(model_dir / "history.csv") as f:
        assert [int(float(r["epoch"])) for r in csv.DictReader(f)] == [1, 2]


# What TF 2.21 raised on the survivor in the kill -9 / SIGSTOP experiments (tracebacks cut).
_NODE = ("Graph execution error:\n\nDetected at node sgd/CollectiveReduceV2 defined at (most "
         "recent call last):\n  File \"/x/training_worker.py\", line 29, in <module>\n\n")
_AGAIN = "The error could be from a previous operation. Restart your program to reset.\n"
PEER_ERRORS = {
    "connection reset": (tf.errors.UnavailableError, _NODE + "Collective ops is aborted by: "
                         "recvmsg:Connection reset by peer\nAdditional GRPC error information "
                         "from remote target /job:worker/replica:0/task:1 while calling "
                         "/tensorflow.WorkerService/RecvBuf:\n" + _AGAIN),
    "heartbeats": (tf.errors.UnavailableError, _NODE + "Collective ops is aborted by: Error "
                   "reported from /job:worker/task:1: The following tasks are unhealthy "
                   "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\n" + _AGAIN),
    "leader silent": (tf.errors.UnavailableError, _NODE + "Collective ops is aborted by: "
                      "Deadline Exceeded\n\nRPC: /tensorflow.CoordinationService/Heartbeat\n"
                      + _AGAIN),
    "collective timeout": (tf.errors.DeadlineExceededError,
                           _NODE + "Collective has timed out during execution.\n"),
}


@pytest.mark.parametrize("kind", sorted(PEER_ERRORS))
def test_peer_errors_become_one_line_worker_lost(kind, tmp_path, monkeypatch):
    cls, message = PEER_ERRORS[kind]
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker",
                                                                       "index": 0}}))
    with pytest.raises(strategy.WorkerLost) as caught:
        with strategy.worker_failure_guard(backup_dir=str(tmp_path)):
            raise cls(None, None, message)
    text = str(caught.value)
    assert "\n" not in text and "Detected at node" not in text and "File " not in text
    assert text.startswith("A peer worker of this multi-worker run died or is unreachable")
    assert "No backup was written yet" in text and "start all workers again" in text
    assert "resume" in strategy.worker_lost_message("x")  # no folder given: a backup is kept
    cause = strategy.peer_failure_cause(cls(None, None, message))
    assert {"connection reset": "Connection reset by peer (peer /job:worker/replica:0/task:1)",
            "heartbeats": "stopped sending heartbeats): /job:worker/replica:0/task:1",
            "leader silent": "Deadline Exceeded RPC: /tensorflow.CoordinationService/Heartbeat",
            "collective timeout": "within the collective timeout"}[kind] in cause


def test_guard_keeps_local_errors_and_single_worker_runs(monkeypatch):
    """A local failure (a bad image) and any error of a one-process run keep their own type."""
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker",
                                                                       "index": 0}}))
    with pytest.raises(tf.errors.InternalError):
        with strategy.worker_failure_guard():
            raise tf.errors.InternalError(None, None, "Failed to decode image.jpg")
    monkeypatch.delenv("TF_CONFIG")
    cls, message = PEER_ERRORS["connection reset"]
    with pytest.raises(cls):
        with strategy.worker_failure_guard():
            raise cls(None, None, message)


def test_collective_timeout_from_argument_env_or_default(monkeypatch):
    monkeypatch.delenv(strategy.COLLECTIVE_TIMEOUT_ENV, raising=False)
    assert strategy.collective_timeout_seconds() == strategy.DEFAULT_COLLECTIVE_TIMEOUT
    monkeypatch.setenv(strategy.COLLECTIVE_TIMEOUT_ENV, "30")
    assert strategy.collective_timeout_seconds() == 30.0
    assert strategy.collective_timeout_seconds(0) == 0.0  # the argument wins; 0: no timeout
    for bad in (-1, "soon", float("nan")):
        with pytest.raises(strategy.ConfigError, match="collective_timeout"):
            strategy.collective_timeout_seconds(bad)


def test_multi_worker_strategy_after_a_tf_op_is_a_config_error():
    """TF configures collectives when it initialises; the user gets why, not TF's RuntimeError."""
    code = ("import tensorflow as tf; tf.constant(1.0)\n"
            "from keras_deepnets.training.strategy import ConfigError, make_strategy\n"
            "try:\n    make_strategy('multi_worker')\n"
            "except ConfigError as e:\n    print('ConfigError', e)\n")
    env = {**ENV, "TF_CONFIG": json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                                           "task": {"type": "worker", "index": 0}})}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "ConfigError MultiWorkerMirroredStrategy must be created before" in proc.stdout, (
        proc.stdout[-2000:] + proc.stderr[-2000:])
