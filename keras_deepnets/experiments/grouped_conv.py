"""How a grouped 3x3 convolution (ResNeXt's) can run on this machine: the candidates timed side by
side, and whether a grouped model survives the TFLite int8 conversion.

Candidates, each forward + backward (gradients for the input and the kernel) in one tf.function:
- keras_groups: keras.layers.Conv2D(groups=G) (Keras 3 compiles it with XLA on TensorFlow);
- keras_groups_xla: the same with the whole step under XLA (`jit_compile=True`);
- native: `GroupedConv2D`, TensorFlow's own grouped kernel (what the models use);
- split_concat: G convolutions on channel slices, concatenated;
- block_diagonal: one dense convolution with the grouped kernel expanded block-diagonally;
- dense: a plain Conv2D of the same width (G times the arithmetic), for scale.
Every candidate's output is checked against Keras's before it is timed.

Example:
    >>> from keras_deepnets.experiments import grouped_conv
    >>> record = grouped_conv.run("/tmp/grouped")                       # doctest: +SKIP
"""

import json
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets.export import tflite
from keras_deepnets.models.grouped_conv import GroupedConv2D

CANDIDATES = ("keras_groups", "keras_groups_xla", "native", "split_concat", "block_diagonal",
              "dense")


def _block_diagonal(kernel, groups):
    """[kh, kw, in/G, out] -> [kh, kw, in, out], zero outside each group's block."""
    kh, kw, per_group, out = kernel.shape
    blocks = tf.reshape(kernel, (kh, kw, per_group, groups, out // groups))
    full = tf.einsum("hwiGo,gG->hwgiGo", blocks, tf.eye(groups, dtype=kernel.dtype))
    return tf.reshape(full, (kh, kw, groups * per_group, out))


def _forward(candidate, groups, kernel):
    """(x -> y) for the raw TensorFlow candidates; `kernel` the grouped kernel variable."""
    def cast(v, like):
        return tf.cast(v, like.dtype)
    if candidate == "split_concat":
        return lambda x: tf.concat(
            [tf.nn.conv2d(a, cast(k, x), 1, "SAME")
             for a, k in zip(tf.split(x, groups, -1), tf.split(kernel, groups, -1))], -1)
    return lambda x: tf.nn.conv2d(x, cast(_block_diagonal(kernel, groups), x), 1, "SAME")


def _step(candidate, shape, groups, dtype):
    """(tf.function step, its forward) for one candidate at `shape` (NHWC) in `dtype`."""
    channels = shape[-1]
    if candidate in ("split_concat", "block_diagonal"):
        kernel = tf.Variable(tf.random.normal((3, 3, channels // groups, channels), seed=1))
        forward, weights = _forward(candidate, groups, kernel), [kernel]
    else:
        cls = GroupedConv2D if candidate == "native" else keras.layers.Conv2D
        layer = cls(channels, 3, padding="same", use_bias=False,
                    groups=1 if candidate == "dense" else groups)
        layer.build(shape)
        forward, weights = layer, layer.trainable_weights

    def step(x):
        x = tf.cast(x, dtype)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(forward(x), tf.float32) ** 2)
        return tape.gradient(loss, [x, *weights])

    return tf.function(step, jit_compile=candidate == "keras_groups_xla"), forward, weights


def _median_ms(step, x, repeats):
    step(x)
    step(x)  # tracing and first-call allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        [g.numpy() for g in step(x)]
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def time_candidates(shape=(8, 14, 14, 128), groups=32, dtypes=("float32", "bfloat16"),
                    repeats=10):
    """Rows {candidate, dtype, ms, max_abs_diff (output against Keras's grouped Conv2D)}."""
    x = tf.random.normal(shape, seed=0)
    rows = []
    for dtype in dtypes:
        reference = None
        for candidate in CANDIDATES:
            step, forward, weights = _step(candidate, shape, groups, tf.as_dtype(dtype))
            diff = None
            if candidate != "dense":
                if reference is None:
                    reference_weights = [w.numpy() for w in weights]
                    reference = np.asarray(tf.cast(forward(tf.cast(x, dtype)), tf.float32))
                for w, value in zip(weights, reference_weights):
                    w.assign(value)
                out = np.asarray(tf.cast(forward(tf.cast(x, dtype)), tf.float32))
                diff = float(np.abs(out - reference).max())
            rows.append({"candidate": candidate, "dtype": dtype,
                         "ms": round(_median_ms(step, x, repeats), 2), "max_abs_diff": diff})
    return rows


def tflite_int8(groups=32, channels=128, size=32):
    """Converts a small grouped network (3x3 stem, grouped 3x3, pool, dense) to full-integer
    TFLite and runs it on LiteRT: {converted, error, top1_agreement and relative_error (max
    |difference| / max |logit|) against Keras's float logits}."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(inputs)
    x = GroupedConv2D(channels, 3, padding="same", groups=groups, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))  # logits: they spread, softmax not
    images = np.random.default_rng(0).random((32, size, size, 3), np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = tflite.export_tflite(model, os.path.join(tmp, "g.tflite"), quantize="int8",
                                        representative_data=images, num_calibration=32)
            lite = tflite.LiteRTModel(path).predict(images)
        except Exception as error:  # noqa: BLE001  (the probe reports any failure as a result)
            return {"converted": False, "error": f"{type(error).__name__}: {error}"[:300]}
    logits = model.predict(images, verbose=0)
    return {"converted": True, "error": None,
            "top1_agreement": float(np.mean(lite.argmax(1) == logits.argmax(1))),
            "relative_error": float(np.abs(lite - logits).max() / np.abs(logits).max())}


def _int8_line(int8):
    if not int8["converted"]:
        return f"TFLite full-integer conversion of a grouped network: failed: {int8['error']}"
    return (f"TFLite full-integer conversion of a grouped network: converted; LiteRT's top-1 "
            f"agrees with Keras's on {100 * int8['top1_agreement']:.0f}% of 32 random images, "
            f"max |difference| {100 * int8['relative_error']:.1f}% of the largest logit.")


def _diff(row):
    return "-" if row["max_abs_diff"] is None else f"{row['max_abs_diff']:.1e}"


def run(output_dir, shape=(8, 14, 14, 128), groups=32, repeats=10):
    """Times the candidates, tries the int8 conversion, writes grouped_conv.json and .md."""
    record = {"shape": list(shape), "groups": groups, "repeats": repeats,
              "tensorflow": tf.__version__, "keras": keras.__version__,
              "rows": time_candidates(shape, groups, repeats=repeats),
              "tflite_int8": tflite_int8(groups, shape[-1])}
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "grouped_conv.json"), "w") as f:
        json.dump(record, f, indent=1)
    lines = [f"# Grouped 3x3 convolution, {shape[-1]} channels in {groups} groups, batch "
             f"{shape[0]} at {shape[1]}x{shape[2]}: forward + backward, median of {repeats}", "",
             "| candidate | dtype | ms | max abs diff from Keras's grouped Conv2D |",
             "|---|---|---|---|"]
    lines += [f"| {r['candidate']} | {r['dtype']} | {r['ms']:.2f} | {_diff(r)} |"
              for r in record["rows"]]
    lines += ["", _int8_line(record["tflite_int8"])]
    with open(os.path.join(output_dir, "grouped_conv.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return record
