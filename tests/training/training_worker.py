"""`python worker.py OUT NUM_CPU_DEVICES RUNS_JSON`: the fresh process of helpers.run_configs.

A multi-worker run that loses a peer ends as the scripts end it: train() raises WorkerLost (its
own worker_failure_guard), printed as one line, `error: ...`, exit status 1 (the fault tests
read that line)."""

import json
import pathlib
import sys

import numpy as np


def main(out, num_cpu_devices, runs):
    from keras_deepnets import training

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if int(num_cpu_devices) > 1:
        training.configure_cpu_devices(int(num_cpu_devices))
    for i, kwargs in enumerate(runs):
        try:
            result = training.train(**kwargs)
        except training.WorkerLost as e:
            sys.exit(f"error: {e}")
        _save(out, i, result)


def _save(out, i, result):
    """The final weights (trainable, then BN moving statistics) and the step losses."""
    model = result.model
    bn = [v for v in model.non_trainable_weights if "moving" in v.path]
    np.savez(out / f"{i}.npz", *[np.asarray(v.numpy()) for v in model.trainable_weights],
             *[np.asarray(v.numpy()) for v in bn])
    (out / f"{i}.json").write_text(json.dumps({
        "losses": [s["loss"] for s in result.steps], "history": result.history,
        "n_trainable": len(model.trainable_weights), "n_bn": len(bn)}, default=float))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
