"""TrainConfig: each setting defined once (the flags are made from its fields), resolved once
into a frozen object the run records in config.json, and a run replayed from that file."""

import dataclasses
import json
import warnings

import pytest
from absl import flags

from keras_deepnets import training
from keras_deepnets.training import cli
from keras_deepnets.training.config import (ReplayWarning, TrainConfig, config_record,
                                            load_config, resolve)

# Keras objects (optimizer, loss) are train() keywords only: no flag.
FIELDS = [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag") is not False]


def script_flags(model, family, *argv):
    """The flags a training script defines (its own FlagValues), parsed from `argv`."""
    values = flags.FlagValues()
    cli.define_flags(model=model, family=family, flag_values=values)
    values(["script", *argv])
    return values


@pytest.mark.parametrize("model, family", [("resnet20", "cifar"), ("resnet50", "imagenet")])
def test_every_field_has_a_flag_with_its_default_and_help(model, family):
    values = script_flags(model, family)
    for field in FIELDS:
        assert field.name in values, field.name
        flag = values[field.name]
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        assert flag.default == (model if field.name == "model" else default), field.name
        assert field.metadata["help"] and flag.help, field.name
        if "choices" in field.metadata:
            assert flag.parser.enum_values == list(field.metadata["choices"]), field.name
    # Nothing else but --config: a setting is not declared a second time in cli.py.
    ours = {name for name in values if values.find_module_defining_flag(name) == cli.__name__}
    assert ours == {f.name for f in FIELDS} | {"config"}
    # The flags' defaults make the config's defaults (the script's model aside).
    assert training.make_config(cli.config_from_flags(values)) == training.make_config(
        model=model)


def test_resolve_fills_the_recipe_once_and_is_frozen():
    requested = training.make_config(model="resnet20", batch_size=256)
    assert requested.lr is None and requested.momentum is None  # make_config fills nothing in
    resolved = resolve(requested)
    # The CIFAR recipe: 0.1 at batch 128, scaled linearly to the batch.
    assert (resolved.lr, resolved.momentum, resolved.weight_decay, resolved.lr_schedule) == (
        pytest.approx(0.2), 0.9, 1e-4, "step")
    assert resolve(resolved) == resolved
    # Given back as a dict (as config.json holds it), the lr is not scaled a second time.
    assert resolve(training.make_config(json.loads(json.dumps(resolved.to_dict())))) == resolved
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.lr = 1.0
    fast = resolve(training.make_config(model="resnet20", recipe="fast", batch_size=512))
    assert (fast.lr, fast.nesterov, fast.ema_decay) == (pytest.approx(0.4), True, 0.998)


def test_bad_config_files_name_the_problem_and_what_is_accepted(tmp_path):
    with pytest.raises(training.ConfigError, match=r"config '/no/such.json': cannot read it "
                                                   r"\(No such file or directory\); it takes "
                                                   r"the config.json a run writes"):
        training.make_config("/no/such.json")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"requested": {"model": "resnet20", "lrate": 0.1}}))
    with pytest.raises(training.ConfigError, match=r"unknown field\(s\) lrate; accepted: "
                                                   r"aux_classifiers, backup_steps, .*, weights"):
        training.train(config=str(unknown))
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{model: resnet20")
    with pytest.raises(training.ConfigError, match="is not JSON"):
        load_config(garbled)


def tiny_run(tmp_path, name, **settings):
    return training.train(**{"model": "resnet20", "use_synthetic_data": True,
                             "synthetic_examples": 32, "batch_size": 16, "epochs": 1,
                             "seed": 3, "verbose": 0, "tensorboard": False, "export_dir": "",
                             "model_dir": str(tmp_path / name), **settings})


def test_a_run_replayed_from_its_config_json_runs_every_step_the_same(tmp_path):
    first = tiny_run(tmp_path, "first", lr=None, max_val_examples=16, epochs=2)
    record = json.loads((tmp_path / "first" / "config.json").read_text())
    assert record["requested"]["lr"] is None and record["resolved"]["lr"] == 0.0125  # 0.1 x 16/128
    replay = training.train(config=str(tmp_path / "first" / "config.json"),
                            model_dir=str(tmp_path / "replay"))
    assert len(first.steps) == 4 and replay.steps == first.steps  # loss, lr, top1, top5 per step
    control = training.train(config=str(tmp_path / "first" / "config.json"),
                             model_dir=str(tmp_path / "control"), seed=4)
    assert [s["loss"] for s in control.steps] != [s["loss"] for s in first.steps]
    again = json.loads((tmp_path / "replay" / "config.json").read_text())
    assert again["resolved"] == {**record["resolved"], "model_dir": str(tmp_path / "replay")}
    # A changed setting is resolved as in a new run: the larger batch scales the recipe's lr.
    bigger = training.make_config(str(tmp_path / "first" / "config.json"), batch_size=32)
    assert resolve(bigger).lr == pytest.approx(0.025)
    # The command line's --config: the file's settings, the flags given on top.
    values = script_flags("resnet20", "cifar", f"--config={tmp_path}/first/config.json",
                          "--seed=4")
    assert cli.config_from_flags(values) == training.make_config(
        record["requested"], seed=4)


def test_a_replay_warns_where_this_package_resolves_the_request_differently(tmp_path):
    """A config.json as an older version would have written it (its recipe had another
    momentum, its lr was not scaled by batch): the replay names both fields, with the recorded
    and the new value. The file as this version writes it replays without a warning."""
    requested = training.make_config(model="resnet20", batch_size=256, model_dir=str(tmp_path))
    record = config_record(requested, resolve(requested))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert training.make_config(str(path)) == requested
    record["resolved"].update(momentum=0.95, lr=0.1)
    path.write_text(json.dumps(record))
    with pytest.warns(ReplayWarning, match=r"resolves the recorded request differently \(lr "
                                           r"recorded 0.1, now 0.2; momentum recorded 0.95, "
                                           r"now 0.9\)\. The replay uses the new values"):
        training.make_config(str(path), seed=5)
