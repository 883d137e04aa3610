"""The papers' training recipes: learning-rate schedules, weight decay and per-family defaults.

- ImageNet (ResNet paper, He et al. 2016, section 3.4): SGD, batch 256, lr 0.1 "divided by 10
  when the error plateaus", weight decay 1e-4, momentum 0.9. VGG (Simonyan & Zisserman 2015,
  section 3.1): batch 256, lr 0.01 divided by 10 when the validation accuracy stops improving,
  weight decay 5e-4. Larger batches scale lr linearly, 0.1 x batch/256, with a linear warm-up
  (Goyal et al. 2017, "Accurate, Large Minibatch SGD", sections 2.1-2.2).
- CIFAR-10 (ResNet paper, section 4.2): batch 128, lr 0.1 divided by 10 at 32k and 48k
  iterations, stop at 64k, weight decay 1e-4, momentum 0.9; ResNet-110 warms up at 0.01 for the
  first 400 iterations ("until the training error is below 80%").
- LeNet-5's digits: see `DIGITS`.
"""

import dataclasses
import math

import keras
import tensorflow as tf

from keras_deepnets.training import v2_recipe

SCHEDULES = ("step", "cosine", "linear", "constant", "plateau")
RECIPES = ("paper", "fast", v2_recipe.NAME)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Defaults of one paper's recipe; `lr` is for `batch_size`, scaled linearly for others."""

    batch_size: int
    lr: float
    weight_decay: float
    momentum: float
    lr_schedule: str
    boundaries: tuple  # step schedule: epochs (`boundaries_in="epochs"`) or iterations
    boundaries_in: str
    epochs: int = None  # one of epochs / total_steps
    total_steps: int = None
    warmup_steps: int = 0
    warmup_lr: float = None  # constant warm-up lr (ResNet-110); None: linear ramp from 0 (Goyal)
    warmup_epochs: float = 0.0  # a linear warm-up in epochs (instead of warmup_steps)
    nesterov: bool = False
    label_smoothing: float = 0.0
    ema_decay: float = None  # a moving average of the weights is evaluated (ema.py); None: no
    name: str = "paper"

    def default_lr(self, batch_size):
        """Linear scaling rule (Goyal et al. 2017, section 2.1): lr = base x batch / base_batch."""
        return self.lr * batch_size / self.batch_size


# ResNet paper, section 3.4: 60e4 iterations at batch 256 ~ 120 epochs; torchvision's reference
# (and most reproductions) divide at 30 and 60 and stop at 90 epochs, which matches the paper's
# reported errors; the paper itself drops on plateaus, available as lr_schedule="plateau".
IMAGENET = Recipe(batch_size=256, lr=0.1, weight_decay=1e-4, momentum=0.9, lr_schedule="step",
                  boundaries=(30, 60), boundaries_in="epochs", epochs=90)
# VGG paper, section 3.1: lr 0.01, weight decay 5e-4, 74 epochs, lr decreased 3 times on plateau.
VGG_IMAGENET = dataclasses.replace(IMAGENET, lr=0.01, weight_decay=5e-4, boundaries=(30, 50, 65),
                                   epochs=74)
# ResNet paper, section 4.2.
CIFAR = Recipe(batch_size=128, lr=0.1, weight_decay=1e-4, momentum=0.9, lr_schedule="step",
               boundaries=(32000, 48000), boundaries_in="steps", total_steps=64000)

# LeNet-5 on the digits (`data="digits"`): plain SGD with momentum 0.9, lr 0.01, batch 32, 10
# epochs, no weight decay. The paper trained with stochastic diagonal Levenberg-Marquardt and an
# RBF output with a Euclidean loss on 60,000 MNIST digits (section II.B, appendix C), a method
# no one uses today; on 1,347 training digits this modern recipe is what is used (docs/models.md).
DIGITS = Recipe(batch_size=32, lr=0.01, weight_decay=0.0, momentum=0.9, lr_schedule="constant",
                boundaries=(), boundaries_in="epochs", epochs=10)


# A time-to-accuracy recipe for the CIFAR nets on few cores (`recipe="fast"`): each part has a
# published source and the values are the sources'; five probes on the 45k/5k hold-out (one
# value changed each, docs/results/one_cpu/fast_recipe_probes.md) found none better by more
# than 1 point, and wd 5e-4 better than the paper's 1e-4 by 1.06:
# - batch 256 with lr 0.2, the paper's 0.1 at 128 scaled linearly (Goyal et al. 2017, 2.1),
#   after a linear warm-up of 2 epochs (Goyal et al. 2017, 2.2);
# - lr decayed linearly to 0 at the end of the run, the second half of a one-cycle schedule
#   (Smith & Topin 2018, "Super-convergence"): every step of a short budget is spent at a
#   useful lr, with no plateau after a step drop;
# - Nesterov momentum 0.9 (Sutskever et al. 2013, "On the importance of initialization and
#   momentum in deep learning");
# - label smoothing 0.1 (Szegedy et al. 2016, "Rethinking the Inception architecture", 7);
# - weight decay 5e-4, the value short CIFAR schedules use (Zagoruyko & Komodakis 2016, Wide
#   ResNets, 3; the VGG paper's 5e-4), on conv/dense kernels only as in the paper's recipe;
# - a moving average of the weights, decay 0.998 (Polyak & Juditsky 1992; ema.py), evaluated,
#   saved and exported;
# - bfloat16 mixed precision is the run's choice (`mixed_precision`), not the recipe's.
FAST_CIFAR = Recipe(batch_size=256, lr=0.2, weight_decay=5e-4, momentum=0.9,
                    lr_schedule="linear", boundaries=(), boundaries_in="epochs", epochs=40,
                    warmup_epochs=2, nesterov=True, label_smoothing=0.1, ema_decay=0.998,
                    name="fast")


# torchvision's V2 recipe for its ImageNet ResNets (v2_recipe.py holds the parts a Recipe has
# no field for: mixup/cutmix, random erasing, the norm-only decay, the per-epoch schedule with
# its 0.01 start factor, the 176/232/224 inputs). The EMA decay is the per-step decay with
# torchvision's time constant (it averages every 32 steps).
_V2 = v2_recipe.SETTINGS
TORCHVISION_V2 = Recipe(batch_size=_V2.batch_size, lr=_V2.lr, weight_decay=_V2.weight_decay,
                        momentum=_V2.momentum, lr_schedule="cosine", boundaries=(),
                        boundaries_in="epochs", epochs=_V2.epochs,
                        warmup_epochs=_V2.warmup_epochs, label_smoothing=_V2.label_smoothing,
                        ema_decay=v2_recipe.ema_decay_per_step(), name=v2_recipe.NAME)


def recipe_for(model_name, family, name="paper"):
    """The recipe a registry model was trained with in its paper (`name="paper"`), the
    time-to-accuracy recipe (`name="fast"`, CIFAR models only), or torchvision's V2 recipe
    (`name="torchvision_v2"`, ImageNet ResNets)."""
    if name not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)}; got "
                         f"{name!r}.")
    if name == v2_recipe.NAME:
        if family != "imagenet" or not model_name.lower().startswith("resne"):
            raise ValueError(f"The torchvision_v2 recipe is for the ImageNet ResNets; "
                             f"{model_name} is not one.")
        return TORCHVISION_V2
    if name == "fast":
        if family != "cifar":
            raise ValueError(f"The fast recipe is for the CIFAR models; {model_name} is an "
                             f"{family} model (use recipe='paper').")
        return FAST_CIFAR
    if family == "digits":
        return DIGITS
    if family not in ("cifar", "imagenet"):
        raise ValueError(f"No training recipe for the {family} family ({model_name}).")
    if family == "cifar":
        if model_name.lower() in ("resnet110", "plain110", "resnet1202", "plain1202"):
            # Section 4.2: "we use 0.01 to warm up the training until the training error is
            # below 80% (about 400 iterations), and then go back to 0.1" (1202 follows 110).
            return dataclasses.replace(CIFAR, warmup_steps=400, warmup_lr=0.01)
        return CIFAR
    return VGG_IMAGENET if model_name.lower().startswith("vgg") else IMAGENET


@keras.saving.register_keras_serializable(package="keras_deepnets")
class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """One schedule for every recipe, a pure function of the optimizer's iteration count.

    Args:
        base_lr: the lr after warm-up.
        schedule: "step" (x0.1 at each of `boundaries`, in iterations), "cosine" (half cosine
            from base_lr to 0 over `total_steps`, after warm-up; Loshchilov & Hutter 2017),
            "linear" (straight to 0 at `total_steps`, after warm-up; the one-cycle schedule's
            annealing half, Smith & Topin 2018), "constant", or "plateau"
            (x0.1 per drop; the training loop counts drops in `plateau_drops` when the
            validation error stops improving, ResNet paper section 3.4).
        warmup_steps: iterations of warm-up. With `warmup_lr=None` the lr ramps linearly from
            base_lr/warmup_steps to base_lr (Goyal et al. 2017, section 2.2, "gradual warmup");
            with a number it stays at `warmup_lr` (ResNet-110, section 4.2, "constant warmup").
        plateau_drops: a tf.Variable (int) holding the number of plateau drops, or None.
    """

    def __init__(self, base_lr, schedule="step", boundaries=(), total_steps=None,
                 warmup_steps=0, warmup_lr=None, plateau_drops=None):
        if schedule not in SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}.")
        if schedule in ("cosine", "linear") and not total_steps:
            raise ValueError(f"The {schedule} schedule needs the total number of training steps.")
        self.base_lr = float(base_lr)
        self.schedule = schedule
        self.boundaries = tuple(int(b) for b in boundaries)
        self.total_steps = int(total_steps) if total_steps else None
        self.warmup_steps = int(warmup_steps)
        self.warmup_lr = None if warmup_lr is None else float(warmup_lr)
        self.plateau_drops = plateau_drops

    def describe(self):
        """One phrase for the run's first lines: only the drops this schedule makes."""
        shape = {"step": (f"/10 at steps {', '.join(str(b) for b in self.boundaries)}"
                          if self.boundaries else "no drops"),
                 "cosine": f"half cosine to 0 at step {self.total_steps}",
                 "linear": f"linear to 0 at step {self.total_steps}",
                 "constant": "no drops",
                 "plateau": "/10 when the validation top-1 stops improving"}[self.schedule]
        warmup = ""
        if self.warmup_steps:
            warmup = (f"; linear warm-up over {self.warmup_steps} steps"
                      if self.warmup_lr is None
                      else f"; warm-up at {self.warmup_lr:g} for {self.warmup_steps} steps")
        return f"lr {self.base_lr:g} ({self.schedule}: {shape}{warmup})"

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.base_lr, tf.float32)
        if self.schedule == "step" and self.boundaries:
            passed = tf.add_n([tf.cast(step >= b, tf.float32) for b in self.boundaries])
            lr = lr * tf.pow(0.1, passed)
        elif self.schedule == "cosine":
            span = float(max(1, self.total_steps - self.warmup_steps))
            t = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = lr * 0.5 * (1.0 + tf.cos(math.pi * t))
        elif self.schedule == "linear":
            span = float(max(1, self.total_steps - self.warmup_steps))
            t = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = lr * (1.0 - t)
        elif self.schedule == "plateau" and self.plateau_drops is not None:
            lr = lr * tf.pow(0.1, tf.cast(self.plateau_drops, tf.float32))
        if self.warmup_steps:
            ramp = (self.base_lr * (step + 1.0) / self.warmup_steps if self.warmup_lr is None
                    else tf.constant(self.warmup_lr, tf.float32))
            lr = tf.where(step < self.warmup_steps, ramp, lr)
        return lr

    def get_config(self):
        # plateau_drops is training state (checkpointed by the loop), not configuration.
        return {"base_lr": self.base_lr, "schedule": self.schedule,
                "boundaries": list(self.boundaries), "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "warmup_lr": self.warmup_lr}


def make_schedule(cfg, recipe, steps_per_epoch, total_steps, plateau_drops=None):
    """The run's `LearningRate`, in iterations, from its config and recipe.

    Without explicit boundaries, a run shorter or longer than the recipe's keeps the recipe's
    boundaries at the same fractions of the run (CIFAR's 32k and 48k of 64k become 50% and 75%),
    so budgeted runs still see both drops. Only the step schedule has boundaries.
    """
    kind = cfg.lr_schedule or recipe.lr_schedule
    step_bounds = ()
    if kind == "step":
        step_bounds = _step_boundaries(cfg, recipe, steps_per_epoch, total_steps)
    warmup_epochs = cfg.warmup_epochs or recipe.warmup_epochs
    warmup = int(round(warmup_epochs * steps_per_epoch)) or recipe.warmup_steps
    warmup_lr = recipe.warmup_lr if not cfg.warmup_epochs else cfg.warmup_lr
    return LearningRate(cfg.lr if cfg.lr else recipe.default_lr(cfg.batch_size), kind,
                        step_bounds, total_steps, warmup, warmup_lr, plateau_drops)


def _step_boundaries(cfg, recipe, steps_per_epoch, total_steps):
    unit = cfg.boundaries_in or ("epochs" if cfg.lr_boundaries else recipe.boundaries_in)
    if cfg.lr_boundaries is not None:
        bounds = cfg.lr_boundaries
    else:
        recipe_total = recipe.total_steps if recipe.boundaries_in == "steps" else recipe.epochs
        run_total = (total_steps if recipe.boundaries_in == "steps"
                     else total_steps / steps_per_epoch)
        bounds = [b * run_total / recipe_total for b in recipe.boundaries]
        unit = recipe.boundaries_in
    return [int(round(b * (steps_per_epoch if unit == "epochs" else 1))) for b in bounds]


def decayed_kernels(model):
    """The conv and dense kernels of `model`: the weights the papers decay.

    BN gammas/betas and biases are left out, as in the papers' Caffe models where those layers
    had decay_mult 0 (and as Goyal et al. 2017, section 5.1, recommend).
    """
    kernels = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernels.append(layer.kernel)
    return kernels


def weight_decay_loss(kernels, weight_decay):
    """`0.5 * wd * sum(||w||^2)`: its gradient is `wd * w`, exactly what Caffe's `weight_decay`
    (used by both papers) and PyTorch's SGD(weight_decay=wd) add to the gradient.

    Applied once: the optimizer gets no weight_decay of its own. (Keras's L2(wd) regulariser
    would add wd * sum(w^2), i.e. twice this decay.)
    """
    if not weight_decay or not kernels:
        return tf.constant(0.0, tf.float32)
    return 0.5 * weight_decay * tf.add_n(
        [tf.reduce_sum(tf.square(tf.cast(k, tf.float32))) for k in kernels])
