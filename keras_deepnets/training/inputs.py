"""The training core's side of the input pipeline: which keras_deepnets.data call to make.

Everything about reading, decoding, augmenting and sharding images lives in keras_deepnets.data;
this module only picks splits and presets and turns them into the per-worker `dataset_fn`s that
`strategy.distribute_datasets_from_function` wants.
"""

import dataclasses
import os

import tensorflow as tf

from keras_deepnets import data
from keras_deepnets.data import sources
from keras_deepnets.weights import argument, converters, table
from keras_deepnets.weights import presets as model_presets  # `presets` here: the data's
from keras_deepnets.data.digits import is_digits
from keras_deepnets.models.common import variant_names
from keras_deepnets.training import v2_recipe
from keras_deepnets.training.strategy import ConfigError

VAL_SPLITS = ("validation", "val", "test")


@dataclasses.dataclass
class DataPlan:
    """What the loop needs to know about its data before building anything."""

    synthetic: bool
    classes: int
    image_size: int
    train_examples: int
    val_examples: int  # 0: no validation
    train_split: str = "train"
    val_split: str = None
    source: str = "synthetic"
    channels: int = 3  # 1: LeNet-5's greyscale digits


def presets(model_name, family):
    """(training preset, evaluation preset); None for the digits, which come normalised."""
    if family == "digits":
        return None, None
    if family == "cifar":
        return "cifar_train", "cifar_eval"
    return ("vgg_imagenet_train" if model_name.startswith("vgg") else "resnet_imagenet_train",
            "imagenet_eval")


def init_preset(cfg):
    """(folder, facts) of the preset `init_weights` names (a folder, file://, a Hub
    repository holding a preset), else None."""
    folder = model_presets.find(cfg.init_weights)
    return None if folder is None else (folder, model_presets.read(folder, cfg.init_weights))


def init_source(cfg):
    """What `init_weights` names (`argument.resolve_weights`): its row when it is a tag
    ("imagenet", "IMAGENET1K_V2", "hf://timm/..."), a preset (a preset's `hf://` included), a
    checkpoint, a weights file, or nothing."""
    init_weights = cfg.init_weights
    if isinstance(init_weights, str) and not table.is_tag(init_weights):
        init_weights = os.path.expanduser(init_weights)
    return argument.resolve_weights(init_weights, variant_names(cfg.model))


def preprocessing_mode(cfg):
    """What the ImageNet presets normalise with: the `init_weights`' preprocessing (a tag's
    row; a preset's; a torchvision file's, by the weights table; "torch" for other
    PyTorch-side checkpoints), else "caffe", the papers' mean subtraction."""
    row = init_source(cfg).row
    if row is not None:
        return row.preprocessing
    preset = init_preset(cfg)
    if preset is not None:
        return preset[1]["preprocessing"] or "caffe"
    if cfg.init_weights and converters.is_torch_checkpoint(cfg.init_weights):
        row = next(iter(table.rows(file=cfg.init_weights)), None)
        return row.preprocessing if row is not None else "torch"
    return "torch" if cfg.recipe == v2_recipe.NAME else "caffe"


def preset_options(cfg, info, model=None):
    """The ImageNet presets' `mode` for this run: what `model` recorded (a `.keras` file keeps
    it), else `preprocessing_mode(cfg)`."""
    if info.family in ("cifar", "digits"):
        return {}
    return {"mode": getattr(model, "preprocessing", None) or preprocessing_mode(cfg)}


def eval_preset_options(cfg, info, image_size, model=None):
    """The evaluation preset's options: `preset_options`, and for pretrained weights (the
    model's recorded `evaluation`, else the `init_weights` row's) their published transform:
    resize (scaled to this crop size), interpolation, antialias."""
    options = preset_options(cfg, info, model)
    published = getattr(model, "evaluation", None)
    preset = None if published else init_preset(cfg)
    if preset is not None:
        published = preset[1]["evaluation"]
    row = None if published else init_source(cfg).row
    if row is not None and row.resize and row.crop:
        published = {"resize": row.resize, "crop": row.crop,
                     "interpolation": row.interpolation or "bilinear"}
    if not published and cfg.recipe == v2_recipe.NAME:
        published = v2_recipe.eval_transform()
    if options and published:
        options.update(resize_size=int(round(published["resize"] * image_size
                                             / published["crop"])),
                       interpolation=published["interpolation"], antialias=True)
    return options


def keeps_decoded(family):
    """CIFAR images are decoded once per process and augmented by the batch (`load(cache=True)`,
    see keras_deepnets.data.in_memory): on 2 cores the per-image path took 11-19% of the step."""
    return family == "cifar"


def without_autotuning(ds):
    """`ds` with tf.data's autotuning off, for a pass made again and again (every evaluation).
    Why: in TF 2.21, deleting an iterator waits for its autotuning thread's next wake-up, and
    that thread sleeps 10 ms, 20 ms, ... doubling from the iterator's start: a 10,000-image
    evaluation of 5.1 s waited to 10.2 s, one of 2.6 s to 5.1 s (docs/performance.md).
    Off, the iterator goes at once and the pass measured as fast: ResNet-20 on the 10,000
    CIFAR-10 test images 4.7-5.6 s against 4.6-5.5 s, 1,000 ImageNet photos decoded and
    cropped at 1,550-1,640 img/s against 1,350-1,500 (`AUTOTUNE` calls still run in parallel)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def distribute_validation(strategy, dataset_fn):
    """`dataset_fn`'s evaluation dataset as the run reads it, a new iterator per evaluation.
    tf.distribute's per-device iterator runs its own autotuned tf.data pipeline, whatever the
    dataset's options, and deleting it waits for that pipeline's autotuning thread
    (`without_autotuning`). Under OneDeviceStrategy the evaluation reads the dataset itself, a
    plain iterator that goes at once. Mirrored strategies keep tf.distribute's iterator, and its
    wait: the plain per-replica one (InputReplicationMode.PER_REPLICA) makes TF 2.21's
    MirroredStrategy read every later dataset per replica, the training input included."""
    if isinstance(strategy, tf.distribute.OneDeviceStrategy):
        return dataset_fn(tf.distribute.InputContext())
    return strategy.distribute_datasets_from_function(dataset_fn)


def _describe(name, split, data_dir, download=True):
    try:
        return data.describe(name, split=split, data_dir=data_dir, download=download)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise ConfigError(f"Cannot read --data={name!r} (split {split!r}): {e}") from None


def _check_family(cfg, info):
    """LeNet-5 reads the digits and nothing else reads them."""
    digits = is_digits(cfg.data)
    if info.family == "digits" and cfg.data is not None and not digits:
        raise ConfigError(f"{info.name} reads 32x32 greyscale digits: use --data=digits "
                          f"(scikit-learn's scans, no download), not {cfg.data!r}.")
    if digits and info.family != "digits":
        raise ConfigError(f"--data=digits is LeNet-5's greyscale digits (lenet5, lenet5_modern); "
                          f"{info.name} is a {info.family} model.")
    if info.family == "digits" and cfg.image_size not in (None, info.input_size):
        raise ConfigError(f"{info.name} reads the digits at {info.input_size}x"
                          f"{info.input_size}; image_size={cfg.image_size} is not accepted.")


def plan(cfg, info):
    """Describes the run's data, with clear errors for missing or unreadable data."""
    _check_family(cfg, info)
    image_size = cfg.image_size or info.input_size
    channels = 1 if info.family == "digits" else 3
    if cfg.data is None or cfg.use_synthetic_data:
        n = cfg.max_examples or cfg.synthetic_examples
        return DataPlan(True, info.classes, image_size, n, min(n, cfg.max_val_examples or n),
                        source="synthetic", channels=channels)
    train_split, val_split, val_n = "train", None, 0
    if cfg.validation_split:
        # The paper's 45k/5k split (section 4.2): TFDS-style slices of the train split, which
        # keras_deepnets.data takes for TFDS names and folders alike.
        full = _describe(cfg.data, "train", cfg.data_dir, cfg.download)
        if cfg.validation_split >= full.num_examples:
            raise ConfigError(f"validation_split={cfg.validation_split} leaves no training "
                              f"images (the train split has {full.num_examples}).")
        train_split = f"train[{cfg.validation_split}:]"
        val_split = f"train[:{cfg.validation_split}]"
        val_n = _describe(cfg.data, val_split, cfg.data_dir, cfg.download).num_examples
    train = _describe(cfg.data, train_split, cfg.data_dir, cfg.download)
    if not cfg.validation_split:
        for split in ((None,) if cfg.val_data else VAL_SPLITS):
            try:
                val = data.describe(cfg.val_data or cfg.data, split=split, data_dir=cfg.data_dir,
                                    download=cfg.download)
            except (ValueError, FileNotFoundError, OSError):
                continue
            val_split, val_n = split, val.num_examples
            break
    n_train = train.num_examples
    if cfg.max_examples:
        n_train = min(n_train, cfg.max_examples)
    if cfg.max_val_examples:
        val_n = min(val_n, cfg.max_val_examples)
    return DataPlan(False, train.num_classes, image_size, n_train, val_n, train_split, val_split,
                    source=str(train.source), channels=channels)


def train_dataset_fn(cfg, info, plan_, global_batch, epoch, skip_batches, epoch_steps=None):
    """A dataset_fn for training from `epoch` on, its first `skip_batches` steps skipped (a
    resumed run). Epoch e is shuffled with seed + e, so a resumed run sees the same order, and
    repeated, so every worker yields exactly the steps asked for (workers with fewer files
    would otherwise stop early and hang the collectives).

    `epoch_steps=None`: that one epoch, endless. A list (the steps of each epoch from `epoch`
    on): the run's epochs, each cut to its steps and concatenated, so that one iterator serves
    the whole run with the batches, in the order, each epoch's own dataset would give. Why: TF
    2.21 blocks when a distributed iterator is deleted until tf.data's autotuning thread wakes
    (up to 60 s later, CPU idle), which a new iterator per epoch paid at every epoch's end
    (docs/performance.md)."""

    def dataset_fn(input_context):
        per_step = input_context.num_replicas_in_sync // input_context.num_input_pipelines
        make = _epoch_maker(cfg, info, plan_, global_batch, input_context)
        skip = skip_batches * per_step
        if epoch_steps is None:
            ds = make(epoch)
            return ds.skip(skip) if skip else ds
        ds = None
        for i, steps in enumerate(epoch_steps):
            part = make(epoch + i)
            if i == 0 and skip:
                part = part.skip(skip)
            part = part.take(steps * per_step - (skip if i == 0 else 0))
            ds = part if ds is None else ds.concatenate(part)
        # Endless as before (the run never reads past its last step): tf.distribute treats a
        # finite dataset as one that may end in a partial batch, which changes the iterator's
        # elements inside the step's tf.function.
        return ds.repeat()

    return dataset_fn


class TrainInput:
    """A run's training iterator, made once, at its first epoch (`train_dataset_fn` with every
    epoch left): deleting a distributed iterator waits for tf.data's autotuning thread (up to
    60 s in TF 2.21), so a new one per epoch cost that at every epoch's end. Made again only
    if an epoch is asked for out of order (a resumed run's first epoch starts at its step)."""

    def __init__(self, strategy, cfg, info, plan_):
        self.strategy, self.cfg, self.info, self.plan = strategy, cfg, info, plan_
        self._iterator, self._at = None, None  # the iterator and the (epoch, step) it is at

    def iterator(self, epoch, first, epoch_steps):
        """The iterator at `epoch`'s step `first`, for an epoch that reads it to the epoch's
        end; `epoch_steps`: the steps of `epoch` and of each epoch after it."""
        if self._iterator is None or self._at != (epoch, first):
            self._iterator = None  # the old one goes first
            self._iterator = iter(self.strategy.distribute_datasets_from_function(
                train_dataset_fn(self.cfg, self.info, self.plan, self.cfg.batch_size, epoch,
                                 first, epoch_steps)))
        self._at = (epoch + 1, 0)
        return self._iterator

    def close(self):
        self._iterator = self._at = None


def _epoch_maker(cfg, info, plan_, global_batch, input_context):
    """`make(epoch)`: one input pipeline's endless dataset for `epoch` (seed + epoch); with the
    torchvision_v2 recipe, its batches erased and mixed (`v2_recipe.mix_batches`)."""
    make = _plain_epoch_maker(cfg, info, plan_, global_batch, input_context)
    if cfg.recipe != v2_recipe.NAME:
        return make
    pipeline = input_context.input_pipeline_id

    def mixed(epoch):
        seed = (cfg.seed * 1_000_003 + epoch) * 1024 + pipeline  # one stream per epoch, pipeline
        return v2_recipe.mix_batches(make(epoch), plan_.classes, seed)
    return mixed


def _train_preset(cfg, info, plan_):
    """The run's training preset as `data.load`'s keywords."""
    if cfg.recipe == v2_recipe.NAME:  # built: its crop is not the evaluation's size
        return {"preset": v2_recipe.train_preset(plan_.image_size, preprocessing_mode(cfg))}
    return {"preset": presets(info.name, info.family)[0],
            "preset_options": preset_options(cfg, info), "image_size": plan_.image_size}


def _plain_epoch_maker(cfg, info, plan_, global_batch, input_context):
    """`make(epoch)` without batch augmentations. The data source is resolved once here, not
    per epoch (listing a 50k-file folder takes ~0.2 s)."""
    preset = _train_preset(cfg, info, plan_)
    per_replica = input_context.get_per_replica_batch_size(global_batch)
    if plan_.synthetic:
        def make(epoch):
            ds = data.synthetic(plan_.image_size, plan_.classes, batch_size=per_replica,
                                num_examples=plan_.train_examples, seed=cfg.seed + epoch,
                                repeat=True, channels=plan_.channels)
            return ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        return make
    source = cfg.data if is_digits(cfg.data) else sources.resolve(
        cfg.data, plan_.train_split, data_dir=cfg.data_dir, download=cfg.download)

    def make(epoch):
        return data.load(source, plan_.train_split, data_dir=cfg.data_dir, **preset,
                         batch_size=global_batch, shuffle=True, seed=cfg.seed + epoch,
                         input_context=input_context, repeat=True, drop_remainder=True,
                         max_examples=plan_.train_examples,
                         subset_seed=cfg.seed,  # one subset for the run, reshuffled per epoch
                         cache=keeps_decoded(info.family))
    return make


def val_dataset(cfg, info, plan_, batch_size, input_context=None, model=None):
    """One pass over the validation split in order, with the evaluation preset (and `model`'s
    published transform, for pretrained weights), without autotuning (`without_autotuning`):
    what training's evaluation and `--eval_only` read."""
    _, eval_preset = presets(info.name, info.family)
    return without_autotuning(data.load(
        cfg.val_data or cfg.data, plan_.val_split, data_dir=cfg.data_dir, preset=eval_preset,
        preset_options=eval_preset_options(cfg, info, plan_.image_size, model),
        image_size=plan_.image_size, batch_size=batch_size, shuffle=False,
        input_context=input_context, max_examples=plan_.val_examples,
        cache=keeps_decoded(info.family)))


def val_dataset_fn(cfg, info, plan_, global_batch):
    """A dataset_fn for the run's evaluation: `val_dataset`, or synthetic images."""

    def dataset_fn(input_context):
        if not plan_.synthetic:
            return val_dataset(cfg, info, plan_, global_batch, input_context)
        per_replica = input_context.get_per_replica_batch_size(global_batch)
        ds = data.synthetic(plan_.image_size, plan_.classes, batch_size=per_replica,
                            num_examples=plan_.val_examples, seed=cfg.seed + 10_000,
                            channels=plan_.channels)
        return without_autotuning(
            ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id))

    return dataset_fn
