"""Deployed inference img/s of the exports in their runtimes against PyTorch, with top-1 agreement.

Side by side in one run: the package's exports in the runtimes they are made for against
PyTorch, for ResNet-50 v1.5 and ResNet-20, in interleaved rounds.

    python scripts/benchmarks/benchmark.py deploy --torch_python=/tmp/torchenv/bin/python \\
        --rounds=3 --resnet20_weights=runs/resnet20/checkpoints/best.weights.h5 \\
        --output_dir=docs/results/one_cpu

Each round runs every (model, runtime) once, each in a fresh process
(keras_deepnets/export/runtimes.py; PyTorch's in its own venv through
scripts/benchmarks/deploy_speed_torch.py), timing every --batches size; a round's figure is the
median call, the table the median and range of the rounds' figures, in images/s. The first round's
workers also run every agreement image, and each runtime's top-1 is compared with the Keras
float32 model's on the same images.

- ResNet-50 v1.5 (torchvision's architecture, `kd.from_torchvision`) with the weights of
  ../shared/torchvision's numpy rebuild of torchvision's resnet50 state_dict (seeded, BN
  statistics re-estimated on real photos: not ImageNet-trained; no published file is on this
  machine), the same state_dict loaded into torchvision's `resnet50` on PyTorch's side; real
  photos of the ImageNet sample through torchvision's evaluation transform ("torch" mode).
- ResNet-20 (CIFAR): `--resnet20_weights` (random initialisation without); CIFAR-10 test
  JPEGs through cifar_eval. PyTorch has no torchvision ResNet-20: not timed on its side.
- int8 (LiteRT full-integer, ONNX Runtime static QDQ): calibrated on other images of the same
  data as the agreement images (ImageNet sample photos of other classes; CIFAR training images).
`--torch_python=` (empty) skips PyTorch's side, saying so.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
from absl import flags

import keras_deepnets as kd
from keras_deepnets import data, export
from keras_deepnets.export import runtimes
from modes import BENCHMARKS

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(kd.__file__)))
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "keras_deepnets")
MODELS = ("resnet50", "resnet20")
TORCH_RUNTIMES = ("torch_eager", "torch_eager_cl", "torch_compile")

flags.DEFINE_list("models", list(MODELS), "resnet50 (v1.5) and/or resnet20.")
flags.DEFINE_list("runtimes", list(runtimes.RUNTIMES), "The package's runtimes to time.")
flags.DEFINE_list("batches", ["1", "32"], "Batch sizes.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds.")
flags.DEFINE_string("torch_python", "/tmp/torchenv/bin/python", "A Python with torch and "
                    "torchvision (a scratch venv, see the vs_torch mode); empty: no PyTorch.")
flags.DEFINE_list("torch_runtimes", list(TORCH_RUNTIMES), "PyTorch's runtimes (ResNet-50).")
flags.DEFINE_integer("threads", 0, "Intra-op threads of every runtime; 0: each runtime's "
                     "default.")
flags.DEFINE_integer("warmup", 2, "Untimed calls per batch size.")
flags.DEFINE_float("seconds", 2.0, "Timed seconds per batch size (at least 3 calls).")
flags.DEFINE_string("resnet20_weights", None, "ResNet-20 weights (.weights.h5); default random.")
flags.DEFINE_integer("agreement_images", 200, "ResNet-50: ImageNet-sample photos compared.")
flags.DEFINE_integer("cifar_images", 1000, "ResNet-20: CIFAR-10 test images compared.")
flags.DEFINE_integer("num_calibration", 100, "int8 calibration images.")
flags.DEFINE_string("imagenet_dir", os.path.join(CACHE, "imagenet1k-sample",
                                                 "imagenet1k-sample"), "ImageNet sample.")
flags.DEFINE_string("cifar_dir", os.path.join(CACHE, "cifar10-jpeg"), "CIFAR-10 JPEG folder.")
flags.DEFINE_string("fixtures", os.path.join(BENCHMARKS, "..", "..", "..", "shared", "torchvision"),
                    "../shared/torchvision (the numpy rebuild of torchvision's state_dicts).")
flags.DEFINE_string("work_dir", None, "Exports and images; default a temporary folder.")
flags.DEFINE_string("output_dir", None, "Writes deploy_speed.json and deploy_speed.md here.")
FLAGS = flags.FLAGS


def fail(message):
    sys.exit(f"error: {message}")


def check_flags():
    """One-line errors before any work."""
    for name, given, accepted in (("models", FLAGS.models, MODELS),
                                  ("runtimes", FLAGS.runtimes, runtimes.RUNTIMES),
                                  ("torch_runtimes", FLAGS.torch_runtimes, TORCH_RUNTIMES)):
        bad = [x for x in given if x not in accepted]
        if bad:
            fail(f"--{name} takes {', '.join(accepted)}; got {', '.join(bad)}.")
    if not all(b.isdigit() and int(b) > 0 for b in FLAGS.batches):
        fail(f"--batches takes positive integers; got {','.join(FLAGS.batches)}.")
    if FLAGS.rounds < 1:
        fail(f"--rounds must be at least 1; got {FLAGS.rounds}.")
    if FLAGS.torch_python and not os.access(FLAGS.torch_python, os.X_OK):
        fail(f"--torch_python={FLAGS.torch_python!r} is not an executable Python; make a venv "
             "with torch and torchvision (`benchmark.py vs_torch --help`) or pass "
             "--torch_python= to skip PyTorch.")
    folders = {"resnet50": [("imagenet_dir", FLAGS.imagenet_dir), ("fixtures", FLAGS.fixtures)],
               "resnet20": [("cifar_dir", FLAGS.cifar_dir)]}
    for model in FLAGS.models:
        for name, folder in folders[model]:
            if not os.path.isdir(folder):
                fail(f"--{name}={folder}: no such folder (tests/conftest.py extracts "
                     "../shared/data into ~/.cache/keras_deepnets).")
    if FLAGS.resnet20_weights and not os.path.isfile(FLAGS.resnet20_weights):
        fail(f"--resnet20_weights={FLAGS.resnet20_weights}: no such file.")


def _images(folder, split, preset, count):
    batches = data.load(folder, split, preset=preset, batch_size=100, max_examples=count,
                        shuffle=False, seed=0)
    return np.concatenate([images for images, _ in batches.as_numpy_iterator()])


def resnet50_inputs(work):
    """The converted model, agreement photos, calibration photos and the state_dict file
    PyTorch loads."""
    sys.path.insert(0, FLAGS.fixtures)
    from seeded_weights import load_fixture  # the fixtures' own numpy-only rebuild

    state, _ = load_fixture("resnet50")
    state_path = os.path.join(work, "resnet50_state.npz")
    np.savez(state_path, **state)
    model = kd.from_torchvision(state, classifier_activation=None)
    photos = _images(FLAGS.imagenet_dir, None, data.get_preset("imagenet_eval", mode="torch"),
                     1000)
    step = max(1, len(photos) // FLAGS.agreement_images)
    agreement = photos[::step][:FLAGS.agreement_images]  # classes spread over the 1,000
    calibration = photos[step // 2::step][:FLAGS.num_calibration]  # the classes between
    return model, agreement, calibration, state_path


def resnet20_inputs(work):
    del work
    model = kd.get_model("resnet20", weights=FLAGS.resnet20_weights)
    preset = data.get_preset("cifar_eval", mean=data.cifar_mean(FLAGS.cifar_dir))
    return (model, _images(FLAGS.cifar_dir, "test", preset, FLAGS.cifar_images),
            _images(FLAGS.cifar_dir, "train", preset, FLAGS.num_calibration), None)


def prepare(name, work):
    """{"keras": path, label: path, ..., "images": .npy, "reference": outputs, "torch_state"}."""
    model, images, calibration, state = (resnet50_inputs if name == "resnet50"
                                         else resnet20_inputs)(work)
    folder = os.path.join(work, name)
    os.makedirs(folder, exist_ok=True)
    paths = {"keras": os.path.join(folder, f"{name}.keras"),
             "images": os.path.join(folder, "images.npy"), "torch_state": state}
    model.save(paths["keras"])
    np.save(paths["images"], images)
    labels = [runtimes.RUNTIMES[r] for r in FLAGS.runtimes if runtimes.RUNTIMES[r]]
    formats = sorted({"saved_model" if x == "saved_model" else x.split("_")[0] for x in labels})
    quantize = sorted({"int8" if x.endswith("int8") else "none" for x in labels
                       if x != "saved_model"}) or ["none"]
    if formats:
        paths.update(export.export_model(
            model, folder, formats=formats, quantize=quantize, preprocessing=None, name=name,
            representative_data=calibration, num_calibration=len(calibration)))
    paths["reference"] = model.predict(images, batch_size=32, verbose=0)
    return paths


def cases(name, paths):
    """(runtime, python, script or None, file) of every runtime timed for model `name`."""
    ours = [(r, sys.executable, None, paths[runtimes.RUNTIMES[r] or "keras"])
            for r in FLAGS.runtimes]
    if name != "resnet50" or not FLAGS.torch_python:
        return ours
    script = os.path.join(BENCHMARKS, "deploy_speed_torch.py")
    return ours + [(r, FLAGS.torch_python, script, paths["torch_state"])
                   for r in FLAGS.torch_runtimes]


def run_case(case, paths, outputs=None):
    """One worker process; its record."""
    runtime, python, script, path = case
    command = runtimes.worker_command(runtime, path, paths["images"], FLAGS.batches,
                                      threads=FLAGS.threads, warmup=FLAGS.warmup,
                                      seconds=FLAGS.seconds, outputs=outputs, python=python)
    if script:  # PyTorch's peer takes the same arguments
        command = [python, script] + command[2:]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(  # the workers import this package
        [PACKAGE_ROOT] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    records = runtimes.parse(done.stdout)
    if done.returncode or not records:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        fail(f"{runtime} on {path} failed (exit {done.returncode}):\n{tail}")
    return records[0]


def one_round(prepared, work, agreement=None):
    """{model: [records]}; with `agreement` (the first round) each worker also runs every
    agreement image and `agreement` gets {model: {runtime: (top-1 share, images, max |output
    - Keras's| / max |Keras's|)}}."""
    result = {}
    for name, paths in prepared.items():
        result[name] = []
        for case in cases(name, paths):
            outputs = os.path.join(work, f"{name}_{case[0]}_outputs.npy") if agreement is not None \
                else None
            result[name].append(run_case(case, paths, outputs))
            if outputs:
                diff, share = export.compare(paths["reference"], np.load(outputs))
                scale = float(np.abs(paths["reference"]).max())
                agreement.setdefault(name, {})[case[0]] = (share, len(paths["reference"]),
                                                           diff / scale)
    return result


def reference_classes(prepared):
    """{model: distinct top-1 classes of the Keras model on the agreement images}: agreement
    means little where the model gives every image the same class (random weights)."""
    return {name: len(set(np.argmax(paths["reference"], -1).tolist()))
            for name, paths in prepared.items()}


def versions(rounds):
    import ai_edge_litert
    import onnxruntime
    import tensorflow as tf

    torch = {r.get("torch") for m in rounds[0].values() for r in m} - {None}
    return {"tensorflow": tf.__version__, "onnxruntime": onnxruntime.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
            "torch": sorted(torch)[0] if torch else None, "cpu": platform.processor() or
            platform.machine(), "cpus": os.cpu_count()}


def goal(summary, agreement):
    """Per model and batch: the fastest of each side, at any agreement and at PyTorch's top-1
    agreement or better (the goal: ours ahead at equal agreement)."""
    verdict = {}
    for model, table in summary.items():
        for batch in FLAGS.batches:
            ours, peer = runtimes.fastest(table, batch)
            equal, _ = runtimes.fastest(table, batch, agreement.get(model, {}))
            if ours and peer:
                verdict[f"{model} b{batch}"] = {
                    "ours": ours, "torch": peer, "ratio": ours[1] / peer[1],
                    "ours_at_equal_agreement": equal,
                    "ratio_at_equal_agreement": equal[1] / peer[1] if equal else None,
                    "met": bool(equal) and equal[1] > peer[1]}
    return verdict


def write(record, table):
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, "deploy_speed.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(FLAGS.output_dir, "deploy_speed.md"), "w") as f:
        f.write(f"`python scripts/benchmarks/benchmark.py {' '.join(sys.argv[1:])}`\n\n{table}")


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    check_flags()
    if not FLAGS.torch_python:
        print("PyTorch's side skipped: --torch_python is empty.", flush=True)
    with tempfile.TemporaryDirectory(prefix="deploy_speed_") as tmp:
        work = FLAGS.work_dir or tmp
        os.makedirs(work, exist_ok=True)
        prepared = {name: prepare(name, work) for name in FLAGS.models}
        agreement, rounds = {}, []
        for i in range(FLAGS.rounds):
            rounds.append(one_round(prepared, work, agreement if i == 0 else None))
            print(f"round {i + 1} of {FLAGS.rounds} done", flush=True)
    summary = runtimes.summarize(rounds)
    table = runtimes.markdown(summary, agreement)
    print(table)
    record = {"command": sys.argv, "versions": versions(rounds), "threads": FLAGS.threads,
              "resnet20_weights": FLAGS.resnet20_weights or "random initialisation",
              "summary": summary, "agreement": agreement,
              "reference_classes": reference_classes(prepared), "goal": goal(summary, agreement),
              "rounds": rounds}
    if FLAGS.output_dir:
        write(record, table)
