"""Issue 13's acceptance test: `--eval_only` on the best weights prints the top-1/top-5 that the
training record holds for that epoch, on the same validation images.

Both numbers must agree exactly (to the 4 decimals printed; 128 images make one image 0.0078),
which needs one top-k rule (`metrics.top_k_hits`), the same pixels (the decoded-once CIFAR
path) and the same float32 scores in the training loop's validation and in `--eval_only`.
"""

import csv
import json

from training_helpers import run_script

FLAGS = ["--max_val_examples=128", "--batch_size=64", "--notensorboard"]


def test_eval_only_on_best_weights_prints_the_recorded_epoch(cifar10_dir, tmp_path):
    model_dir = tmp_path / "run"
    train = run_script("train_cifar.py", f"--data={cifar10_dir}", "--max_examples=256",
                       "--epochs=2", "--eval_every=1", f"--model_dir={model_dir}",
                       "--export_dir=", "--verbose=2", *FLAGS, timeout=300)
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-3000:]
    best_epoch = json.loads((model_dir / "summary.json").read_text())["best_epoch"]
    with open(model_dir / "history.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if float(r["epoch"]) == float(best_epoch))

    # No --weights: --eval_only finds model_dir/checkpoints/best.weights.h5 itself.
    evaluate = run_script("train_cifar.py", f"--data={cifar10_dir}", f"--model_dir={model_dir}",
                          "--eval_only", *FLAGS, timeout=300)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    want = (f"top-1 {float(row['val_top1']):.4f}  top-5 {float(row['val_top5']):.4f}  "
            f"on {128} images")
    assert want in evaluate.stdout, (want, evaluate.stdout)
