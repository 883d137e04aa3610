"""What a training epoch costs beyond its steps: train() wall to wall against the bare step.

    python scripts/benchmarks/benchmark.py epoch_overhead \\
        --data=~/.cache/keras_deepnets/cifar10-jpeg --epochs=4 \\
        --output_dir=docs/results/one_cpu/epoch_overhead

Interleaved, each in a fresh process: the bare step and the forward pass alone
(`benchmark.py train --noloop`, the fast recipe's step on one in-memory batch), then
`train_cifar.py` (all the data, the fast recipe, evaluation every epoch), then the bare step
again. From each run's history.csv, the epochs after the first (the first traces and
decodes) give the wall time per epoch (differences of `wall_seconds`) and its split
(`epoch_seconds` the timed loop, `input_seconds`, `eval_seconds`, `save_seconds`), each as a
percentage of the bare step's epoch (steps per epoch x the bare step's time; the mean of the
two bare measurements). The evaluation's floor is the forward pass alone over the test set at
the benchmark's inference speed (x2 with --eval_flip). Rows for evaluation every N epochs
(`--project`) are computed from the same run: its epoch without the evaluation, plus 1/N of the
evaluation. Writes epoch_overhead.json and .md.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

from keras_deepnets.training.records import read_history
from modes import BENCHMARKS

SCRIPTS = os.path.dirname(BENCHMARKS)  # scripts/

flags.DEFINE_string("data", None, "CIFAR-10 folder (train/ and test/ class folders).")
flags.DEFINE_string("model", "resnet20", "A CIFAR model of the registry.")
flags.DEFINE_string("mixed_precision", "bfloat16", "float32 or bfloat16.")
flags.DEFINE_integer("epochs", 4, "Epochs of each training run (the first is not counted).")
flags.DEFINE_list("project", ["2", "5", "10"], "Evaluation every N epochs: the rows computed "
                  "for these N.")
flags.DEFINE_bool("eval_flip", True, "Test-time flips in the evaluation (the fast recipe's "
                  "time-to-accuracy runs use them).")
flags.DEFINE_integer("batch_size", 256, "The fast recipe's batch.")
flags.DEFINE_integer("steps", 40, "Timed steps of each bare-step measurement.")
flags.DEFINE_bool("redraw", False, "Summarise output_dir/measured.json again; measure nothing.")
flags.DEFINE_string("output_dir", None, "Where epoch_overhead.json and .md go.")
flags.mark_flags_as_required(["data", "output_dir"])
FLAGS = flags.FLAGS


def _python(script, *args):
    """Runs `script`, a path under scripts/; its stdout."""
    cmd = [sys.executable, os.path.join(SCRIPTS, script), *args]
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{script} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def bare_step():
    """{train_ips, infer_ips, ...} of the train mode's one case (its JSON line)."""
    policy = "mixed_bfloat16" if FLAGS.mixed_precision == "bfloat16" else "float32"
    out = _python("benchmarks/benchmark.py", "train", f"--models={FLAGS.model}",
                  f"--precisions={policy}", "--recipes=fast", f"--steps={FLAGS.steps}", "--noloop",
                  f"--batch_size={FLAGS.batch_size}")
    rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    return rows[-1]


def train_run(model_dir):
    """The records of history.csv of one train_cifar.py run, evaluating every epoch."""
    _python("train_cifar.py", f"--data={os.path.expanduser(FLAGS.data)}",
            f"--model={FLAGS.model}", "--recipe=fast",
            f"--mixed_precision={FLAGS.mixed_precision}", f"--epochs={FLAGS.epochs}",
            "--eval_every=1", f"--eval_flip={FLAGS.eval_flip}",
            f"--batch_size={FLAGS.batch_size}", f"--model_dir={model_dir}", "--export_dir=",
            "--verbose=1")
    return [{k: v for k, v in record.items() if v is not None}
            for record in read_history(model_dir)]


PARTS = ("wall", "epoch", "input", "eval", "save", "rest")


def split(history):
    """Seconds per epoch, means over the epochs after the first: wall (differences of
    wall_seconds), the timed loop, input, evaluation, saves, and the rest of the wall time."""
    later = history[1:]
    walls = [b["wall_seconds"] - a["wall_seconds"] for a, b in zip(history, history[1:])]
    mean = {"wall": sum(walls) / len(walls)}
    for key in PARTS[1:-1]:
        mean[key] = sum(r.get(f"{key}_seconds", 0.0) for r in later) / len(later)
    mean["rest"] = mean["wall"] - sum(mean[k] for k in PARTS[1:-1])
    return mean


def with_eval_every(mean, every):
    """The same epoch with the evaluation every `every` epochs instead."""
    out = dict(mean, eval=mean["eval"] / every)
    out["wall"] = mean["wall"] - mean["eval"] + out["eval"]
    return out


def percent(seconds, bare_epoch):
    """Each part as % of the bare epoch; the wall and the timed loop as the excess over it."""
    return {k: round(100 * v / bare_epoch - (100 if k in ("wall", "epoch") else 0), 2)
            for k, v in seconds.items()}


def summarize(bare, history, projected):
    ips = sum(b["train_ips"] for b in bare) / len(bare)
    infer_ips = sum(b["infer_ips"] for b in bare) / len(bare)
    steps_per_epoch = int(history[1]["step"] - history[0]["step"])
    bare_epoch = steps_per_epoch * FLAGS.batch_size / ips
    val_examples = len(glob.glob(os.path.join(os.path.expanduser(FLAGS.data), "test", "*", "*")))
    floor = val_examples * (2 if FLAGS.eval_flip else 1) / infer_ips
    measured = split(history)
    rows = {"1 (measured)": measured}
    rows.update({f"{n} (computed)": with_eval_every(measured, n) for n in projected})
    return {"model": FLAGS.model, "precision": FLAGS.mixed_precision,
            "eval_flip": FLAGS.eval_flip, "steps_per_epoch": steps_per_epoch,
            "bare": bare, "bare_train_ips": ips, "bare_infer_ips": infer_ips,
            "bare_epoch_seconds": bare_epoch, "val_examples": val_examples,
            "eval_floor": {"seconds": floor, "percent": 100 * floor / bare_epoch},
            "rows": {k: {"seconds": {p: round(v, 3) for p, v in r.items()},
                         "percent": percent(r, bare_epoch)} for k, r in rows.items()},
            "history": history,
            "command": "python scripts/benchmarks/benchmark.py " + " ".join(sys.argv[1:])}


def markdown(result):
    lines = [f"# Epoch overhead: {result['model']}, fast recipe, {result['precision']}, "
             f"eval_flip={result['eval_flip']}", "",
             f"Bare step: {result['bare_epoch_seconds']:.2f} s per epoch "
             f"({result['steps_per_epoch']} steps at {result['bare_train_ips']:.0f} img/s). "
             f"The evaluation's floor, the forward passes alone over {result['val_examples']} "
             f"images at {result['bare_infer_ips']:.0f} img/s: "
             f"{result['eval_floor']['seconds']:.2f} s = "
             f"{result['eval_floor']['percent']:.2f}% of it.", "",
             "| evaluation every | wall, over the bare epoch | timed loop, over it | input "
             "| evaluation | saves | rest |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in result["rows"].items():
        cells = [f"{r['seconds'][p]:.2f} s ({r['percent'][p]:+.2f}%)" for p in PARTS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Seconds per epoch, means over the epochs after the first; the percentages "
              "are of the bare step's epoch. Rows marked computed take the measured epoch with "
              "1/N of its evaluation.", "", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    try:
        projected = [int(v) for v in FLAGS.project]
    except ValueError:
        raise app.UsageError(f"--project takes whole numbers; got {FLAGS.project}.") from None
    if FLAGS.epochs < 2:
        raise app.UsageError("--epochs must be >= 2 (the first epoch is not counted).")
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    raw = os.path.join(FLAGS.output_dir, "measured.json")  # kept if the summary fails
    if not FLAGS.redraw:
        bare = [bare_step()]
        with tempfile.TemporaryDirectory() as model_dir:
            history = train_run(os.path.join(model_dir, "run"))
        bare.append(bare_step())
        with open(raw, "w") as f:
            json.dump({"bare": bare, "history": history}, f, indent=1)
    with open(raw) as f:
        measured = json.load(f)
    result = summarize(measured["bare"], measured["history"], projected)
    with open(os.path.join(FLAGS.output_dir, "epoch_overhead.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(FLAGS.output_dir, "epoch_overhead.md"), "w") as f:
        f.write(markdown(result))
    print(markdown(result))
