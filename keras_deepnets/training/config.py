"""`TrainConfig`: every setting of a training run, shared by the scripts, notebooks and tuner.

Fields left at None take the paper's recipe for the model (recipes.py) when the run starts.
"""

import dataclasses
import os

from keras_deepnets import registry
from keras_deepnets.models.common import require_tensorflow_backend, variant_names
from keras_deepnets.training.recipes import RECIPES
from keras_deepnets.training.strategy import ConfigError
from keras_deepnets.weights import table


@dataclasses.dataclass
class TrainConfig:
    model: str = "resnet20"
    shortcut: str = None  # "A", "B", "C"; None: the registry's default
    # GoogLeNet's auxiliary classifiers (section 5): trained with main + 0.3 x each auxiliary
    # loss; evaluation and export use the network without them
    aux_classifiers: bool = False
    # Fine-tuning: start from these weights (a torchvision / timm checkpoint, converted, with a
    # fresh classifier for the data's classes; or a .weights.h5 / .keras of the same network);
    # the data's preprocessing switches to what they expect ("torch" for torchvision's)
    init_weights: str = None
    # stages whose weights (and BN statistics) stay as loaded: first parts of layer names, e.g.
    # ("conv1", "conv2") for a ResNet's stem and first stage, ("block1",) for VGG's
    freeze: tuple = ()
    # Data: a TFDS name, a folder with train/ and val|validation|test/, or a TFRecord glob
    # (then val_data). None (or use_synthetic_data) trains on synthetic data of the right shape.
    data: str = None
    val_data: str = None
    data_dir: str = None
    download: bool = True  # a TFDS name missing from data_dir is downloaded (as tfds.load)
    use_synthetic_data: bool = False
    synthetic_examples: int = 1024
    max_examples: int = None  # train on a subset of N images, the same every epoch (folders: a
    # random one chosen by seed; TFDS and TFRecords: the first N)
    max_val_examples: int = None
    validation_split: int = 0  # hold out N training images as validation (CIFAR's 45k/5k)
    image_size: int = None  # default: the model's input size
    # The recipe: "paper" (the paper's, the default) or "fast" (time to accuracy, CIFAR models);
    # the fields below left at None take the recipe's values (see recipes.py).
    recipe: str = "paper"
    batch_size: int = None  # global, over all replicas
    epochs: int = None
    train_steps: int = None  # stop after this many iterations in all (smoke runs)
    lr: float = None  # default: the recipe's lr x batch / recipe batch (0.1 x batch/256 ImageNet)
    momentum: float = None
    weight_decay: float = None
    lr_schedule: str = None  # step | cosine | constant | plateau
    lr_boundaries: tuple = None  # when lr divides by 10 (step), in `boundaries_in` units
    boundaries_in: str = None  # "epochs" or "steps"
    warmup_epochs: float = 0.0  # linear warm-up (Goyal et al. 2017), e.g. 5 for batch 8k
    warmup_lr: float = None  # with warmup_epochs: a constant warm-up lr instead (ResNet-110's 0.01)
    label_smoothing: float = None
    nesterov: bool = None  # Nesterov momentum (Sutskever et al. 2013)
    ema_decay: float = None  # evaluate/save/export a moving average of the weights; 0: none
    # Hardware.
    distribution_strategy: str = "auto"
    num_gpus: int = None
    num_cpu_devices: int = None  # logical CPU devices for MirroredStrategy without GPUs
    tpu: str = None
    collective_timeout: float = None  # multi-worker: seconds to wait for a peer (strategy.py)
    mixed_precision: str = "float32"  # auto | float32 | float16 | bfloat16
    jit_compile: bool = False
    steps_per_loop: int = 1  # training steps per tf.function call (one host sync per loop)
    sync_bn: bool = False
    # Outputs.
    model_dir: str = None  # default runs/<model>
    export_dir: str = None  # default saved_models/<model>; "" to skip the export
    backup_steps: int = 500  # also at every epoch end
    eval_every: int = 1  # epochs; 0: no validation
    eval_flip: bool = False  # score each image and its mirror (averaged softmax); --eval_only too
    verbose: int = 1  # 0 silent, 1 progress bar, 2 one line per epoch
    tensorboard: bool = True
    profile: int = 0  # write a TensorBoard profiler trace of this many training steps
    seed: int = 0
    # Evaluation only.
    eval_only: bool = False
    weights: str = None  # eval_only: a .weights.h5/.keras file; default model_dir's best
    eval_crops: int = 1
    eval_scales: tuple = None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)


def _positive(name, value, allow_none=True, integer=True):
    if value is None and allow_none:
        return
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive {'integer' if integer else 'number'}; "
                          f"got {value!r}.")


def _as_tuple(value, cast):
    if value is None or isinstance(value, (tuple, list)):
        return None if value is None else tuple(cast(v) for v in value)
    return tuple(cast(v) for v in str(value).replace(" ", "").split(",") if v)


def _check_fine_tuning_fields(cfg):
    if (cfg.init_weights is not None and not table.is_tag(cfg.init_weights)
            and not os.path.isfile(os.path.expanduser(str(cfg.init_weights)))):
        raise ConfigError(f"init_weights={cfg.init_weights!r}: no such file (a torchvision / "
                          "timm checkpoint: .pth, .pt, .safetensors, .npz; or a .weights.h5) "
                          "and not a tag of published weights ('imagenet', 'IMAGENET1K_V2', "
                          "'hf://timm/...': kd.list_weights(model) lists them).")
    if table.is_tag(cfg.init_weights):
        try:  # an unknown tag fails here, before anything is built or downloaded
            table.resolve(variant_names(cfg.model), cfg.init_weights)
        except table.WeightsError as e:
            raise ConfigError(f"init_weights: {e}") from None
    if cfg.freeze and cfg.init_weights is None:
        raise ConfigError(f"freeze={list(cfg.freeze)} keeps stages as loaded: it needs "
                          "init_weights.")


def _check_model_fields(cfg):
    if not isinstance(cfg.aux_classifiers, bool):
        raise ConfigError(f"aux_classifiers must be True or False; got {cfg.aux_classifiers!r}.")
    if cfg.aux_classifiers and not cfg.model.startswith("googlenet"):
        raise ConfigError(f"aux_classifiers is for GoogLeNet (googlenet, googlenet_torchvision); "
                          f"{cfg.model} has none.")


def _check_recipe_fields(cfg):
    if cfg.recipe not in RECIPES:
        raise ConfigError(f"recipe must be one of {', '.join(RECIPES)}; got {cfg.recipe!r}.")
    if cfg.label_smoothing is not None and not 0 <= cfg.label_smoothing < 1:
        raise ConfigError(f"label_smoothing must be in [0, 1); got {cfg.label_smoothing!r}.")
    if cfg.ema_decay is not None and not 0 <= cfg.ema_decay < 1:
        raise ConfigError(f"ema_decay must be in [0, 1) (0: no moving average of the weights); "
                          f"got {cfg.ema_decay!r}.")
    if cfg.nesterov not in (None, True, False):
        raise ConfigError(f"nesterov must be True or False; got {cfg.nesterov!r}.")


def make_config(config=None, **overrides):
    """A checked TrainConfig from a TrainConfig, a dict, or keyword arguments."""
    require_tensorflow_backend("The training core (training.train, evaluate, the scripts)",
                               ConfigError)
    if config is None:
        config = TrainConfig()
    elif isinstance(config, dict):
        config = TrainConfig(**config) if not overrides else TrainConfig(**{**config, **overrides})
        overrides = {}
    elif not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig or a dict; got {type(config).__name__}.")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
    cfg = config.replace(**overrides)
    try:
        registry.model_info(cfg.model)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    cfg.model = cfg.model.lower()
    _check_model_fields(cfg)
    cfg.freeze = _as_tuple(cfg.freeze or (), str)
    _check_fine_tuning_fields(cfg)
    cfg.lr_boundaries = _as_tuple(cfg.lr_boundaries, float)
    cfg.eval_scales = _as_tuple(cfg.eval_scales, int)
    for name in ("batch_size", "epochs", "train_steps", "max_examples", "max_val_examples",
                 "image_size", "synthetic_examples", "steps_per_loop"):
        _positive(name, getattr(cfg, name))
    if not isinstance(cfg.profile, int) or isinstance(cfg.profile, bool) or cfg.profile < 0:
        raise ConfigError(
            f"profile must be a number of steps >= 0 (0: no trace); got {cfg.profile!r}.")
    if not isinstance(cfg.eval_every, int) or cfg.eval_every < 0:
        raise ConfigError(f"eval_every must be >= 0 (0: no validation); got {cfg.eval_every!r}.")
    if not isinstance(cfg.backup_steps, int) or cfg.backup_steps < 0:
        raise ConfigError(
            f"backup_steps must be >= 0 (0: only at epoch ends); got {cfg.backup_steps!r}.")
    for name in ("lr", "momentum"):
        if getattr(cfg, name) is not None and not getattr(cfg, name) > 0 and name == "lr":
            raise ConfigError(f"lr must be positive; got {cfg.lr!r}.")
    if cfg.warmup_lr is not None and (not cfg.warmup_lr > 0 or not cfg.warmup_epochs):
        raise ConfigError(f"warmup_lr must be positive and goes with warmup_epochs > 0 (the "
                          f"warm-up's length); got warmup_lr={cfg.warmup_lr!r}, warmup_epochs="
                          f"{cfg.warmup_epochs!r}.")
    if cfg.momentum is not None and not 0 <= cfg.momentum < 1:
        raise ConfigError(f"momentum must be in [0, 1); got {cfg.momentum!r}.")
    if cfg.weight_decay is not None and cfg.weight_decay < 0:
        raise ConfigError(f"weight_decay must be >= 0; got {cfg.weight_decay!r}.")
    _check_recipe_fields(cfg)
    if cfg.boundaries_in not in (None, "epochs", "steps"):
        raise ConfigError(f"boundaries_in must be 'epochs' or 'steps'; got {cfg.boundaries_in!r}.")
    if not isinstance(cfg.download, bool):
        raise ConfigError(f"download must be True or False; got {cfg.download!r}.")
    if cfg.eval_crops not in (1, 10):
        raise ConfigError(f"eval_crops must be 1 or 10; got {cfg.eval_crops!r}.")
    if cfg.validation_split < 0:
        raise ConfigError(f"validation_split must be >= 0; got {cfg.validation_split!r}.")
    if cfg.model_dir is None:
        cfg.model_dir = os.path.join("runs", cfg.model)
    if cfg.export_dir is None:
        cfg.export_dir = os.path.join("saved_models", cfg.model)
    return cfg
