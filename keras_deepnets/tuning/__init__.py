"""Depth searches with KerasTuner over the ResNet papers' design space.

    >>> from keras_deepnets import tuning, training
    >>> hm = tuning.CifarResNetHyperModel()                  # depths 20..110, blocks, shortcuts
    >>> tuner = tuning.make_tuner("random", hm, max_trials=5, epochs=2, directory="tuning",
    ...                           train_config=training.TrainConfig(data="/data/cifar10"))
    >>> result = tuning.run_search(tuner)                   # doctest: +SKIP
    >>> result["md"]                                       # tuning/cifar_depth/results.md

`scripts/tune_depth.py` is the command line (single process, or a chief and workers).
"""

from keras_deepnets.tuning.memory import PeakRSS, forget_trial_gradients, free_trial_memory
from keras_deepnets.tuning.results import markdown_table, read_csv, trial_rows, write_results
from keras_deepnets.tuning.space import (CHANNEL_MULTIPLE, CifarResNetHyperModel,
                                         ImageNetResNetHyperModel, ResNetHyperModel,
                                         hypermodel_for, scale_filters)
from keras_deepnets.tuning.tuners import (TUNERS, BayesianOptimization, CoreTrials, Hyperband,
                                          RandomSearch, is_worker, make_tuner)


def run_search(tuner, write=True):
    """Runs (or resumes) the search; then, in the chief or a single process, writes the
    results table and plot. Returns `write_results`'s dict, or None in a worker."""
    tuner.search()
    if is_worker() or not write:
        return None
    return write_results(tuner)


__all__ = ["CifarResNetHyperModel", "ImageNetResNetHyperModel", "ResNetHyperModel",
           "hypermodel_for", "scale_filters", "CHANNEL_MULTIPLE", "make_tuner", "run_search",
           "RandomSearch", "Hyperband", "BayesianOptimization", "CoreTrials", "TUNERS",
           "write_results", "trial_rows", "markdown_table", "read_csv", "PeakRSS",
           "free_trial_memory", "forget_trial_gradients", "is_worker"]
