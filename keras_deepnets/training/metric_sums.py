"""A run's metrics: `keras.metrics.Metric` objects, computed in the training step and in
evaluation under any strategy with results equal to the metric's own `update_state`/`result`.

How, and why this way: a Keras metric keeps its state in variables whose values add up over
batches (a Mean's total and count, a Precision's true and false positives; their `aggregation`
is "sum"). Each replica runs the metric's `stateless_update_state` on its part of the batch
from the metric's initial state, and the step returns the change, summed over replicas with
the loss in the same reduction: no metric variable is written inside the step (so nothing is
synchronised per step, and the step stays one `strategy.run` plus one reduction). The loop adds
the changes up per epoch on the host, and `results` turns a state into the metric's own
`stateless_result`. A metric whose state does not add up this way (aggregation other than
"sum") is refused when the run starts.

Names: `top1`, `top5`, `top<k>` and `accuracy` make the common ones (`from_name`), so the command
line can say `--metrics=top1,top5,top3`; `train(metrics=[...])` also takes Metric objects.
Labels reach the metrics as int class ids (sparse, the papers' input), which the `Sparse...`
metrics the names make take: the step turns one-hot or mixed (mixup/cutmix) labels into their
largest class first, as torchvision's training accuracy does.
"""

import re

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets.training.optimizers import deserialized, serialized

DEFAULT = ("top1", "top5")
_TOP_K = re.compile(r"^top(\d+)$")
RESERVED = ("loss", "lr", "epoch", "step", "count")


def _top_k(name):
    """k of a `top<k>` name, None for `accuracy`; a one-line error for other names."""
    match = _TOP_K.match(name) if isinstance(name, str) else None
    if match and int(match.group(1)) > 0:
        return int(match.group(1))
    if name == "accuracy":
        return None
    raise ValueError(f"metrics: unknown name {name!r}; names: top1, top5, top<k> (top-k "
                     f"accuracy) and accuracy, or pass keras.metrics.Metric objects.")


def from_name(name, classes):
    """The metric a common name stands for: `top<k>` is top-k accuracy with in_top_k's tie
    rule (the rule of `keras_deepnets.metrics.top_k_hits`, `--eval_only` and the papers'
    evaluation), with k capped at the number of classes; `accuracy` is Keras's
    SparseCategoricalAccuracy (argmax)."""
    k = _top_k(name)
    if k is None:
        return keras.metrics.SparseCategoricalAccuracy(name=name)
    return keras.metrics.SparseTopKCategoricalAccuracy(k=min(k, classes), name=name)


def names_of(settings):
    """The metric names of a config's `metrics`, checked (known, not the run's own figures,
    different), without making the metrics: a Metric makes TensorFlow variables, and under
    MultiWorkerMirroredStrategy nothing may run in TensorFlow before the strategy is made."""
    names = []
    for setting in settings:
        if isinstance(setting, str):
            _top_k(setting)
        names.append(setting if isinstance(setting, str)
                     else setting.get("config", {}).get("name") or setting.get("class_name"))
    for name in names:
        if name in RESERVED or name.startswith("val_"):
            raise ValueError(f"metrics: the name {name!r} is taken by the run's own "
                             f"figures; give the metric another name=.")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics: names must differ; got {', '.join(names)}.")
    return names


def to_setting(metric):
    """What a config holds for one metric: its name, or a Metric object serialized (so that
    config.json records it and a replay rebuilds it)."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, dict):  # already serialized (a replayed config.json)
        return metric
    if not isinstance(metric, keras.metrics.Metric):
        raise ValueError(f"metrics: each must be a keras.metrics.Metric or a name (top1, top5, "
                         f"top<k>, accuracy); got {type(metric).__name__}.")
    check_state(metric)
    return serialized(metric)


def build(settings, classes):
    """The Metric objects of a config's `metrics` (names or serialized objects), checked."""
    names_of(settings)
    metrics = [from_name(s, classes) if isinstance(s, str)
               else deserialized(s) for s in settings]
    for metric in metrics:
        check_state(metric)
    return metrics


def check_state(metric):
    """Refuses a metric whose state does not add up over batches and replicas."""
    odd = [v.name for v in metric.variables if v.aggregation != "sum"]
    if odd:
        raise ValueError(f"metrics: {metric.name!r} keeps state that does not add up over "
                         f"batches and replicas ({', '.join(odd)}); the training step "
                         f"takes metrics whose variables aggregate by sum (Mean, accuracy, "
                         f"top-k, Precision, AUC ...).")


class MetricSums:
    """The metrics of one run as sums: per replica, the change a batch makes to each metric's
    state (a flat float32 vector); per state, each metric's result.

    Example:
        >>> sums = MetricSums([keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
        >>> delta = sums.batch_delta(labels, probs)     # in the replica function
        >>> sums.results(sums.initial + delta)           # {"top3": ...}   # doctest: +SKIP
    """

    def __init__(self, metrics):
        self.metrics = list(metrics)
        self.names = [m.name for m in self.metrics]
        for m in self.metrics:
            m.reset_state()
        self._initial = [[np.array(v.numpy(), np.float64) for v in m.variables]
                         for m in self.metrics]
        self._shapes = [[a.shape for a in init] for init in self._initial]
        flat = [a.reshape(-1) for init in self._initial for a in init]
        self.initial = np.concatenate(flat) if flat else np.zeros([0])
        self.size = int(self.initial.size)
        self._results = tf.function(self._graph_results)

    def batch_delta(self, labels, probs):
        """Float32 [size]: how one batch changes every metric's state (replica function)."""
        parts = []
        for metric, init in zip(self.metrics, self._initial):
            start = [tf.constant(a, v.dtype) for a, v in zip(init, metric.variables)]
            new = metric.stateless_update_state(start, labels, probs)
            parts += [tf.reshape(tf.cast(n - s, tf.float32), [-1]) for n, s in zip(new, start)]
        return tf.concat(parts, 0) if parts else tf.zeros([0])

    def _split(self, state):
        """Per metric, its variables' values in `state` (a flat [size] tensor)."""
        out, at = [], 0
        for metric, shapes in zip(self.metrics, self._shapes):
            values = []
            for shape, variable in zip(shapes, metric.variables):
                n = int(np.prod(shape, dtype=np.int64))
                values.append(tf.cast(tf.reshape(state[at:at + n], shape), variable.dtype))
                at += n
            out.append(values)
        return out

    def _graph_results(self, state):
        return [tf.cast(metric.stateless_result(values), tf.float64)
                for metric, values in zip(self.metrics, self._split(state))]

    def graph_results(self, state):
        """The metrics' results for `state` inside a traced function (float64 tensors)."""
        return self._graph_results(state)

    def results(self, state, prefix=""):
        """{prefix + name: float} for a state (numpy [size]: initial + summed changes)."""
        if not self.metrics:
            return {}
        values = self._results(tf.constant(np.asarray(state, np.float64)))
        return {prefix + name: float(v) for name, v in zip(self.names, values)}
