"""Memory does not grow from trial to trial: what a trial traced and built is freed."""

import gc

import keras_tuner as kt
import pytest
import tensorflow as tf
from tensorflow.python.framework import func_graph
from tuning_helpers import TINY

from keras_deepnets import training, tuning
from keras_deepnets.tuning import memory


def live_func_graphs():
    gc.collect()
    return sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())


def test_forget_trial_gradients_drops_the_traced_custom_gradients():
    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda dy: 2 * dy

    registry = memory._gradient_registry()
    assert registry is not None  # TF still has the table this workaround edits
    before = len(registry)
    with memory.forget_trial_gradients():
        tf.function(double)(tf.constant(1.0))  # a traced custom gradient registers itself
        assert len(registry) == before + 1
    assert len(registry) == before


@pytest.mark.slow
def test_trials_leave_no_traced_graphs_behind(tmp_path):
    hps = kt.HyperParameters()
    for name, value in {"depth": 8, "block": "basic", "shortcut": "A", "width": 0.5}.items():
        hps.Fixed(name, value)
    config = training.TrainConfig(use_synthetic_data=True, synthetic_examples=32,
                                  distribution_strategy="mirrored",
                                  **{k: v for k, v in TINY.items() if k != "max_examples"})
    tuner = tuning.make_tuner("random", tuning.CifarResNetHyperModel(), train_config=config,
                              max_trials=3, directory=str(tmp_path), hyperparameters=hps)
    real_run_trial, graphs, metrics = tuner.run_trial, [], []

    def counting(trial, *args, **kwargs):
        metrics.append(real_run_trial(trial, *args, **kwargs))
        graphs.append(live_func_graphs())
        return metrics[-1]

    tuner.run_trial = counting
    before = live_func_graphs()  # earlier tests in the same process may have left some
    tuner.search()
    # Without forget_trial_gradients each trial kept its traced train step: +1, +2, +3 graphs.
    assert graphs == [graphs[0]] * 3 and graphs[0] <= before, (before, graphs)
    assert all(m["peak_rss_mb"] >= m["rss_after_mb"] * 0.9 > 0 for m in metrics)
