"""Our training step against PyTorch's on this CPU, in interleaved rounds (--onednn: the kernels).

Interleaved: ours, PyTorch's, ours, ... so that both sides see the same machine (a shared VM
drifts by 20-30% within minutes, more than the ratios being judged; docs/performance.md).

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    python scripts/benchmarks/benchmark.py vs_torch --torch_python=/tmp/torchenv/bin/python \\
        --torch_step=../shared/bench/torch_step.py --models=resnet20,resnet56,resnet50 --rounds=3

Each round runs the train mode (`benchmark.py train`) once per input size (every model and
precision, a fresh process per case) and then the PyTorch peer's timing function
(`images_per_second` of torch_step.py: the median of the timed steps after 3 warm-up steps) for
the same cases; the table shows each side's median and range over the rounds, the per-round
ratio's, and best against best. Timed steps as torch_step.py: 20 at 32x32 (batch 128), 10 at
224x224 (batch 32). ResNet-50 is torchvision's v1.5 on both sides (ours:
`resnet50_v1.5` of the train mode, the stride on the 3x3). PyTorch is never imported here:
it lives in its own virtual environment, not in this project's.

    python scripts/benchmarks/benchmark.py vs_torch --torch_python=/tmp/torchenv/bin/python \\
        --onednn --models=resnet20 --precisions=bfloat16 --inter_op_threads=1 [--onednn_shapes]

`--onednn` times no rounds: it runs each case once on each side with ONEDNN_VERBOSE=1 and
prints what oneDNN executed in the timed steps (keras_deepnets.diagnostics.onednn_log): kind, pass,
implementation (and shape), ms and calls per step, ours beside PyTorch's. Both frameworks run
their convolutions through oneDNN, so this tells a different kernel from the same kernel run
slower. `--inter_op_threads=1` runs our kernels one at a time, as PyTorch does (with TF's two
inter-op threads two kernels share the two cores and each reads slower).
"""

import json
import os
import re
import subprocess
import sys

from absl import flags

from keras_deepnets.diagnostics import onednn_log
from keras_deepnets.diagnostics import rounds as rounds_summary
from modes import ENTRY

flags.DEFINE_string("torch_python", None, "A Python with torch and torchvision (a scratch venv).")
flags.DEFINE_string("torch_step", "../shared/bench/torch_step.py", "The PyTorch peer's script.")
flags.DEFINE_list("models", ["resnet20", "resnet56", "resnet50"],
                  "resnet20, resnet56 and/or resnet50 (torchvision's v1.5 on both sides).")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "float32 and/or bfloat16.")
flags.DEFINE_integer("rounds", 4, "Interleaved rounds; the table shows each side's median and "
                     "range over them, the per-round ratio's, and best against best.")
flags.DEFINE_integer("steps", None, "Timed steps per round and case (default 20 at 32x32, 10 "
                     "at 224x224, as torch_step.py).")
flags.DEFINE_bool("metrics", True, "Our step with its top-1/top-5 counts (--nometrics: without).")
flags.DEFINE_string("json", None, "Also write every round's figures here.")
flags.DEFINE_bool("onednn", False, "Instead of rounds: one logged run per case and side, and "
                  "the oneDNN primitives each step ran, side by side (see the docstring).")
flags.DEFINE_bool("onednn_shapes", False, "With --onednn: a row per primitive and shape.")
flags.DEFINE_integer("inter_op_threads", 0, "Our side's TF inter-op threads (0: TF's default; "
                     "1: one kernel at a time, as PyTorch).")
FLAGS = flags.FLAGS

# --models name -> (the train mode's name, the PyTorch network (NETS in TORCH_ROUND), batch,
# input side, classes, timed steps): torch_step.py's cases and protocol.
CASES = {"resnet20": ("resnet20", "resnet20", 128, 32, 10, 20),
         "resnet56": ("resnet56", "resnet56", 128, 32, 10, 20),
         "resnet50": ("resnet50_v1.5", "resnet50", 32, 224, 1000, 10)}
POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
TORCH_PRECISION = {"float32": "fp32", "bfloat16": "bf16"}
_OURS = re.compile(r'^\s+(\{.*"train_ips".*\})$', re.M)
_TORCH = re.compile(r"^torch (\S+) (\S+) ([\d.]+)$", re.M)

# What both PyTorch programs start with: torch_step.py's networks by --models name.
TORCH_PRELUDE = """
import sys, torch, torchvision
sys.path.insert(0, {folder!r})
from torch_step import CifarResNet, images_per_second
NETS = {{"resnet20": lambda: CifarResNet(3), "resnet56": lambda: CifarResNet(9),  # 6n + 2 layers
        "resnet50": torchvision.models.resnet50}}
torch.manual_seed(0)
"""

TORCH_ROUND = TORCH_PRELUDE + """
for name, net, batch, size, classes, steps, precision in {cases!r}:
    ips = images_per_second(NETS[net](), batch, size, classes, steps, precision)
    print(f"torch {{name}} {{precision}} {{ips:.2f}}", flush=True)
"""


# One case of torch_step.py's step (its images_per_second's closure), its timed steps marked by
# onednn_log.marked_steps, imported by its folder: PyTorch's environment has no TensorFlow, so
# the module uses the standard library only (its docstring; tests/diagnostics test it).
TORCH_MARKED = TORCH_PRELUDE + """
import torch.nn.functional as F
sys.path.insert(0, {marker_folder!r})
import onednn_log
net, batch, size, classes, steps, precision = {case!r}
model = NETS[net]().to(memory_format=torch.channels_last).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, classes, (batch,))

def step():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()

onednn_log.marked_steps(step, steps, warmup=3)
"""


def check_flags():
    """One-line errors for what cannot run."""
    bad = [m for m in FLAGS.models if m not in CASES]
    if bad:
        sys.exit(f"error: --models takes {', '.join(CASES)} (the networks torch_step.py times); "
                 f"got {', '.join(bad)}.")
    bad = [p for p in FLAGS.precisions if p not in POLICY]
    if bad:
        sys.exit(f"error: --precisions takes float32 and/or bfloat16; got {', '.join(bad)}.")
    if not FLAGS.torch_python or not os.access(FLAGS.torch_python, os.X_OK):
        sys.exit(f"error: --torch_python={FLAGS.torch_python!r} is not an executable Python; "
                 "make a scratch venv with torch and torchvision (see this mode's docstring).")
    if not os.path.isfile(FLAGS.torch_step):
        sys.exit(f"error: --torch_step={FLAGS.torch_step!r}: no such file.")


def _steps(model):
    return FLAGS.steps or CASES[model][5]


def ours_round():
    """{(model, precision): img/s} of the train mode over every case: one run per input
    size (a fresh process per case inside it), each with that size's steps."""
    precision = {v: k for k, v in POLICY.items()}
    ours = {CASES[m][0]: m for m in FLAGS.models}
    result = {}
    for size in sorted({CASES[m][3] for m in FLAGS.models}):
        models = [m for m in FLAGS.models if CASES[m][3] == size]
        out = subprocess.run(
            [sys.executable, ENTRY, "train", f"--models={','.join(CASES[m][0] for m in models)}",
             f"--precisions={','.join(POLICY[p] for p in FLAGS.precisions)}", "--noinference",
             "--noloop", f"--steps={_steps(models[0])}", "--matmul_size=512",
             "--metrics" if FLAGS.metrics else "--nometrics"],
            capture_output=True, text=True, check=True).stdout
        for row in map(json.loads, _OURS.findall(out)):
            result[(ours[row["model"]], precision[row["policy"]])] = row["train_ips"]
    return result


def torch_round():
    """{(model, precision): img/s} of one round of the PyTorch peer over every case."""
    cases = [(m, *CASES[m][1:5], _steps(m), TORCH_PRECISION[p])
             for p in FLAGS.precisions for m in FLAGS.models]
    code = TORCH_ROUND.format(folder=os.path.dirname(os.path.abspath(FLAGS.torch_step)),
                              cases=cases)
    out = subprocess.run([FLAGS.torch_python, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    precision = {v: k for k, v in TORCH_PRECISION.items()}
    return {(m, precision[p]): float(ips) for m, p, ips in _TORCH.findall(out)}


def _logged(command, **kwargs):
    env = dict(os.environ, **{onednn_log.VARIABLE: "1"})
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env,
                          **kwargs).stdout


def onednn_case(model, precision):
    """Markdown: the oneDNN primitives of one logged run of our step and of PyTorch's."""
    ours_name, net, batch, size, classes, _ = CASES[model]
    ours = _logged([sys.executable, ENTRY, "train", f"--models={ours_name}",
                    f"--precisions={POLICY[precision]}", "--noinference", "--noloop",
                    "--mark_steps", f"--steps={_steps(model)}", "--matmul_size=64",
                    f"--inter_op_threads={FLAGS.inter_op_threads}",
                    "--metrics" if FLAGS.metrics else "--nometrics"])
    code = TORCH_MARKED.format(folder=os.path.dirname(os.path.abspath(FLAGS.torch_step)),
                               marker_folder=os.path.dirname(os.path.abspath(onednn_log.__file__)),
                               case=(net, batch, size, classes, _steps(model),
                                     TORCH_PRECISION[precision]))
    peer = _logged([FLAGS.torch_python, "-c", code])
    sides = [onednn_log.breakdown(onednn_log.calls(text), _steps(model), FLAGS.onednn_shapes)
             for text in (ours, peer)]
    return (f"{ours_name} b{batch} {precision}: ms per step, ours "
            f"{onednn_log.wall_ms(ours):.1f}, PyTorch {onednn_log.wall_ms(peer):.1f} "
            f"(logging on)\n\n" + onednn_log.compare_markdown(sides, ("ours", "PyTorch")))


def table(rounds):
    """Markdown: per case, each side's median (min-max) over the rounds, the per-round ratio's,
    and best against best (keras_deepnets.diagnostics.rounds)."""
    return rounds_summary.markdown({
        f"{CASES[m][0]} b{CASES[m][2]} {p}": rounds_summary.compare(
            [r["ours"][(m, p)] for r in rounds], [r["torch"][(m, p)] for r in rounds])
        for p in FLAGS.precisions for m in FLAGS.models})


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    check_flags()
    if FLAGS.onednn:
        for p in FLAGS.precisions:
            for m in FLAGS.models:
                print(onednn_case(m, p) + "\n", flush=True)
        return
    rounds = []
    for i in range(FLAGS.rounds):
        rounds.append({"ours": ours_round(), "torch": torch_round()})
        print(f"round {i + 1}: " + "; ".join(
            f"{m} {p} ours {rounds[-1]['ours'][(m, p)]:.1f} torch "
            f"{rounds[-1]['torch'][(m, p)]:.1f}" for p in FLAGS.precisions
            for m in FLAGS.models), flush=True)
    print(f"\nTop-1/top-5 in our step: {'yes' if FLAGS.metrics else 'no'}; "
          f"{FLAGS.rounds} interleaved round(s):\n")
    print(table(rounds))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump([{side: {f"{m} {p}": v for (m, p), v in r[side].items()}
                        for side in r} for r in rounds], f, indent=1)
