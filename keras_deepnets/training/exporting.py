"""The end-of-run export: a float32, strategy-free copy of the trained model, with a serving
signature that preprocesses as the run evaluated."""

import keras

from keras_deepnets import data, export
from keras_deepnets.training import inputs
from keras_deepnets.training.building import set_sync_bn


def export_trained(model, info, cfg):
    """Exports the run's model to `cfg.export_dir` (`<name>.keras` and the next SavedModel
    version `<n>/`, the layout of `export.export_model`); returns the written paths."""
    return export.export_keras_and_saved_model(float32_copy(model), cfg.export_dir,
                                               **serving_inputs(cfg, info))


def serving_inputs(cfg, info):
    """The SavedModel's bytes signature preprocesses as this run evaluated (the eval preset;
    for CIFAR with the training split's mean image) and names the data's classes."""
    if cfg.data is None or cfg.use_synthetic_data:
        return {}  # export's defaults: ImageNet evaluation and names, none for CIFAR sizes
    names = data.describe(cfg.data, "train", data_dir=cfg.data_dir).class_names
    _, eval_preset = inputs.presets(info.name, info.family)
    if eval_preset is None:  # the digits: greyscale, no bytes signature (export.inputs)
        return {"preprocessing": None, "class_names": names}
    size = cfg.image_size or info.input_size
    mean = (data.cifar_mean(cfg.data, data_dir=cfg.data_dir, image_size=size)
            if info.family == "cifar" else None)
    return {"preprocessing": data.get_preset(eval_preset, image_size=size, mean=mean),
            "class_names": names}


def float32_copy(model):
    """A float32, strategy-free twin of the trained model (plain BN, no distributed variables),
    so the exported files load anywhere."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        twin = model.__class__.from_config(model.get_config())
        twin.set_weights(model.get_weights())
    except (TypeError, ValueError, NotImplementedError):
        return model  # a model_fn model without a config: export it as it is
    finally:
        keras.config.set_dtype_policy(previous)
    set_sync_bn(twin, False)
    return twin
