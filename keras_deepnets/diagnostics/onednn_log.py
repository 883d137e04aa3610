"""What oneDNN ran in a training step, read from its own log: the kernels of TF and PyTorch
compared one for one.

On x86 CPUs both frameworks run their convolutions (and TF its batch norms) through oneDNN. With
`ONEDNN_VERBOSE=1` in the environment oneDNN prints a line for every primitive it executes:
kind (convolution, batch_normalization, reorder...), pass (forward_training, backward_data,
backward_weights), implementation (`brg_conv_fwd:avx512_core_bf16`...), memory formats, shape
and milliseconds. The op-level trace (op_profile.py) cannot say whether a slow convolution is a
different kernel or the same kernel run differently; this log can, for any program, PyTorch's
included. A program marks the steps to count by printing BEGIN before and END after them
(`marked_steps`); everything outside (tracing, warm-up, start-up) is left out.

    $ ONEDNN_VERBOSE=1 python -c "..." > ours.log        # steps printed between the markers
    >>> rows = breakdown(calls(open("ours.log").read()), steps=10)          # doctest: +SKIP

Command line: `scripts/benchmarks/benchmark.py vs_torch --onednn` (ours and PyTorch's step, side by
side).

Standard library only: `benchmark.py vs_torch` puts this module's folder on `sys.path` in a PyTorch
process (another virtual environment, without TensorFlow, Keras or numpy) and imports it there as
`onednn_log`, to mark PyTorch's steps as ours are marked. An import of anything outside the
standard library, or of the package, breaks that side; tests/diagnostics/test_onednn_log.py
imports the file alone in an isolated interpreter to keep it so.

The log's time is each primitive's own wall time: where TF runs two kernels at once (its two
inter-op threads) each reads slower than alone, so compare kernels with one inter-op thread
(`inter_op_threads=1`), and whole steps with the defaults.
"""

import collections
import sys
import time

BEGIN, END = "ONEDNN_STEPS_BEGIN", "ONEDNN_STEPS_END"
VARIABLE = "ONEDNN_VERBOSE"


def calls(text):
    """(kind, pass, implementation, shape, ms) of each primitive execution logged between the
    BEGIN and END marker lines of `text` (the program's standard output)."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"No {BEGIN} ... {END} lines in the log: print them around the steps "
                         f"to count (onednn_log.marked_steps), and run with {VARIABLE}=1.")
    inside, found = False, []
    for line in text.splitlines():
        if line.startswith(BEGIN):
            inside = True
        elif line.startswith(END):
            inside = False
        elif inside and line.startswith("onednn_verbose") and ",exec," in line:
            # onednn_verbose,[v1,primitive,]exec,cpu,<kind>,<impl>,<pass>,<formats>,...,<shape>,<ms>
            fields = line.rstrip().split(",")
            at = fields.index("exec")
            found.append((fields[at + 2], fields[at + 4], fields[at + 3].split(":")[0],
                          fields[-2], float(fields[-1])))
    return found


def wall_ms(text):
    """The milliseconds per step that `marked_steps` printed on its END line."""
    for line in text.splitlines():
        if line.startswith(END):
            return float(line.split()[-1])
    raise ValueError(f"No {END} line in the log.")


def breakdown(found, steps, by_shape=False):
    """{(kind, pass, implementation[, shape]): (ms per step, calls per step)}, largest first."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be the number of logged steps (>= 1); got {steps!r}.")
    ms, count = collections.Counter(), collections.Counter()
    for kind, pass_, impl, shape, millis in found:
        key = (kind, pass_, impl, shape) if by_shape else (kind, pass_, impl)
        ms[key] += millis
        count[key] += 1
    return {key: (total / steps, count[key] / steps) for key, total in ms.most_common()}


def marked_steps(step, steps, warmup=3, out=None):
    """Runs `step()` `warmup` times, then `steps` times between the BEGIN and END lines (END
    carries the wall ms per step); `step` returns something with `.numpy()` or None. Returns
    the seconds per step."""
    out = out or sys.stdout
    for _ in range(warmup):
        result = step()
    print(BEGIN, file=out, flush=True)
    start = time.perf_counter()
    for _ in range(steps):
        result = step()
    if hasattr(result, "numpy"):
        result.numpy()  # TF runs ops asynchronously: wait for the last step
    seconds = (time.perf_counter() - start) / steps
    print(f"{END} ms/step {1000 * seconds:.3f}", file=out, flush=True)
    return seconds


def compare_markdown(sides, names):
    """A Markdown table of several `breakdown`s (one per side, same keys' kind), largest first
    on the first side; a side that never ran a primitive reads '-'."""
    keys = list(dict.fromkeys(key for side in sides for key in side))
    if not keys:
        raise ValueError(f"No oneDNN primitive was logged: was {VARIABLE}=1 set, and does this "
                         "TensorFlow use oneDNN (x86, TF_ENABLE_ONEDNN_OPTS not 0)?")
    keys.sort(key=lambda k: -max(side.get(k, (0, 0))[0] for side in sides))
    shaped = len(keys[0]) == 4
    head = "| primitive | pass | implementation" + (" | shape" if shaped else "")
    lines = [head + "".join(f" | {n} ms/step (calls)" for n in names) + " |",
             "|---|---|---" + ("|---" if shaped else "") + "|---:" * len(names) + "|"]
    for key in keys:
        cells = [f"{side[key][0]:.2f} ({side[key][1]:.0f})" if key in side else "-"
                 for side in sides]
        lines.append("| " + " | ".join(key) + " | " + " | ".join(cells) + " |")
    totals = [sum(ms for ms, _ in side.values()) for side in sides]
    lines.append("| all oneDNN primitives | | " + ("| " if shaped else "") +
                 " | ".join(f"{t:.2f}" for t in totals) + " |")
    return "\n".join(lines)
