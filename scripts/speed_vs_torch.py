"""Our training step against PyTorch's on this CPU, in interleaved rounds: ours, PyTorch's,
ours, ... so that both sides see the same machine (a shared VM drifts by 20-30% within
minutes, more than the ratios being judged; docs/performance.md).

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    python scripts/speed_vs_torch.py --torch_python=/tmp/torchenv/bin/python \\
        --torch_step=../shared/bench/torch_step.py --models=resnet20,resnet56 --rounds=3

Each round runs scripts/benchmark_train.py once for every (model, precision) (one round of
--steps, a fresh process per case) and then the PyTorch peer's timing function
(`images_per_second` of torch_step.py, median of --steps after 3 warm-up steps) for the same
cases; the table shows the best round of each side and their ratio. PyTorch is never imported
here: it lives in its own virtual environment, not in this project's.
"""

import _quiet_tf  # noqa: F401  (first: quiets TensorFlow's start-up logs; see its docstring)
import json
import os
import re
import subprocess
import sys

from absl import app, flags

flags.DEFINE_string("torch_python", None, "A Python with torch and torchvision (a scratch venv).")
flags.DEFINE_string("torch_step", "../shared/bench/torch_step.py", "The PyTorch peer's script.")
flags.DEFINE_list("models", ["resnet20", "resnet56"], "CIFAR ResNets: resnet20, resnet56.")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "float32 and/or bfloat16.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds; the best of each side is shown.")
flags.DEFINE_integer("steps", 20, "Timed steps per round and case.")
flags.DEFINE_bool("metrics", True, "Our step with its top-1/top-5 counts (--nometrics: without).")
flags.DEFINE_string("json", None, "Also write every round's figures here.")
FLAGS = flags.FLAGS

BLOCKS = {"resnet20": 3, "resnet56": 9}  # torch_step.CifarResNet(n): 6n + 2 layers
POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
TORCH_PRECISION = {"float32": "fp32", "bfloat16": "bf16"}
_OURS = re.compile(r'^\s+(\{.*"train_ips".*\})$', re.M)
_TORCH = re.compile(r"^torch (\S+) (\S+) ([\d.]+)$", re.M)

TORCH_ROUND = """
import sys, torch
sys.path.insert(0, {folder!r})
from torch_step import CifarResNet, images_per_second
torch.manual_seed(0)
for name, n, precision in {cases!r}:
    ips = images_per_second(CifarResNet(n), 128, 32, 10, {steps}, precision)
    print(f"torch {{name}} {{precision}} {{ips:.2f}}", flush=True)
"""


def check_flags():
    """One-line errors for what cannot run."""
    bad = [m for m in FLAGS.models if m not in BLOCKS]
    if bad:
        sys.exit(f"error: --models takes {', '.join(BLOCKS)} (torch_step.py's CIFAR ResNets); "
                 f"got {', '.join(bad)}.")
    bad = [p for p in FLAGS.precisions if p not in POLICY]
    if bad:
        sys.exit(f"error: --precisions takes float32 and/or bfloat16; got {', '.join(bad)}.")
    if not FLAGS.torch_python or not os.access(FLAGS.torch_python, os.X_OK):
        sys.exit(f"error: --torch_python={FLAGS.torch_python!r} is not an executable Python; "
                 "make a scratch venv with torch and torchvision (see this script's docstring).")
    if not os.path.isfile(FLAGS.torch_step):
        sys.exit(f"error: --torch_step={FLAGS.torch_step!r}: no such file.")


def ours_round():
    """{(model, precision): img/s} of one benchmark_train.py run over every case."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmark_train.py")
    out = subprocess.run(
        [sys.executable, script, f"--models={','.join(FLAGS.models)}",
         f"--precisions={','.join(POLICY[p] for p in FLAGS.precisions)}", "--noinference",
         "--noloop", f"--steps={FLAGS.steps}", "--matmul_size=512",
         "--metrics" if FLAGS.metrics else "--nometrics"],
        capture_output=True, text=True, check=True).stdout
    precision = {v: k for k, v in POLICY.items()}
    rows = [json.loads(line) for line in _OURS.findall(out)]
    return {(r["model"], precision[r["policy"]]): r["train_ips"] for r in rows}


def torch_round():
    """{(model, precision): img/s} of one round of the PyTorch peer over every case."""
    cases = [(m, BLOCKS[m], TORCH_PRECISION[p]) for p in FLAGS.precisions for m in FLAGS.models]
    code = TORCH_ROUND.format(folder=os.path.dirname(os.path.abspath(FLAGS.torch_step)),
                              cases=cases, steps=FLAGS.steps)
    out = subprocess.run([FLAGS.torch_python, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    precision = {v: k for k, v in TORCH_PRECISION.items()}
    return {(m, precision[p]): float(ips) for m, p, ips in _TORCH.findall(out)}


def table(rounds):
    """Markdown: the best round of each side per case, and the ratio."""
    lines = ["| step, batch 128 | ours img/s (best) | PyTorch img/s (best) | ratio |",
             "|---|---:|---:|---:|"]
    for p in FLAGS.precisions:
        for m in FLAGS.models:
            ours = max(r["ours"][(m, p)] for r in rounds)
            peer = max(r["torch"][(m, p)] for r in rounds)
            lines.append(f"| {m} {p} | {ours:.1f} | {peer:.1f} | {ours / peer:.2f}x |")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])} (flags are --name=value).")
    check_flags()
    rounds = []
    for i in range(FLAGS.rounds):
        rounds.append({"ours": ours_round(), "torch": torch_round()})
        print(f"round {i + 1}: " + "; ".join(
            f"{m} {p} ours {rounds[-1]['ours'][(m, p)]:.1f} torch "
            f"{rounds[-1]['torch'][(m, p)]:.1f}" for p in FLAGS.precisions
            for m in FLAGS.models), flush=True)
    print(f"\nTop-1/top-5 in our step: {'yes' if FLAGS.metrics else 'no'}; best of "
          f"{FLAGS.rounds} interleaved round(s) of {FLAGS.steps} steps:\n")
    print(table(rounds))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump([{side: {f"{m} {p}": v for (m, p), v in r[side].items()}
                        for side in r} for r in rounds], f, indent=1)


if __name__ == "__main__":
    app.run(main)
