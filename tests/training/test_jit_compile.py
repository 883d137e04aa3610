"""`--jit_compile` (XLA for the forward/backward pass) trains the same function as without it."""

import keras
import numpy as np
import pytest

from keras_deepnets import registry, training


@pytest.mark.slow
def test_xla_steps_follow_the_default_steps(tmp_path):
    kwargs = dict(model="resnet20", use_synthetic_data=True, synthetic_examples=96,
                  batch_size=32, train_steps=3, eval_every=0, export_dir="", verbose=0,
                  tensorboard=False, backup_steps=0, lr=0.05)
    plain = training.train(model_dir=str(tmp_path / "plain"), **kwargs)
    xla = training.train(model_dir=str(tmp_path / "xla"), jit_compile=True, **kwargs)
    losses = [np.array([s["loss"] for s in r.steps]) for r in (plain, xla)]
    assert len(losses[0]) == 3 and np.all(np.isfinite(losses[1]))
    # XLA reorders float32 sums (~1e-6 relative), grown by 3 SGD steps; the loss itself moves
    # by far more than this between steps, so a different trajectory would fail.
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-3)
    keras.utils.set_random_seed(0)  # what train() does before building: the initial weights
    start = registry.get_model("resnet20").get_weights()
    # The updates agree to ~1% (measured 0.02-3.4% per tensor after 3 steps; the same with
    # Keras's unfused BN: BN's backward pass cancels large terms, so reordered float32 sums
    # show); a wrong gradient would differ by O(100%).
    moved = [(a - w0, b - w0) for w0, a, b in zip(start, plain.model.get_weights(),
                                                  xla.model.get_weights()) if np.any(a != w0)]
    assert len(moved) > 60
    for da, db in moved:
        assert np.linalg.norm(db - da) < 0.1 * np.linalg.norm(da)
    flat = [np.concatenate([d[i].ravel() for d in moved]) for i in (0, 1)]
    assert np.linalg.norm(flat[1] - flat[0]) < 2e-2 * np.linalg.norm(flat[0])
