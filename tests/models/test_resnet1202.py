"""ResNet-1202 (ResNet paper, section 4.2, Table 6: 19.4M parameters) builds and trains."""

import time

import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets as kd


@pytest.mark.slow
def test_resnet1202_forward_and_backward_at_batch_2():
    start = time.perf_counter()
    model = kd.ResNet1202()
    built = time.perf_counter() - start
    assert round(kd.model_stats(model).trainable_params / 1e6, 1) == 19.4
    x = tf.random.uniform((2, 32, 32, 3))
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(tf.constant([1, 2]), probs))
    grads = tape.gradient(loss, model.trainable_variables)
    assert probs.shape == (2, 10) and np.isfinite(loss.numpy())
    assert all(g is not None for g in grads)
    assert all(np.isfinite(g.numpy()).all() for g in grads[:3] + grads[-3:])
    print(f"ResNet-1202 built in {built:.1f} s, forward+backward in "
          f"{time.perf_counter() - start - built:.1f} s")
