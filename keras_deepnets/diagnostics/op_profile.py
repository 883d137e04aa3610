"""Where a training step's time goes, read from a TF profiler trace (`--profile=N`,
training/profiling.py) without TensorBoard: the trace's XSpace proto (`*.xplane.pb`, parsed with
the proto module that ships inside TensorFlow) lists every kernel TF ran, as
`<op name>:<op type>` events on the `tf_Compute` threads of the host plane, with their durations.

    >>> rows, wall = op_profile.breakdown("runs/r20/tensorboard", steps=20)     # doctest: +SKIP
    >>> print(op_profile.markdown(rows, wall))                                  # doctest: +SKIP
    >>> rows, wall = op_profile.profile_step("resnet20", "bfloat16")            # doctest: +SKIP

Command line: scripts/benchmarks/benchmark.py profile.

Kernel times add up across TF's inter-op threads (two kernels may run at once), so the shares
are of the summed kernel time, and the step's wall time (the step function's calls in the
trace) is given beside them. oneDNN's kernels keep their names (`_MklNativeConv2DBackpropFilter`).
"""

import collections
import glob
import os
import tempfile

import numpy as np
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from keras_deepnets.training import profiling
from keras_deepnets.training.loop import train

# (category, op types, where): "fwd" ops outside the gradient tape, "bwd" inside it, "any" both;
# the first match wins. Op names put the backward pass under "gradient_tape/" and the
# optimizer's update under the optimizer's name ("sgd/", "SGD/").
CATEGORIES = (
    ("convolution forward", ("Conv2D", "_MklNativeConv2D", "_FusedConv2D",
                             "_MklNativeFusedConv2D", "DepthwiseConv2dNative"), "fwd"),
    ("convolution backward (input)", ("Conv2DBackpropInput", "_MklNativeConv2DBackpropInput"),
     "any"),
    ("convolution backward (filter)", ("Conv2DBackpropFilter",
                                       "_MklNativeConv2DBackpropFilter"), "any"),
    ("batch norm forward", ("FusedBatchNormV3", "_MklNativeFusedBatchNormV3",
                            "_FusedBatchNormEx", "_MklNativeFusedBatchNormEx"), "fwd"),
    ("batch norm backward", ("FusedBatchNormGradV3", "_MklNativeFusedBatchNormGradV3",
                             "_FusedBatchNormGradEx"), "any"),
    ("ReLU forward", ("Relu",), "fwd"),
    ("ReLU backward", ("ReluGrad",), "any"),
    ("zero-pad shortcut (slice, pad) forward", ("StridedSlice", "Pad"), "fwd"),
    ("zero-pad shortcut backward", ("StridedSliceGrad", "Slice"), "bwd"),
    ("residual adds forward", ("AddV2",), "fwd"),
    ("gradient sums (AddN)", ("AddN",), "any"),
    ("casts (mixed precision)", ("Cast",), "any"),
    ("classifier (pool, matmul, softmax)", ("MatMul", "_MklMatMul", "Mean", "Tile",
                                            "SoftmaxCrossEntropyWithLogits",
                                            "SparseSoftmaxCrossEntropyWithLogits", "BiasAdd",
                                            "BiasAddGrad"), "any"),
)
STEP_FUNCTION = "_train_step"  # StepFunctions' tf.function (steps.py)
_CALL = "EagerLocalExecute: __inference_"
OPTIMIZER = "optimizer update and weight decay"
VARIABLES = "variable reads and writes"
OTHER = "other"
_VARIABLE_OPS = ("ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp",
                 "AssignSubVariableOp")


def category(op_name, op_type):
    """The breakdown's category of one kernel."""
    scope = op_name.split("/")[0].lower()
    if scope in ("sgd", "optimizer", "loss_scale_optimizer") or "weight_decay" in op_name:
        return OPTIMIZER
    if op_type in _VARIABLE_OPS:
        return VARIABLES
    backward = op_name.startswith("gradient_tape/")
    for name, types, where in CATEGORIES:
        if op_type in types and (where == "any" or (where == "bwd") == backward):
            return name
    return OTHER


def find_trace(logdir):
    """The newest `*.xplane.pb` under `logdir` (a model_dir's tensorboard folder, or the file)."""
    if os.path.isfile(logdir):
        return logdir
    found = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True),
                   key=os.path.getmtime)
    if not found:
        raise FileNotFoundError(f"No profiler trace (*.xplane.pb) under {logdir}: run with "
                                "profile=N (--profile=N) first.")
    return found[-1]


def kernels(path, step_function=STEP_FUNCTION):
    """(op name, op type, microseconds) of every kernel in the trace's host plane, and the
    durations (microseconds) of the calls of the tf.function whose name holds `step_function`
    (TF's `EagerLocalExecute: __inference_<name>_<id>` events)."""
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    events, runs = [], []
    for plane in space.planes:
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            compute = line.name.startswith("tf_Compute")
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if name.startswith(_CALL) and step_function in name:
                    runs.append(event.duration_ps / 1e6)
                elif compute and ":" in name and "::" not in name:  # not the executor's own
                    op_name, op_type = name.rsplit(":", 1)
                    events.append((op_name, op_type, event.duration_ps / 1e6))
    return events, runs


def breakdown(logdir, steps, step_function=STEP_FUNCTION):
    """Rows {category, ms_per_step, kernels_per_step, share} (largest first) over `steps`
    traced steps, and the median wall milliseconds of a traced step call."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be the number of traced steps (>= 1); got {steps!r}.")
    events, runs = kernels(find_trace(logdir), step_function)
    micros, counts = collections.Counter(), collections.Counter()
    for op_name, op_type, us in events:
        key = category(op_name, op_type)
        micros[key] += us
        counts[key] += 1
    total = sum(micros.values()) or 1.0
    rows = [{"category": key, "ms_per_step": us / steps / 1e3,
             "kernels_per_step": counts[key] / steps, "share": us / total}
            for key, us in micros.most_common()]
    wall = float(np.median(runs)) / 1e3 if runs else None
    return rows, wall


def markdown(rows, wall_ms=None):
    """The breakdown as a Markdown table."""
    lines = ["| where the time goes | ms per step | kernels per step | share of kernel time |",
             "|---|---:|---:|---:|"]
    lines += [f"| {r['category']} | {r['ms_per_step']:.1f} | {r['kernels_per_step']:.0f} | "
              f"{100 * r['share']:.1f}% |" for r in rows]
    total = sum(r["ms_per_step"] for r in rows)
    lines.append(f"| all kernels (summed over threads) | {total:.1f} | "
                 f"{sum(r['kernels_per_step'] for r in rows):.0f} | 100% |")
    if wall_ms is not None:
        lines.append(f"| wall time of a step call | {wall_ms:.1f} | | |")
    return "\n".join(lines)


def profile_step(model="resnet20", mixed_precision="float32", batch_size=None, steps=20,
                 recipe="paper", model_dir=None, verbose=0):
    """Traces `steps` training steps of `model` on synthetic data through `training.train`
    (after its untraced first steps) and returns `breakdown`'s (rows, wall ms); the trace stays
    in `model_dir` (default a temporary folder, removed)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number; got {steps!r}.")
    with tempfile.TemporaryDirectory(prefix="profile_") as scratch:
        run_dir = model_dir or scratch
        train(model=model, mixed_precision=mixed_precision, batch_size=batch_size,
              recipe=recipe, train_steps=profiling.SKIP + steps + 1, profile=steps,
              synthetic_examples=(batch_size or 128) * 4, eval_every=0,
              model_dir=run_dir, export_dir="", tensorboard=False, verbose=verbose)
        return breakdown(os.path.join(run_dir, "tensorboard"), steps)
