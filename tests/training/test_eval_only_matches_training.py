"""`--eval_only` on the best weights prints the top-1/top-5 that the
training record holds for that epoch, on the same validation images.

Both numbers must agree exactly (to the 4 decimals printed; 128 images make one image 0.0078),
which needs one top-k rule (`metrics.top_k_hits`), the same pixels (the decoded-once CIFAR
path) and the same float32 scores in the training loop's validation and in `--eval_only`;
with `--eval_flip`, the same averaged scores of each image and its mirror.
"""

import csv
import json

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets import data, registry, training
from keras_deepnets.training import inputs, metric_sums
from keras_deepnets.training.config import make_config
from keras_deepnets.training.steps import StepFunctions, flip_averaged
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
        record = next(r for r in csv.DictReader(f) if float(r["epoch"]) == float(best_epoch))

    # No --weights: --eval_only finds model_dir/checkpoints/best.weights.h5 itself.
    evaluate = run_script("train_cifar.py", f"--data={cifar10_dir}", f"--model_dir={model_dir}",
                          "--eval_only", *FLAGS, timeout=300)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    want = (f"top-1 {float(record['val_top1']):.4f}  top-5 {float(record['val_top5']):.4f}  "
            f"on {128} images")
    assert want in evaluate.stdout, (want, evaluate.stdout)


def test_eval_flip_scores_each_image_and_its_mirror_in_training_and_eval_only(cifar10_dir,
                                                                                tmp_path):
    """--eval_flip: the softmax outputs of each image and of its left-right mirror, averaged,
    the same in the training loop's evaluation (StepFunctions) and in --eval_only."""
    cfg = make_config(model="resnet20", data=str(cifar10_dir), max_val_examples=64,
                      batch_size=32, model_dir=str(tmp_path), eval_flip=True)
    info = registry.model_info("resnet20")
    plan = inputs.plan(cfg, info)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = registry.get_model("resnet20", classes=plan.classes)
    images = next(iter(data.load(str(cifar10_dir), "test", preset="cifar_eval", batch_size=8)))[0]
    for _ in range(40):  # BN statistics from real images (at init its outputs are one-hot)
        model(images, training=True)
    mirrored = model(images[:, :, ::-1, :], training=False)
    assert not np.allclose(mirrored, model(images, training=False))  # not flip-invariant
    np.testing.assert_allclose(
        flip_averaged(lambda x: model(x, training=False), images),
        0.5 * (model(images, training=False) + mirrored), rtol=1e-5, atol=1e-6)

    dist = strategy.distribute_datasets_from_function(inputs.val_dataset_fn(cfg, info, plan, 32))
    scored = {flip: StepFunctions(strategy, model, keras.optimizers.SGD(), global_batch=32,
                                  classes=plan.classes, eval_flip=flip,
                                  metrics=metric_sums.build(metric_sums.DEFAULT, plan.classes)
                                  ).evaluate(dist)
              for flip in (False, True)}
    assert scored[True]["val_loss"] != scored[False]["val_loss"]
    eval_only = training.evaluate(cfg, keras_model=model)
    assert eval_only["num_examples"] == scored[True]["val_examples"] == 64
    assert (eval_only["top1"], eval_only["top5"]) == (scored[True]["val_top1"],
                                                      scored[True]["val_top5"])
