"""The run's model: the registry's constructor (or a tuner's `model_fn`) with the data's
classes and image size, and synchronised BN when asked."""

import os

import keras

from keras_deepnets import registry
from keras_deepnets.models.common import variant_names
from keras_deepnets.training.inputs import init_preset, init_source
from keras_deepnets.training.strategy import ConfigError
from keras_deepnets.weights import loading, presets
from keras_deepnets.weights.transfer import transfer


def set_sync_bn(model, synchronized):
    """Switches every BatchNormalization layer to cross-replica statistics (or back).

    Keras 3 reads `synchronized` when the layer is called (TensorFlow backend), so the built
    model needs no rebuild: the same weights then normalise with the global batch's moments.
    """
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized


def model_kwargs(cfg, info, plan):
    """The constructor arguments of the run's model: the data's classes and image size, the
    shortcut option and GoogLeNet's auxiliary heads when asked."""
    kwargs = {"classes": plan.classes}
    if cfg.recipe == "torchvision_v2":  # trained on smaller crops than it is evaluated on
        kwargs["input_shape"] = (None, None, plan.channels)
    elif plan.image_size != info.input_size:
        kwargs["input_shape"] = (plan.image_size, plan.image_size, plan.channels)
    if cfg.shortcut is not None:
        kwargs["shortcut"] = cfg.shortcut
    if cfg.aux_classifiers:  # the saved weights hold the heads; scored without them
        kwargs["aux_classifiers"] = True
    return kwargs


def pretrained_start(row, kwargs):
    """The run's model starting from the pretrained weights `row` (`--init_weights=imagenet`,
    a tag, `hf://...`): built and loaded with the weights' own classifier, then carried over
    to a fresh classifier for the data's classes when they differ."""
    classes = kwargs.pop("classes")
    model = loading.pretrained_model(row, **kwargs)
    return model if classes == row.classes else transfer(model, classes=classes)


def build_model(spec):
    """The run's model (under the strategy's scope): the registry's, or `model_fn`'s."""
    cfg = spec.cfg
    kwargs = model_kwargs(cfg, spec.info, spec.plan)
    try:
        row, preset = init_source(cfg).row, init_preset(cfg)
        if row is not None:
            model = pretrained_start(row, kwargs)
        elif preset is not None:  # rebuilt as saved, carried over to the data's classifier
            model = presets.load_folder(preset[0], cfg.init_weights,
                                        variant_names(cfg.model), **kwargs)
        else:
            if cfg.init_weights:  # a checkpoint converts with a fresh classifier for these classes
                kwargs["weights"] = os.path.expanduser(cfg.init_weights)
            model = (spec.model_fn(**kwargs) if spec.model_fn
                     else registry.get_model(spec.info.name, **kwargs))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    freeze(model, cfg.freeze)
    if cfg.sync_bn:
        set_sync_bn(model, True)
    return model


def freeze(model, stages):
    """Keeps the layers of `stages` (first parts of layer names: "conv1", "conv2", "block1")
    as loaded: not trainable, and their BN in inference mode (Keras runs a non-trainable BN with
    its moving statistics, which then stay as they are)."""
    names = sorted({layer.name.split("_")[0] for layer in model.layers if layer.weights})
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise ConfigError(f"freeze: {', '.join(unknown)} is not a stage of {model.name}; its "
                          f"stages with weights: {', '.join(names)}.")
    for layer in model.layers:
        if layer.name.split("_")[0] in stages:
            layer.trainable = False
