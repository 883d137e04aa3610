"""`steps_per_loop`: several steps per tf.function call train exactly as one step per call."""

import numpy as np

from keras_deepnets import training


def test_loops_of_steps_give_the_same_run_records_and_backups(tmp_path):
    kwargs = dict(model="resnet20", use_synthetic_data=True, synthetic_examples=7 * 16,
                  batch_size=16, epochs=2, eval_every=0, export_dir="", verbose=0,
                  tensorboard=False, backup_steps=4, lr=0.05)
    one = training.train(model_dir=str(tmp_path / "one"), **kwargs)
    loops = training.train(model_dir=str(tmp_path / "loop"), steps_per_loop=3, **kwargs)
    # 7 steps per epoch in loops of 3, cut at the backup every 4 global steps: 3+1, 3, ...
    assert [s["step"] for s in loops.steps] == list(range(1, 15))
    np.testing.assert_allclose([s["loss"] for s in loops.steps],
                               [s["loss"] for s in one.steps], rtol=1e-5)
    for a, b in zip(one.model.get_weights(), loops.model.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    backups = sorted(p.name for p in (tmp_path / "loop" / "backup").glob("ckpt-*.index"))
    assert backups and backups == sorted(
        p.name for p in (tmp_path / "one" / "backup").glob("ckpt-*.index"))
