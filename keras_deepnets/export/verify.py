"""Measured fidelity of exported files against the Keras model they came from: max absolute
difference of the outputs, top-1 agreement on real images, file size and latency per image."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_deepnets.export import onnx_export, saved_model, tflite


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """One row of the fidelity table."""

    label: str
    size_bytes: int
    max_abs_diff: float
    top1_agreement: float
    tie_aware_agreement: float
    latency_ms: float

    def as_row(self):
        size = f"{self.size_bytes / 2**20:.2f} MiB" if self.size_bytes else "-"
        return (self.label, size, f"{self.max_abs_diff:.2e}", f"{100 * self.top1_agreement:.2f} %",
                f"{100 * self.tie_aware_agreement:.2f} %", f"{self.latency_ms:.2f}")


def compare(reference, outputs):
    """(max absolute difference, top-1 agreement) of two [n, classes] output arrays."""
    reference, outputs = np.asarray(reference), np.asarray(outputs)
    return (float(np.max(np.abs(reference - outputs))),
            float(np.mean(reference.argmax(-1) == outputs.argmax(-1))))


def tie_aware_agreement(reference, outputs):
    """Top-1 agreement where an output tied at its maximum counts 1/k for k tied classes (the
    expected agreement under random tie-breaking) instead of argmax's lowest-index pick.

    Full-integer int8 softmax outputs are multiples of 1/256, so two classes whose float
    probabilities differ by less than that come out equal: the int8 model is undecided there,
    and argmax's pick says nothing about its fidelity. `compare` reports the strict argmax.
    """
    reference, outputs = np.asarray(reference), np.asarray(outputs)
    top = outputs == outputs.max(-1, keepdims=True)
    hits = top[np.arange(len(top)), reference.argmax(-1)]
    return float(np.mean(hits / top.sum(-1)))


def folder_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _row(label, path, reference, outputs, latency):
    diff, agreement = compare(reference, outputs)
    return Fidelity(label, folder_size(path) if path else 0, diff, agreement,
                    tie_aware_agreement(reference, outputs), latency)


def verify(model, exports, images, latency_images=50, num_threads=None):
    """Fidelity rows: the Keras model itself, then each export.

    `exports`: {label: path} of SavedModel folders, `.tflite` and `.onnx` files (run on
    LiteRT and ONNX Runtime); `images`: the model's
    preprocessed float input [n, size, size, 3] (real images); latency is the median of
    single-image calls over the first `latency_images`.
    """
    images = np.asarray(images, np.float32)
    timed = images[:latency_images]
    reference = model.predict(images, batch_size=64, verbose=0)
    graph = tf.function(lambda x: model(x, training=False))  # timed as a graph, not op by op
    rows = [_row("keras", None, reference, reference, tflite.median_latency_ms(graph, timed))]
    for label, path in exports.items():
        if os.path.isdir(path):
            function = saved_model.load_signature(path)
            outputs = saved_model.predict_saved_model(function, images)
            # Called right away; the default binds this iteration's signature.
            latency = tflite.median_latency_ms(lambda x, fn=function: fn(images=x), timed)
        elif os.fspath(path).endswith(".onnx"):
            runner = onnx_export.OnnxModel(path, num_threads=num_threads)
            outputs = runner.predict(images)
            latency = tflite.median_latency_ms(runner.run, timed)
        else:
            runner = tflite.LiteRTModel(path, num_threads=num_threads)
            outputs = runner.predict(images)
            latency = runner.latency_ms(timed)
        rows.append(_row(label, path, reference, outputs, latency))
    return rows


def format_table(rows, title=None):
    """A Markdown table of `Fidelity` rows."""
    header = ("format", "size", "max abs diff", "top-1 agreement", "tie-aware",
              "latency ms/image")
    body = [r.as_row() for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = [f"| {' | '.join(str(x).ljust(w) for x, w in zip(line, widths))} |"
             for line in (header, *body)]
    lines.insert(1, f"|{'|'.join('-' * (w + 2) for w in widths)}|")
    return "\n".join(([title, ""] if title else []) + lines)
