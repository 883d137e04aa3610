"""`TrainConfig`: every setting of a training run, shared by the scripts, notebooks and tuner.

Fields left at None take the paper's recipe for the model (recipes.py) when the run starts.
"""

import dataclasses
import json
import os
import warnings

from keras_deepnets import registry
from keras_deepnets.models.common import require_tensorflow_backend, variant_names
from keras_deepnets.training import metric_sums, optimizers
from keras_deepnets.training.recipes import RECIPES, SCHEDULES, recipe_for
from keras_deepnets.training.v2_recipe import NAME as V2_NAME, ema_decay_per_step
from keras_deepnets.training.state import MODES
from keras_deepnets.training.strategy import PRECISIONS, STRATEGIES, ConfigError
from keras_deepnets.weights import presets, table


BOUNDARY_UNITS = ("epochs", "steps")  # what --lr_boundaries count in


def setting(default, help, **options):
    """A TrainConfig field with its flag's help text (and `choices` for an enum flag): each
    setting is written once, here, and cli.py makes the flags from these."""
    return dataclasses.field(default=default, metadata={"help": help, **options})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run. Frozen: `make_config` checks what the user set and `resolve`
    fills in the recipe's values, each returning a new object, so what a run records is what
    it ran with."""

    model: str = setting("resnet20", "A registry name (keras_deepnets.list_models()).")
    shortcut: str = setting(None, "ResNet shortcut option A, B or C (paper, sec. 3.3).")
    # GoogLeNet's auxiliary classifiers (section 5); evaluation and export use the network
    # without them.
    aux_classifiers: bool = setting(
        False, "GoogLeNet: train with its two auxiliary classifiers (loss main + 0.3 x each); "
        "evaluated and exported without.")
    init_weights: str = setting(
        None, "Fine-tune from these weights: a tag of published weights (imagenet, "
        "IMAGENET1K_V2, DEFAULT, hf://timm/...; downloaded and cached), a torchvision / timm "
        "checkpoint (.pth, .safetensors, .npz; converted), a .weights.h5 of the same network, "
        "or a preset (a folder kd.save_preset wrote, file://<folder>, "
        "hf://<owner>/<repo>[@<revision>]). A fresh classifier for the data's classes; the "
        "data preprocessed and evaluated as the weights expect.")
    # First parts of layer names: a stage's weights and its BN statistics stay as loaded.
    freeze: tuple = setting(
        (), "With --init_weights: stages kept as loaded (weights and BN statistics), e.g. "
        "conv1,conv2 (ResNet) or block1,block2 (VGG).")
    # Data: None (or use_synthetic_data) trains on synthetic data of the right shape.
    data: str = setting(None, "TFDS name, folder with train/ and val|validation|test/, or a "
                        "TFRecord pattern. Without it: synthetic data.")
    val_data: str = setting(None, "Validation data (with a TFRecord --data).")
    data_dir: str = setting(None, "TFDS data_dir.")
    download: bool = setting(True, "Download and prepare a TFDS --data missing from "
                             "--data_dir, as tfds.load does (--nodownload: fail instead).")
    use_synthetic_data: bool = setting(False, "Train on synthetic data of the right shape.")
    synthetic_examples: int = setting(1024, "Synthetic images per epoch.")
    # The same subset every epoch (folders: a random one chosen by seed; TFDS and TFRecords:
    # the first N).
    max_examples: int = setting(None, "Use only this many training images.")
    max_val_examples: int = setting(None, "Use only this many validation images.")
    validation_split: int = setting(0, "Hold out N training images as validation (the ResNet "
                                    "paper's 45k/5k CIFAR split).")
    image_size: int = setting(None, "Crop size; default the model's (224 or 32).")
    # The fields below left at None take the recipe's values (recipes.py) in `resolve`.
    recipe: str = setting("paper", "The paper's recipe, 'fast' (CIFAR models: time to "
                          "accuracy) or 'torchvision_v2' (ImageNet ResNets: torchvision's V2 "
                          "recipe); see docs/training.md. Flags set below win.",
                          choices=RECIPES)
    batch_size: int = setting(None, "Global batch size (over all replicas); default the "
                              "recipe's.")
    epochs: int = setting(None, "Epochs; default the recipe's.")
    train_steps: int = setting(None, "Stop after this many iterations (smoke runs).")
    lr: float = setting(None, "Learning rate; default the recipe's lr x batch / the recipe's "
                        "batch.")
    momentum: float = setting(None, "SGD momentum (0.9).")
    weight_decay: float = setting(None, "L2 weight decay on conv/dense kernels (1e-4).")
    lr_schedule: str = setting(None, "Default the recipe's step schedule.", choices=SCHEDULES)
    lr_boundaries: tuple = setting(None, "Divide lr by 10 at these epochs (or steps with "
                                   "--boundaries_in=steps).")
    boundaries_in: str = setting(None, "Unit of --lr_boundaries.", choices=BOUNDARY_UNITS)
    warmup_epochs: float = setting(0.0, "Linear warm-up (Goyal et al. 2017).")
    warmup_lr: float = setting(None, "With --warmup_epochs: a constant lr during the warm-up "
                               "instead of the ramp (the paper's ResNet-110 uses 0.01).")
    label_smoothing: float = setting(None, "Label smoothing; default the recipe's (0).")
    nesterov: bool = setting(None, "Nesterov momentum; default the recipe's (paper: off).")
    ema_decay: float = setting(None, "Evaluate, save and export a moving average of the "
                               "weights with this decay per step; 0 for none; default the "
                               "recipe's.")
    # Keras objects: train(optimizer=, loss=, metrics=) take them; the config holds them
    # serialized (keras.saving.serialize_keras_object), so config.json replays them.
    optimizer: dict = setting(
        None, "train(optimizer=...): a keras.optimizers.Optimizer (lr a float or a "
        "LearningRateSchedule) instead of the recipe's SGD and schedule; its own weight decay "
        "applies (the recipe's L2 term only if weight_decay is given).", flag=False)
    loss: dict = setting(None, "train(loss=...): a keras.losses.Loss instead of the "
                         "cross-entropy with label_smoothing.", flag=False)
    metrics: tuple = setting(metric_sums.DEFAULT, "Metrics computed in training and "
                             "evaluation: top1, top5, top<k>, accuracy (train(metrics=) also "
                             "takes keras.metrics.Metric objects).")
    monitor: str = setting(None, "The figure that ranks epochs (best weights, plateau "
                           "schedule, summary), e.g. val_top3 or val_loss; default val_top1 "
                           "(top1 without validation).")
    monitor_mode: str = setting("auto", "Whether the monitored figure should go up (max) or "
                                "down (min); auto: down for a loss.", choices=MODES)
    # Hardware.
    distribution_strategy: str = setting("auto", "tf.distribute strategy.", choices=STRATEGIES)
    num_gpus: int = setting(None, "GPUs to use (default all).")
    num_cpu_devices: int = setting(None, "Split the CPU into N logical devices "
                                   "(MirroredStrategy without GPUs).")
    tpu: str = setting(None, "TPU address for --distribution_strategy=tpu.")
    collective_timeout: float = setting(
        None, "Multi-worker only: seconds a worker waits for its peers before ending with a "
        "WorkerLost error (default $KERAS_DEEPNETS_COLLECTIVE_TIMEOUT or 600; 0: wait forever).")
    mixed_precision: str = setting(
        "float32", "auto: float16 on GPUs, bfloat16 on TPUs and on CPUs with native bfloat16 "
        "(AVX512_BF16, AMX), float32 on other CPUs.", choices=PRECISIONS)
    jit_compile: bool = setting(False, "XLA-compile the forward/backward pass.")
    steps_per_loop: int = setting(1, "Training steps per tf.function call: fewer host round "
                                  "trips (GPUs, small models); records stay per step.")
    sync_bn: bool = setting(False, "BatchNormalization over the global batch.")
    # Outputs.
    model_dir: str = setting(None, "Backups, checkpoints, logs; default runs/<model>.")
    export_dir: str = setting(None, "Default saved_models/<model>; '' to skip.")
    backup_steps: int = setting(500, "Backup every N steps (and each epoch).")
    eval_every: int = setting(1, "Evaluate every N epochs.")
    eval_flip: bool = setting(False, "Evaluate on each image and its horizontal mirror (the "
                              "two softmax outputs averaged; one more forward pass); also "
                              "--eval_only, 1 crop.")
    verbose: int = setting(1, "0 silent, 1 progress bar, 2 one line per epoch.")
    tensorboard: bool = setting(True, "Write TensorBoard logs.")
    profile: int = setting(0, "Write a TensorBoard profiler trace of N training steps (after 2 "
                           "warm-up steps) into <model_dir>/tensorboard.")
    seed: int = setting(0, "Random seed.")
    # Evaluation only.
    eval_only: bool = setting(False, "Only evaluate the trained weights.")
    weights: str = setting(None, "--eval_only: a weights file (default model_dir's best), a "
                           "tag of published weights (IMAGENET1K_V2, imagenet, hf://...) or a "
                           "preset (folder, file://, hf://owner/repo[@revision]), evaluated "
                           "with their published transform.")
    eval_crops: int = setting(1, "1 or 10 crops (--eval_only).")
    eval_scales: tuple = setting(None, "Shorter sides to average over (--eval_only).")

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


def _check_preset(cfg, field):
    """The local preset `field` (init_weights or weights) names, checked (its files' SHA-256s
    and its architecture against the run's model) before anything is built; None when the
    field names no local preset (a Hub preset is checked when it is downloaded)."""
    value = getattr(cfg, field)
    try:
        folder = None if table.is_tag(value) else presets.find(value)
        if folder is None:
            return None
        facts = presets.read(folder, value)
    except presets.PresetError as e:
        raise ConfigError(f"{field}: {e}") from None
    if facts["model"] not in variant_names(cfg.model):
        raise ConfigError(f"{field}={value!r} is a preset of {facts['model']}, not of "
                          f"model={cfg.model!r}; pass --model={facts['model']}.")
    return folder


def _check_fine_tuning_fields(cfg):
    if (cfg.init_weights is not None and not table.is_tag(cfg.init_weights)
            and not os.path.isfile(os.path.expanduser(str(cfg.init_weights)))
            and _check_preset(cfg, "init_weights") is None):
        raise ConfigError(f"init_weights={cfg.init_weights!r}: no such file (a torchvision / "
                          "timm checkpoint: .pth, .pt, .safetensors, .npz; or a .weights.h5), "
                          "no preset folder, and not a tag of published weights ('imagenet', "
                          "'IMAGENET1K_V2', 'hf://timm/...': kd.list_weights(model) lists "
                          "them).")
    if cfg.weights is not None:
        _check_preset(cfg, "weights")
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


def _check_counts(cfg):
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
    if cfg.eval_crops not in (1, 10):
        raise ConfigError(f"eval_crops must be 1 or 10; got {cfg.eval_crops!r}.")
    if cfg.validation_split < 0:
        raise ConfigError(f"validation_split must be >= 0; got {cfg.validation_split!r}.")


def _check_optimizer_fields(cfg):
    if cfg.lr is not None and not cfg.lr > 0:
        raise ConfigError(f"lr must be positive; got {cfg.lr!r}.")
    if cfg.warmup_lr is not None and (not cfg.warmup_lr > 0 or not cfg.warmup_epochs):
        raise ConfigError(f"warmup_lr must be positive and goes with warmup_epochs > 0 (the "
                          f"warm-up's length); got warmup_lr={cfg.warmup_lr!r}, warmup_epochs="
                          f"{cfg.warmup_epochs!r}.")
    if cfg.momentum is not None and not 0 <= cfg.momentum < 1:
        raise ConfigError(f"momentum must be in [0, 1); got {cfg.momentum!r}.")
    if cfg.weight_decay is not None and cfg.weight_decay < 0:
        raise ConfigError(f"weight_decay must be >= 0; got {cfg.weight_decay!r}.")
    if cfg.boundaries_in not in (None, *BOUNDARY_UNITS):
        raise ConfigError(f"boundaries_in must be 'epochs' or 'steps'; got {cfg.boundaries_in!r}.")
    if not isinstance(cfg.download, bool):
        raise ConfigError(f"download must be True or False; got {cfg.download!r}.")


# What a user's optimizer holds itself; setting them too is refused.
OPTIMIZER_FIELDS = ("lr", "momentum", "nesterov", "lr_schedule", "lr_boundaries", "warmup_lr")


def _keras_objects(cfg):
    """`cfg` with its Keras objects as settings (serialized), checked."""
    try:
        optimizer = (None if cfg.optimizer is None
                     else optimizers.optimizer_setting(cfg.optimizer))
        loss = None if cfg.loss is None else optimizers.loss_setting(cfg.loss)
        names = _as_tuple(cfg.metrics, str) if isinstance(cfg.metrics, str) else cfg.metrics
        if not isinstance(names, (tuple, list)):
            raise ValueError(f"metrics must be a list of names or keras.metrics.Metric objects; "
                             f"got {type(names).__name__}.")
        metrics = tuple(metric_sums.to_setting(m) for m in names)
        metric_sums.names_of(metrics)  # unknown names, duplicates: before any work
    except ValueError as e:
        raise ConfigError(str(e)) from None
    given = [n for n in OPTIMIZER_FIELDS if getattr(cfg, n) is not None] + (
        ["warmup_epochs"] if cfg.warmup_epochs else [])
    if optimizer is not None and given:
        raise ConfigError(f"optimizer= holds its own learning rate and schedule; do not also "
                          f"set {', '.join(given)}.")
    if loss is not None and cfg.label_smoothing is not None:
        raise ConfigError("loss= holds its own label smoothing; do not also set "
                          "label_smoothing.")
    if cfg.monitor_mode not in MODES:
        raise ConfigError(f"monitor_mode must be one of {', '.join(MODES)}; got "
                          f"{cfg.monitor_mode!r}.")
    return cfg.replace(optimizer=optimizer, loss=loss, metrics=metrics)


def _as_config(config, overrides):
    """A TrainConfig of `config` (a TrainConfig, a dict of fields, or None) with `overrides`
    on top."""
    if config is None:
        config = {}
    elif isinstance(config, TrainConfig):
        config = config.to_dict()
    elif not isinstance(config, dict):
        raise ConfigError(f"config must be a TrainConfig, a dict or the path of a run's "
                          f"config.json; got {type(config).__name__}.")
    unknown = set(config) | set(overrides)
    unknown -= FIELD_NAMES
    if unknown:
        raise ConfigError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
    return TrainConfig(**{**config, **overrides})


def make_config(config=None, **overrides):
    """A checked TrainConfig from a TrainConfig, a dict, the path of a run's config.json, or
    keyword arguments: the user's settings, spelled one way (lower-case model, tuples) and with
    the default folders; the recipe's values are filled in later, by `resolve`."""
    require_tensorflow_backend("The training core (training.train, evaluate, the scripts)",
                               ConfigError)
    path, record = None, None
    if isinstance(config, (str, os.PathLike)):
        path, (record, config) = config, _read_record(config)
    cfg = _as_config(config, overrides)
    if record is not None:
        _warn_if_resolved_differently(path, record, config)
    try:
        registry.model_info(cfg.model)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    cfg = _keras_objects(cfg.replace(model=cfg.model.lower(),
                                     freeze=_as_tuple(cfg.freeze or (), str),
                                     lr_boundaries=_as_tuple(cfg.lr_boundaries, float),
                                     eval_scales=_as_tuple(cfg.eval_scales, int)))
    _check_model_fields(cfg)
    _check_fine_tuning_fields(cfg)
    _check_counts(cfg)
    _check_optimizer_fields(cfg)
    _check_recipe_fields(cfg)
    return cfg.replace(
        model_dir=os.path.join("runs", cfg.model) if cfg.model_dir is None else cfg.model_dir,
        export_dir=(os.path.join("saved_models", cfg.model) if cfg.export_dir is None
                    else cfg.export_dir))


# The fields a recipe fills when the user left them at None.
RECIPE_FIELDS = ("batch_size", "momentum", "weight_decay", "nesterov", "label_smoothing",
                 "ema_decay", "lr_schedule")


def run_recipe(cfg):
    """The `recipes.Recipe` of `cfg`'s model and recipe name."""
    try:
        return recipe_for(cfg.model, registry.model_info(cfg.model).family, cfg.recipe)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _v2_fields(cfg, recipe):
    """What torchvision's V2 recipe fills from the run's length: the weight average keeps its
    time constant in epochs, so its decay follows the run's batch and epochs
    (v2_recipe.ema_decay_per_step); its 5 warm-up epochs must leave some to the cosine."""
    epochs, warmup = cfg.epochs or recipe.epochs, cfg.warmup_epochs or recipe.warmup_epochs
    if warmup >= epochs:
        raise ConfigError(f"The torchvision_v2 recipe warms up for {warmup:g} epochs, which "
                          f"leaves none of the {epochs} epochs to its cosine; give more epochs "
                          f"or warmup_epochs < epochs (e.g. --warmup_epochs=1).")
    if cfg.ema_decay is not None:
        return {}
    return {"ema_decay": ema_decay_per_step(batch_size=cfg.batch_size or recipe.batch_size,
                                            epochs=epochs)}


def resolve(cfg):
    """The run's settings, the one place they are decided: the recipe's values where `cfg`
    (a `make_config` result) has None, then what follows from them (lr = the recipe's lr x
    batch / the recipe's batch, Goyal et al.'s linear scaling).

    Idempotent, `resolve(resolve(c)) == resolve(c)`, so a resolved config given back to
    `train` runs the same (its lr is explicit and is not scaled again). Warm-up and the lr
    boundaries stay as given: they become steps only once the run's length is known
    (`recipes.make_schedule`)."""
    recipe = run_recipe(cfg)
    filled = {name: getattr(recipe, name) for name in RECIPE_FIELDS
              if getattr(cfg, name) is None}
    if cfg.optimizer is not None:  # the optimizer's own decay, lr and schedule apply
        filled = {name: value for name, value in filled.items()
                  if name not in ("momentum", "nesterov", "lr_schedule")}
        filled.update(weight_decay=cfg.weight_decay or 0.0)
        return cfg.replace(**filled)
    if recipe.name == V2_NAME:
        filled.update(_v2_fields(cfg, recipe))
    resolved = cfg.replace(**filled)
    return resolved.replace(lr=cfg.lr or recipe.default_lr(resolved.batch_size))


FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(TrainConfig))
CONFIG_FILE = "config.json"


def config_record(requested, resolved):
    """What a run writes to <model_dir>/config.json: the settings as the user gave them
    (`requested`, which a replay starts from) and as the run used them (`resolved`)."""
    return {"requested": requested.to_dict(), "resolved": resolved.to_dict()}


def _read_record(path):
    """A run's config.json (or a JSON object of fields), checked: the dict it holds and the
    settings it requested."""
    accepted = ("the config.json a run writes in its model_dir, or a JSON object of "
                "TrainConfig fields")
    try:
        with open(os.path.expanduser(str(path))) as f:
            record = json.load(f)
    except OSError as e:
        raise ConfigError(f"config {str(path)!r}: cannot read it ({e.strerror or e}); it takes "
                          f"{accepted}.") from None
    except ValueError as e:
        raise ConfigError(f"config {str(path)!r} is not JSON ({e}); it takes {accepted}.") \
            from None
    settings = record.get("requested", record) if isinstance(record, dict) else None
    if not isinstance(settings, dict):
        raise ConfigError(f"config {str(path)!r} holds no settings; it takes {accepted}.")
    unknown = sorted(set(settings) - FIELD_NAMES)
    if unknown:
        raise ConfigError(f"config {str(path)!r}: unknown field(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(sorted(FIELD_NAMES))}.")
    return record, settings


def load_config(path):
    """The settings a run's config.json recorded as requested (a dict of TrainConfig fields),
    to run it again: with the same package `resolve` gives the same resolved settings, and a
    changed setting (a flag, a keyword) is resolved as in a new run (a larger batch scales the
    recipe's lr). `resolved_differently` says where another version of the package differs."""
    return _read_record(path)[1]


class ReplayWarning(UserWarning):
    """A replayed run's request resolves differently in this version of the package."""


def resolved_differently(record, settings):
    """{field: (recorded, now)} for the settings a run's config.json `record` holds as
    resolved that this package resolves differently from its requested `settings` (a recipe's
    value or the lr scaling changed between versions); {} when they agree or the file records
    no `resolved`."""
    recorded = record.get("resolved")
    if "requested" not in record or not isinstance(recorded, dict):
        return {}
    # Through JSON, as the file was written: tuples become lists on both sides.
    now = json.loads(json.dumps(resolve(make_config(settings)).to_dict()))
    return {name: (recorded[name], value) for name, value in now.items()
            if name in recorded and recorded[name] != value}


def _warn_if_resolved_differently(path, record, settings):
    """A `ReplayWarning` naming each setting that a replay of `path` will not run as recorded."""
    changed = resolved_differently(record, settings)
    if changed:
        listed = "; ".join(f"{name} recorded {old!r}, now {new!r}"
                           for name, (old, new) in sorted(changed.items()))
        warnings.warn(f"config {str(path)!r}: this version of keras_deepnets resolves the "
                      f"recorded request differently ({listed}). The replay uses the new "
                      f"values; give the recorded ones as flags (or keywords) to run it as it "
                      f"ran.", ReplayWarning, stacklevel=3)
