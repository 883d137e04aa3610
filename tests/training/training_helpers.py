"""Runs training in fresh processes: logical CPU devices and MultiWorkerMirroredStrategy must be
set up before TensorFlow initialises, which a pytest process has long done."""

import csv
import json
import os
import pathlib
import socket
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO),
       "CUDA_VISIBLE_DEVICES": ""}


def csv_rows(path):
    """The rows of a run's CSV record (history.csv, train_steps.csv, a CSVLogger's file)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_script(script, *flags, timeout=300, env=None):
    """Runs scripts/<script> with flags; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *flags],
                          capture_output=True, text=True, timeout=timeout, env=env or ENV)


def run_configs(runs, out, num_cpu_devices=2, env=None, timeout=600, wait=True):
    """Runs `training.train(**kwargs)` for each kwargs of `runs` in one fresh process; writes per
    run the step losses and final weights to `out/<i>.json` / `out/<i>.npz`."""
    cmd = [sys.executable, str(pathlib.Path(__file__).with_name("training_worker.py")), str(out),
           str(num_cpu_devices), json.dumps(runs)]
    if not wait:
        return subprocess.Popen(cmd, env=env or ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    proc = subprocess.run(cmd, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((pathlib.Path(out) / f"{i}.json").read_text()) for i in range(len(runs))]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports
