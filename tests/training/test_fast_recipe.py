"""The fast (time-to-accuracy) recipe: its schedule, its moving average of the weights, and a
short real run with it that learns and evaluates the averaged weights."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import training
from keras_deepnets.training import ema, recipes
from training_helpers import run_script


def test_fast_recipe_schedule_warmup_then_linear_to_zero():
    cfg = training.make_config(model="resnet20", recipe="fast", batch_size=256)
    recipe = recipes.recipe_for("resnet20", "cifar", "fast")
    s = recipes.make_schedule(cfg, recipe, 195, 40 * 195)
    # Goyal et al.'s ramp over 2 epochs (390 steps) to 0.2 (0.1 x 256/128), then linear to 0.
    np.testing.assert_allclose([float(s(i)) for i in (0, 194, 389, 390, 4095, 7799)],
                               [0.2 / 390, 0.2 * 195 / 390, 0.2, 0.2,
                                0.2 * (1 - (4095 - 390) / 7410), 0.2 / 7410], rtol=1e-4)
    assert recipe.nesterov and recipe.label_smoothing == 0.1 and recipe.ema_decay == 0.998
    assert recipe.weight_decay == 5e-4 and recipe.default_lr(512) == pytest.approx(0.4)
    assert "linear to 0 at step 7800" in s.describe()


def test_fast_recipe_is_for_cifar_models_and_flags_win():
    with pytest.raises(training.ConfigError, match="fast recipe is for the CIFAR models"):
        training.train(model="resnet18", recipe="fast", use_synthetic_data=True)
    with pytest.raises(training.ConfigError, match="recipe must be one of paper, fast"):
        training.make_config(recipe="quick")
    with pytest.raises(training.ConfigError, match="ema_decay must be in"):
        training.make_config(ema_decay=1.5)


def test_weight_average_update_rule_and_swap():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2),
                              keras.layers.BatchNormalization()])
    average = ema.WeightAverage(model, decay=0.9)
    assert len(average.averages) == 6  # kernel, bias, gamma, beta + moving mean/variance
    start = [w.numpy().copy() for w in average.weights]
    strategy = tf.distribute.get_strategy()
    expected = start
    for n in (1, 2, 3):
        for w in average.weights:
            w.assign(w.numpy() + 1.0)
        average.update(strategy)
        d = min(0.9, (1 + n) / (10 + n))  # tf.train.ExponentialMovingAverage's num_updates
        expected = [d * e + (1 - d) * w.numpy() for e, w in zip(expected, average.weights)]
        for a, e in zip(average.averages, expected):
            np.testing.assert_allclose(a.numpy(), e, rtol=1e-6)
    trained = [w.numpy().copy() for w in average.weights]
    with average.in_model():
        for w, e in zip(average.weights, expected):
            np.testing.assert_allclose(w.numpy(), e, rtol=1e-6)
    for w, t in zip(average.weights, trained):
        np.testing.assert_array_equal(w.numpy(), t)


class RawWeights(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.raw = [w.copy() for w in self.model.get_weights()]


@pytest.mark.slow
def test_short_fast_run_learns_and_evaluates_the_averaged_weights(cifar10_dir, tmp_path):
    """2,048 images x 3 epochs at batch 128 (48 steps): ResNet-20 with the fast recipe clearly
    beats chance (10%) on 500 held-out test images. The recorded val_top1 is the averaged
    weights' (last.weights.h5 differs from the trained weights and `--eval_only` on it gives
    the recorded figure back), and the backup holds the average."""
    raw, model_dir = RawWeights(), tmp_path / "run"
    result = training.train(model="resnet20", recipe="fast", data=str(cifar10_dir),
                            max_examples=2048, max_val_examples=500, batch_size=128, epochs=3,
                            model_dir=str(model_dir), export_dir="", verbose=0,
                            tensorboard=False, callbacks=[raw])
    records = list(csv.DictReader(open(model_dir / "history.csv")))
    assert float(records[-1]["val_top1"]) > 0.2, records
    last = model_dir / "checkpoints" / "last.weights.h5"
    result.model.load_weights(last)
    averaged = result.model.get_weights()
    assert any(not np.array_equal(a, r) for a, r in zip(averaged, raw.raw))
    proc = run_script("train_cifar.py", f"--data={cifar10_dir}", "--max_val_examples=500",
                      f"--model_dir={tmp_path / 'eval'}", "--eval_only", f"--weights={last}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"top-1 {float(records[-1]['val_top1']):.4f}" in proc.stdout, proc.stdout
    saved = {name for name, _ in tf.train.list_variables(str(model_dir / "backup"))}
    averages = {n for n in saved if n.startswith("weight_average/w")}
    assert len(averages) == len(ema.averaged_weights(result.model)) > 60  # ResNet-20: 65 + 38
    assert "weight_average/updates/.ATTRIBUTES/VARIABLE_VALUE" in saved
    assert json.loads((model_dir / "flags.json").read_text())["ema_decay"] == 0.998
