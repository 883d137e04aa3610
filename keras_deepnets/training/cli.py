"""The absl flags and `main` shared by scripts/train_imagenet.py and scripts/train_cifar.py, so
the scripts stay three lines and a notebook can call `training.train(...)` with the same names.

A user's mistake ends the script with one line, `error: ...`, and exit status 1 (no traceback).
"""

import sys

from absl import flags, logging

from keras_deepnets import registry
from keras_deepnets.training.actions import TrainingDiverged
from keras_deepnets.training.config import TrainConfig
from keras_deepnets.training.evaluate import evaluate
from keras_deepnets.training.loop import train
from keras_deepnets.training.recipes import RECIPES, SCHEDULES
from keras_deepnets.training.strategy import PRECISIONS, STRATEGIES, ConfigError, WorkerLost

FLAGS = flags.FLAGS
_SCRIPT = {"family": None}


def _define_model_flags(model):
    """The model and where its weights start from."""
    flags.DEFINE_string("model", model, "A registry name (keras_deepnets.list_models()).")
    flags.DEFINE_string("shortcut", None, "ResNet shortcut option A, B or C (paper, sec. 3.3).")
    flags.DEFINE_string("init_weights", None, "Fine-tune from these weights: a tag of published "
                        "weights (imagenet, IMAGENET1K_V2, DEFAULT, hf://timm/...; downloaded "
                        "and cached), a torchvision / timm checkpoint (.pth, .safetensors, "
                        ".npz; converted) or a .weights.h5 of the same network. A fresh "
                        "classifier for the data's classes; the data preprocessed and "
                        "evaluated as the weights expect.")
    flags.DEFINE_list("freeze", [], "With --init_weights: stages kept as loaded (weights and "
                      "BN statistics), e.g. conv1,conv2 (ResNet) or block1,block2 (VGG).")
    flags.DEFINE_bool("aux_classifiers", False, "GoogLeNet: train with its two auxiliary "
                      "classifiers (loss main + 0.3 x each); evaluated and exported without.")


def define_flags(model, family):
    """Defines the flags; `model` and `family` set the script's default model and recipe."""
    d = TrainConfig()
    _define_model_flags(model)
    flags.DEFINE_string("data", None, "TFDS name, folder with train/ and val|validation|test/, or "
                        "a TFRecord pattern. Without it: synthetic data.")
    flags.DEFINE_string("val_data", None, "Validation data (with a TFRecord --data).")
    flags.DEFINE_string("data_dir", None, "TFDS data_dir.")
    flags.DEFINE_bool("download", d.download, "Download and prepare a TFDS --data missing from "
                      "--data_dir, as tfds.load does (--nodownload: fail instead).")
    flags.DEFINE_bool("use_synthetic_data", False, "Train on synthetic data of the right shape.")
    flags.DEFINE_integer("synthetic_examples", d.synthetic_examples, "Synthetic images per epoch.")
    flags.DEFINE_integer("max_examples", None, "Use only this many training images.")
    flags.DEFINE_integer("max_val_examples", None, "Use only this many validation images.")
    flags.DEFINE_integer("validation_split", 0, "Hold out N training images as validation "
                         "(the ResNet paper's 45k/5k CIFAR split).")
    flags.DEFINE_integer("image_size", None, "Crop size; default the model's (224 or 32).")
    flags.DEFINE_integer("batch_size", None, "Global batch size; default the recipe's "
                         f"({'128' if family == 'cifar' else '256'}).")
    flags.DEFINE_integer("epochs", None, "Epochs; default the recipe's.")
    flags.DEFINE_integer("train_steps", None, "Stop after this many iterations (smoke runs).")
    flags.DEFINE_float("lr", None, "Learning rate; default "
                       + ("0.1 at batch 128" if family == "cifar" else "0.1 x batch/256") + ".")
    flags.DEFINE_float("momentum", None, "SGD momentum (0.9).")
    flags.DEFINE_float("weight_decay", None, "L2 weight decay on conv/dense kernels (1e-4).")
    flags.DEFINE_enum("lr_schedule", None, SCHEDULES, "Default the recipe's step schedule.")
    flags.DEFINE_list("lr_boundaries", None, "Divide lr by 10 at these epochs (or steps with "
                      "--boundaries_in=steps).")
    flags.DEFINE_enum("boundaries_in", None, ["epochs", "steps"], "Unit of --lr_boundaries.")
    flags.DEFINE_float("warmup_epochs", 0.0, "Linear warm-up (Goyal et al. 2017).")
    flags.DEFINE_float("warmup_lr", None, "With --warmup_epochs: a constant lr during the warm-up "
                       "instead of the ramp (the paper's ResNet-110 uses 0.01).")
    flags.DEFINE_enum("recipe", "paper", RECIPES, "The paper's recipe, or 'fast' (CIFAR "
                      "models: time to accuracy; see docs/training.md). Flags set below win.")
    flags.DEFINE_float("label_smoothing", None, "Label smoothing; default the recipe's (0).")
    flags.DEFINE_bool("nesterov", None, "Nesterov momentum; default the recipe's (paper: off).")
    flags.DEFINE_float("ema_decay", None, "Evaluate, save and export a moving average of the "
                       "weights with this decay per step; 0 for none; default the recipe's.")
    flags.DEFINE_enum("distribution_strategy", "auto", STRATEGIES, "tf.distribute strategy.")
    flags.DEFINE_integer("num_gpus", None, "GPUs to use (default all).")
    flags.DEFINE_integer("num_cpu_devices", None, "Split the CPU into N logical devices "
                         "(MirroredStrategy without GPUs).")
    flags.DEFINE_string("tpu", None, "TPU address for --distribution_strategy=tpu.")
    flags.DEFINE_float("collective_timeout", None, "Multi-worker only: seconds a worker waits "
                       "for its peers before ending with a WorkerLost error (default "
                       "$KERAS_DEEPNETS_COLLECTIVE_TIMEOUT or 600; 0: wait forever).")
    flags.DEFINE_enum("mixed_precision", d.mixed_precision, PRECISIONS,
                      "auto: float16 on GPUs, bfloat16 on CPUs/TPUs.")
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the forward/backward pass.")
    flags.DEFINE_integer("steps_per_loop", 1, "Training steps per tf.function call: fewer host "
                         "round trips (GPUs, small models); records stay per step.")
    flags.DEFINE_bool("sync_bn", False, "BatchNormalization over the global batch.")
    flags.DEFINE_string("model_dir", None, "Backups, checkpoints, logs; default runs/<model>.")
    flags.DEFINE_string("export_dir", None, "Default saved_models/<model>; '' to skip.")
    flags.DEFINE_integer("backup_steps", d.backup_steps, "Backup every N steps (and each epoch).")
    flags.DEFINE_integer("eval_every", 1, "Evaluate every N epochs.")
    flags.DEFINE_bool("eval_flip", False, "Evaluate on each image and its horizontal mirror "
                      "(the two softmax outputs averaged; one more forward pass); also "
                      "--eval_only, 1 crop.")
    flags.DEFINE_integer("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch.")
    flags.DEFINE_bool("tensorboard", True, "Write TensorBoard logs.")
    flags.DEFINE_integer("profile", 0, "Write a TensorBoard profiler trace of N training steps "
                         "(after 2 warm-up steps) into <model_dir>/tensorboard.")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.DEFINE_bool("eval_only", False, "Only evaluate the trained weights.")
    flags.DEFINE_string("weights", None, "--eval_only: a weights file (default model_dir's best) "
                        "or a tag of published weights (IMAGENET1K_V2, imagenet, hf://...), "
                        "evaluated with their published transform.")
    flags.DEFINE_integer("eval_crops", 1, "1 or 10 crops (--eval_only).")
    flags.DEFINE_list("eval_scales", None, "Shorter sides to average over (--eval_only).")
    _SCRIPT["family"] = family


def config_from_flags():
    names = [f for f in TrainConfig.__dataclass_fields__ if f in FLAGS]
    return TrainConfig(**{name: FLAGS[name].value for name in names})


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    if not FLAGS["verbosity"].present:  # TF's checkpoint INFO lines would bury the progress
        logging.set_verbosity(logging.WARNING)
    try:
        cfg = config_from_flags()
        if _SCRIPT["family"] == "cifar":
            info = registry.model_info(cfg.model)
            if info.family == "imagenet":  # the digits' LeNet-5 is 32x32 too (--data=digits)
                raise ConfigError(f"train_cifar.py trains the CIFAR models (and LeNet-5 with "
                                  f"--data=digits); {cfg.model!r} is an ImageNet model (use "
                                  f"train_imagenet.py). CIFAR models: "
                                  f"{', '.join(registry.list_models('cifar'))}.")
        if cfg.eval_only:
            result = evaluate(cfg)
            print(f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  on "
                  f"{result['num_examples']} images ({cfg.eval_crops} crop(s), scales "
                  f"{cfg.eval_scales or 'default'})")
        else:
            train(cfg)
    except (ValueError, TrainingDiverged, WorkerLost) as e:  # ConfigError is a ValueError
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("Interrupted; run the same command again to resume from the last backup.")
