"""KerasTuner tuners whose trials run the package's training core, not `model.fit`.

Each trial: the HyperModel builds the network through the generic `ResNet`; `training.train`
trains it with the paper's recipe under the tuner's strategy (MirroredStrategy over this
machine's GPUs by default), in `<directory>/<project>/trial_<id>/train`; the trial reports
`val_accuracy`, the best score of the figure its runs monitor (the config's `monitor`: by
default validation top-1; maximised, or minimised for a loss / monitor_mode="min") and its
cost (parameters, multiply-adds, wall time, peak RSS); then everything it built is freed so
memory stays flat from trial to trial.

Resuming: KerasTuner reloads the oracle from `<directory>/<project>` and re-runs only the trial
that was interrupted, whose own training resumes from its last backup. Distributed tuning works
as in KerasTuner (KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT): the chief
only serves the oracle, each worker runs whole trials.

Example:
    >>> from keras_deepnets import tuning, training
    >>> tuner = tuning.make_tuner("random", tuning.CifarResNetHyperModel(depths=(20, 32)),
    ...                           train_config=training.TrainConfig(data="/data/cifar10", epochs=2),
    ...                           max_trials=4, directory="tuning", project_name="cifar")
    >>> tuning.run_search(tuner)                              # doctest: +SKIP
"""

import functools
import os
import shutil
import socket
import time

import keras_tuner as kt

from keras_deepnets import training
from keras_deepnets.stats import model_stats
from keras_deepnets.tuning.memory import PeakRSS, forget_trial_gradients, free_trial_memory, rss_mb
from keras_deepnets.tuning.space import ResNetHyperModel

OBJECTIVE = "val_accuracy"
RUNS_LOG = "trial_runs.log"  # one line per trial start/end: which tuner ran what, and when


class CoreTrials:
    """Mixin for a KerasTuner `Tuner`: trials go through `keras_deepnets.training.train`.

    Args:
        hypermodel: a `ResNetHyperModel` (CIFAR or ImageNet search space).
        train_config: a `training.TrainConfig` (or dict) with the data and recipe settings
            every trial shares (data, batch size, epochs, max_examples, strategy flags ...).
            `model`, `lr`, `weight_decay`, `model_dir` and `export_dir` are set per trial.
        strategy: a tf.distribute strategy for every trial; default made from the config's
            `distribution_strategy` (the first trial makes it, later trials reuse it).
        **kwargs: the KerasTuner tuner's arguments (max_trials, directory, project_name,
            hyperparameters for `hp.Fixed` overrides, seed, overwrite ...).
    """

    def __init__(self, hypermodel, *, train_config=None, strategy=None, **kwargs):
        if not isinstance(hypermodel, ResNetHyperModel):
            raise ValueError("hypermodel must be a keras_deepnets.tuning ResNet HyperModel "
                             f"(CifarResNetHyperModel or ImageNetResNetHyperModel); got "
                             f"{type(hypermodel).__name__}.")
        self.train_config = training.make_config(train_config)
        if self.train_config.distribution_strategy == "multi_worker":
            raise ValueError("A tuner worker trains each trial on its own machine; use "
                             "distribution_strategy 'mirrored' (or 'auto') and several tuner "
                             "workers (KERASTUNER_TUNER_ID) to use several machines.")
        self._strategy = strategy
        cfg = self.train_config
        direction = training.monitor_mode(cfg.monitor or "val_top1", cfg.monitor_mode)
        kwargs.setdefault("objective", kt.Objective(OBJECTIVE, direction))
        super().__init__(hypermodel=hypermodel, **kwargs)

    # -- the search space without building networks --------------------------------------------

    def _populate_initial_space(self):
        # KerasTuner builds the hypermodel (once per conditional branch) just to discover its
        # hyperparameters; declaring them is enough and costs no Keras model.
        with self.hypermodel.declaring():
            super()._populate_initial_space()

    # -- trials -------------------------------------------------------------------------------

    @property
    def strategy(self):
        if self._strategy is None:
            cfg = self.train_config
            self._strategy = training.make_strategy(cfg.distribution_strategy, cfg.num_gpus,
                                                    cfg.num_cpu_devices, cfg.tpu)
        return self._strategy

    def train_kwargs(self, hp, model_dir, export_dir="", **overrides):
        """The `training.train` keyword arguments of the network `hp` describes: the paper's
        recipe of the same depth, its lr scaled linearly to the batch size (the hp is the lr
        at the recipe's batch: 0.1 at 128 for CIFAR, 0.1 at 256 for ImageNet)."""
        hm, cfg = self.hypermodel, self.train_config
        settings = hm.training_settings(hp)
        name = hm.registry_name(hp)
        recipe = training.recipe_for(name, hm.family)
        batch = cfg.batch_size or recipe.batch_size
        return {"model": name, "model_fn": functools.partial(hm.build, hp),
                "lr": settings["lr"] * batch / recipe.batch_size,
                "weight_decay": settings["weight_decay"], "model_dir": model_dir,
                "export_dir": export_dir, **overrides}

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        model_dir = os.path.join(self.get_trial_dir(trial.trial_id), "train")
        overrides = {}
        if "tuner/epochs" in hp.values:  # Hyperband's budget for this bracket
            overrides["epochs"] = hp.values["tuner/epochs"]
            self._continue_from_parent(hp, model_dir)
        self.log_run("start", trial.trial_id)
        t0 = time.time()
        with PeakRSS() as peak:
            try:
                with forget_trial_gradients():
                    result = self._train(hp, model_dir, overrides)
                    stats = model_stats(result.model)
                    summary = result.summary
                    del result  # the model, optimizer and tf.functions of this trial
            finally:
                free_trial_memory()  # after the registry let go of the traced steps; also
                # after a failed trial
        metrics = {OBJECTIVE: float(summary["best_score"]), "params": float(stats.params),
                   "mult_adds": float(stats.mult_adds), "wall_seconds": time.time() - t0,
                   "peak_rss_mb": peak.mb, "rss_after_mb": rss_mb()}
        self.log_run("end", trial.trial_id, f"{OBJECTIVE}={metrics[OBJECTIVE]:.4f} "
                     f"peak_rss_mb={metrics['peak_rss_mb']:.0f}")
        return metrics

    def _train(self, hp, model_dir, overrides):
        try:
            return training.train(self.train_config, strategy=self.strategy,
                                  **self.train_kwargs(hp, model_dir, **overrides))
        except training.TrainingDiverged as e:  # this trial's hps; the search goes on
            raise kt.errors.FailedTrialError(str(e)) from e
        except training.ConfigError as e:  # the user's setup: every trial would fail
            raise kt.errors.FatalValueError(str(e)) from e

    def _continue_from_parent(self, hp, model_dir):
        """Hyperband's later rounds continue a parent trial: copy its training folder, and the
        core resumes from the parent's last backup up to this round's epochs."""
        parent = hp.values.get("tuner/trial_id")
        if parent and not os.path.exists(model_dir):
            source = os.path.join(self.get_trial_dir(parent), "train")
            if os.path.isdir(source):
                shutil.copytree(source, model_dir)

    def log_run(self, event, trial_id, extra=""):
        """Appends `<time> <event> trial <id> by <tuner id> (<host>:<pid>)` to the project's
        trial_runs.log (shared by all workers), and prints it."""
        line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {event} trial {trial_id} by "
                f"{self.tuner_id} ({socket.gethostname()}:{os.getpid()}) {extra}".rstrip())
        with open(os.path.join(self.project_dir, RUNS_LOG), "a") as f:
            f.write(line + "\n")
        print(line, flush=True)

    # -- models of finished trials ------------------------------------------------------------

    def save_model(self, trial_id, model, step=0):
        """Nothing to do: the training core keeps each trial's best weights."""

    def load_model(self, trial):
        """The trial's network with its best weights (`get_best_models`)."""
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(os.path.join(self.get_trial_dir(trial.trial_id), "train",
                                        "checkpoints", "best.weights.h5"))
        return model

    def train_best(self, export_dir, model_dir=None, **overrides):
        """Rebuilds the best trial's network, trains it with the trial's settings (plus
        `overrides`, e.g. `epochs=`) and exports it to `export_dir`; returns the TrainResult."""
        best = self.oracle.get_best_trials(1)
        if not best:
            raise ValueError(f"No finished trial in {self.project_dir} to export.")
        hp = best[0].hyperparameters
        model_dir = model_dir or os.path.join(self.project_dir, "best")
        return training.train(self.train_config, strategy=self.strategy,
                              **self.train_kwargs(hp, model_dir, export_dir, **overrides))


class RandomSearch(CoreTrials, kt.RandomSearch):
    """Random search over the ResNet design space; trials run the training core."""


class Hyperband(CoreTrials, kt.Hyperband):
    """Hyperband (Li et al. 2018): trials run the training core; later rounds continue from
    their parent's backup."""


class BayesianOptimization(CoreTrials, kt.BayesianOptimization):
    """Gaussian-process Bayesian optimisation; trials run the training core."""


TUNERS = {"random": RandomSearch, "hyperband": Hyperband, "bayesian": BayesianOptimization}


def make_tuner(kind, hypermodel, *, train_config=None, max_trials=10, epochs=None,
               directory="tuning", project_name=None, hyperparameters=None, seed=None,
               overwrite=False, strategy=None, hyperband_factor=3):
    """A tuner of `kind` ("random", "hyperband", "bayesian") over `hypermodel`.

    Args:
        max_trials: trials of a random or Bayesian search (Hyperband decides its own number
            from `epochs` and `hyperband_factor`).
        epochs: epochs per trial (Hyperband: the most epochs a trial gets); default the
            config's `epochs`.
        hyperparameters: a `kt.HyperParameters` holding `hp.Fixed` overrides.
        overwrite: start afresh; by default an existing project resumes.
    """
    if kind not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}; got {kind!r}.")
    config = training.make_config(train_config)
    if epochs is not None:
        config = config.replace(epochs=epochs)
    if kind == "hyperband" and not config.epochs:
        raise ValueError("Hyperband needs epochs (the most epochs one trial may train).")
    kwargs = {"train_config": config, "strategy": strategy, "directory": directory,
              "project_name": project_name or f"{hypermodel.family}_depth",
              "hyperparameters": hyperparameters, "seed": seed, "overwrite": overwrite}
    if kind == "hyperband":
        kwargs.update(max_epochs=config.epochs, factor=hyperband_factor)
    else:
        if not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive integer; got {max_trials!r}.")
        kwargs["max_trials"] = max_trials
    try:
        return TUNERS[kind](hypermodel, **kwargs)
    except ImportError as e:  # the Bayesian oracle needs scikit-learn (keras-tuner[bayesian])
        raise ValueError(f"The {kind} tuner cannot start: {e}") from None


def is_worker():
    """True in a distributed search's worker (a tuner that is not the chief)."""
    from keras_tuner.src.distribute import utils

    return utils.has_chief_oracle() and not utils.is_chief_oracle()
