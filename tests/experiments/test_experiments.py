"""Every experiment's plot, table and JSON, with the training core replaced by a stand-in
(conftest.fake_train), so the five experiments take seconds; the real core: test_end_to_end.py."""

import pytest

from experiment_helpers import check_outputs
from keras_deepnets import experiments, registry
from keras_deepnets.experiments import cifar_vgg


def test_the_five_experiments():
    assert experiments.list_experiments() == ["degradation", "residual", "shortcuts", "depth",
                                              "vgg"]


@pytest.mark.parametrize("name", experiments.list_experiments())
def test_tiny_budget_run_writes_plot_table_and_json(name, fake_core, tiny_cifar, tmp_path):
    record = experiments.run_experiment(name, str(tiny_cifar), budget=2, output_dir=str(tmp_path),
                                        max_examples=96, batch_size=32)
    record, table = check_outputs(tmp_path, name, budget=2, repeats=1, steps_per_epoch=3)
    assert fake_core.calls == [s.model for s in experiments.get_experiment(name).series]
    assert record["outputs"]["plot"].endswith(f"{name}.png")


def test_paper_numbers_and_findings_in_the_tables(fake_core, tiny_cifar, tmp_path):
    for name in ("degradation", "residual", "depth"):
        experiments.run_experiment(name, str(tiny_cifar), budget=1, output_dir=str(tmp_path),
                                   max_examples=64, batch_size=32)
    degradation = (tmp_path / "degradation.md").read_text()
    assert "plain-56 has higher training error than plain-20" in degradation
    assert "reproduced (final train error plain-56" in degradation  # the stand-in degrades
    depth = (tmp_path / "depth.md").read_text()
    for label, paper in (("ResNet-20", "8.75"), ("ResNet-32", "7.51"), ("ResNet-44", "7.17"),
                         ("ResNet-56", "6.97"), ("ResNet-110", "6.43 (6.61 +- 0.16")):
        assert f"| {label} |" in depth and paper in depth
    assert "Table 6" in depth
    residual = (tmp_path / "residual.md").read_text()
    assert "Fig. 6 (middle)" in residual and "8.75" in residual and "6.97" in residual


def test_shortcuts_and_vgg_tables_say_they_are_imagenet_analogues(fake_core, tiny_cifar, tmp_path):
    for name in ("shortcuts", "vgg"):
        experiments.run_experiment(name, str(tiny_cifar), budget=1, output_dir=str(tmp_path),
                                   max_examples=32, batch_size=32)
    shortcuts = (tmp_path / "shortcuts.md").read_text()
    assert "ImageNet" in shortcuts and "analogue" in shortcuts
    for number in ("28.54", "25.03", "24.52", "24.19"):
        assert number in shortcuts
    vgg = (tmp_path / "vgg.md").read_text()
    assert "ImageNet" in vgg and "Dense(10)" in vgg


def test_repeats_give_mean_and_std(fake_core, tiny_cifar, tmp_path):
    record = experiments.run_experiment("residual", str(tiny_cifar), budget=1, repeats=3, seed=5,
                                        output_dir=str(tmp_path), max_examples=64, batch_size=32)
    check_outputs(tmp_path, "residual", budget=1, repeats=3, steps_per_epoch=2)
    assert [r["seed"] for r in record["runs"]] == [5, 6, 7, 5, 6, 7]
    row = next(l for l in (tmp_path / "residual.md").read_text().splitlines()
               if l.startswith("| ResNet-20 |"))
    assert "±" in row and "3 run(s) per model" in (tmp_path / "residual.md").read_text()


def test_departures_from_the_recipe_are_recorded_and_said(fake_core, tiny_cifar, tmp_path):
    record = experiments.run_experiment("residual", str(tiny_cifar), budget=1, warmup_epochs=1.0,
                                        output_dir=str(tmp_path), max_examples=32, batch_size=32)
    assert record["flags"]["overrides"] == {"warmup_epochs": 1.0}
    assert record["runs"][0]["config"]["warmup_epochs"] == 1.0
    assert "Changed from the paper's recipe: warmup_epochs=1.0." in (
        tmp_path / "residual.md").read_text()


def test_series_subset_and_resume(fake_core, tiny_cifar, tmp_path):
    kwargs = dict(budget=1, output_dir=str(tmp_path), max_examples=32, batch_size=32)
    experiments.run_experiment("depth", str(tiny_cifar), series=["resnet110", "ResNet-20"],
                               **kwargs)
    check_outputs(tmp_path, "depth", 1, 1, 1, labels=["ResNet-20", "ResNet-110"])
    assert fake_core.calls == ["resnet20", "resnet110"]
    # The same command again: nothing is retrained, the outputs are re-drawn from the record.
    experiments.run_experiment("depth", str(tiny_cifar), series=["resnet110", "ResNet-20"],
                               **kwargs)
    assert fake_core.calls == ["resnet20", "resnet110"]
    with pytest.raises(ValueError, match="holds a run with other settings"):
        experiments.run_experiment("depth", str(tiny_cifar), **{**kwargs, "budget": 2})


def test_every_series_is_a_cifar_registry_model():
    for experiment in experiments.EXPERIMENTS.values():
        for s in experiment.series:
            assert registry.model_info(s.model).family == "cifar", s.model


def test_cifar_vgg_configs_build_at_32x32_with_a_small_top():
    for config, (name, depth) in cifar_vgg.CONFIGS.items():
        model = registry.get_model(name)
        assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
        weights = [l for l in model.layers if l.__class__.__name__ in ("Conv2D", "Dense")]
        assert len(weights) == depth - 2, config  # the paper's depth minus two FC-4096 layers
        assert model.layers[-1].units == 10 and model.layers[-2].name == "avg_pool"
        assert model.count_params() < 21e6
