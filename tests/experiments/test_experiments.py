"""Every experiment's plot, table and JSON from a tiny-budget run through the real training core
on real CIFAR-10 images (conftest.experiment_run: each experiment is trained once per session
and its outputs are shared by these tests)."""

import json
import os
import shutil

import pytest

from experiment_helpers import check_outputs, read_csv, table_row
from keras_deepnets import experiments, registry
from keras_deepnets.experiments import cifar_vgg


def test_the_five_experiments():
    assert experiments.list_experiments() == ["degradation", "residual", "shortcuts", "depth",
                                              "vgg"]


def trained_labels(name, args):
    """The labels of the series a run of experiment `name` with `args` trained, in order."""
    wanted = {w.lower() for w in args.get("series") or ()}
    return [s.label for s in experiments.get_experiment(name).series
            if not wanted or s.label.lower() in wanted or s.model in wanted]


@pytest.mark.slow
@pytest.mark.parametrize("name", experiments.list_experiments())
def test_tiny_budget_run_writes_plot_table_and_json(name, experiment_run):
    run = experiment_run(name)
    record, table = check_outputs(run.output_dir, name, trained_labels(name, run.args))
    flags = record["flags"]
    assert flags["budget"] == run.args["budget"] and flags["data"] == run.data
    assert flags["max_examples"] == 20 and flags["max_val_examples"] == 10
    for r in record["runs"]:
        config = r["config"]
        assert config["data"] == run.data and config["export_dir"] == ""
        assert config["max_examples"] == 20 and config["steps_per_epoch"] == 2
        if run.args.get("recipe") == "fast":  # Nesterov, wd 5e-4, the weights' average
            assert config["recipe"] == "fast" and config["nesterov"]
            assert config["weight_decay"] == 5e-4 and config["ema_decay"] == 0.998
        else:  # the ResNet paper's CIFAR recipe, for the CIFAR-sized VGGs too
            assert config["momentum"] == 0.9 and config["weight_decay"] == 1e-4
            assert config["recipe"] == "paper" and not config["ema_decay"]
        assert os.path.isfile(os.path.join(r["model_dir"], "checkpoints", "last.weights.h5"))
    assert f"Budget {flags['budget']} epoch(s) = {2 * flags['budget']} iterations of batch 10 " \
           "on 20 training images" in table
    assert ("Changed from the paper's recipe: recipe=fast." in table) == (
        run.args.get("recipe") == "fast")
    schedule = ("the fast recipe's lr: a linear warm-up to 0.2 (batch 256) over 2 epochs, then "
                "linear to 0" if run.args.get("recipe") == "fast"
                else "lr 0.1 divided by 10 at 50% and 75% of the budget")
    assert schedule in table


@pytest.mark.slow
def test_reproduce_script_prints_the_table(experiment_run):
    run = experiment_run("degradation")  # run through scripts/reproduce.py
    table = (run.output_dir / "degradation.md").read_text()
    assert table in run.stdout
    assert (f"Plot {run.output_dir / 'degradation.png'}, table {run.output_dir / 'degradation.md'}"
            f", record {run.output_dir / 'degradation.json'}.") in run.stdout


@pytest.mark.slow
def test_paper_numbers_and_sources_in_the_tables(experiment_run):
    depth = (experiment_run("depth").output_dir / "depth.md").read_text()
    for label, paper in (("ResNet-20", "8.75"), ("ResNet-56", "6.97"),
                         ("ResNet-110", "6.43 (6.61 +- 0.16 over 5 runs)")):
        assert table_row(depth, label)[4] == paper
    # ResNet-32 and -44 are not trained here (see conftest): their Table 6 numbers as defined
    papers = {s.label: s.paper for s in experiments.get_experiment("depth").series}
    assert papers == {"ResNet-20": 8.75, "ResNet-32": 7.51, "ResNet-44": 7.17,
                      "ResNet-56": 6.97, "ResNet-110": 6.43}
    assert "Table 6" in depth and "first 400 iterations" in depth
    residual = (experiment_run("residual").output_dir / "residual.md").read_text()
    assert "Fig. 6 (middle)" in residual
    assert table_row(residual, "ResNet-20")[4] == "8.75"
    assert table_row(residual, "ResNet-56")[4] == "6.97"
    degradation = (experiment_run("degradation").output_dir / "degradation.md").read_text()
    assert table_row(degradation, "plain-56")[4] == "no number: Fig. 6 shows the curves only"
    assert "- Paper: plain-56 has higher training error than plain-20" in degradation
    shortcuts = (experiment_run("shortcuts").output_dir / "shortcuts.md").read_text()
    assert "ImageNet" in shortcuts and "analogue" in shortcuts
    for label, paper in (("plain-32", "28.54 (plain-34)"), ("ResNet-32 A", "25.03 (ResNet-34 A)"),
                         ("ResNet-32 B", "24.52 (ResNet-34 B)"),
                         ("ResNet-32 C", "24.19 (ResNet-34 C)")):
        assert table_row(shortcuts, label)[4] == paper
    vgg = (experiment_run("vgg").output_dir / "vgg.md").read_text()
    assert "ImageNet" in vgg and "Dense(10)" in vgg
    assert [table_row(vgg, s.label)[4] for s in experiments.get_experiment("vgg").series] == [
        "29.60", "28.70", "28.10", "27.00", "27.30"]


@pytest.mark.slow
def test_shortcut_options_build_different_models(experiment_run):
    """ResNet-32 A, B, C are the same net with other shortcuts: A is parameter-free, B projects
    where the shape changes (2 stages), C everywhere."""
    record = experiment_run("shortcuts").record
    import h5py

    sizes = {}
    for r in record["runs"]:
        with open(os.path.join(r["model_dir"], "summary.json")) as f:
            assert json.load(f)["model"] == r["model"]
        counts = []
        with h5py.File(os.path.join(r["model_dir"], "checkpoints", "last.weights.h5")) as f:
            f.visititems(lambda _, v, counts=counts: counts.append(v.size)
                         if isinstance(v, h5py.Dataset) else None)
        sizes[r["label"]] = sum(counts)  # the trained weights, BN statistics included
    assert sizes["plain-32"] == sizes["ResNet-32 A"] < sizes["ResNet-32 B"] < sizes["ResNet-32 C"]


@pytest.mark.slow
def test_repeats_give_mean_and_std(experiment_run):
    run = experiment_run("residual")  # repeats=2, seed=5; check_outputs checks mean ± std
    record, table = check_outputs(run.output_dir, "residual")
    assert [r["seed"] for r in record["runs"]] == [5, 6, 5, 6]
    assert "2 run(s) per model" in table and "±" in table_row(table, "ResNet-56")[2]
    # Other seeds: other initial weights and batches, so other curves.
    by_label = {}
    for r in record["runs"]:
        by_label.setdefault(r["label"], []).append(r["curves"])
    for label, (first, second) in by_label.items():
        assert first["iteration"] == second["iteration"]
        losses = [[float(row["loss"]) for row in read_csv(os.path.join(r["model_dir"],
                                                                       "train_steps.csv"))]
                  for r in record["runs"] if r["label"] == label]
        assert losses[0] != losses[1], label


@pytest.mark.slow
def test_departures_from_the_recipe_are_recorded_and_said(experiment_run):
    run = experiment_run("vgg")  # warmup_epochs=1.0
    record = run.record
    assert record["flags"]["overrides"] == {"warmup_epochs": 1.0}
    table = (run.output_dir / "vgg.md").read_text()
    assert "Changed from the paper's recipe: warmup_epochs=1.0." in table
    for r in record["runs"]:
        assert r["config"]["warmup_epochs"] == 1.0
        # The core warmed up: the lr ramps up over the first epoch (2 iterations) instead of
        # dropping at 50% of the budget as the recipe alone would.
        lrs = [float(row["lr"]) for row in read_csv(os.path.join(r["model_dir"],
                                                                 "train_steps.csv"))]
        assert lrs[0] == pytest.approx(lrs[1] / 2), lrs
    residual = (experiment_run("residual").output_dir / "residual.md").read_text()
    assert "Changed from the paper's recipe" not in residual


@pytest.mark.slow
def test_cifar_vgg_series_are_the_cifar_configs(experiment_run):
    record = experiment_run("vgg").record
    assert [r["config"]["model"] for r in record["runs"]] == [
        name for name, _ in cifar_vgg.CONFIGS.values()]


@pytest.mark.slow
def test_same_command_again_redraws_without_training(experiment_run, tmp_path, monkeypatch):
    run = experiment_run("depth")
    monkeypatch.setenv("KERAS_DEEPNETS_CACHE", run.cache)
    out = tmp_path / "depth"
    shutil.copytree(run.output_dir, out)
    for suffix in ("png", "md"):
        (out / f"depth.{suffix}").unlink()
    trained = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*") if p.is_file()}
    record = experiments.run_experiment("depth", run.data, output_dir=str(out), **run.args)
    assert record["runs"] == run.record["runs"]  # nothing trained again
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*") if p.is_file()} == trained
    check_outputs(out, "depth", trained_labels("depth", run.args))  # re-drawn from the record
    with pytest.raises(ValueError, match="holds a run with other settings"):
        experiments.run_experiment("depth", run.data, output_dir=str(out),
                                   **{**run.args, "budget": 2})


@pytest.mark.slow
def test_an_interrupted_experiment_resumes(experiment_run, tmp_path, monkeypatch):
    """Killed after its last run trained but before the record was written: the same command
    takes that run from the training core's backup (no new iteration) and completes the record."""
    run = experiment_run("residual")
    monkeypatch.setenv("KERAS_DEEPNETS_CACHE", run.cache)
    out = tmp_path / "residual"
    shutil.copytree(run.output_dir, out)
    record = json.loads((out / "residual.json").read_text())
    lost = record["runs"].pop()
    (out / "residual.json").write_text(json.dumps(record))
    steps_csv = out / "runs" / "resnet-56-r1" / "train_steps.csv"
    before = steps_csv.read_text()
    resumed = experiments.run_experiment("residual", run.data, output_dir=str(out), **run.args)
    assert resumed["runs"][:-1] == record["runs"]
    assert resumed["runs"][-1]["curves"] == lost["curves"]
    assert resumed["runs"][-1]["final"] == lost["final"]
    assert steps_csv.read_text() == before  # no iteration was run again
    check_outputs(out, "residual")


@pytest.mark.slow
def test_series_subset(cifar10_tiny, tmp_path, monkeypatch):
    """--series trains only the named series (by registry name here); the table has their rows
    only and no finding that needs a missing series."""
    from experiment_helpers import TINY

    monkeypatch.setenv("KERAS_DEEPNETS_CACHE", str(tmp_path / "cache"))
    experiments.run_experiment("residual", str(cifar10_tiny), budget=1, output_dir=str(tmp_path),
                               series=["resnet20"], **TINY)
    record, table = check_outputs(tmp_path, "residual", labels=["ResNet-20"])
    assert "- Paper:" not in table


def test_every_series_is_a_cifar_registry_model():
    for experiment in experiments.EXPERIMENTS.values():
        for s in experiment.series:
            assert registry.model_info(s.model).family == "cifar", s.model


def test_cifar_vgg_configs_build_at_32x32_with_a_small_top():
    for config, (name, depth) in cifar_vgg.CONFIGS.items():
        model = registry.get_model(name)
        assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
        weights = [layer for layer in model.layers
                   if layer.__class__.__name__ in ("Conv2D", "Dense")]
        assert len(weights) == depth - 2, config  # the paper's depth minus two FC-4096 layers
        assert model.layers[-1].units == 10 and model.layers[-2].name == "avg_pool"
        assert model.count_params() < 21e6
