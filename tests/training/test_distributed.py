"""Strategies and precisions follow the one-device float32 trajectory; two workers agree.

Each run is in a fresh process (logical CPU devices and MultiWorkerMirroredStrategy must be set
up before TensorFlow initialises).
"""

import json
import os
import subprocess

import numpy as np
import pytest

from training_helpers import ENV, csv_rows, free_ports, run_configs


def _common(cifar10_dir, model_dir, **kw):
    return {"model": "resnet20", "data": str(cifar10_dir), "max_examples": 256,
            "max_val_examples": 64, "batch_size": 64, "epochs": 1, "model_dir": str(model_dir),
            "export_dir": "", "verbose": 0, "tensorboard": False, "backup_steps": 0,
            "eval_every": 0, "lr": 0.05, **kw}


@pytest.mark.slow
def test_mirrored_and_mixed_precision_follow_one_device_float32(cifar10_dir, tmp_path):
    """4 steps of the same global batches (the input is seeded, so replica 0 gets the first 32
    and replica 1 the next 32 images of each one-device batch of 64).

    - Mirrored over 2 logical CPUs with sync_bn, 2 steps per tf.function call, computes the same
      function; only the order of float32 sums differs (all-reduce, BN moments), ~1e-6
      relative, grown by 4 SGD steps: 1e-3.
    - mixed_bfloat16: activations carry 8 mantissa bits (~0.4% relative per op); the loss (in
      float32) stays within 3% of float32's over these steps, while the loss itself moves by
      far more than that between steps, so the test does see a different trajectory if broken.
    - Mirrored + LossScaleOptimizer with mixed_float16 (the combination open Keras issues report
      merge_call failures for) trains: float16 conv, BN and matmul kernels exist on TF's CPU.
    """
    evaluated = {"eval_every": 1, "max_val_examples": 65}  # 65: the replicas' shards differ
    runs = [_common(cifar10_dir, tmp_path / "one", distribution_strategy="one_device",
                    **evaluated),
            _common(cifar10_dir, tmp_path / "mir", distribution_strategy="mirrored",
                    sync_bn=True, steps_per_loop=2, **evaluated),
            _common(cifar10_dir, tmp_path / "bf16", distribution_strategy="one_device",
                    mixed_precision="bfloat16"),
            _common(cifar10_dir, tmp_path / "f16", distribution_strategy="mirrored",
                    mixed_precision="float16")]
    one, mirrored, bf16, f16 = (np.array(r["losses"]) for r in run_configs(runs, tmp_path / "out"))
    assert len(one) == 4 and np.all(np.isfinite(one))
    np.testing.assert_allclose(mirrored, one, rtol=1e-3)
    # 65 test images in per-replica batches of 32 end with an empty batch on one replica: every
    # image is scored once, as on one device, and the empty batch adds nothing.
    (one_row,), (mirrored_row,) = (csv_rows(tmp_path / name / "history.csv")
                                   for name in ("one", "mir"))
    assert one_row["val_examples"] == mirrored_row["val_examples"] == "65"
    assert float(mirrored_row["val_top1"]) == pytest.approx(float(one_row["val_top1"]),
                                                        abs=1.5 / 65)  # one near-tie at most
    # After 4 steps the running BN statistics are far from the batches', so the scores are
    # very sensitive: training losses agree to 1e-4 here, the test loss (~8.7) to ~1%.
    np.testing.assert_allclose(float(mirrored_row["val_loss"]), float(one_row["val_loss"]),
                               rtol=3e-2)
    np.testing.assert_allclose(bf16, one, rtol=3e-2)
    np.testing.assert_allclose(f16, one, rtol=3e-2)  # float16 has 10 mantissa bits


@pytest.mark.slow
def test_two_workers_end_with_the_same_weights_and_bn_statistics(cifar10_dir, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    kwargs = _common(cifar10_dir, tmp_path / "mw", distribution_strategy="multi_worker",
                     sync_bn=True, train_steps=3)
    procs = []
    for i in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": i}})}
        procs.append(run_configs([kwargs], tmp_path / f"out{i}", num_cpu_devices=1, env=env,
                                 wait=False))
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=400)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-worker training hung")
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-3000:] for o in outputs)
    meta = json.loads((tmp_path / "out0" / "0.json").read_text())
    w0 = np.load(tmp_path / "out0" / "0.npz")
    w1 = np.load(tmp_path / "out1" / "0.npz")
    assert len(w0.files) == meta["n_trainable"] + meta["n_bn"] and meta["n_bn"] > 0
    initial_moved = False
    for name in w0.files:  # trainable weights, then BN moving means/variances
        np.testing.assert_allclose(w0[name], w1[name], rtol=1e-5, atol=1e-6)
        initial_moved |= not np.allclose(w0[name], 0.0)
    assert initial_moved
    assert len(meta["losses"]) == 3 and os.path.isdir(tmp_path / "mw" / "backup")
