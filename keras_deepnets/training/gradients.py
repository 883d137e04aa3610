"""Freeing what a run's traced functions left in TensorFlow's gradient registry.

`ReplicaContext.all_reduce` (called by Keras's optimizer under any tf.distribute strategy, so in
every `training.train` step) uses `tf.custom_gradient`, which in a traced function registers a
new "CustomGradient-<n>" entry that is never removed and holds the whole traced train step
(graph, captured model variables). Measured: +15-20 MB per ResNet-20 run, for every `train` call
of a notebook session or a KerasTuner search, without `forget_run_gradients`; flat with it.
"""

import contextlib


def _gradient_registry():
    """TensorFlow's private {op type: gradient function} table, or None if TF changed it (then
    `forget_run_gradients` does nothing rather than fail)."""
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


@contextlib.contextmanager
def forget_run_gradients():
    """Removes the custom gradients registered while the block ran.

    Only entries added inside the block go: they belong to the run's traced step functions,
    which are garbage once the run is over (the returned model is untouched); gradients
    registered by imports and by earlier code stay.
    """
    registry = _gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            for key in set(registry) - before:
                if key.startswith("CustomGradient-"):
                    del registry[key]
