"""Presets (`kd.save_preset`, `weights=<folder | file:// | hf://owner/repo[@revision]>`):
torchvision's ResNet-18 (the shared fixture) saved as a preset rebuilds, in a fresh process,
the same model with torchvision's logits on the shared photos; the folder holds the facts,
the model card and the SHA-256s that guard them; a changed file, another architecture or a
conflicting argument is a one-line error; the Hub's copy is read at the revision asked for
(the real huggingface_hub on a pre-filled cache, offline, as the timm tests do: publishing and
downloading from the real Hub cannot run here); `scripts/push_weights.py` is checked up to the
upload call."""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from huggingface_hub import constants as hub_constants
from safetensors.numpy import save_file

import keras_deepnets as kd
from keras_deepnets import training
from keras_deepnets.training import config as train_config
from keras_deepnets.weights import presets, table

from weights_helpers import TORCHVISION, check_logits

sys.path.insert(0, str(TORCHVISION))
from seeded_weights import load_fixture  # noqa: E402  (the shared folder's numpy-only rebuild)

WORKER = pathlib.Path(__file__).with_name("preset_worker.py")
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "push_weights.py"
EVALUATION = {"resize": 256, "crop": 224, "interpolation": "bilinear"}
TOP1_DATA = "ImageNet-1k val, 50,000 images (torchvision's published figure)"


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    """(torchvision's ResNet-18 converted, torchvision's fixture, a folder for presets)."""
    folder = tmp_path_factory.mktemp("presets")
    state, fixture = load_fixture("resnet18")
    save_file(state, str(folder / "resnet18.safetensors"))
    model = kd.ResNet18(weights=str(folder / "resnet18.safetensors"), classifier_activation=None)
    model.evaluation = dict(EVALUATION)
    return model, fixture, folder


@pytest.fixture(scope="module")
def run_config(tmp_path_factory):
    """A run's config.json, as `training.train` writes it."""
    path = tmp_path_factory.mktemp("run") / train_config.CONFIG_FILE
    cfg = training.make_config(model="resnet18", data="imagenet", epochs=3, lr=0.01)
    path.write_text(json.dumps(train_config.config_record(cfg, train_config.resolve(cfg))))
    return path


@pytest.fixture(scope="module")
def preset(r18, run_config):
    model, _, folder = r18
    return kd.save_preset(model, folder / "r18", top1=0.69758, top1_data=TOP1_DATA,
                          training=run_config.parent, licence="bsd-3-clause",
                          description="torchvision's ResNet-18 weights.")


def _copy(preset, tmp_path):
    return shutil.copytree(preset, tmp_path / "copy")


def test_a_fresh_process_rebuilds_the_same_model(r18, preset, images):
    """By path and file://, through kd.get_model and the named constructor: the parent's
    logits (torchvision's, within the fixtures' tolerance), preprocessing and transform."""
    model, fixture, _ = r18
    expected = np.asarray(model(images, training=False), np.float64)
    check_logits(model, fixture, images)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for weights in (preset, pathlib.Path(preset).as_uri()):
        done = subprocess.run([sys.executable, str(WORKER), weights, "resnet18"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        results = [json.loads(line) for line in done.stdout.strip().splitlines()[-2:]]
        for result in results:
            np.testing.assert_allclose(result["logits"], expected, rtol=1e-5, atol=1e-5)
            assert result["preprocessing"] == "torch" and result["evaluation"] == EVALUATION
            assert result["name"] == "resnet18"


def test_the_folder_holds_the_facts_and_their_hashes(r18, preset, run_config):
    model, _, _ = r18
    files = sorted(os.listdir(preset))
    assert files == ["README.md", "config.json", "manifest.json", "model.weights.h5",
                     "training_config.json"]
    manifest = json.loads((pathlib.Path(preset) / "manifest.json").read_text())["sha256"]
    assert manifest == {name: hashlib.sha256((pathlib.Path(preset) / name).read_bytes())
                        .hexdigest() for name in files if name != "manifest.json"}
    assert (pathlib.Path(preset) / "training_config.json").read_bytes() == \
        run_config.read_bytes()
    facts = presets.read(preset)
    assert facts["model"] == "resnet18" and facts["classes"] == 1000
    assert facts["parameters"] == 11_689_512  # torchvision's figure for ResNet-18
    assert facts["parameters"] + facts["statistics"] == model.count_params()
    assert facts["keras"]["config"]["bn_epsilon"] == 1e-5  # torchvision's BN
    assert (facts["preprocessing"], facts["evaluation"]) == ("torch", EVALUATION)
    assert (facts["top1"], facts["top1_data"]) == (0.69758, TOP1_DATA)
    card = (pathlib.Path(preset) / "README.md").read_text()
    for fact in ("| Parameters | 11,689,512 (and 9,600 BN moving statistics) |",
                 f"| Top-1 | 69.76% on {TOP1_DATA} |",
                 "| Preprocessing | `torch`", "resize 256, centre crop 224, bilinear",
                 "license: bsd-3-clause", "kd.get_model('resnet18', weights=PRESET)",
                 "kd.ResNet18(weights=PRESET)", "| epochs | `3` |", "| lr | `0.01` |",
                 f"| model.weights.h5 | `{manifest['model.weights.h5']}` |",
                 "torchvision's ResNet-18 weights."):
        assert fact in card, fact


@pytest.mark.parametrize("name", ["model.weights.h5", "config.json", "README.md",
                                  "training_config.json"])
def test_a_changed_or_missing_file_is_a_one_line_error(preset, tmp_path, name):
    copy = _copy(preset, tmp_path)
    path = pathlib.Path(copy) / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(presets.PresetError, match=f"{name} does not match its SHA-256") as info:
        kd.ResNet18(weights=copy)
    assert "\n" not in str(info.value)
    path.unlink()
    with pytest.raises(presets.PresetError, match=f"{name} is missing"):
        kd.get_model("resnet18", weights=copy)


def test_a_folder_that_is_no_preset_says_so(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(presets.PresetError, match="is a folder but no preset"):
        kd.ResNet18(weights=str(tmp_path))
    with pytest.raises(presets.PresetError, match="no such folder"):
        kd.ResNet18(weights=(tmp_path / "nothing").as_uri())


@pytest.mark.parametrize("call, message", [
    (lambda w: kd.ResNet34(weights=w), "is a preset of resnet18, not resnet34; load it with "
     "kd.get_model\\('resnet18'"),
    (lambda w: kd.get_model("vgg11_bn", weights=w), "is a preset of resnet18, not vgg11_bn"),
    (lambda w: kd.ResNet18(weights=w, shortcut="C"), "holds resnet18 with shortcut='B'; got "
     "shortcut='C'"),
    (lambda w: kd.ResNet18(weights=w, input_tensor=keras.Input((224, 224, 3))),
     "input_tensor= cannot be given with weights="),
])
def test_another_architecture_or_argument_is_a_one_line_error(preset, call, message):
    with pytest.raises(presets.PresetError, match=message) as info:
        call(preset)
    assert "\n" not in str(info.value)


def test_a_new_top_keeps_the_preset_weights(r18, preset, images):
    """include_top=False gives the preset's features; classes=5 a fresh classifier on them."""
    model, _, _ = r18
    features = keras.Model(model.inputs, model.get_layer("avg_pool").output)
    expected = np.asarray(features(images[:2], training=False))
    pooled = kd.ResNet18(weights=preset, include_top=False, pooling="avg")
    np.testing.assert_allclose(np.asarray(pooled(images[:2], training=False)), expected,
                               rtol=1e-5, atol=1e-5)
    assert pooled.preprocessing == "torch"
    five = kd.get_model("resnet18", weights=preset, classes=5)
    assert five.output_shape == (None, 5)
    np.testing.assert_array_equal(five.get_layer("conv1_conv").get_weights()[0],
                                  model.get_layer("conv1_conv").get_weights()[0])


def test_small_models_and_plain_functional_ones_round_trip(tmp_path):
    """LeNet-5 (a DeepNet with class names) and the CIFAR VGG (a plain functional model)."""
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    lenet = kd.get_model("lenet5_modern")
    names = [str(d) for d in range(10)]
    path = kd.save_preset(lenet, tmp_path / "lenet", class_names=names)
    again = kd.LeNet5(variant="modern", weights=path)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(lenet(x)))
    assert presets.read(path)["class_names"] == names
    with pytest.raises(presets.PresetError, match="not lenet5;"):
        kd.LeNet5(weights=path)
    with pytest.raises(table.WeightsError, match="lenet5 has no pretrained weights.*preset"):
        kd.LeNet5(weights="imagenet")
    vgg = kd.get_model("vgg11_bn_cifar")
    rgb = np.repeat(x, 3, axis=-1)
    path = kd.save_preset(vgg, tmp_path / "vgg")
    np.testing.assert_array_equal(np.asarray(kd.get_model("vgg11_bn_cifar", weights=path)(rgb)),
                                  np.asarray(vgg(rgb)))
    with pytest.raises(presets.PresetError, match="cannot be rebuilt with classes"):
        kd.get_model("vgg11_bn_cifar", weights=path, classes=5)


@pytest.mark.parametrize("kwargs, message", [
    ({"class_names": ["a", "b"]}, "class_names has 2 names; the model has 10 classes"),
    ({"top1": 0.9}, "top1 needs top1_data"),
    ({"top1": 91.0, "top1_data": "CIFAR-10 test"}, "top1 is a fraction in \\[0, 1\\]"),
    ({"training": "/no/such/run"}, "training='/no/such/run': no such run folder"),
    ({"model_name": "resnet21"}, "'resnet21' is not a registered model name"),
    ({"model_name": "resnet32"}, "the model is no resnet32 \\(stage_depths: \\[3, 3, 3\\], "
     "resnet32 has \\[5, 5, 5\\]\\); pass model_name="),
])
def test_bad_arguments_write_nothing(tmp_path, kwargs, message):
    model = kd.get_model("resnet20")
    with pytest.raises(presets.PresetError, match=message):
        kd.save_preset(model, tmp_path / "p", **kwargs)
    assert os.listdir(tmp_path) == []


def test_saving_replaces_a_preset_whole_or_not_at_all(tmp_path):
    first, second = kd.get_model("resnet20"), kd.get_model("resnet20")
    path = kd.save_preset(first, tmp_path / "p")
    before = (pathlib.Path(path) / "model.weights.h5").read_bytes()
    with pytest.raises(presets.PresetError, match="exists; pass overwrite=True"):
        kd.save_preset(second, path)
    assert (pathlib.Path(path) / "model.weights.h5").read_bytes() == before
    (tmp_path / ".p.12345.part").mkdir()  # what a save killed half-way leaves
    kd.save_preset(second, path, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["p"]
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(kd.ResNet20(weights=path)(x)),
                                  np.asarray(second(x)))


def _hub_cache(root, repo, snapshots, refs):
    """A Hugging Face cache holding, per commit, a copy of a preset folder; `refs` maps a
    branch or tag to its commit, as huggingface_hub lays them out."""
    folder = root / "hub" / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    for ref, commit in refs.items():
        (folder / "refs" / ref).write_text(commit)
    for commit, source in snapshots.items():
        shutil.copytree(source, folder / "snapshots" / commit)
    return folder


def test_a_hub_preset_is_read_at_the_revision_asked_for(r18, preset, tmp_path, monkeypatch):
    """hf://team/r18@v1 and @<commit> are the preset of that commit; hf://team/r18 follows
    main, which holds other weights."""
    model, _, _ = r18
    other = kd.save_preset(kd.ResNet18(weights=None, stride_in_1x1=False, bn_epsilon=1e-5),
                           tmp_path / "other")
    v1, head = "1" * 40, "2" * 40
    cache = _hub_cache(tmp_path / "hf", "team/r18", {v1: preset, head: other},
                       {"v1": v1, "main": head})
    # huggingface_hub reads its variables once, at import (tests/hermetic.py sets them first)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    x = np.random.default_rng(0).uniform(-2, 2, (1, 224, 224, 3)).astype("float32")
    expected = np.asarray(model(x))
    for tag in ("hf://team/r18@v1", f"hf://team/r18@{v1}"):
        np.testing.assert_allclose(np.asarray(kd.ResNet18(weights=tag)(x)), expected,
                                   rtol=1e-5, atol=1e-5)
    head_out = np.asarray(kd.get_model("resnet18", weights="hf://team/r18")(x))
    assert np.abs(head_out - expected).max() > 1e-2
    with pytest.raises(FileNotFoundError, match="config.json of team/r18 is not in the Hugging "
                       "Face cache"):
        kd.ResNet18(weights="hf://team/r18@v2")
    with pytest.raises(presets.PresetError, match="a Hub preset is hf://<owner>/<repository>"):
        kd.ResNet18(weights="hf://team/r18@")
    (cache / "snapshots" / v1 / "model.weights.h5").write_bytes(b"changed")
    with pytest.raises(presets.PresetError, match="hf://team/r18@v1'.*model.weights.h5 does "
                       "not match its SHA-256"):
        kd.ResNet18(weights="hf://team/r18@v1")


def test_the_upload_plan_checks_the_folder_first(preset, tmp_path):
    calls = presets.upload_plan(preset, "team/r18", revision="v1")
    assert [method for method, _ in calls] == ["create_repo", "create_branch", "upload_folder"]
    upload = calls[-1][1]
    assert upload["folder_path"] == preset and upload["revision"] == "v1"
    assert upload["allow_patterns"] == ["README.md", "config.json", "model.weights.h5",
                                        "training_config.json", "manifest.json"]
    assert upload["commit_message"] == f"Upload resnet18 preset (top-1 69.76% on {TOP1_DATA})"
    assert [m for m, _ in presets.upload_plan(preset, "team/r18")] == ["create_repo",
                                                                        "upload_folder"]
    with pytest.raises(presets.PresetError, match="repo_id must be <owner>/<repository>"):
        presets.upload_plan(preset, "r18")
    copy = _copy(preset, tmp_path)
    (pathlib.Path(copy) / "config.json").write_text("{}")
    with pytest.raises(presets.PresetError, match="config.json does not match its SHA-256"):
        presets.upload_plan(copy, "team/r18")


def _push(*flags):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *flags], env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_push_script_dry_run_and_its_errors(preset, tmp_path):
    done = _push(f"--preset={preset}", "--repo_id=team/r18", "--revision=v1", "--dry_run",
                 "--commit_message=first")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert [line.split("(")[0] for line in lines] == ["HfApi.create_repo", "HfApi.create_branch",
                                                      "HfApi.upload_folder"]
    upload = json.loads(lines[-1][len("HfApi.upload_folder("):-1])
    assert upload["commit_message"] == "first" and upload["folder_path"] == preset
    done = _push(f"--preset={tmp_path}", "--repo_id=team/r18", "--dry_run")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: weights=")
    assert "is a folder but no preset" in done.stderr
    done = _push("--repo_id=team/r18")
    assert done.returncode == 2 and "error: --preset and --repo_id are required" in done.stderr

