"""A training step on Keras's current backend (KERAS_BACKEND) against PyTorch's ResNet-50.

Times a training step of our ResNet-50 and ResNet-20 on Keras's current backend (run it with
KERAS_BACKEND=jax: on a GPU machine that is the path without TensorFlow) against torchvision's
ResNet-50 in PyTorch, float32 and bfloat16, on whatever device each framework sees.

    KERAS_BACKEND=jax python scripts/benchmarks/benchmark.py backends --json=backends.json
    KERAS_BACKEND=jax python scripts/benchmarks/benchmark.py backends --models=resnet50 \\
        --batch_size=256 --precisions=bfloat16 --frameworks=keras,torch      # a GPU machine

Each row: framework, backend, device, model, precision, batch, img/s (median of --steps timed
steps after --warmup). Keras compiles the step (XLA on JAX); PyTorch runs eagerly with
`torch.autocast` for bfloat16. SGD with momentum 0.9, cross-entropy, random data, one batch
kept on the device (the step, not the input pipeline).
"""

import json
import os
import statistics
import sys
import time

import keras
import numpy as np
from absl import flags

import keras_deepnets as kd

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["resnet50", "resnet20"], "Registry names (ImageNet or CIFAR).")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "float32 and/or bfloat16.")
flags.DEFINE_list("frameworks", ["keras", "torch"], "keras (our models on KERAS_BACKEND) and/or "
                  "torch (torchvision's ResNet-50; skipped when torch is not installed).")
flags.DEFINE_integer("batch_size", 32, "Batch per step.")
flags.DEFINE_integer("steps", 10, "Timed steps.")
flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation).")
flags.DEFINE_string("json", None, "Write the rows here.")


def _median_ips(step, batch, steps, warmup, sync=lambda: None):
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return round(batch / statistics.median(times), 1)


def keras_rows(models, precisions, batch, steps, warmup):
    rows = []
    for precision in precisions:
        keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16"
                                      else "float32")
        for name in models:
            info = kd.model_info(name)
            model = kd.get_model(name, weights=None, classifier_activation=None)
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            rng = np.random.default_rng(0)
            x = rng.random((batch, *model.input_shape[1:]), "float32")
            y = rng.integers(0, info.classes, batch)
            ips = _median_ips(lambda m=model, x=x, y=y: m.train_on_batch(x, y), batch, steps,
                              warmup)
            rows.append({"framework": "keras", "backend": keras.backend.backend(),
                         "device": _keras_device(), "model": name, "precision": precision,
                         "batch": batch, "img_per_sec": ips})
            print(json.dumps(rows[-1]), flush=True)
    keras.config.set_dtype_policy("float32")
    return rows


def _keras_device():
    if keras.backend.backend() == "jax":
        import jax  # (only on that backend)
        return str(jax.devices()[0].device_kind)
    return keras.backend.backend()


def torch_rows(precisions, batch, steps, warmup):
    try:  # optional: only where PyTorch is installed
        import torch
        import torchvision
    except ImportError as error:
        print(f"torch rows skipped: {error}", file=sys.stderr)
        return []
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = torchvision.models.resnet50().to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, 3, 224, 224, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    for precision in precisions:
        def step(dtype=torch.bfloat16 if precision == "bfloat16" else None):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        ips = _median_ips(step, batch, steps, warmup, sync)
        rows.append({"framework": "torch", "backend": f"torch {torch.__version__}",
                     "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                     "model": "torchvision resnet50", "precision": precision, "batch": batch,
                     "img_per_sec": ips})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    rows = []
    if "keras" in FLAGS.frameworks:
        rows += keras_rows(FLAGS.models, FLAGS.precisions, FLAGS.batch_size, FLAGS.steps,
                           FLAGS.warmup)
    if "torch" in FLAGS.frameworks:
        rows += torch_rows(FLAGS.precisions, FLAGS.batch_size, FLAGS.steps, FLAGS.warmup)
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "keras_backend":
                       os.environ.get("KERAS_BACKEND", "tensorflow"), "rows": rows}, f, indent=1)
