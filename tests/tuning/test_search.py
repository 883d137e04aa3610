"""A 3-trial depth search on a CIFAR-10 subset of ../shared/data, in this process: interrupted
after its first trial and resumed; its table, its memory columns, and the best trial rebuilt."""

import csv

import keras_tuner as kt
import pytest
from tuning_helpers import TINY, runs_log

from keras_deepnets import training, tuning

pytestmark = pytest.mark.slow
DEPTHS = (8, 14, 20)  # 6n+2 with n = 1, 2, 3: the cheapest networks of the family


def make(directory, data):
    # Everything but the depth fixed: a space of exactly 3 networks, one per trial.
    hps = kt.HyperParameters()
    for name, value in {"block": "basic", "shortcut": "A", "width": 0.5, "lr": 0.1,
                        "weight_decay": 1e-4}.items():
        hps.Fixed(name, value)
    # The objective is the monitored figure of each trial's run: here a metric named by the
    # user, top-3, not the default top-1.
    config = training.TrainConfig(data=str(data), distribution_strategy="mirrored",
                                  metrics=("top1", "top3"), monitor="val_top3", **TINY)
    return tuning.make_tuner("random", tuning.CifarResNetHyperModel(depths=DEPTHS),
                             train_config=config, max_trials=3, directory=str(directory),
                             project_name="cifar", hyperparameters=hps, seed=1)


@pytest.fixture(scope="module")
def search(tmp_path_factory, cifar_subset):
    directory = tmp_path_factory.mktemp("search")
    tuner = make(directory, cifar_subset)
    real_run_trial, calls = tuner.run_trial, []

    def interrupted_second_trial(trial, *args, **kwargs):  # as a Ctrl-C during trial 2
        calls.append(trial.trial_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_trial(trial, *args, **kwargs)

    tuner.run_trial = interrupted_second_trial
    with pytest.raises(KeyboardInterrupt):
        tuning.run_search(tuner)
    first_run = runs_log(tuner.project_dir)
    resumed = make(directory, cifar_subset)  # the same directory and project: reloads
    result = tuning.run_search(resumed)
    return {"tuner": resumed, "result": result, "first_run": first_run, "calls": calls}


def test_table_lists_the_depths_tried(search):
    rows = search["result"]["rows"]
    assert sorted(r["depth"] for r in rows) == list(DEPTHS)
    assert all(r["status"] == "COMPLETED" and 0 <= r["val_accuracy"] <= 1 for r in rows)
    with open(search["result"]["csv"], newline="") as f:
        table = list(csv.DictReader(f))
    assert sorted(int(r["depth"]) for r in table) == list(DEPTHS)
    for column in ("shortcut", "params", "mult_adds", "val_accuracy", "wall_seconds",
                   "peak_rss_mb"):
        assert all(r[column] not in ("", None) for r in table), column
    params = sorted(int(r["params"]) for r in table)
    assert params == sorted(set(params))  # deeper networks, more parameters
    markdown = open(search["result"]["md"]).read()
    assert markdown.count("| COMPLETED |") == 3 and "mult_adds" in markdown
    assert open(search["result"]["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_objective_is_each_trials_monitored_metric(search):
    tuner, figures = search["tuner"], {}
    for row in search["result"]["rows"]:
        path = f"{tuner.get_trial_dir(row['trial'])}/train/history.csv"
        with open(path, newline="") as f:
            history = list(csv.DictReader(f))
        figures[row["trial"]] = [max(float(r[k]) for r in history)
                                 for k in ("val_top3", "val_top1")]
        assert row["val_accuracy"] == pytest.approx(figures[row["trial"]][0])
    assert any(top3 != top1 for top3, top1 in figures.values())  # top-3 is not top-1 here


def test_resume_does_not_redo_finished_trials(search):
    first = search["first_run"]
    assert [e for e, _, _ in first] == ["start", "end"]  # trial 1 finished, trial 2 interrupted
    finished = first[0][1]
    log = runs_log(search["tuner"].project_dir)
    starts = [t for e, t, _ in log if e == "start"]
    assert starts.count(finished) == 1  # not redone after the resume
    assert len(starts) == len(set(starts)) == 3
    assert search["calls"][1] in starts  # the interrupted trial ran on resume, same id


def test_best_hyperparameters_rebuild_the_same_network(search, cifar_subset):
    tuner = make(search["tuner"].directory, cifar_subset)  # a fresh reload from disk
    best_trial = tuner.oracle.get_best_trials(1)[0]
    row = next(r for r in search["result"]["rows"] if r["trial"] == best_trial.trial_id)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    assert tuner.hypermodel.build(best_hp).count_params() == row["params"]
    assert tuner.get_best_models(1)[0].count_params() == row["params"]  # with its weights
