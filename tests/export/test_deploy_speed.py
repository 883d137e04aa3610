"""`scripts/benchmarks/benchmark.py deploy` run for real in its smallest configuration
(ResNet-20, batch 1, one round, no PyTorch), and the worker module's promise to load no
TensorFlow when run by path."""

import json
import os
import subprocess
import sys

from keras_deepnets.export import runtimes
from export_helpers import run_script


def _run(*args, timeout=300):
    return run_script("benchmarks/benchmark.py", "deploy", *args, timeout=timeout)


def test_tiny_run_writes_its_record(trained_resnet20, cifar10_dir, tmp_path):
    weights = tmp_path / "resnet20.weights.h5"
    trained_resnet20.save_weights(weights)
    done = _run("--models=resnet20", "--runtimes=keras_function,onnx_float32,onnx_int8",
                "--batches=1", "--rounds=1", "--torch_python=", "--seconds=0.2",
                "--cifar_images=100", "--num_calibration=20", f"--cifar_dir={cifar10_dir}",
                f"--resnet20_weights={weights}", f"--output_dir={tmp_path / 'out'}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PyTorch's side skipped: --torch_python is empty." in done.stdout
    record = json.loads((tmp_path / "out" / "deploy_speed.json").read_text())
    summary = record["summary"]["resnet20"]
    assert sorted(summary) == ["keras_function", "onnx_float32", "onnx_int8"]
    for figures in summary.values():
        spread = figures["1"]
        assert 0 < spread["min"] <= spread["median"] <= spread["max"]
    agreement = record["agreement"]["resnet20"]
    assert all(0 <= share <= 1 and count == 100 for share, count, _ in agreement.values())
    assert agreement["onnx_float32"][2] <= 1e-4  # the export tests' float32 tolerance
    # The trained model's classes vary over the images, so 1.0 is more than a constant output.
    assert record["reference_classes"]["resnet20"] > 1
    assert agreement["onnx_float32"][0] == 1.0
    assert agreement["keras_function"][0] == 1.0
    assert record["goal"] == {}  # no PyTorch side to compare with
    table = (tmp_path / "out" / "deploy_speed.md").read_text()
    assert "| onnx_int8 |" in table and "scripts/benchmarks/benchmark.py deploy" in table


def test_bad_flags_are_one_line():
    done = _run("--models=resnet18", "--torch_python=")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == ("error: --models takes resnet50, resnet20; "
                                                    "got resnet18.")
    assert "Traceback" not in done.stderr


# What an ONNX Runtime or LiteRT worker (and PyTorch's peer) does: the module by path.
ALONE = """
import json, sys
before = set(sys.modules)
sys.path.insert(0, sys.argv[1])
import runtimes
loaded = {m.split(".")[0] for m in set(sys.modules) - before}
print(json.dumps(sorted(loaded & {"tensorflow", "keras", "keras_deepnets", "onnxruntime"})))
"""

def test_worker_module_by_path_loads_no_framework():
    folder = os.path.dirname(os.path.abspath(runtimes.__file__))
    done = subprocess.run([sys.executable, "-I", "-c", ALONE, folder], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []


def _spread(ips):
    return {"1": {"median": ips, "min": ips, "max": ips}}


def test_the_goal_compares_at_equal_agreement():
    """A faster int8 file that agrees less with the reference than PyTorch does is the fastest
    here, but not the one the goal counts: that is the fastest at PyTorch's agreement or better."""
    summary = {"onnx_int8": _spread(90.0), "onnx_float32": _spread(30.0),
               "keras_function": _spread(15.0), "torch_compile": _spread(20.0),
               "torch_eager": _spread(18.0)}
    agreement = {"onnx_int8": (0.6, 200, 4e-2), "onnx_float32": (1.0, 200, 2e-6),
                 "keras_function": (1.0, 200, 0.0), "torch_compile": (1.0, 200, 2e-6),
                 "torch_eager": (1.0, 200, 2e-6)}
    assert runtimes.fastest(summary, "1") == (("onnx_int8", 90.0), ("torch_compile", 20.0))
    assert runtimes.fastest(summary, "1", agreement) == (("onnx_float32", 30.0),
                                                         ("torch_compile", 20.0))
    summary["onnx_float32"] = _spread(10.0)  # now nothing of ours at equal agreement is ahead
    assert runtimes.fastest(summary, "1", agreement)[0] == ("keras_function", 15.0)
    table = runtimes.markdown({"resnet50": summary}, {"resnet50": agreement})
    assert ("- batch 1, at PyTorch's top-1 agreement or better: keras_function 15.0 images/s: "
            "0.75x") in table
