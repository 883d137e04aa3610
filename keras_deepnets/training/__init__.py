"""The training core shared by scripts/train_imagenet.py, scripts/train_cifar.py, the depth
search (KerasTuner) and notebooks.

Example:
    >>> from keras_deepnets import training
    >>> result = training.train(model="resnet20", epochs=1, use_synthetic_data=True,
    ...                         model_dir="/tmp/smoke", export_dir="")   # doctest: +SKIP
    >>> result.history[-1]["loss"], result.curves_png                     # doctest: +SKIP
"""

from keras_deepnets.training.config import TrainConfig, make_config
from keras_deepnets.training.evaluate import evaluate
from keras_deepnets.training.actions import TrainingDiverged
from keras_deepnets.training.building import set_sync_bn
from keras_deepnets.training.loop import plan_run, run_epochs, train
from keras_deepnets.training.run import RunSpec, TrainingRun, TrainResult
from keras_deepnets.training.optimizers import SGD
from keras_deepnets.training.metric_sums import from_name as metric_from_name
from keras_deepnets.training.state import TrainState, monitor_mode
from keras_deepnets.training.steps import StepFunctions
from keras_deepnets.training.recipes import (CIFAR, IMAGENET, VGG_IMAGENET, LearningRate, Recipe,
                                             decayed_kernels, recipe_for, weight_decay_loss)
from keras_deepnets.training.strategy import (ConfigError, WorkerLost, configure_cpu_devices,
                                              make_strategy, resolve_precision,
                                              worker_failure_guard)

__all__ = ["TrainConfig", "make_config", "train", "evaluate", "TrainResult", "TrainingDiverged",
           "WorkerLost", "worker_failure_guard", "ConfigError", "make_strategy",
           "configure_cpu_devices", "resolve_precision",
           "LearningRate", "Recipe", "recipe_for", "CIFAR", "IMAGENET", "VGG_IMAGENET",
           "decayed_kernels", "weight_decay_loss", "set_sync_bn", "StepFunctions", "TrainState",
           "SGD", "TrainingRun", "RunSpec", "plan_run", "run_epochs", "metric_from_name",
           "monitor_mode"]
