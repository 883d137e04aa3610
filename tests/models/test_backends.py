"""The models use only keras.layers and keras.ops: under JAX they give the same outputs as under
TF."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_deepnets as kd

BUILDS = {
    "resnet20": lambda: kd.ResNet20(),
    "resnet18": lambda: kd.ResNet18(input_shape=(64, 64, 3)),
    "vgg11_lrn": lambda: kd.VGG11_LRN(input_shape=(64, 64, 3), classes=10),
}

JAX_SCRIPT = """
import json, sys
import numpy as np
import keras
import keras_deepnets as kd
assert keras.backend.backend() == "jax", keras.backend.backend()
cases = json.loads(sys.argv[1])
for name, (weights, inputs, expected, kwargs) in cases.items():
    model = kd.get_model(name, weights=weights, **kwargs)
    got = np.asarray(model(np.load(inputs), training=False))
    diff = float(np.abs(got - np.load(expected)).max())
    print(name, diff)
    assert diff < 1e-5, (name, diff)
"""


@pytest.mark.slow
def test_jax_backend_matches_tensorflow(tmp_path):
    pytest.importorskip("jax")
    cases = {}
    kwargs = {"resnet20": {}, "resnet18": {"input_shape": [64, 64, 3]},
              "vgg11_lrn": {"input_shape": [64, 64, 3], "classes": 10}}
    rng = np.random.default_rng(0)
    for name, build in BUILDS.items():
        model = build()
        for layer in model.layers:  # non-trivial BN statistics
            if layer.__class__.__name__ == "BatchNormalization":
                layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])
        x = rng.uniform(0, 50, size=(2, *model.input_shape[1:])).astype("float32")
        paths = [str(tmp_path / f"{name}{s}") for s in (".weights.h5", "_x.npy", "_y.npy")]
        model.save_weights(paths[0])
        np.save(paths[1], x)
        np.save(paths[2], np.asarray(model(x, training=False)))
        cases[name] = [*paths, kwargs[name]]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, json.dumps(cases)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert sorted(line.split()[0] for line in result.stdout.splitlines()) == sorted(BUILDS)
