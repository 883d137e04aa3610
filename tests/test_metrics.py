"""`metrics.top_k_hits`: in_top_k's tie rule whatever the class order, also in tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets.metrics import top_k_hits


def hits(labels, scores, k):
    return top_k_hits(np.asarray(labels), np.asarray(scores, np.float32), k).numpy().tolist()


def test_ties_at_the_k_boundary_are_hits_whatever_their_position():
    # Three classes tie for first place: each of them is a top-1 hit. A sort can put only one
    # of them first, so an argsort-based rule fails at least one of these rows.
    row = [0.3, 0.3, 0.3, 0.1]
    assert hits([0, 1, 2, 3], [row] * 4, 1) == [1.0, 1.0, 1.0, 0.0]
    # One class above, three tied for 2nd..4th: with k=2 all three tied classes are hits, the
    # last one too (a stable argsort would keep only the first tied index).
    row = [0.4, 0.2, 0.2, 0.2]
    assert hits([1, 2, 3], [row] * 3, 2) == [1.0, 1.0, 1.0]
    # Two classes strictly above the true class: not in the top 2, in the top 3.
    row = [0.4, 0.3, 0.15, 0.15]
    assert hits([2, 3], [row] * 2, 2) == [0.0, 0.0]
    assert hits([2, 3], [row] * 2, 3) == [1.0, 1.0]


def test_a_saturated_softmax_ties_the_rest_at_zero():
    """Documented, optimistic: classes tied at exactly 0.0 are all inside the top 5."""
    scores = [[1.0] + [0.0] * 9]
    assert hits([7], scores, 1) == [0.0] and hits([7], scores, 5) == [1.0]


def test_non_finite_rows_and_unknown_labels_are_misses():
    scores = [[np.nan, 0.1, 0.2, 0.3], [0.1, 0.2, np.inf, 0.3], [0.1, 0.2, 0.3, 0.4],
              [0.1, 0.2, 0.3, 0.4]]
    assert hits([1, 3, 4, -1], scores, 4) == [0.0, 0.0, 0.0, 0.0]


def test_same_as_in_top_k_on_random_rows_with_many_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(500, 10)).astype(np.float32)  # ties everywhere
    scores[rng.random(500) < 0.02, 3] = np.nan
    labels = rng.integers(0, 10, size=500)
    for k in (1, 2, 5, 10, 11):
        expected = tf.cast(tf.math.in_top_k(labels, scores, k), tf.float32).numpy()
        np.testing.assert_array_equal(top_k_hits(labels, scores, k).numpy(), expected)


@pytest.mark.parametrize("dtype", [tf.bfloat16, tf.float16, tf.float64])
def test_any_float_dtype_and_jit_compiled(dtype):
    labels = tf.constant([0, 1, 2], tf.int64)
    scores = tf.cast([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype)
    step = tf.function(lambda y, s: top_k_hits(y, s, 1), jit_compile=True)
    out = step(labels, scores)
    assert out.dtype == tf.float32
    assert out.numpy().tolist() == [1.0, 0.0, 0.0]
    assert top_k_hits(labels, scores, tf.constant(2)).numpy().tolist() == [1.0, 1.0, 0.0]
