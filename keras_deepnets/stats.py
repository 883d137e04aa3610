"""Parameters and multiply-adds of a built model, counted the way the papers count "FLOPs".

The ResNet paper's Table 1 "FLOPs" (1.8e9 for ResNet-18 ... 11.3e9 for ResNet-152) are
multiply-adds of the convolutions and the final fully connected layer; BN, ReLU, additions and
pooling are not counted. We count the same.
"""

import dataclasses
import math

import keras

from keras_deepnets.models.common import inference_model


@dataclasses.dataclass(frozen=True)
class ModelStats:
    params: int
    trainable_params: int
    mult_adds: int

    def __str__(self):
        return (f"{self.params:,} parameters ({self.trainable_params:,} trainable), "
                f"{self.mult_adds / 1e9:.2f} G multiply-adds")


def _layer_mult_adds(layer):
    if isinstance(layer, keras.Model):
        return sum(_layer_mult_adds(inner) for inner in layer.layers)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        out_shape = tuple(layer.output.shape)
        if any(d is None for d in out_shape[1:]):
            raise ValueError(
                f"Layer {layer.name!r} has output shape {out_shape}: multiply-adds need a known "
                "input size. Build the model with input_shape=(height, width, channels).")
        kernel = tuple(layer.kernel.shape)
        per_output = math.prod(kernel[:-1])  # kh * kw * cin (Conv2D) or in_features (Dense)
        return per_output * math.prod(out_shape[1:])
    if callable(getattr(layer, "mult_adds", None)):  # custom layers count their own
        return layer.mult_adds()
    return 0


def model_stats(model):
    """Returns `ModelStats(params, trainable_params, mult_adds)` of `model` at its input size.

    Example:
        >>> s = keras_deepnets.model_stats(keras_deepnets.ResNet50())
        >>> round(s.mult_adds / 1e9, 1)
        3.9
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model_stats needs a keras.Model; got {type(model).__name__}.")
    model = inference_model(model)  # GoogLeNet's auxiliary classifiers only train
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return ModelStats(params=model.count_params(), trainable_params=int(trainable),
                      mult_adds=int(sum(_layer_mult_adds(layer) for layer in model.layers)))
