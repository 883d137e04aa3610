"""torchvision ResNet and VGG checkpoints -> keras_deepnets models (torch_convert.py), checked
against what real torchvision computed for its own models on four real ImageNet photos
(../shared/torchvision: the exact state_dicts rebuilt with numpy, and torchvision's logits)."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

import keras_deepnets as kd
from keras_deepnets import data, export
from keras_deepnets.data import sources
from keras_deepnets.weights import loading, store
from keras_deepnets.weights.table import Pretrained
from keras_deepnets.weights.torch_convert import from_torchvision
from keras_deepnets.weights.torch_files import CheckpointError

from seeded_weights import load_fixture  # (tests/weights/conftest.py put it on the path)
from weights_helpers import TORCHVISION
from weights_helpers import check_logits as _check_logits

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, v15", [("resnet18", False), ("resnet34", False),
                                       ("resnet50", True), ("resnet101", True),
                                       ("vgg11", False), ("vgg11_bn", False),
                                       ("vgg16_bn", False), ("alexnet", False),
                                       ("googlenet", False)])
def test_a_torchvision_file_gives_torchvisions_logits(name, v15, images, tmp_path, server,
                                                      kd_home):
    """One file, both ways in: converted by `from_torchvision`, and registered by URL with no
    model_kwargs, then loaded by tag through the constructor. Either way the file decides the
    architecture (torchvision's variant: its shapes cannot tell the stride's place)."""
    state, fixture = load_fixture(name)
    path = tmp_path / f"{name}.safetensors"
    save_file(state, str(path))
    del state  # a VGG state_dict is ~0.5 GB
    model = from_torchvision(path, classifier_activation=None)
    assert model.name == (f"{name}_torchvision" if name in ("alexnet", "googlenet") else name)
    if name.startswith(("vgg", "alexnet")):  # fc1 reads torchvision's CHW flatten, reordered
        side, channels = (6, 256) if name == "alexnet" else (7, 512)
        assert model.get_layer("fc1").kernel.shape == (side * side * channels, 4096)
    # torchvision's count (GoogLeNet's fixture holds the aux heads: 6,624,904 without them)
    expected = 6_624_904 if name == "googlenet" else fixture["num_params"]
    assert kd.model_stats(model).trainable_params == expected
    _check_logits(model, fixture, images)
    del model
    server.files[path.name] = path.read_bytes()
    row = kd.register_weights(f"team-{name}", model=name, url=server.url(path.name),
                              sha256=store.file_digest(str(path)))
    try:
        model = kd.get_model(name, weights=row.tag, classifier_activation=None)
    finally:
        kd.unregister_weights(row.tag)
    if v15:  # torchvision's ResNet-50/101/152: stride on the 3x3
        assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)
        assert model.get_layer("conv3_block1_1_conv").strides == (1, 1)
    _check_logits(model, fixture, images)
    if v15:  # a row that builds the paper's variant for this file: refused, not loaded
        paper = Pretrained(**{**row.as_dict(), "tag": "paper", "model_kwargs": ()})
        with pytest.raises(CheckpointError, match=r"torchvision's resnet\d+ \(stride_in_1x1="
                                                  r"False\); the row builds stride_in_1x1=True"):
            loading.load_row(kd.get_model(name, weights=None), paper, verbose=False)


@pytest.fixture(scope="module")
def resnet18_state():
    return load_fixture("resnet18")


def test_npz_and_dict_sources_and_a_fresh_classifier(resnet18_state, images, tmp_path):
    state, fixture = resnet18_state
    np.savez(tmp_path / "r18.npz", **state)
    _check_logits(from_torchvision(str(tmp_path / "r18.npz"), classifier_activation=None),
                  fixture, images)
    full = from_torchvision(dict(state), classifier_activation=None)
    ten = from_torchvision(dict(state), classes=10)  # fine-tuning: fc left out on purpose
    assert ten.output_shape == (None, 10)
    backbone = from_torchvision(dict(state), include_top=False, pooling="avg")
    features = backbone.predict(images, verbose=0)
    fc_w, fc_b = state["fc.weight"], state["fc.bias"]
    np.testing.assert_allclose(features @ fc_w.T + fc_b, full.predict(images, verbose=0),
                               rtol=0, atol=1e-4 * np.abs(fixture["logits"]).max())


def test_googlenet_aux_heads_are_mapped_when_asked_and_left_out_otherwise(images):
    state, fixture = load_fixture("googlenet")  # torchvision's aux_logits=True state_dict
    model = from_torchvision(state, aux_classifiers=True, classifier_activation=None)
    main, aux1, aux2 = (o.numpy() for o in model(images, training=False))
    _check_logits(kd.inference_model(model), fixture, images)
    # torchvision's InceptionAux in eval mode: adaptive 4x4 average pool, BasicConv2d 1x1-128,
    # flatten channels-first, fc1 + ReLU, fc2; computed here from the state_dict with numpy
    x = keras.Model(model.input, model.get_layer("inception4a").output)(images).numpy()
    n, h, w, c = x.shape
    pooled = np.stack([np.stack([x[:, h * i // 4:-(-h * (i + 1) // 4),
                                   w * j // 4:-(-w * (j + 1) // 4)].mean((1, 2))
                                 for j in range(4)], 1) for i in range(4)], 1)
    conv = pooled @ state["aux1.conv.conv.weight"][:, :, 0, 0].T
    bn = {k: state[f"aux1.conv.bn.{k}"] for k in ("weight", "bias", "running_mean",
                                                    "running_var")}
    conv = np.maximum((conv - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-3)
                      * bn["weight"] + bn["bias"], 0)
    flat = conv.transpose(0, 3, 1, 2).reshape(n, -1)  # [C, H, W]
    hidden = np.maximum(flat @ state["aux1.fc1.weight"].T + state["aux1.fc1.bias"], 0)
    expected = hidden @ state["aux1.fc2.weight"].T + state["aux1.fc2.bias"]
    np.testing.assert_allclose(aux1, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert aux2.shape == (4, 1000)
    without = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    with pytest.raises(CheckpointError, match="the model has aux1_conv but the file has no"):
        from_torchvision(without, aux_classifiers=True)
    _check_logits(from_torchvision(without, classifier_activation=None), fixture, images)


def _without(state, key):
    return {k: v for k, v in state.items() if k != key}


@pytest.mark.parametrize("edit, message", [
    (lambda s: _without(s, "layer2.0.bn1.running_var"),
     r"layer2\.0\.bn1\.running_var is missing"),
    (lambda s: {**s, "layer5.0.conv1.weight": np.zeros((1, 1, 1, 1), np.float32)},
     r"1 tensor\(s\) the resnet18 layout does not have: layer5\.0\.conv1\.weight"),
    (lambda s: {**s, "layer1.0.conv1.weight": np.zeros((64, 32, 3, 3), np.float32)},
     r"layer1\.0\.conv1's tensors have shapes .*conv2_block1_1_conv expects"),
    (lambda s: {k: v for k, v in s.items() if not k.startswith("layer4.1.")},
     r"no supported layout .* blocks per stage \(2, 2, 2, 1\)"),
    (lambda s: {"conv0.weight": np.zeros((64, 3, 3, 3), np.float32)},
     r"no supported layout .*no conv1\.weight"),
    (lambda s: {"features.0.weight": np.zeros((64, 3, 3, 3), np.float32),
                "features.5.weight": np.zeros((64, 64, 3, 3), np.float32)},
     r"no supported layout .*VGG-like `features` with convolutions at \[0, 5\]"),
    (lambda s: {**s, "head.fc.weight": np.zeros((10, 512), np.float32)},
     r"timm's VGG layout \(pre_logits, head\.fc\) is not supported"),
    (lambda s: _without(_without(s, "fc.weight"), "fc.bias"),
     r"has no classifier \(fc\); pass include_top=False, or classes=N"),
])
def test_a_file_that_does_not_fit_is_a_clear_error(edit, message, resnet18_state):
    with pytest.raises(CheckpointError, match=message):
        from_torchvision(edit(dict(resnet18_state[0])))


def test_architecture_arguments_come_from_the_file(resnet18_state):
    with pytest.raises(ValueError, match="decides 'bn_epsilon' from the file"):
        from_torchvision(dict(resnet18_state[0]), bn_epsilon=1e-3)


def test_convert_weights_script_writes_a_file_the_constructor_loads(resnet18_state, images,
                                                                     tmp_path):
    state, fixture = resnet18_state
    np.savez(tmp_path / "r18.npz", **state)
    out = tmp_path / "out" / "r18.weights.h5"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "convert_weights.py"),
                           f"--source={tmp_path / 'r18.npz'}", f"--output={out}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ("Found: torchvision resnet18 (bn_epsilon=1e-05); 122 tensors, 11,689,512 trainable "
            "parameters.") in proc.stdout
    model = kd.get_model("resnet18", weights=None, bn_epsilon=1e-5, classifier_activation=None)
    model.load_weights(out)
    _check_logits(model, fixture, images)
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "convert_weights.py"),
                          f"--source={TORCHVISION / 'pth_sample.pth'}", f"--output={out}"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith(
        f"error: {TORCHVISION / 'pth_sample.pth'}: no supported layout")


def test_named_constructors_take_a_checkpoint_file(resnet18_state, images, tmp_path):
    state, fixture = resnet18_state
    path = tmp_path / "resnet18-f37072fd.safetensors"
    save_file(state, str(path))
    model = kd.ResNet18(weights=str(path), classifier_activation=None)
    assert model.get_config()["bn_epsilon"] == 1e-5  # the file decides
    _check_logits(model, fixture, images)
    ten = kd.get_model("resnet18", weights=path, classes=10)  # a fresh classifier
    assert ten.output_shape == (None, 10)
    with pytest.raises(CheckpointError, match=r"holds torchvision's resnet18, which the "
                                              r"resnet34 constructor cannot load"):
        kd.ResNet34(weights=str(path))
    for name in ("lenet5", "vgg11_bn_cifar"):  # no published weights, one path all the same
        with pytest.raises(CheckpointError, match=f"resnet18, which the {name} constructor"):
            kd.get_model(name, weights=path)
    with pytest.raises(ValueError, match="PyTorch-side checkpoint: load it through a named"):
        kd.ResNet("basic", (2, 2, 2, 2), weights=str(path))  # the generic builder
    with pytest.raises(ValueError, match="no such file"):
        kd.ResNet18(weights=str(tmp_path / "missing.pth"))


def test_the_file_decides_the_torchvision_variant(images, tmp_path):
    state, fixture = load_fixture("googlenet")
    path = tmp_path / "googlenet-1378be20.npz"
    np.savez(path, **state)
    model = kd.GoogLeNet(weights=str(path), classifier_activation=None)
    assert model.name == "googlenet_torchvision"
    _check_logits(model, fixture, images)
    with pytest.raises(ValueError, match="it needs variant='torchvision'"):
        kd.GoogLeNet(weights=str(path), variant="paper")


def test_preprocessing_travels_with_converted_weights(resnet18_state, imagenet_sample_dir,
                                                      tmp_path):
    """torchvision's weights expect "torch" preprocessing: the converted model records it (in
    its config and .keras file), preprocess_input(model=m) and the SavedModel's JPEG-bytes
    signature follow it."""
    model = from_torchvision(dict(resnet18_state[0]))
    assert model.preprocessing == "torch" and model.get_config()["preprocessing"] == "torch"
    model.save(tmp_path / "r18.keras")
    assert keras.models.load_model(tmp_path / "r18.keras").preprocessing == "torch"
    googlenet_name = from_torchvision(load_fixture("googlenet")[0], include_top=False)
    assert googlenet_name.preprocessing == "torch"  # an unnamed file: torchvision's default
    path = export.export_saved_model(model, str(tmp_path / "sm"))
    encoded, _ = zip(*sources.resolve(str(imagenet_sample_dir)).records(max_examples=20, seed=0)
                     .as_numpy_iterator())
    # the same resize and crop as the signature's; "tf" mode is x / 127.5 - 1, so it inverts
    geometry, seed = data.get_preset("imagenet_eval", mode="tf"), tf.constant([0, 0], tf.int64)
    raw = np.stack([(geometry(tf.constant(b), seed).numpy() + 1.0) * 127.5 for b in encoded])
    expected = model.predict(kd.preprocess_input(raw, model=model), verbose=0)
    result = export.load_signature(path, export.CLASSIFY_BYTES)(image_bytes=tf.constant(encoded))
    np.testing.assert_array_equal(result["classes"].numpy()[:, 0], expected.argmax(-1))
    np.testing.assert_allclose(result["probabilities"].numpy(),
                               np.take_along_axis(expected, result["classes"].numpy(), -1),
                               atol=1e-4)
    with pytest.raises(ValueError, match="expects 'torch'"):
        kd.preprocess_input(raw, mode="caffe", model=model)
