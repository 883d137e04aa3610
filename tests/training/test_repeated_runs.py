"""A notebook's repeated `training.train` calls do not keep each run's traced train step."""

import gc

from tensorflow.python.framework import func_graph

from keras_deepnets import training
from keras_deepnets.training import gradients


def live_func_graphs():
    gc.collect()
    return sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())


def test_repeated_train_calls_leave_no_traced_graphs_or_gradients(tmp_path):
    registry = gradients._gradient_registry()
    assert registry is not None  # TF still has the table the fix edits
    kwargs = dict(model="resnet20", use_synthetic_data=True, synthetic_examples=32,
                  batch_size=16, train_steps=2, eval_every=0, export_dir="", verbose=0,
                  tensorboard=False, backup_steps=0)
    counts = []
    for i in range(3):
        result = training.train(model_dir=str(tmp_path / f"run{i}"), **kwargs)
        assert len(result.steps) == 2
        del result
        counts.append((live_func_graphs(), sum(k.startswith("CustomGradient-") for k in registry)))
    # Without the fix each run added its traced step and a registry entry: +1 graph, +1 entry.
    assert counts[2] == counts[1] == counts[0], counts
