"""scripts/export.py: a user's mistake is one line on stderr, never a traceback; --verify
prints the fidelity table."""

import pytest
from export_helpers import run_script


def _run(*args, timeout=300):
    return run_script("export.py", *args, timeout=timeout)


# The script's side of a user's mistake: one line, exit status 2, no traceback, for an error of
# the request check (before any work) and one of loading. Every message itself is asserted
# in-process (test_source.py, test_tflite.py, test_onnx.py), where it costs no TensorFlow start.
@pytest.mark.parametrize("args, message", [
    (["--model=/nonexistent/model.keras"], "Model file /nonexistent/model.keras does not exist"),
    (["--model=resnet20", "--format=onnx", "--quantize=int8"],
     "int8 quantization needs representative data"),
])
def test_user_errors_are_one_line(args, message):
    result = _run(*args)
    assert result.returncode == 2
    assert f"export.py: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_verify_prints_fidelity_table(trained_resnet20, cifar10_dir, tmp_path):
    model_path = tmp_path / "resnet20_brief.keras"
    trained_resnet20.save(model_path)
    out = tmp_path / "out"
    result = _run(f"--model={model_path}", "--format=saved_model,tflite",
                  "--quantize=none,float16,dynamic,int8", f"--representative_data={cifar10_dir}",
                  f"--output_dir={out}", "--verify", "--verify_examples=500",
                  "--latency_images=20", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    print(result.stdout)  # the table, for -s runs and the README
    for name in ("float32", "float16", "dynamic", "int8"):
        assert (out / f"resnet20_brief_{name}.tflite").is_file()
        assert f"tflite_{name}" in result.stdout
    assert (out / "1" / "saved_model.pb").is_file()
    assert "| format" in result.stdout and "top-1 agreement" in result.stdout


def test_greyscale_lenet_exports_and_verifies_on_the_digits(tmp_path):
    """LeNet-5 (one channel): int8 calibrated and verified on the digits by name; a bytes
    preprocessing asked for explicitly is a one-line error."""
    out = tmp_path / "lenet"
    result = _run("--model=lenet5", "--format=saved_model,tflite", "--quantize=int8",
                  "--representative_data=digits", f"--output_dir={out}", "--verify",
                  "--latency_images=5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 450 images of digits" in result.stdout and "| tflite_int8" in result.stdout
    assert (out / "1" / "saved_model.pb").is_file() and (out / "lenet5_int8.tflite").is_file()
    bad = _run("--model=lenet5", "--format=saved_model", "--preprocessing=cifar_eval",
               f"--output_dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "a greyscale (1-channel) model has no bytes signature" in (
        bad.stderr)
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_verify_covers_onnx(trained_resnet20, cifar10_dir, tmp_path):
    """--format=onnx writes the float32 and int8 files and --verify runs them on ONNX Runtime."""
    model_path = tmp_path / "resnet20_brief.keras"
    trained_resnet20.save(model_path)
    out = tmp_path / "out"
    result = _run(f"--model={model_path}", "--format=onnx", "--quantize=none,int8",
                  f"--representative_data={cifar10_dir}", f"--output_dir={out}", "--verify",
                  "--verify_examples=500", "--latency_images=20", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    print(result.stdout)
    for name in ("float32", "int8"):
        assert (out / f"resnet20_brief_{name}.onnx").is_file()
        assert f"| onnx_{name}" in result.stdout
    assert not (out / "1").exists()  # no SavedModel asked for
