"""The fused SGD (training/optimizers.py) is Keras's SGD: the same weights and momentum slots bit
for bit after training steps of ResNet-20 (with and without Nesterov, float32 and mixed
bfloat16), the same config, and Keras's own update where the fused kernel does not apply."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import registry
from keras_deepnets.training import SGD, StepFunctions


def _train(optimizer_class, policy, steps=3, **kwargs):
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = registry.get_model("resnet20")
        optimizer = optimizer_class(0.1, **kwargs)
        optimizer.build(model.trainable_variables)
        step = StepFunctions(tf.distribute.get_strategy(), model, optimizer, global_batch=8,
                             classes=10, weight_decay=1e-4)
        rng = np.random.default_rng(0)
        for _ in range(steps):
            step.train_step((tf.constant(rng.normal(size=(8, 32, 32, 3)), tf.float32),
                             tf.constant(rng.integers(0, 10, 8), tf.int32)))
        return [v.numpy() for v in model.trainable_variables + optimizer.variables]
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("policy, kwargs", [
    ("float32", {"momentum": 0.9}),
    ("float32", {"momentum": 0.9, "nesterov": True}),
    ("mixed_bfloat16", {"momentum": 0.9, "nesterov": True}),
    ("float32", {"momentum": 0.0}),  # no momentum: Keras's own update runs
])
def test_fused_update_equals_keras_sgd_bit_for_bit(policy, kwargs):
    ours = _train(SGD, policy, **kwargs)
    theirs = _train(keras.optimizers.SGD, policy, **kwargs)
    initial = _train(SGD, policy, steps=0, **kwargs)
    assert len(ours) == len(theirs) == len(initial)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ours[0], initial[0])  # the steps did move the weights


def test_one_fused_kernel_per_variable_in_the_step():
    model = registry.get_model("resnet20")
    optimizer = SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    step = StepFunctions(tf.distribute.get_strategy(), model, optimizer, global_batch=8,
                         classes=10)
    graph = step.train_step.get_concrete_function(
        (tf.zeros([8, 32, 32, 3]), tf.zeros([8], tf.int32))).graph.as_graph_def()
    ops = [n.op for n in graph.node] + [n.op for f in graph.library.function
                                        for n in f.node_def]
    assert ops.count("ResourceApplyKerasMomentum") == len(model.trainable_variables) == 59


def test_config_and_serialization_round_trip():
    opt = SGD(0.05, momentum=0.9, nesterov=True)
    assert opt.get_config() == {**keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
                                .get_config(), "name": opt.name}
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(again) is SGD and again.get_config() == opt.get_config()
