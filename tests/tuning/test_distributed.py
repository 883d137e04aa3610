"""Distributed tuning on 127.0.0.1: a chief (serves the oracle) and 2 workers (run trials), all
scripts/tune_depth.py with KerasTuner's KERASTUNER_* variables, sharing one directory."""

import csv
import socket

import pytest
from tuning_helpers import TINY_FLAGS, runs_log, tune_depth

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_two_workers_run_each_trial_once(tmp_path):
    flags = [*TINY_FLAGS, "--family=cifar", "--tuner=random", "--max_trials=3",
             "--depths=8,14,20", "--fixed=block=basic", "--fixed=shortcut=A", "--fixed=width=0.5",
             "--lr=0.1", "--weight_decay=1e-4", f"--directory={tmp_path}",
             "--project_name=dist"]
    cluster = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    chief = tune_depth(*flags, env={**cluster, "KERASTUNER_TUNER_ID": "chief"}, wait=False)
    workers = {tid: tune_depth(*flags, env={**cluster, "KERASTUNER_TUNER_ID": tid}, wait=False)
               for tid in ("tuner0", "tuner1")}
    outputs = {}
    try:
        for tid, proc in [*workers.items(), ("chief", chief)]:
            outputs[tid] = proc.communicate(timeout=540)[0]
            assert proc.returncode == 0, f"{tid}:\n{outputs[tid][-3000:]}"
    finally:
        for proc in [chief, *workers.values()]:
            if proc.poll() is None:
                proc.kill()

    log = runs_log(tmp_path / "dist")
    starts = [(t, tuner) for e, t, tuner in log if e == "start"]
    ends = [(t, tuner) for e, t, tuner in log if e == "end"]
    assert sorted(t for t, _ in starts) == sorted({t for t, _ in starts})  # no trial twice
    assert len(starts) == len(ends) == 3
    assert {tuner for _, tuner in starts} <= {"tuner0", "tuner1"}  # the chief trains nothing
    by_worker = {tid: {t for t, tuner in starts if tuner == tid} for tid in workers}
    assert not by_worker["tuner0"] & by_worker["tuner1"]
    for tid, trials in by_worker.items():  # each worker's own log shows its trials
        assert all(f"start trial {t} by {tid}" in outputs[tid] for t in trials)
    # The chief's oracle lists each trial once, finished, with the depths tried.
    with open(tmp_path / "dist" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["trial"] for r in rows) == sorted(t for t, _ in starts)
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert sorted(int(r["depth"]) for r in rows) == [8, 14, 20]
