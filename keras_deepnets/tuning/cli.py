"""The absl flags and `main` of scripts/tune_depth.py.

The training scripts' flags (`--data`, `--batch_size`, `--epochs`, `--max_examples`, the
strategy and precision flags ...) are reused as they are for every trial; `--lr`,
`--weight_decay` and `--shortcut`, when given, fix those hyperparameters (`hp.Fixed`), and
`--export_dir` is where `--export_best` writes. A user's mistake ends with one `error:` line.
"""

import os
import sys

from absl import flags

# Not deferred to keep --help fast: importing this module has already run the `tuning` and
# `training` packages' __init__ (keras_tuner, TensorFlow), so a deferred import would save nothing.
from keras_deepnets import training, tuning
from keras_deepnets.training import cli as training_cli

FLAGS = flags.FLAGS


def define_flags():
    training_cli.define_flags(model="resnet20", family=None)
    FLAGS.set_default("distribution_strategy", "mirrored")  # each trial: MirroredStrategy
    FLAGS.set_default("epochs", 2)
    FLAGS.set_default("verbose", 2)
    flags.DEFINE_enum("family", "cifar", ["cifar", "imagenet"], "Which search space.")
    flags.DEFINE_enum("tuner", "random", ["random", "hyperband", "bayesian"], "Search algorithm.")
    flags.DEFINE_integer("max_trials", 10, "Trials (random and Bayesian searches).")
    flags.DEFINE_string("directory", "tuning", "Folder of the search (trials, oracle, results).")
    flags.DEFINE_string("project_name", None, "Sub-folder of --directory; default <family>_depth.")
    flags.DEFINE_list("depths", None, "Depths to search (CIFAR: 6n+2, default 20,32,44,56,110; "
                      "ImageNet: 18,34,50,101,152).")
    flags.DEFINE_list("stage_repeats", None, "ImageNet: search these layouts instead of named "
                      "depths, e.g. 2-2-2-2,3-4-6-3.")
    flags.DEFINE_list("cardinalities", None, "ImageNet: ResNeXt cardinalities to search with "
                      "bottlenecks, e.g. 1,32 (1 is ResNet; default ResNet only).")
    flags.DEFINE_list("group_widths", None, "ImageNet: ResNeXt widths per group, e.g. 4,8.")
    flags.DEFINE_list("blocks", ["basic", "bottleneck"], "Block types to search.")
    flags.DEFINE_list("shortcuts", ["A", "B", "C", "none"], "Shortcut options to search.")
    flags.DEFINE_list("widths", ["0.5", "1", "2"], "Width multipliers to search.")
    flags.DEFINE_list("lr_range", ["0.01", "0.4"], "lr range (at the recipe's batch size).")
    flags.DEFINE_list("weight_decay_range", ["1e-5", "1e-3"], "Weight decay range.")
    flags.DEFINE_multi_string("fixed", [], "hp.Fixed override NAME=VALUE (repeatable), e.g. "
                              "--fixed=depth=56 --fixed=shortcut=B.")
    flags.DEFINE_bool("overwrite", False, "Start afresh (default: resume the project).")
    flags.DEFINE_integer("hyperband_factor", 3, "Hyperband's reduction factor.")
    flags.DEFINE_bool("export_best", False, "After the search, rebuild the best network, train "
                      "it (--export_epochs) and export it to --export_dir.")
    flags.DEFINE_integer("export_epochs", None, "Epochs for --export_best (default --epochs).")
    flags.DEFINE_bool("report_only", False, "Only (re)write the results of an existing search.")


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def fixed_hyperparameters():
    """`--fixed`, `--lr`, `--weight_decay`, `--shortcut` as a kt.HyperParameters of Fixed."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    pairs = []
    for item in FLAGS.fixed:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--fixed needs NAME=VALUE; got {item!r}.")
        pairs.append((name, _value(value)))
    for name in ("lr", "weight_decay", "shortcut"):
        if FLAGS[name].value is not None:
            pairs.append((name, FLAGS[name].value))
    for name, value in pairs:
        if name == "shortcut" and isinstance(value, str):
            value = "none" if value.lower() in ("none", "plain") else value.upper()
        hp.Fixed(name, value)
    return hp


def hypermodel_from_flags():
    kwargs = {"blocks": FLAGS.blocks, "shortcuts": FLAGS.shortcuts,
              "widths": [_number(w, "--widths") for w in FLAGS.widths],
              "lr_range": FLAGS.lr_range, "weight_decay_range": FLAGS.weight_decay_range}
    if FLAGS.depths:
        kwargs["depths"] = [_number(d, "--depths", int) for d in FLAGS.depths]
    if FLAGS.stage_repeats:
        if FLAGS.family != "imagenet":
            raise ValueError("--stage_repeats is for --family=imagenet; CIFAR layouts are "
                             "--depths of the form 6n+2.")
        kwargs["stage_repeats"] = FLAGS.stage_repeats
    for flag, key in (("cardinalities", "cardinalities"), ("group_widths", "group_widths")):
        if FLAGS[flag].value:
            if FLAGS.family != "imagenet":
                raise ValueError(f"--{flag} is for --family=imagenet (ResNeXt's bottlenecks).")
            kwargs[key] = [_number(v, f"--{flag}", int) for v in FLAGS[flag].value]
    return tuning.hypermodel_for(FLAGS.family, **kwargs)


def _number(text, flag, cast=float):
    try:
        return cast(text)
    except ValueError:
        raise ValueError(f"{flag} takes numbers; got {text!r}.") from None


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    try:
        hypermodel = hypermodel_from_flags()
        config = training_cli.config_from_flags().replace(
            model="resnet20" if FLAGS.family == "cifar" else "resnet50", lr=None,
            weight_decay=None, shortcut=None, export_dir="")
        tuner = tuning.make_tuner(
            FLAGS.tuner, hypermodel, train_config=config, max_trials=FLAGS.max_trials,
            directory=FLAGS.directory, project_name=FLAGS.project_name,
            hyperparameters=fixed_hyperparameters(), seed=FLAGS.seed, overwrite=FLAGS.overwrite,
            hyperband_factor=FLAGS.hyperband_factor)
        result = tuning.write_results(tuner) if FLAGS.report_only else tuning.run_search(tuner)
        if result is None:  # a worker: the chief writes the results
            return
        print(f"{len(result['rows'])} trial(s):\n{tuning.markdown_table(result['rows'])}"
              f"Results: {result['csv']}, {result['md']}, {result['png']}", flush=True)
        if FLAGS.export_best:
            export_dir = FLAGS.export_dir or os.path.join(tuner.project_dir, "best_export")
            epochs = {"epochs": FLAGS.export_epochs} if FLAGS.export_epochs else {}
            trained = tuner.train_best(export_dir, **epochs)
            print(f"Best trial retrained ({trained.summary['monitor']} "
                  f"{trained.summary['best_score']:.4f}) and exported to {export_dir}.")
    except (ValueError, training.TrainingDiverged) as e:  # ConfigError, kt's FatalValueError
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("Interrupted; run the same command again to resume the search.")
