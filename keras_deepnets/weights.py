"""Weights: keras.applications' ImageNet weights mapped onto our models, and weight files.

keras.applications' ResNets give every convolution a bias; ours have none (the BN after it has a
shift of its own, as in the paper's Caffe models and torchvision). A conv bias `b` followed by BN
is the same function as no bias and a BN whose moving mean is `mean - b`, so we fold it there.
"""

import os
import warnings

import keras
import numpy as np

# Our registry name -> the keras.applications constructor that has ImageNet weights for it.
IMAGENET_WEIGHTS = {
    "vgg16": "VGG16", "vgg19": "VGG19",
    "resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152",
}
# File names keras.applications downloads (keras/src/applications/{vgg16,vgg19,resnet}.py).
_WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels{}.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels{}.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels{}.h5",
    "resnet101": "resnet101_weights_tf_dim_ordering_tf_kernels{}.h5",
    "resnet152": "resnet152_weights_tf_dim_ordering_tf_kernels{}.h5",
}
_BASE_URLS = {
    "vgg": "https://storage.googleapis.com/tensorflow/keras-applications/{}/",
    "resnet": "https://storage.googleapis.com/tensorflow/keras-applications/resnet/",
}


def keras_cache_dir():
    """Where keras.utils.get_file keeps downloaded models (`$KERAS_HOME/models`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def _weights_url(key, include_top):
    fname = _WEIGHT_FILES[key].format("" if include_top else "_notop")
    base = _BASE_URLS["resnet"] if key.startswith("resnet") else _BASE_URLS["vgg"].format(key)
    return fname, base + fname


def load_imagenet_weights(model, key):
    """Loads keras.applications' ImageNet weights for `key` into `model` (built with the same
    architecture, include_top and classes). keras.applications downloads and caches the file."""
    include_top = model.get_config()["include_top"]
    constructor = getattr(keras.applications, IMAGENET_WEIGHTS[key])
    try:
        reference = constructor(include_top=include_top, weights="imagenet",
                                input_shape=(224, 224, 3) if include_top else (None, None, 3))
    except Exception as error:  # keras raises a bare Exception when the download fails
        fname, url = _weights_url(key, include_top)
        raise FileNotFoundError(
            f"ImageNet weights for {key} are not available: {error}\n"
            f"Offline, download {url} elsewhere and put it at "
            f"{os.path.join(keras_cache_dir(), fname)} (keras.applications' cache); "
            "or pass weights=None or a .weights.h5 path."
        ) from None
    copy_keras_applications_weights(reference, model)
    del reference


def load_weights_file(model, path):
    """`model.load_weights(path)` with an error that says what did not fit."""
    path = os.fspath(path)
    if not path.endswith((".weights.h5", ".keras")):
        raise ValueError(f"weights={path!r}: expected a '.weights.h5' file saved by "
                         "model.save_weights(), or a '.keras' file.")
    try:
        with warnings.catch_warnings():
            # Keras warns per unmatched container before it raises; our error says it once.
            warnings.simplefilter("ignore", UserWarning)
            model.load_weights(path)
    except Exception as error:
        detail = " ".join(str(error).split("\n\n")[:2]).strip()
        raise ValueError(
            f"The weights in {path!r} do not fit {model.name!r} "
            f"({len(model.weights)} weight tensors): {detail}. A weights file must come from "
            "save_weights() of the same architecture (same depth, shortcut option, classes "
            "and include_top)."
        ) from None


def _bn_name(conv_name):
    return conv_name[: -len("_conv")] + "_bn"


def copy_keras_applications_weights(source, target):
    """Copies a keras.applications VGG/ResNet's weights into our model of the same architecture,
    layer by layer by name, folding conv biases into the following BN's moving mean."""
    folded = {}
    copied = set()
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(f"{source.name} has no layer {layer.name!r}: the two models differ "
                             "in architecture.") from None
        values = src.get_weights()
        if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias and src.use_bias:
            kernel, bias = values
            folded[_bn_name(layer.name)] = bias
            values = [kernel]
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name in folded:
            gamma, beta, mean, var = values
            values = [gamma, beta, mean - folded.pop(layer.name), var]
        expected = [tuple(w.shape) for w in layer.weights]
        if [tuple(np.shape(v)) for v in values] != expected:
            raise ValueError(f"Layer {layer.name!r}: shapes {[np.shape(v) for v in values]} from "
                             f"{source.name} do not fit {expected}.")
        layer.set_weights(values)
        copied.add(layer.name)
    missed = [l.name for l in source.layers if l.weights and l.name not in copied]
    if missed or folded:
        raise ValueError(f"Weights of {source.name} left over: {missed or sorted(folded)}; the "
                         "two models differ in architecture.")


def from_keras_applications(model):
    """Returns the keras_deepnets twin of a keras.applications VGG16, VGG19, ResNet50, ResNet101 or
    ResNet152 (with whatever weights it has), carrying the same weights and giving the same outputs.

    Example:
        >>> ka = keras.applications.ResNet50(weights=None)
        >>> ours = keras_deepnets.from_keras_applications(ka)
    """
    from keras_deepnets.models.resnet import KERAS_APPLICATIONS_BN_EPSILON
    from keras_deepnets.registry import get_model

    key = getattr(model, "name", None)
    if key not in IMAGENET_WEIGHTS:
        raise ValueError(f"Expected a keras.applications model named one of "
                         f"{sorted(IMAGENET_WEIGHTS)}; got {key!r}.")
    names = {layer.name: layer for layer in model.layers}
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
    if key.startswith("resnet"):
        kwargs["bn_epsilon"] = KERAS_APPLICATIONS_BN_EPSILON
    ours = get_model(key, **kwargs)
    copy_keras_applications_weights(model, ours)
    return ours
