"""keras.applications models converted into ours, carrying their weights
(`from_keras_applications`).

This module sits above the models: the conversion builds one of ours through the registry. The
facts about the published files are in `weights.table`; the layer-by-layer copy is
`weights.applications_copy` (below the models, which load keras.applications' files through it).
"""

import keras

# Importing the models registers the names get_model builds (their constructors register them).
from keras_deepnets import models  # noqa: F401
from keras_deepnets.registry import get_model
from keras_deepnets.weights import table
from keras_deepnets.weights.applications_copy import copy_keras_applications_weights

# Our registry name -> the keras.applications constructor that has ImageNet weights for it.
IMAGENET_WEIGHTS = {row.model: row.architecture
                    for row in table.rows(publisher=table.KERAS_APPLICATIONS)}


def _top_kwargs(model, names):
    """include_top, input_shape, pooling, classes and classifier_activation of a
    keras.applications model, as our constructors take them."""
    include_top = "predictions" in names
    pooling = None
    if not include_top:
        for layer in model.layers:
            if isinstance(layer, keras.layers.GlobalAveragePooling2D):
                pooling = "avg"
            elif isinstance(layer, keras.layers.GlobalMaxPooling2D):
                pooling = "max"
    kwargs = dict(include_top=include_top, input_shape=tuple(model.input_shape[1:]),
                  pooling=pooling)
    if include_top:
        top = names["predictions"]
        kwargs.update(classes=top.units,
                      classifier_activation=keras.activations.serialize(top.activation))
    return kwargs


def from_keras_applications(model):
    """Returns the keras_deepnets twin of a keras.applications VGG16, VGG19, ResNet50, ResNet101 or
    ResNet152 (with whatever weights it has), carrying the same weights and giving the same outputs.

    Example:
        >>> ka = keras.applications.ResNet50(weights=None)
        >>> ours = keras_deepnets.from_keras_applications(ka)
    """
    rows = {row.model: row for row in table.rows(publisher=table.KERAS_APPLICATIONS)}
    key = getattr(model, "name", None)
    if key not in rows:
        raise ValueError(f"Expected a keras.applications model named one of "
                         f"{sorted(rows)}; got {key!r}.")
    kwargs = _top_kwargs(model, {layer.name: layer for layer in model.layers})
    if rows[key].bn_epsilon is not None:  # the ResNets: their BN epsilon is not our default
        kwargs["bn_epsilon"] = rows[key].bn_epsilon
    ours = get_model(key, **kwargs)
    copy_keras_applications_weights(model, ours)
    return ours
