"""The papers' recipes: schedules, weight decay, default learning rates (in-process, fast)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets
from keras_deepnets import training
from keras_deepnets.training import recipes
from keras_deepnets.training.recipes import make_schedule


def lr_at(schedule, *steps):
    return [float(schedule(s)) for s in steps]


def test_cifar_step_schedule_is_the_papers():
    # Section 4.2: 0.1, /10 at 32k and 48k iterations, stop at 64k.
    cfg = training.make_config(model="resnet56", batch_size=128)
    s = make_schedule(cfg, recipes.CIFAR, 391, 64000, None)
    assert s.boundaries == (32000, 48000)
    np.testing.assert_allclose(lr_at(s, 0, 31999, 32000, 47999, 48000, 63999),
                               [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_lenet_digits_recipe_is_constant_sgd_without_decay():
    recipe = recipes.recipe_for("lenet5", "digits")
    assert (recipe.batch_size, recipe.lr, recipe.momentum, recipe.weight_decay, recipe.epochs) == (
        32, 0.01, 0.9, 0.0, 10)
    cfg = training.make_config(model="lenet5", batch_size=32)
    np.testing.assert_allclose(lr_at(make_schedule(cfg, recipe, 42, 420, None), 0, 419),
                               [0.01, 0.01], rtol=1e-6)
    with pytest.raises(ValueError, match="fast recipe is for the CIFAR models"):
        recipes.recipe_for("lenet5", "digits", "fast")


def test_resnet110_constant_warmup_then_0_1():
    recipe = recipes.recipe_for("resnet110", "cifar")
    cfg = training.make_config(model="resnet110", batch_size=128)
    s = make_schedule(cfg, recipe, 391, 64000, None)
    np.testing.assert_allclose(lr_at(s, 0, 399, 400, 32000), [0.01, 0.01, 0.1, 0.01], rtol=1e-6)
    assert recipes.recipe_for("resnet56", "cifar").warmup_steps == 0


def test_constant_warmup_for_any_model_from_the_config():
    # ResNet-110's start (0.01, then 0.1) given to ResNet-56 for a short run: 1 epoch of 64 steps.
    cfg = training.make_config(model="resnet56", batch_size=128, warmup_epochs=1, warmup_lr=0.01)
    s = make_schedule(cfg, recipes.CIFAR, 64, 512, None)
    np.testing.assert_allclose(lr_at(s, 0, 63, 64, 256), [0.01, 0.01, 0.1, 0.01], rtol=1e-6)
    with pytest.raises(training.ConfigError, match="warmup_lr must be positive and goes with "
                                                   "warmup_epochs > 0"):
        training.make_config(model="resnet56", warmup_lr=0.01)


def test_short_runs_keep_the_drops_at_the_same_fractions():
    cfg = training.make_config(model="resnet20", batch_size=128, epochs=4)
    s = make_schedule(cfg, recipes.CIFAR, 100, 400, None)
    assert s.boundaries == (200, 300)


def test_imagenet_linear_scaling_and_goyal_warmup():
    assert recipes.IMAGENET.default_lr(256) == pytest.approx(0.1)
    assert recipes.IMAGENET.default_lr(1024) == pytest.approx(0.4)
    cfg = training.make_config(model="resnet50", batch_size=1024, warmup_epochs=5)
    s = make_schedule(cfg, recipes.IMAGENET, 1000, 90000, None)
    assert s.boundaries == (30000, 60000) and s.warmup_steps == 5000
    np.testing.assert_allclose(lr_at(s, 0, 2499, 4999, 5000, 30000),
                               [0.4 / 5000, 0.2, 0.4, 0.4, 0.04], rtol=1e-5)


def test_cosine_and_plateau():
    s = recipes.LearningRate(0.1, "cosine", total_steps=100)
    np.testing.assert_allclose(lr_at(s, 0, 50, 100), [0.1, 0.05, 0.0], atol=1e-7)
    drops = tf.Variable(0, dtype=tf.int64)
    p = recipes.LearningRate(0.1, "plateau", plateau_drops=drops)
    drops.assign(2)
    assert float(p(10)) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        recipes.LearningRate(0.1, "exp")


@pytest.mark.parametrize("kind, says, never", [
    ("step", "/10 at steps 195, 292", None),
    ("constant", "no drops", "/10"),
    ("cosine", "half cosine to 0 at step 390", "/10"),
    ("plateau", "when the validation top-1 stops improving", "at steps"),
])
def test_run_description_names_only_the_drops_the_schedule_makes(kind, says, never):
    # A constant run once printed "/10 at steps 195, 292": drops it never made.
    cfg = training.make_config(model="resnet20", batch_size=128, lr_schedule=kind)
    s = make_schedule(cfg, recipes.CIFAR, 39, 390, tf.Variable(0, dtype=tf.int64))
    assert says in s.describe()
    if never:
        assert never not in s.describe() and (kind == "step" or s.boundaries == ())


def test_weight_decay_is_caffes_on_kernels_only():
    model = keras_deepnets.get_model("resnet20")
    kernels = recipes.decayed_kernels(model)
    # 19 convs + 1 dense (option A shortcuts have no weights); no BN gamma/beta, no bias.
    assert len(kernels) == 20
    assert all("kernel" in k.path for k in kernels)
    with tf.GradientTape() as tape:
        loss = recipes.weight_decay_loss(kernels, 1e-4)
    grads = tape.gradient(loss, [k.value for k in kernels])
    # Caffe's weight_decay adds wd * w to the gradient: loss + 0.5 * wd * ||w||^2.
    for g, k in zip(grads, kernels):
        np.testing.assert_allclose(g.numpy(), 1e-4 * k.numpy(), rtol=1e-5, atol=1e-12)


def test_config_errors_are_one_line():
    with pytest.raises(training.ConfigError, match="Valid names: .*resnet20"):
        training.make_config(model="resnet21")
    with pytest.raises(training.ConfigError, match="Unknown training option"):
        training.make_config(modle="resnet20")
    with pytest.raises(training.ConfigError, match="eval_crops must be 1 or 10"):
        training.make_config(eval_crops=5)
