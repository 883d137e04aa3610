"""The absl flags and `main` shared by scripts/train_imagenet.py and scripts/train_cifar.py, so
the scripts stay three lines and a notebook can call `training.train(...)` with the same names.

A user's mistake ends the script with one line, `error: ...`, and exit status 1 (no traceback).
"""

import dataclasses
import sys

from absl import flags, logging

from keras_deepnets import registry
from keras_deepnets.training.actions import TrainingDiverged
from keras_deepnets.training.config import TrainConfig, make_config
from keras_deepnets.training.evaluate import evaluate
from keras_deepnets.training.loop import train
from keras_deepnets.training.strategy import ConfigError, WorkerLost

FLAGS = flags.FLAGS
_SCRIPT = {"family": None}


# What the scripts say about the recipe's defaults, per family (a CLI-only wording: the
# config's help is the same for every family).
_FAMILY_HELP = {
    "cifar": {"batch_size": "Global batch size; default the recipe's (128).",
              "lr": "Learning rate; default 0.1 at batch 128."},
    None: {"batch_size": "Global batch size; default the recipe's (256).",
           "lr": "Learning rate; default 0.1 x batch/256."},
}
_DEFINE = {str: flags.DEFINE_string, bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
           float: flags.DEFINE_float, tuple: flags.DEFINE_list}


def define_setting_flag(field, default=None, help_text=None, flag_values=FLAGS):
    """The flag of one TrainConfig field: its name, type, default, help (and choices)."""
    default = field.default if default is None else default
    help_text = help_text or field.metadata["help"]
    if "choices" in field.metadata:
        flags.DEFINE_enum(field.name, default, list(field.metadata["choices"]), help_text,
                          flag_values=flag_values)
        return
    if field.type is tuple and default is not None:  # absl's list flags hold lists: () is []
        default = list(default)
    _DEFINE[field.type](field.name, default, help_text, flag_values=flag_values)


def define_flags(model, family, flag_values=FLAGS):
    """Defines a flag per TrainConfig field, and --config; `model` and `family` set the
    script's default model and the recipe's defaults its help names."""
    family_help = _FAMILY_HELP.get(family, _FAMILY_HELP[None])
    for field in dataclasses.fields(TrainConfig):
        if field.metadata.get("flag") is False:  # a Keras object: train(...) only
            continue
        define_setting_flag(field, model if field.name == "model" else None,
                            family_help.get(field.name), flag_values)
    flags.DEFINE_string("config", None, "Run again the run whose config.json this is (in its "
                        "model_dir); the flags given here change its settings (--model_dir: "
                        "another folder; the same one resumes the run).", flag_values=flag_values)
    _SCRIPT["family"] = family


def config_from_flags(flag_values=FLAGS):
    """The TrainConfig the command line asks for: the flags, or with --config that file's
    settings with the flags given on the command line on top."""
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name in flag_values]
    if "config" in flag_values and flag_values.config:
        given = {name: flag_values[name].value for name in names if flag_values[name].present}
        return make_config(flag_values.config, **given)
    return TrainConfig(**{name: flag_values[name].value for name in names})


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
