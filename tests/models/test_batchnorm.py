"""The fused BatchNormalization computes what keras.layers.BatchNormalization computes.

Compared on real activations of the model zoo's own shapes: outputs, gradients (input, gamma,
beta) and the moving statistics after several training steps, in float32 and under mixed
precision; inference; the fallback paths; serialisation; and that the models' train step really
runs the fused kernel (the point of the layer).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets.models.batchnorm import BatchNormalization

# Tolerances: float32 differs only by summation order; bfloat16/float16 outputs are rounded to
# 8/11 mantissa bits (one ulp at |y| ~ 4 is 0.03 / 0.004), and both layers accumulate in float32.
TOL = {"float32": 2e-5, "mixed_bfloat16": 4e-2, "mixed_float16": 5e-3}


def _pair(shape, rng, **kwargs):
    ref = keras.layers.BatchNormalization(**kwargs)
    fused = BatchNormalization(**kwargs)
    ref.build(shape)
    fused.build(shape)
    channels = shape[kwargs.get("axis", -1)]
    weights = [rng.uniform(0.5, 1.5, (channels,)).astype("float32") for _ in range(4)]
    weights[1] -= 1.0  # beta around 0, moving mean around 0, moving variance positive
    weights[2] -= 1.0
    ref.set_weights(weights)
    fused.set_weights(weights)
    return ref, fused


def _relative(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-6))


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"], indirect=True)
@pytest.mark.parametrize("shape", [(2, 7, 7, 8), (16, 16, 16, 32)])
def test_training_matches_keras_outputs_gradients_and_moving_statistics(policy, shape):
    rng = np.random.default_rng(shape[0])
    ref, fused = _pair(shape, rng, momentum=0.9, epsilon=1e-5)
    assert fused.uses_fused_kernel(tf.zeros(shape))
    for _ in range(3):  # three steps: the moving statistics accumulate
        x = tf.constant(rng.normal(1.0, 3.0, shape).astype("float32"))
        x = tf.cast(x, ref.compute_dtype)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            outs = [layer(x, training=True) for layer in (ref, fused)]
            losses = [tf.reduce_sum(tf.cast(y, tf.float32) * tf.cast(x, tf.float32))
                      for y in outs]
        assert outs[0].dtype == outs[1].dtype == tf.as_dtype(ref.compute_dtype)
        assert _relative(*outs) < TOL[policy]
        for a, b in zip(*(tape.gradient(loss, [x, layer.gamma, layer.beta])
                          for loss, layer in zip(losses, (ref, fused)))):
            assert _relative(a, b) < TOL[policy]
    np.testing.assert_allclose(fused.moving_mean.numpy(), ref.moving_mean.numpy(), atol=1e-5)
    # The fused kernel's own variance is Bessel-corrected; with 2x7x7 = 98 values per channel the
    # correction is 1%, far outside this tolerance, so a missing un-correction fails here.
    np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(),
                               rtol=1e-4 if policy == "float32" else 2e-3)
    x = tf.cast(tf.constant(rng.normal(size=shape).astype("float32")), ref.compute_dtype)
    assert _relative(ref(x, training=False), fused(x, training=False)) < TOL[policy]


def test_frozen_layer_normalises_with_moving_statistics_and_keeps_them():
    rng = np.random.default_rng(1)
    ref, fused = _pair((4, 5, 5, 6), rng)
    ref.trainable = fused.trainable = False
    before = fused.moving_variance.numpy().copy()
    x = rng.normal(size=(4, 5, 5, 6)).astype("float32")
    np.testing.assert_allclose(fused(x, training=True), ref(x, training=True), atol=2e-5)
    np.testing.assert_array_equal(fused.moving_variance.numpy(), before)


def test_other_ranks_and_axes_fall_back_to_keras():
    rng = np.random.default_rng(2)
    for shape, kwargs in [((8, 10), {}), ((4, 6, 5, 5), {"axis": 1})]:
        ref, fused = _pair(shape, rng, **kwargs)
        x = rng.normal(size=shape).astype("float32")
        assert not fused.uses_fused_kernel(x)
        np.testing.assert_allclose(fused(x, training=True), ref(x, training=True), atol=1e-5)
        np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(),
                                   rtol=1e-5)


def test_fused_true_refuses_what_it_cannot_fuse_and_bad_values_are_named():
    layer = BatchNormalization(fused=True)
    with pytest.raises(ValueError, match="fused=True needs .* input rank 2"):
        layer(np.zeros((4, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="fused must be None, True or False; got 'yes'"):
        BatchNormalization(fused="yes")
    layer = BatchNormalization(fused=True, synchronized=True)
    with pytest.raises(ValueError, match="synchronized=True"):
        layer(np.zeros((2, 4, 4, 3), "float32"), training=True)


def test_synchronized_under_mirrored_uses_the_global_batch():
    """Two logical CPUs in a fresh process: sync BN (Keras's all-reduce path) over 2 x 4 images
    equals the fused layer over the 8 images on one device, moving statistics included."""
    script = r"""
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_deepnets.models.batchnorm import BatchNormalization
x = np.random.default_rng(0).normal(2.0, 3.0, (8, 5, 5, 6)).astype("float32")
one = BatchNormalization(momentum=0.5)
y_one = one(x, training=True).numpy()
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    sync = BatchNormalization(momentum=0.5, synchronized=True)
    sync.build(x.shape)
assert not sync.uses_fused_kernel(x)
halves = strategy.experimental_distribute_values_from_function(
    lambda ctx: x[4 * ctx.replica_id_in_sync_group: 4 * ctx.replica_id_in_sync_group + 4])
out = strategy.run(tf.function(lambda t: sync(t, training=True)), args=(halves,))
y_sync = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
np.testing.assert_allclose(y_sync, y_one, atol=1e-5)
np.testing.assert_allclose(sync.moving_mean.numpy(), one.moving_mean.numpy(), atol=1e-5)
np.testing.assert_allclose(sync.moving_variance.numpy(), one.moving_variance.numpy(), rtol=1e-5)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_saved_model_file_keeps_the_layer_and_its_outputs(tmp_path):
    model = kd.ResNet20()
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    bns = [layer for layer in loaded.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(layer) is BatchNormalization for layer in bns)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    assert BatchNormalization.from_config(bns[0].get_config()).fused is None


def _training_graph_ops(model, x):
    """The op types of the graph of `model(x, training=True)`."""
    graph = tf.function(lambda t: model(t, training=True)).get_concrete_function(x).graph
    return [op.type for op in graph.get_operations()]


def test_the_models_train_step_runs_the_fused_kernel():
    """What the speed comes from: every BN of ResNet-20 and of VGG with BN is a fused op in the
    training graph, and none of Keras's separate-moments ops is left."""
    for model in (kd.ResNet20(), kd.get_model("vgg11_bn_cifar")):
        bns = [layer for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization)]
        ops = _training_graph_ops(model, tf.zeros((2, 32, 32, 3)))
        assert ops.count("FusedBatchNormV3") == len(bns) > 0
        assert "SquaredDifference" not in ops  # tf.nn.moments' variance


def test_jax_backend_falls_back_to_the_portable_layer():
    pytest.importorskip("jax")
    script = r"""
import keras, numpy as np
from keras_deepnets.models.batchnorm import BatchNormalization
assert keras.backend.backend() == "jax"
x = np.random.default_rng(0).normal(size=(4, 3, 3, 5)).astype("float32")
ref, fused = keras.layers.BatchNormalization(), BatchNormalization()
assert not fused.uses_fused_kernel(x)
np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(ref(x, training=True)),
                           atol=1e-6)
print("ok")
"""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
