"""Timing a model in the runtimes it is deployed on, one runtime per process, and the summary of
interleaved rounds (`scripts/benchmarks/benchmark.py deploy`).

A worker times one runtime on one file at the batch sizes asked and prints one JSON line
(`emit`). Run by path, `python .../export/runtimes.py --runtime=onnx_float32 --path=m.onnx ...`,
the module imports numpy, the standard library and the one runtime named: an ONNX Runtime or
LiteRT process holds no TensorFlow, as a deployment would not. The Keras runtimes load a `.keras`
file whose layers the package registers, so `worker_command` runs them as `python -m
keras_deepnets.export.runtimes`. PyTorch's peer (`scripts/benchmarks/deploy_speed_torch.py`, in
its own virtual environment) imports this file by path for the same protocol (`time_calls`,
`predict_all`, `emit`), so every runtime is timed by the same loop.

Protocol: `warmup` untimed calls on the batch, then timed calls until `seconds` have passed and
at least `min_calls` were made; a round's figure is the median call. Across rounds, `summarize`
gives the median and the range of the rounds' figures.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

# The runtimes a worker runs, by the export label of the file each loads (None: the `.keras`).
RUNTIMES = {"keras_predict": None, "keras_function": None, "saved_model": "saved_model",
            "litert_float32": "tflite_float32", "litert_int8": "tflite_int8",
            "onnx_float32": "onnx_float32", "onnx_int8": "onnx_int8"}
KERAS_RUNTIMES = ("keras_predict", "keras_function")
MARK = "DEPLOY_SPEED "  # prefixes the JSON line a worker prints


def time_calls(run, images, warmup=2, seconds=2.0, min_calls=3):
    """Milliseconds of each timed `run(images)` after `warmup` untimed ones."""
    for _ in range(warmup):
        run(images)
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        begin = time.perf_counter()
        run(images)
        times.append(1e3 * (time.perf_counter() - begin))
    return times


def predict_all(run, images, batch_size=32):
    """`run` over `images` in batches of `batch_size` (the last one padded: one shape for
    runtimes that compile per shape), outputs concatenated as float32."""
    outputs = [np.asarray(run(batch_of(images[i:i + batch_size], batch_size)), np.float32)
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs)[:len(images)]


def batch_of(images, size):
    """The first `size` images, repeated when there are fewer."""
    reps = -(-size // len(images))
    return np.ascontiguousarray(np.concatenate([images] * reps)[:size])


def emit(record):
    print(MARK + json.dumps(record), flush=True)


def parse(text):
    """The records a worker printed."""
    return [json.loads(line[len(MARK):]) for line in text.splitlines() if line.startswith(MARK)]


def _tf_threads(threads):
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    return tf


def _keras_runner(runtime, path, threads):
    tf = _tf_threads(threads)
    import keras

    model = keras.saving.load_model(path, compile=False)
    if runtime == "keras_predict":
        return lambda x: model.predict(x, batch_size=len(x), verbose=0)
    # A graph, as a server would call it: `model(x)` op by op is ~10x slower at batch 1.
    function = tf.function(lambda x: model(x, training=False))
    return lambda x: function(x).numpy()


def _saved_model_runner(path, threads):
    tf = _tf_threads(threads)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    return lambda x: signature(images=tf.constant(x))["predictions"].numpy()


def _litert_runner(path, threads):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads or None)
    spec, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    shape = {"batch": None}

    def run(x):
        if shape["batch"] != len(x):
            interpreter.resize_tensor_input(spec["index"], [len(x), *spec["shape"][1:]])
            interpreter.allocate_tensors()
            shape["batch"] = len(x)
        interpreter.set_tensor(spec["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return run


def _onnx_runner(path, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    profile = os.environ.get("DEPLOY_SPEED_ORT_PROFILE")
    if profile:  # onnxruntime's per-node trace, for finding where a session's time goes
        options.enable_profiling = True
        options.profile_file_prefix = profile
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def runner(runtime, path, threads=0):
    """A function from a float32 image batch (numpy) to the model's outputs, on `runtime`."""
    if runtime in KERAS_RUNTIMES:
        return _keras_runner(runtime, path, threads)
    if runtime == "saved_model":
        return _saved_model_runner(path, threads)
    if runtime.startswith("litert_"):
        return _litert_runner(path, threads)
    if runtime.startswith("onnx_"):
        return _onnx_runner(path, threads)
    raise ValueError(f"Unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}.")


def worker_command(runtime, path, images, batches, *, threads=0, warmup=2, seconds=2.0,
                   outputs=None, python=sys.executable):
    """The command line of a worker timing `runtime` (see the module doc)."""
    head = ([python, "-m", "keras_deepnets.export.runtimes"] if runtime in KERAS_RUNTIMES
            else [python, os.path.abspath(__file__)])
    return head + [f"--runtime={runtime}", f"--path={path}", f"--images={images}",
                   f"--batches={','.join(map(str, batches))}", f"--threads={threads}",
                   f"--warmup={warmup}", f"--seconds={seconds}",
                   f"--outputs={outputs or ''}"]


def run_worker(args, run, prepare=None, **extra):
    """Saves the outputs on every image (when asked), then times each batch size; emits one
    record {"runtime", "ms": {batch: [ms per call]}, **extra}. `prepare` turns a numpy batch
    into what `run` takes fastest, outside the timing (a peer's own tensor type)."""
    images = np.load(args.images).astype(np.float32)
    if args.outputs:
        np.save(args.outputs, predict_all(run, images))
    ms = {}
    for batch in [int(b) for b in args.batches.split(",") if b]:
        x = batch_of(images, batch)
        ms[str(batch)] = time_calls(run, prepare(x) if prepare else x, args.warmup, args.seconds)
    emit({"runtime": args.runtime, "ms": ms, "threads": args.threads, **extra})


def worker_arguments(argv=None, extra=()):
    """The worker's command line (`extra`: (flag, kwargs) pairs a peer adds)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--path", default="")
    parser.add_argument("--images", required=True, help="float32 .npy [n, size, size, 3]")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--threads", type=int, default=0, help="0: the runtime's default")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--outputs", default="", help="save outputs on all images here (.npy)")
    for flag, kwargs in extra:
        parser.add_argument(flag, **kwargs)
    return parser.parse_args(argv)


def _spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rounds):
    """{model: {runtime: {batch: {"median", "min", "max"} of images/s}}} over rounds, each
    round {model: [worker records]}; a round's figure is its median call."""
    figures = {}
    for round_records in rounds:
        for model, records in round_records.items():
            for record in records:
                for batch, ms in record["ms"].items():
                    ips = int(batch) * 1e3 / statistics.median(ms)
                    figures.setdefault(model, {}).setdefault(record["runtime"], {}).setdefault(
                        batch, []).append(ips)
    return {model: {runtime: {batch: _spread(v) for batch, v in batches.items()}
                    for runtime, batches in runtimes.items()}
            for model, runtimes in figures.items()}


def _cell(spread):
    return f"{spread['median']:.1f} ({spread['min']:.1f}-{spread['max']:.1f})"


def fastest(runtimes, batch, agreement=None, peer_prefix="torch_"):
    """(ours, peer): the (runtime, median images/s) of the fastest of each side at `batch`;
    None for a side that has no runtime. With `agreement` ({runtime: (share, images, diff)}),
    ours is the fastest whose top-1 agreement is at least the fastest peer's: a comparison
    "at equal agreement" (int8 files trade agreement for speed)."""
    sides = ([], [])
    for runtime, batches in runtimes.items():
        if batch in batches:
            sides[runtime.startswith(peer_prefix)].append((runtime, batches[batch]["median"]))
    peer = max(sides[1], key=lambda item: item[1]) if sides[1] else None
    ours = sides[0]
    if agreement is not None and peer is not None:
        floor = agreement.get(peer[0], (0.0,))[0]
        ours = [item for item in ours if agreement.get(item[0], (-1.0,))[0] >= floor]
    return (max(ours, key=lambda item: item[1]) if ours else None), peer


def markdown(summary, agreement):
    """The Markdown table of `summarize`'s figures with each runtime's top-1 agreement and
    largest difference from the reference ({model: {runtime: (agreement, images, max |diff| /
    max |reference|)}}), then the fastest of each side per batch."""
    lines = []
    for model, runtimes in summary.items():
        batches = sorted({b for v in runtimes.values() for b in v}, key=int)
        lines += [f"**{model}**", "",
                  "| runtime | " + " | ".join(f"batch {b}: images/s, median (min-max)"
                                              for b in batches)
                  + " | top-1 agreement | max diff / max output |",
                  "|---|" + "---:|" * (len(batches) + 2)]
        for runtime, figures in runtimes.items():
            share, count, diff = agreement.get(model, {}).get(runtime, (None, 0, None))
            cells = [_cell(figures[b]) if b in figures else "-" for b in batches]
            agreed = "- | -" if share is None else f"{share:.4f} of {count} | {diff:.1e}"
            lines.append(f"| {runtime} | {' | '.join(cells)} | {agreed} |")
        lines.append("")
        for batch in batches:
            ours, peer = fastest(runtimes, batch)
            equal, _ = fastest(runtimes, batch, agreement.get(model, {}))
            if ours and peer:
                lines.append(f"- batch {batch}: fastest here {ours[0]} {ours[1]:.1f}, PyTorch's "
                             f"{peer[0]} {peer[1]:.1f} images/s: {ours[1] / peer[1]:.2f}x")
            if equal and peer:
                lines.append(f"- batch {batch}, at PyTorch's top-1 agreement or better: "
                             f"{equal[0]} {equal[1]:.1f} images/s: {equal[1] / peer[1]:.2f}x")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    _args = worker_arguments()
    run_worker(_args, runner(_args.runtime, _args.path, _args.threads))
