"""The oneDNN log reader (diagnostics/onednn_log.py), on the log of a real TF process: one marked
step of a convolution's forward and backward pass runs exactly the three convolution primitives
(forward, backward data, backward weights), and nothing logged outside the markers counts; and
the module imports alone in a Python without site-packages, as in the PyTorch process of
`benchmark.py vs_torch`."""

import json
import os
import subprocess
import sys

import pytest

from keras_deepnets.diagnostics import onednn_log

STEP = """
import tensorflow as tf
from keras_deepnets.diagnostics import onednn_log
x = tf.random.normal([8, 16, 16, 16])
w = tf.random.normal([3, 3, 16, 32])

@tf.function
def grads(x, w):
    with tf.GradientTape() as tape:
        tape.watch([x, w])
        loss = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME") ** 2)
    dx, dw = tape.gradient(loss, [x, w])
    return tf.reduce_sum(dx) + tf.reduce_sum(dw)

onednn_log.marked_steps(lambda: grads(x, w), steps=2, warmup=1)
"""


def test_a_marked_convolution_step_runs_its_three_primitives_once_each():
    env = dict(os.environ, ONEDNN_VERBOSE="1", TF_ENABLE_ONEDNN_OPTS="1")
    text = subprocess.run([sys.executable, "-c", STEP], capture_output=True, text=True,
                          check=True, env=env).stdout
    logged = onednn_log.calls(text)
    rows = onednn_log.breakdown(logged, steps=2)
    convolutions = {key[1]: calls for key, (ms, calls) in rows.items()
                    if key[0] == "convolution"}
    assert convolutions == {"forward_training": 1, "backward_data": 1, "backward_weights": 1}
    assert all(ms >= 0 for ms, _ in rows.values())
    shapes = onednn_log.breakdown(logged, steps=2, by_shape=True)
    assert {key[3] for key in shapes if key[0] == "convolution"} == {
        "mb8_ic16oc32_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1"}
    # the warm-up step (tracing included) ran the same primitives, outside the markers
    assert text.count(",exec,") > len(logged)
    assert onednn_log.wall_ms(text) > 0
    table = onednn_log.compare_markdown([rows, {}], ("ours", "peer"))
    assert "| convolution | backward_weights |" in table and "| - |" in table


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="marked_steps"):
        onednn_log.calls("onednn_verbose,v1,primitive,exec,cpu,convolution,x,y,z,s,1.0\n")
    with pytest.raises(ValueError, match="steps must be"):
        onednn_log.breakdown([], 0)
    with pytest.raises(ValueError, match="ONEDNN_VERBOSE=1"):
        onednn_log.compare_markdown([{}, {}], ("ours", "peer"))


# What the PyTorch process of `benchmark.py vs_torch` does: the module's folder on sys.path, `import
# onednn_log`. `-I -S`: no site-packages (so no TensorFlow, Keras or numpy to import), no
# PYTHONPATH (so not the package either), as in a virtual environment that has only PyTorch.
ALONE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import onednn_log
loaded = sorted(m.split(".")[0] for m in set(sys.modules) - before)
print(json.dumps([m for m in loaded if m not in sys.stdlib_module_names and m != "onednn_log"]))
"""


def test_imports_with_the_standard_library_only():
    folder = os.path.dirname(os.path.abspath(onednn_log.__file__))
    done = subprocess.run([sys.executable, "-I", "-S", "-c", ALONE, folder],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
