"""`--eval_only`: a trained model's top-1/top-5 on held-out images, with 1 or 10 crops and
optional multiple scales (VGG paper, section 3.2 "Testing"; ResNet paper, section 3.4: "10-crop
testing", "fully-convolutional form ... averaged at multiple scales").

The images, crops and scales are keras_deepnets.data's (`load`, `evaluate_crops`); this module
only finds the weights and the split.
"""

import os

import keras
import tensorflow as tf

from keras_deepnets import data, registry
from keras_deepnets.metrics import top_k_hits
from keras_deepnets.models.common import inference_model, variant_names
from keras_deepnets.training import inputs
from keras_deepnets.training.building import model_kwargs
from keras_deepnets.training.config import make_config
from keras_deepnets.training.steps import flip_averaged
from keras_deepnets.training.strategy import ConfigError
from keras_deepnets.weights import argument, loading, presets, table


def find_weights(cfg):
    """--weights, else the best then the last weights in model_dir/checkpoints."""
    candidates = [cfg.weights] if cfg.weights else [
        os.path.join(cfg.model_dir, "checkpoints", name)
        for name in ("best.weights.h5", "last.weights.h5")]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise ConfigError(f"No weights to evaluate: {' or '.join(map(str, candidates))} not found. "
                      "Train first, or pass --weights=<file.weights.h5 or .keras>.")


def _centre_crop_accuracy(model, cfg, info, plan):
    """Single centre crop through the family's eval preset (CIFAR: the per-pixel mean).

    The same images, batches and arithmetic as the training loop's validation: the same `load`
    call (CIFAR decoded once, `cache=`), float32 scores and `metrics.top_k_hits`, so that
    `--eval_only` on the best weights prints the top-1/top-5 recorded for that epoch."""
    ds = inputs.val_dataset(cfg, info, plan, cfg.batch_size or 128, model=model)
    top5 = min(5, plan.classes)
    top1_hits = top5_hits = total = 0.0
    def scores_fn(images):
        return tf.cast(model(images, training=False), tf.float32)

    for images, labels in ds:
        scores = flip_averaged(scores_fn, images, cfg.eval_flip)
        top1_hits += float(tf.reduce_sum(top_k_hits(labels, scores, 1)))
        top5_hits += float(tf.reduce_sum(top_k_hits(labels, scores, top5)))
        total += int(labels.shape[0])
    n = max(total, 1)
    return {"top1": top1_hits / n, "top5": top5_hits / n, "num_examples": int(total)}


def _trained_model(cfg, info, plan):
    """The model `--weights` names: pretrained weights by tag (`IMAGENET1K_V2`, `imagenet`,
    `hf://...`), a preset (folder, `file://`, `hf://owner/repo[@revision]`), a `.keras` file,
    or a `.weights.h5` (default: model_dir's best)."""
    try:
        folder = presets.find(cfg.weights)
        if folder is not None:
            return presets.load_folder(folder, cfg.weights, variant_names(cfg.model),
                                       **model_kwargs(cfg, info, plan))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if table.is_tag(cfg.weights):
        try:
            row = argument.resolve_weights(cfg.weights, variant_names(cfg.model)).row
            return loading.pretrained_model(row, **model_kwargs(cfg, info, plan))
        except ValueError as e:
            raise ConfigError(str(e)) from None
    path = find_weights(cfg)
    if path.endswith(".keras"):
        return keras.models.load_model(path)
    model = registry.get_model(cfg.model, **model_kwargs(cfg, info, plan))
    model.load_weights(path)
    return model


def evaluate(config=None, keras_model=None, **overrides):
    """Evaluates `keras_model` (default: the config's model with its trained weights, or the
    pretrained weights `weights=` names by tag) on the validation split; returns {"top1",
    "top5", "num_examples"}. Pretrained weights are evaluated with the transform their
    accuracy was published with (their row's resize, crop, interpolation, antialias).

    Example:
        >>> training.evaluate(model="resnet50", data="/data/imagenet", eval_crops=10,
        ...                   weights="runs/resnet50/checkpoints/best.weights.h5")  # doctest: +SKIP
    """
    cfg = make_config(config, **overrides)
    if cfg.data is None or cfg.use_synthetic_data:
        raise ConfigError("--eval_only needs --data (the images to evaluate on).")
    info = registry.model_info(cfg.model)
    plan = inputs.plan(cfg, info)
    if not plan.val_examples:
        raise ConfigError(f"No validation split found in {cfg.data!r} (looked for "
                          f"{', '.join(inputs.VAL_SPLITS)}).")
    multi_view = cfg.eval_crops != 1 or cfg.eval_scales
    if multi_view and cfg.eval_flip:
        raise ConfigError("--eval_flip is for the single centre crop; --eval_crops=10 already "
                          "holds each crop's mirror.")
    if multi_view and info.family in ("cifar", "digits"):
        raise ConfigError(f"10-crop / multi-scale evaluation is the ImageNet protocol; "
                          f"{info.family} models are evaluated on the single 32x32 image.")
    model = keras_model if keras_model is not None else _trained_model(cfg, info, plan)
    model = inference_model(model)  # the main classifier alone
    if not multi_view:
        return _centre_crop_accuracy(model, cfg, info, plan)
    return data.evaluate_crops(
        model, cfg.val_data or cfg.data, plan.val_split, crops=cfg.eval_crops,
        scales=cfg.eval_scales, data_dir=cfg.data_dir, image_size=plan.image_size,
        batch_size=cfg.batch_size or 64, max_examples=plan.val_examples)
