"""The papers' experiments at the scale of one machine: plain vs residual, shortcut options,
depth, and VGG's depth, on CIFAR-10 through the training core, with plots and tables.

Example:
    >>> from keras_deepnets import experiments
    >>> experiments.list_experiments()
    ['degradation', 'residual', 'shortcuts', 'depth', 'vgg']
    >>> record = experiments.run_experiment("degradation", data="cifar10", budget=5,
    ...                                     output_dir="/tmp/deg")        # doctest: +SKIP
    >>> record["outputs"]["plot"], record["runs"][0]["final"]              # doctest: +SKIP

Command line: scripts/reproduce.py; time to accuracy (recipe against recipe):
`time_to_accuracy.run` and scripts/time_to_accuracy.py.
"""

from keras_deepnets.experiments.definitions import (EXPERIMENTS, Experiment, Finding, Series,
                                                    get_experiment, list_experiments)
from keras_deepnets.experiments.report import plot, table, write_outputs
from keras_deepnets.experiments import time_to_accuracy
from keras_deepnets.experiments.runner import run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "Finding", "Series", "get_experiment", "list_experiments",
           "run_experiment", "plot", "table", "write_outputs", "time_to_accuracy"]
