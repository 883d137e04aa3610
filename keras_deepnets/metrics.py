"""One rule for top-k accuracy, shared by the training step, `--eval_only` and the papers'
multi-crop evaluation, so the three report the same number for the same scores.

The tie rule is `tf.math.in_top_k`'s: an example is a top-k hit when its row of scores is
finite and fewer than k classes score *strictly higher* than the true class. Classes tied with
the true class never push it out, so ties straddling the k-th place all count as hits.

Why this rule and not a sort: a sort (numpy's argsort, tf.math.top_k) must break ties by
position, and which tied class it keeps depends on the sort's algorithm (numpy's default sort
is not stable) and on the class order, not on the scores. Counting strictly higher scores needs
no order at all, so it is deterministic on every device, costs one comparison per class (no
sort), runs inside tf.function, XLA and replica contexts, and leaves the numbers of runs
recorded with `in_top_k` unchanged. Ties are not rare: a saturated float32 softmax gives many
classes exactly the same probability (0.0 at worst), and bfloat16 scores have 8 bits of
mantissa. The rule is optimistic for such ties: a true class tied at 0.0 with others is a
top-5 hit if fewer than 5 classes are above 0.0.
"""

import tensorflow as tf


def top_k_hits(labels, scores, k):
    """Per-example top-k hits: float32 [batch], 1.0 for a hit and 0.0 for a miss.

    Args:
        labels: int [batch] true class ids. A label outside [0, classes) is a miss.
        scores: float [batch, classes] probabilities or logits (any float dtype; the rule only
            compares scores, so softmax or not gives the same hits).
        k: the number of top places (a Python int or scalar tensor); k >= classes makes every
            example with finite scores a hit.
    Returns:
        float32 [batch]: 1.0 where the row is finite and fewer than k classes score strictly
        higher than the true class (`tf.math.in_top_k`'s rule, ties counted as hits), else 0.0.
        A NaN or infinite score anywhere in a row makes that row a miss, as in `in_top_k`.
    """
    scores = tf.convert_to_tensor(scores)
    if not scores.dtype.is_floating:
        scores = tf.cast(scores, tf.float32)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    classes = tf.shape(scores)[-1]
    is_true_class = tf.equal(tf.range(classes)[None, :], labels[:, None])
    lowest = tf.constant(float("-inf"), scores.dtype)
    # The true class's score; -inf (a miss below) when the label names no class.
    true_score = tf.reduce_max(tf.where(is_true_class, scores, lowest), axis=-1)
    higher = tf.reduce_sum(tf.cast(scores > true_score[:, None], tf.int32), axis=-1)
    finite = tf.reduce_all(tf.math.is_finite(scores), axis=-1) & tf.math.is_finite(true_score)
    return tf.cast(finite & (higher < tf.cast(k, tf.int32)), tf.float32)
