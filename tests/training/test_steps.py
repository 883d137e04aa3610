"""The training step (training/steps.py) with Keras metrics: without them the same loss and the
same update bit for bit (what benchmark.py train --nometrics times); with them, each metric's
figure equal to the metric's own update_state/result on the same batches, in the training
step and in evaluation, on one device and under MirroredStrategy over 2 logical CPUs."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.training import StepFunctions
from training_helpers import ENV


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
    probs = model(batch[0], training=True)  # the step's forward pass (BN: batch statistics)
    (row,) = steps.run(iter([batch]), 1)
    return row, probs, batch[1], [w.numpy() for w in model.weights]


def test_step_without_metrics_updates_the_same_weights():
    metrics = [keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
               keras.metrics.SparseCategoricalAccuracy(name="acc")]
    row, probs, labels, weights = _one_step(metrics)
    bare, _, _, bare_weights = _one_step([])
    assert (bare.loss_sum, bare.count) == (row.loss_sum, row.count) and bare.count == 8.0
    assert bare.values == {} and len(bare.delta) == 0
    for name, metric in zip(("top3", "acc"), (keras.metrics.SparseTopKCategoricalAccuracy(k=3),
                                              keras.metrics.SparseCategoricalAccuracy())):
        metric.update_state(labels, probs)
        assert row.values[name] == float(metric.result()), name
    for w, b in zip(weights, bare_weights):
        np.testing.assert_array_equal(w, b)


MIRRORED = textwrap.dedent("""
    import json, sys
    import keras, numpy as np, tensorflow as tf
    from keras_deepnets import registry, training
    from keras_deepnets.training import StepFunctions
    training.configure_cpu_devices(2)

    def metrics():
        return [keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
                keras.metrics.SparseCategoricalCrossentropy(name="xent")]

    out = {}
    rng = np.random.default_rng(1)
    images = rng.normal(size=(50, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, 50).astype("int32")
    for name, strategy in (("one", tf.distribute.get_strategy()),
                           ("mirrored", training.make_strategy("mirrored", None, 2))):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = registry.get_model("resnet20")
            opt = keras.optimizers.SGD(0.1)
            opt.build(model.trainable_variables)
        used = metrics()
        steps = StepFunctions(strategy, model, opt, global_batch=16, classes=10, metrics=used)
        data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)  # 16,16,16,2
        got = steps.evaluate(strategy.experimental_distribute_dataset(data))
        own = metrics()
        for x, y in data:
            probs = model(x, training=False)
            for m in own:
                m.update_state(y, probs)
        out[name] = {"got": {k: got["val_" + k] for k in ("top3", "xent")},
                     "own": {m.name: float(m.result()) for m in own},
                     "examples": got["val_examples"]}
    print(json.dumps(out))
""")


def test_metrics_in_evaluation_equal_their_own_results_under_mirrored():
    """50 images in batches of 16 (the last of 2, split over the 2 replicas): the summed
    states give the metric's own result, on one device and under MirroredStrategy."""
    proc = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                          timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("one", "mirrored"):
        assert out[name]["examples"] == 50
        for key, value in out[name]["own"].items():
            np.testing.assert_allclose(out[name]["got"][key], value, rtol=1e-5, err_msg=key)
    assert 0 < out["mirrored"]["own"]["top3"] < 1
