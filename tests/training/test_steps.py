"""The training step (training/steps.py) without its metrics: the same loss and the same update
bit for bit, zeros where the top-1/top-5 hits were (what benchmark_train.py --nometrics times)."""

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.training import StepFunctions


def _one_step(metrics):
    keras.utils.set_random_seed(0)
    model = registry.get_model("resnet20")
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    steps = StepFunctions(tf.distribute.get_strategy(), model, optimizer, global_batch=8,
                          classes=10, weight_decay=1e-4, metrics=metrics)
    rng = np.random.default_rng(0)
    batch = (tf.constant(rng.normal(size=(8, 32, 32, 3)), tf.float32),
             tf.constant(rng.integers(0, 10, 8), tf.int32))
    stats = [float(v) for v in steps.train_step(batch)]
    return stats, [w.numpy() for w in model.weights]


def test_step_without_metrics_updates_the_same_weights():
    (loss, top1, top5, count), weights = _one_step(True)
    (bare_loss, bare_top1, bare_top5, bare_count), bare_weights = _one_step(False)
    assert (bare_loss, bare_count) == (loss, count) == (bare_loss, 8.0)
    assert (bare_top1, bare_top5) == (0.0, 0.0) and top5 >= top1 and top5 > 0
    for w, b in zip(weights, bare_weights):
        np.testing.assert_array_equal(w, b)
