"""Fine-tuning from pretrained weights by tag through the training core (`--init_weights=<tag>`):
torchvision's ResNet-18 (the shared fixture's exact state_dict, registered as a team's file at a
file:// URL, fetched, verified and converted by the weights store) gets a 10-class classifier,
learns upscaled CIFAR-10, keeps its frozen stages bit-identical (BN statistics included) and
changes the rest."""

import hashlib
import pathlib
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

import keras_deepnets as kd
from keras_deepnets import training
from keras_deepnets.training import inputs
from keras_deepnets.training.strategy import ConfigError
from keras_deepnets.weights import table

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"
sys.path.insert(0, str(TORCHVISION))
from seeded_weights import load_fixture  # noqa: E402  (the shared folder's numpy-only rebuild)
from training_helpers import run_script  # noqa: E402


def _weights(model, prefixes):
    return {w.path: w.numpy().copy() for layer in model.layers
            if layer.name.split("_")[0] in prefixes for w in layer.weights}


@pytest.fixture
def team_weights(tmp_path, monkeypatch):
    """The fixture's ResNet-18 as a team's registered weights (tag "team-r18")."""
    monkeypatch.setenv("KERAS_DEEPNETS_HOME", str(tmp_path / "kd_home"))
    path = tmp_path / "resnet18.safetensors"
    save_file(load_fixture("resnet18")[0], str(path))
    kd.register_weights("team-r18", model="resnet18", url=path.as_uri(), resize=256, crop=224,
                        sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    yield path
    table.unregister_weights("resnet18", "team-r18")


def test_fine_tune_pretrained_weights_by_tag_with_frozen_stages(cifar10_dir, tmp_path,
                                                                 team_weights):
    start = kd.from_torchvision(str(team_weights), include_top=False, input_shape=(64, 64, 3))
    result = training.train(model="resnet18", data=cifar10_dir, init_weights="team-r18",
                            freeze=("conv1", "conv2"), image_size=64, max_examples=1600,
                            max_val_examples=500, epochs=1, batch_size=16, lr=0.01,
                            lr_schedule="cosine", model_dir=str(tmp_path / "run"),
                            export_dir="", verbose=0)
    model = result.model
    assert model.output_shape == (None, 10) and model.preprocessing == "torch"
    assert model.evaluation == {"resize": 256, "crop": 224, "interpolation": "bilinear"}
    cfg = training.make_config(model="resnet18", init_weights="team-r18", image_size=64)
    assert inputs.eval_preset_options(cfg, kd.model_info("resnet18"), 64) == {
        "mode": "torch", "resize_size": 73, "interpolation": "bilinear", "antialias": True}
    assert result.history[-1]["step"] == 100
    # chance is 0.1 +- 0.013 (one standard deviation over 500 images): 0.15 is ~4 above it. The
    # run is deterministic per machine but not across CPUs (oneDNN picks other kernels, e.g.
    # AMX): it read 0.196 on an AMX Xeon, above 0.2 on the EPYC machines before.
    assert result.history[-1]["val_top1"] > 0.15
    frozen, before = _weights(model, {"conv1", "conv2"}), _weights(start, {"conv1", "conv2"})
    # conv1 (kernel, BN's 4) and conv2's two blocks of two such convolutions
    assert frozen.keys() == before.keys() and len(frozen) == 5 + 2 * 2 * 5
    for key, value in before.items():
        np.testing.assert_array_equal(frozen[key], value, err_msg=key)  # moving stats too
    after, loaded = _weights(model, {"conv4"}), _weights(start, {"conv4"})
    assert all(not np.array_equal(after[k], loaded[k]) for k in loaded)


def test_the_data_follows_the_weights_preprocessing(tmp_path):
    path = tmp_path / "googlenet-1378be20.pth"
    path.write_bytes(b"")  # the name decides; nothing reads it here
    cfg = training.make_config(model="googlenet_torchvision", init_weights=str(path))
    assert inputs.preprocessing_mode(cfg) == "tf"  # torchvision runs it with transform_input
    (tmp_path / "mine.pth").write_bytes(b"")
    other = training.make_config(model="resnet18", init_weights=str(tmp_path / "mine.pth"))
    assert inputs.preprocessing_mode(other) == "torch"  # an unnamed PyTorch-side checkpoint
    assert inputs.preprocessing_mode(training.make_config(model="resnet18")) == "caffe"


@pytest.mark.parametrize("overrides, message", [
    ({"init_weights": "/nonexistent/r18.pth"}, "init_weights='/nonexistent/r18.pth': no such"),
    ({"init_weights": "IMAGENET1K_V2"}, "resnet18 has no weights tagged 'IMAGENET1K_V2'"),
    ({"freeze": ("conv1",)}, "it needs init_weights"),
])
def test_bad_fine_tuning_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        training.make_config(model="resnet18", **overrides)


def test_a_saved_models_recorded_preprocessing_wins(tmp_path):
    info = kd.model_info("resnet18")
    cfg = training.make_config(model="resnet18")
    model = kd.ResNet18(weights=None, include_top=False, preprocessing="torch")
    assert inputs.preset_options(cfg, info, model) == {"mode": "torch"}  # --eval_only a .keras
    assert inputs.preset_options(cfg, info) == {"mode": "caffe"}
    assert inputs.preset_options(cfg, kd.model_info("resnet20")) == {}  # CIFAR: the mean image


def test_eval_only_takes_pretrained_weights_by_tag(team_weights, imagenet_sample_dir, tmp_path):
    """`--eval_only --weights=<tag>`: the registered weights are fetched and scored on real
    photos (1,000 classes: the weights' own classifier) with their published transform."""
    classes = tmp_path / "classes"  # the 1,000 class folders (links), as train/ and val/
    classes.mkdir()
    for folder in sorted(p for p in imagenet_sample_dir.iterdir() if p.is_dir()):
        (classes / folder.name).symlink_to(folder)
    (tmp_path / "imagenet").mkdir()
    for split in ("train", "val"):
        (tmp_path / "imagenet" / split).symlink_to(classes)
    result = training.evaluate(model="resnet18", data=str(tmp_path / "imagenet"),
                               weights="team-r18", max_val_examples=16, batch_size=8)
    assert result["num_examples"] == 16 and 0.0 <= result["top1"] <= result["top5"] <= 1.0
    # `--weights=<preset>`: the same weights saved as a preset score the same, with the
    # transform and preprocessing the preset recorded.
    preset = kd.save_preset(kd.ResNet18(weights="team-r18"), tmp_path / "preset")
    again = training.evaluate(model="resnet18", data=str(tmp_path / "imagenet"),
                              weights=str(preset), max_val_examples=16, batch_size=8)
    assert (again["top1"], again["top5"]) == (result["top1"], result["top5"])
    with pytest.raises(ConfigError, match="resnet34 has no weights tagged 'team-r18'"):
        training.evaluate(model="resnet34", data=str(tmp_path / "imagenet"), weights="team-r18")


def test_train_imagenet_starts_from_and_evaluates_a_preset(tmp_path):
    """scripts/train_imagenet.py --init_weights=<preset> (a frozen stage stays the preset's),
    and a preset of another network refused before any work;
    then the run's model saved as a preset with its config.json."""
    start = kd.ResNet18(weights=None, preprocessing="torch")
    preset = kd.save_preset(start, tmp_path / "p")
    flags = ["--model=resnet18", "--train_steps=1", "--batch_size=4", "--synthetic_examples=8",
             "--image_size=64", f"--model_dir={tmp_path}/run", "--export_dir="]
    done = run_script("train_imagenet.py", f"--init_weights={preset}", "--freeze=conv1", *flags)
    assert done.returncode == 0, done.stderr[-2000:]
    model = kd.ResNet18(input_shape=(64, 64, 3))
    model.load_weights(tmp_path / "run" / "checkpoints" / "last.weights.h5")
    np.testing.assert_array_equal(model.get_layer("conv1_conv").get_weights()[0],
                                  start.get_layer("conv1_conv").get_weights()[0])
    other = kd.save_preset(kd.get_model("resnet20"), tmp_path / "p20")
    done = run_script("train_imagenet.py", f"--init_weights={other}", *flags)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(
        "is a preset of resnet20, not of model='resnet18'; pass --model=resnet20.")
    path = kd.save_preset(model, tmp_path / "run_preset", training=tmp_path / "run")
    assert (pathlib.Path(path) / "training_config.json").read_bytes() == \
        (tmp_path / "run" / "config.json").read_bytes()
