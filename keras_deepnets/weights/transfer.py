"""Weights carried over to a changed model: the fine-tuning start (`transfer`)."""

import numpy as np


def transfer(source, **changes):
    """A model like `source` with `changes` to its config (e.g. `classes=10` for fine-tuning),
    holding `source`'s weights in every layer whose shapes agree: all but the classifiers
    ("predictions", GoogLeNet's "aux1_predictions", ...), which start fresh."""
    target = type(source).from_config({**source.get_config(), **changes})
    for layer in target.layers:
        if not layer.weights:
            continue
        weights = source.get_layer(layer.name).get_weights()
        if [np.shape(w) for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
        elif not layer.name.endswith("predictions"):
            raise ValueError(f"{changes} changes the shapes of {layer.name!r}, not only the "
                             "classifier's: these weights cannot be carried over.")
    return target
