"""torchvision's "V2" ImageNet recipe as Keras objects: its optimizer, schedule, loss, weight
average and input settings (the mixing and erasing are in `keras_deepnets.data.mixing`).

The recipe is torchvision's ResNet-50 IMAGENET1K_V2 command (references/classification,
https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621; the blog post "How to
train state-of-the-art models using TorchVision's latest primitives"):

    train.py --model resnet50 --batch-size 128 (x 8 GPUs) --lr 0.5 \
      --lr-scheduler cosineannealinglr --lr-warmup-epochs 5 --lr-warmup-method linear \
      --auto-augment ta_wide --epochs 600 --random-erase 0.1 --weight-decay 0.00002 \
      --norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 \
      --train-crop-size 176 --model-ema --val-resize-size 232 --ra-sampler --ra-reps=4

with train.py's defaults: momentum 0.9, lr warm-up decay (start factor) 0.01, lr_min 0,
model_ema_steps 32, model_ema_decay 0.99998, bilinear interpolation, val crop 224.
"""

import dataclasses

import keras
import tensorflow as tf

from keras_deepnets.data import augment, mixing, trivial_augment
from keras_deepnets.training import optimizers


@dataclasses.dataclass(frozen=True)
class V2Settings:
    """The recipe's values; `lr` is for `batch_size`, scaled linearly for others (as
    torchvision's own lr is for 8 GPUs x 128)."""

    batch_size: int = 1024
    lr: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 2e-5
    norm_weight_decay: float = 0.0
    bias_weight_decay: float = None  # torchvision's command leaves biases decayed
    epochs: int = 600
    warmup_epochs: int = 5
    warmup_start_factor: float = 0.01
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 1.0
    random_erase: float = 0.1
    ema_steps: int = 32
    ema_decay: float = 0.99998
    train_crop_size: int = 176
    val_resize_size: int = 232
    val_crop_size: int = 224

    def scaled_lr(self, batch_size):
        return self.lr * batch_size / self.batch_size


SETTINGS = V2Settings()
NAME = "torchvision_v2"  # the recipe's name: --recipe=torchvision_v2


@keras.saving.register_keras_serializable(package="keras_deepnets")
class PerEpoch(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule in epochs, held constant through each epoch: torchvision steps its lr
    schedulers once per epoch (`lr_scheduler.step()` after each epoch), so the lr of step s is
    `schedule(s // steps_per_epoch)`."""

    def __init__(self, schedule, steps_per_epoch):
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be an integer >= 1; got {steps_per_epoch!r}.")
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        return self.schedule(tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch))

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "steps_per_epoch": self.steps_per_epoch}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def warmup_cosine(lr, epochs, warmup_epochs=5, start_factor=0.01, steps_per_epoch=None):
    """torchvision's `SequentialLR([LinearLR(start_factor, total_iters=warmup_epochs),
    CosineAnnealingLR(T_max=epochs - warmup_epochs)])` as `keras.optimizers.schedules.CosineDecay`:
    its linear warm-up from `initial_learning_rate` to `warmup_target` and its cosine from there
    are, at whole epochs, the same two formulas. With `steps_per_epoch` the lr changes once per
    epoch, as torchvision's; without, the schedule counts epochs (use it per step for a smooth
    variant, with warmup/decay steps scaled by the steps per epoch)."""
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_epochs must be in [0, epochs={epochs}); got {warmup_epochs!r}.")
    cosine = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * start_factor, decay_steps=epochs - warmup_epochs, alpha=0.0,
        warmup_target=lr, warmup_steps=warmup_epochs)
    return cosine if steps_per_epoch is None else PerEpoch(cosine, steps_per_epoch)


@keras.saving.register_keras_serializable(package="keras_deepnets")
class CoupledDecaySGD(optimizers.SGD):
    """SGD with momentum whose `weight_decay` is PyTorch's: `wd * w` added to the gradient
    before the momentum (torch.optim.SGD), not Keras's decoupled `w -= lr * wd * w`. Variables
    passed to `exclude_from_weight_decay` get none. The update is the fused SGD's."""

    def _apply_weight_decay(self, variables):
        """Keras's decoupled decay is replaced by the coupled one in `update_step`."""

    def update_step(self, gradient, variable, learning_rate):
        if self.weight_decay and self._use_weight_decay(variable):
            gradient = gradient + tf.cast(self.weight_decay, gradient.dtype) * tf.cast(
                variable, gradient.dtype)
        return super().update_step(gradient, variable, learning_rate)


_NORMALIZATION_LAYERS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                         keras.layers.GroupNormalization)


def no_weight_decay(model, biases=False):
    """The trainable variables that torchvision's `set_weight_decay(norm_weight_decay=0.0)`
    (references/classification/utils.py) leaves undecayed: every normalisation layer's weights
    (BN gamma and beta), and with `biases=True` (its `bias_weight_decay=0.0`) every bias."""
    excluded = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, _NORMALIZATION_LAYERS):
            excluded += layer.trainable_weights
        elif biases and getattr(layer, "bias", None) is not None and layer.trainable:
            excluded.append(layer.bias)
    return excluded


def v2_optimizer(model, learning_rate, settings=SETTINGS):
    """The recipe's optimizer for `model`: SGD, momentum 0.9, PyTorch's weight decay 2e-5 on all
    but the norms (and the biases when `settings.bias_weight_decay == 0`)."""
    optimizer = CoupledDecaySGD(learning_rate, momentum=settings.momentum,
                                weight_decay=settings.weight_decay)
    optimizer.exclude_from_weight_decay(
        var_list=no_weight_decay(model, biases=settings.bias_weight_decay == 0))
    return optimizer


def v2_loss(settings=SETTINGS, from_logits=False):
    """Cross-entropy on the mixed (soft) labels with label smoothing 0.1, as
    `torch.nn.CrossEntropyLoss(label_smoothing=0.1)` on probability targets. The package's
    models end in a softmax, hence `from_logits=False` by default."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing,
                                                from_logits=from_logits)


def ema_decay_per_step(settings=SETTINGS, batch_size=None, epochs=None):
    """The per-step decay with the time constant of torchvision's weight average.

    torchvision averages every `ema_steps` iterations with decay 1 - alpha, where
    alpha = min(1, (1 - ema_decay) * batch_size * ema_steps / epochs) (train.py; pycls's
    adjustment, batch_size the global batch). Averaging every step with decay d gives the same
    time constant when d ** ema_steps = 1 - alpha.
    """
    batch_size = batch_size or settings.batch_size
    epochs = epochs or settings.epochs
    alpha = min(1.0, (1.0 - settings.ema_decay) * batch_size * settings.ema_steps / epochs)
    return (1.0 - alpha) ** (1.0 / settings.ema_steps)


def scaled(size, image_size, settings=SETTINGS):
    """One of the recipe's sizes (stated for a 224 evaluation crop) at another crop size."""
    return max(8, int(round(size * image_size / settings.val_crop_size)))


def trivial_augment_wide():
    """The recipe's `--auto-augment ta_wide` as a preset's policy, `fn(uint8 image, stateless
    seed)`: each image draws its own operation and magnitude from the preset's per-example
    seed, so a resumed run draws again what it drew. The layer is made outside any traced
    function (its constructor makes a seed variable, which a tf.data map cannot)."""
    with tf.init_scope():
        layer = trivial_augment.TrivialAugmentWide()
    return lambda image, seed: layer(image, seed=seed)


def train_preset(image_size, mode="torch", policy="ta_wide", settings=SETTINGS):
    """The recipe's training preset for an evaluation crop of `image_size`: a random-resized
    crop at 176/224 of it (area 8-100 %, aspect 3/4-4/3), flip, then `policy` on the uint8
    pixels ("ta_wide": TrivialAugmentWide, the recipe's; None: none; or a function (image,
    seed) -> image) and `mode`'s normalisation."""
    if policy == "ta_wide":
        policy = trivial_augment_wide()
    return augment.InceptionTrain(image_size=scaled(settings.train_crop_size, image_size),
                                  mode=mode, policy=policy)


def eval_transform(settings=SETTINGS):
    """The recipe's evaluation, as pretrained weights publish theirs: resize 232 (bilinear,
    antialias), centre 224."""
    return {"resize": settings.val_resize_size, "crop": settings.val_crop_size,
            "interpolation": "bilinear"}


def mix_batches(dataset, classes, seed, settings=SETTINGS):
    """A batched (images, class ids) dataset with the recipe's batch augmentations: random
    erasing per image (p 0.1), then mixup 0.2 or cutmix 1.0 (one per batch) on one-hot labels,
    drawn from stateless seeds of (`seed`, batch index), so that a resumed run draws again
    what it drew (`keras_deepnets.data.mixing`)."""
    def mix(index, batch):
        images, labels = batch
        erase_seed, mix_seed = tf.unstack(tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), index]), 2))
        images = mixing.random_erasing(images, erase_seed, p=settings.random_erase)
        return mixing.mix_batch(images, tf.one_hot(labels, classes), mix_seed,
                                settings.mixup_alpha, settings.cutmix_alpha)
    return dataset.enumerate().map(mix, num_parallel_calls=tf.data.AUTOTUNE)


def v2_presets(settings=SETTINGS, mode="torch"):
    """The recipe's input presets (torchvision's ClassificationPresetTrain/Eval): training,
    random-resized crop at 176 (area 8-100 %, aspect 3/4-4/3, bilinear) and flip; evaluation,
    shorter side 232 (bilinear, antialias) and the centre 224 crop. `mode="torch"` is
    torchvision's mean/std normalisation."""
    train = train_preset(settings.val_crop_size, mode, settings=settings)
    evaluation = augment.get_preset("imagenet_eval", image_size=settings.val_crop_size,
                                    resize_size=settings.val_resize_size, mode=mode,
                                    antialias=True)
    return train, evaluation
