"""The models use only keras.layers and keras.ops: under JAX they give the same outputs as under
TF."""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_deepnets as kd

# One model of each family, small: name -> (registry name or constructor, its arguments).
CASES = {
    "resnet20": ("resnet20", {}),
    "resnet18": ("resnet18", {"input_shape": [64, 64, 3]}),
    "vgg11_lrn": ("vgg11_lrn", {"input_shape": [64, 64, 3], "classes": 10}),
    "lenet5": ("lenet5", {}),  # scaled tanh, trainable subsampling, Table I's partial C3
    "alexnet": ("alexnet", {"input_shape": [67, 67, 3], "include_top": False,
                            "pooling": "avg"}),  # LRN, groups=2
    "googlenet": ("googlenet_torchvision", {"input_shape": [64, 64, 3], "classes": 10}),
    # a two-stage ResNeXt: JAX's CPU grouped convolution is XLA's, slow at ResNeXt-50's size
    "resnext": ("ResNet", {"block": "bottleneck", "stage_depths": [1, 1],
                           "stage_filters": [16, 32], "stem": "cifar", "groups": 4,
                           "width_per_group": 8, "stride_in_1x1": False}),
}


def _build(name, kwargs, **extra):
    return (getattr(kd, name) if name[0].isupper() else functools.partial(kd.get_model, name))(
        **kwargs, **extra)

# Building is most of the JAX side's time (every layer's shapes are traced by JAX), so the
# subprocess builds its models while this process builds the TF ones and writes their weights,
# inputs and outputs; it reads them once told on stdin that they are there.
JAX_SCRIPT = """
import json, sys
import numpy as np
import keras
import keras_deepnets as kd
assert keras.backend.backend() == "jax", keras.backend.backend()
cases = json.loads(sys.argv[1])
models = {}
for name, (builder, weights, inputs, expected, kwargs) in cases.items():
    build = getattr(kd, builder) if builder[0].isupper() else kd.get_model
    args = () if builder[0].isupper() else (builder,)
    models[name] = build(*args, weights=None, **kwargs)
assert sys.stdin.readline().strip() == "written"
for name, (builder, weights, inputs, expected, kwargs) in cases.items():
    models[name].load_weights(weights)
    got = np.asarray(models[name](np.load(inputs), training=False))
    expected = np.load(expected)
    diff = float(np.abs(got - expected).max() / max(1.0, np.abs(expected).max()))
    print(name, diff)
    assert diff < 1e-5, (name, diff)
"""


@pytest.mark.slow
def test_jax_backend_matches_tensorflow(tmp_path):
    pytest.importorskip("jax")
    paths = {name: [str(tmp_path / f"{name}{s}") for s in (".weights.h5", "_x.npy", "_y.npy")]
             for name in CASES}
    cases = {name: [builder, *paths[name], kwargs] for name, (builder, kwargs) in CASES.items()}
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    jax_side = subprocess.Popen([sys.executable, "-c", JAX_SCRIPT, json.dumps(cases)], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    rng = np.random.default_rng(0)
    try:
        for name, (builder, kwargs) in CASES.items():
            model = _build(builder, kwargs)
            for layer in model.layers:  # non-trivial BN statistics
                if layer.__class__.__name__ == "BatchNormalization":
                    layer.set_weights([rng.uniform(0.5, 1.5, w.shape)
                                       for w in layer.get_weights()])
            x = rng.uniform(0, 50, size=(2, *model.input_shape[1:])).astype("float32")
            model.save_weights(paths[name][0])
            np.save(paths[name][1], x)
            np.save(paths[name][2], np.asarray(model(x, training=False)))
        stdout, stderr = jax_side.communicate("written\n", timeout=600)
    finally:
        if jax_side.poll() is None:
            jax_side.kill()
    assert jax_side.returncode == 0, stdout + stderr[-3000:]
    assert sorted(line.split()[0] for line in stdout.splitlines()) == sorted(CASES)
