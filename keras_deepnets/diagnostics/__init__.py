"""Diagnostics of the training step's speed, outside the training core: tools that read what a
run did, for the performance notes (docs/performance.md), never used by a training run.

- `op_profile`: where a step's time goes, read from a TF profiler trace (`--profile=N`) without
  TensorBoard; `op_profile.profile_step` traces a short run of `training.train` itself
  (scripts/benchmarks/benchmark.py profile).
- `onednn_log`: what oneDNN ran in marked steps, read from its own log; TF's and PyTorch's
  kernels side by side (scripts/benchmarks/benchmark.py vs_torch --onednn). Standard library only:
  see its docstring.
- `rounds`: interleaved timing rounds of two sides as medians and ranges, the ratio paired per
  round (the table of scripts/benchmarks/benchmark.py vs_torch). Standard library only.

Layering: the diagnostics import the training core, never the other way round. The trace itself
is taken by the core's `--profile=N` flag (`training.profiling.StepProfiler`, one of the run's
actions), so it stays in the core; reading it is a diagnostic.

This `__init__` imports nothing, so that importing `onednn_log` through the package loads no
more than the package's own `__init__` does.
"""
