"""The V2 recipe's optimizer, schedule, loss, weight average and inputs against what torchvision
computes, its formulas written here in numpy from their sources (torch/optim/lr_scheduler.py,
torch.optim.SGD, torch.nn.functional.cross_entropy, references/classification/{train,utils}.py).
"""

import json
import math
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_deepnets as kd
from keras_deepnets import registry, training
from keras_deepnets.data import augment
from keras_deepnets.training import config as config_lib
from keras_deepnets.training import inputs, recipes, v2_recipe
from keras_deepnets.weights import table, torch_convert

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"


def torch_lrs(lr, epochs, warmup, start_factor):
    """The lr of each epoch under train.py's SequentialLR([LinearLR(start_factor,
    total_iters=warmup), CosineAnnealingLR(T_max=epochs - warmup, eta_min=0)],
    milestones=[warmup]), stepped once per epoch; torch's recursive get_lr forms."""
    # LinearLR's initial step; without warm-up, train.py uses the cosine alone
    t_max, lrs = epochs - warmup, [lr * start_factor if warmup else lr]
    for e in range(1, epochs):
        prev = lrs[-1]
        if e < warmup:  # LinearLR.get_lr, end_factor 1
            lrs.append(prev * (1.0 + (1.0 - start_factor) / (
                warmup * start_factor + (e - 1) * (1.0 - start_factor))))
        elif e == warmup > 0:  # the milestone: CosineAnnealingLR.step(0), its closed form at 0
            lrs.append(lr)
        else:  # CosineAnnealingLR.get_lr, last_epoch = e - warmup
            k = e - warmup
            if (k - 1 - t_max) % (2 * t_max) == 0:
                lrs.append(prev + lr * (1 - math.cos(math.pi / t_max)) / 2)
            else:
                lrs.append((1 + math.cos(math.pi * k / t_max))
                           / (1 + math.cos(math.pi * (k - 1) / t_max)) * prev)
    return np.array(lrs)


@pytest.mark.parametrize("epochs,warmup,steps_per_epoch", [(600, 5, 3), (30, 5, 7), (12, 0, 2)])
def test_schedule_equals_torchvisions_per_epoch(epochs, warmup, steps_per_epoch):
    schedule = v2_recipe.warmup_cosine(0.5, epochs, warmup, 0.01, steps_per_epoch)
    steps = np.arange(epochs * steps_per_epoch)
    ours = np.array([float(schedule(s)) for s in steps])
    want = torch_lrs(0.5, epochs, warmup, 0.01)[steps // steps_per_epoch]
    # float32 cosine: ~1e-8 absolute near the end, where lr is ~1e-5 of its peak
    np.testing.assert_allclose(ours, want, rtol=2e-5, atol=2e-8)
    assert ours[0] == pytest.approx(0.005 if warmup else 0.5)


def test_schedule_survives_keras_serialisation():
    schedule = v2_recipe.warmup_cosine(0.5, 600, 5, 0.01, steps_per_epoch=1251)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    for step in (0, 1250, 1251, 6255, 400000, 750599):
        assert float(again(step)) == float(schedule(step))


def test_schedule_refuses_bad_steps_per_epoch():
    with pytest.raises(ValueError, match="steps_per_epoch must be an integer >= 1; got 0"):
        v2_recipe.warmup_cosine(0.5, 600, steps_per_epoch=0)


def torchvision_no_decay(spec, bias_weight_decay=None):
    """utils.set_weight_decay(model, 2e-5, norm_weight_decay=0.0, custom_keys_weight_decay=
    [("bias", bias_weight_decay)] if given) on torchvision's resnet50: the parameters of
    norm modules, and with a bias key, every parameter named "bias". In resnet.py the
    BatchNorm2d modules are bn1..bn3 and downsample.1; buffers (running statistics) are not
    parameters."""
    params = [name for name, _, _ in spec
              if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    norm = re.compile(r"(^|\.)(bn\d|downsample\.1)\.(weight|bias)$")
    excluded = {n for n in params if norm.search(n)}
    if bias_weight_decay == 0.0:
        excluded |= {n for n in params if n.rsplit(".", 1)[1] == "bias"}
    return params, excluded


def ours_for_torch_names(spec):
    """torchvision name -> our variable path, from the converter's own layer mapping."""
    state = {name: np.broadcast_to(np.float32(0), shape) for name, shape, _ in spec}
    layout = torch_convert.architecture(state, "resnet50.json")
    suffixes = {"bn": {"weight": "gamma", "bias": "beta"}}
    names = {}
    for keras_layer, kind, prefix in layout.body + layout.head:
        for torch_suffix, ours in suffixes.get(kind, {"weight": "kernel", "bias": "bias"}).items():
            if f"{prefix}.{torch_suffix}" in state:
                names[f"{prefix}.{torch_suffix}"] = f"{keras_layer}/{ours}"
    return names


@pytest.mark.parametrize("bias_weight_decay", [None, 0.0])
def test_no_decay_list_of_resnet50_is_torchvisions(bias_weight_decay):
    spec = json.loads((TORCHVISION / "resnet50.json").read_text())["spec"]
    params, torch_excluded = torchvision_no_decay(spec, bias_weight_decay)
    mapping = ours_for_torch_names(spec)
    model = kd.ResNet50(stride_in_1x1=False, weights=None)
    assert {v.path for v in model.trainable_variables} == {mapping[n] for n in params}
    ours = {v.path for v in v2_recipe.no_weight_decay(model, biases=bias_weight_decay == 0.0)}
    assert ours == {mapping[n] for n in torch_excluded}
    # 53 BN layers' gamma and beta; the classifier's bias only when biases are excluded
    assert len(ours) == 106 + (bias_weight_decay == 0.0)


def test_coupled_weight_decay_is_torch_sgds():
    """Two steps of torch.optim.SGD(lr, momentum, weight_decay) on a decayed kernel and an
    excluded BN gamma: d_p = g + wd * p; buf = d_p, then momentum * buf + d_p; p -= lr * buf."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False),
                              keras.layers.BatchNormalization()])
    lr, wd, momentum = 0.1, 0.05, 0.9
    optimizer = v2_recipe.CoupledDecaySGD(lr, momentum=momentum, weight_decay=wd)
    optimizer.exclude_from_weight_decay(var_list=v2_recipe.no_weight_decay(model))
    variables = model.trainable_variables  # kernel, gamma, beta
    want = [v.numpy().copy() for v in variables]
    bufs = [None] * len(variables)
    rng = np.random.default_rng(0)
    for _ in range(2):
        grads = [rng.normal(size=v.shape).astype(np.float32) for v in variables]
        optimizer.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        for i, g in enumerate(grads):
            d_p = g + wd * want[i] if i == 0 else g
            bufs[i] = d_p if bufs[i] is None else momentum * bufs[i] + d_p
            want[i] = want[i] - lr * bufs[i]
    for v, w in zip(variables, want):
        np.testing.assert_allclose(v.numpy(), w, rtol=1e-6, atol=1e-7)


def test_v2_optimizer_excludes_the_norms():
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3, name="conv"),
                              keras.layers.BatchNormalization(name="bn"),
                              keras.layers.Flatten(), keras.layers.Dense(3, name="fc")])
    optimizer = v2_recipe.v2_optimizer(model, 0.1)
    decayed = {v.path.split("/", 1)[1] for v in model.trainable_variables
               if optimizer._use_weight_decay(v)}
    assert decayed == {"conv/kernel", "conv/bias", "fc/kernel", "fc/bias"}


def torch_cross_entropy(logits, target, label_smoothing):
    """F.cross_entropy with probability targets and label_smoothing: the target becomes
    target * (1 - ls) + ls / C, and the loss -sum(target * log_softmax(logits)), batch mean."""
    classes = logits.shape[-1]
    target = target * (1 - label_smoothing) + label_smoothing / classes
    log_softmax = logits - logits.max(-1, keepdims=True)
    log_softmax = log_softmax - np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    return float(np.mean(-(target * log_softmax).sum(-1)))


def test_loss_is_torchs_label_smoothed_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(16, 10)).astype(np.float32)
    one_hot = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    lam = 0.7  # a mixed target, as after mixup
    target = lam * one_hot + (1 - lam) * np.roll(one_hot, 1, 0)
    want = torch_cross_entropy(logits, target, 0.1)
    assert float(v2_recipe.v2_loss(from_logits=True)(target, logits)) == pytest.approx(
        want, rel=1e-6)
    # the package's models end in a softmax: the default takes probabilities
    assert float(v2_recipe.v2_loss()(target, tf.nn.softmax(logits))) == pytest.approx(
        want, rel=1e-5)


def test_ema_decay_has_torchvisions_time_constant():
    """train.py: alpha = min(1, (1 - 0.99998) * world_size * batch_size * 32 / epochs), one
    update every 32 steps with decay 1 - alpha; 8 GPUs x 128 and 600 epochs."""
    alpha = min(1.0, (1.0 - 0.99998) * 8 * 128 * 32 / 600)
    d = v2_recipe.ema_decay_per_step()
    assert d ** 32 == pytest.approx(1 - alpha, rel=1e-12)
    assert d == pytest.approx(0.9999658, abs=1e-7)
    # a shorter run averages over fewer steps
    assert v2_recipe.ema_decay_per_step(epochs=30) < d


def test_presets_are_torchvisions_v2_inputs(imagenet_sample_dir):
    train, evaluation = v2_recipe.v2_presets()
    photo = sorted(imagenet_sample_dir.rglob("*.JPEG"))[0].read_bytes()
    crop = train(tf.constant(photo), tf.constant([1, 2]))
    assert crop.shape == (176, 176, 3)
    # evaluation: the transform torchvision publishes its V2 weights' accuracy with
    row = table.resolve("resnet50", "IMAGENET1K_V2")
    assert (row.resize, row.crop) == (232, 224)
    published = augment.get_preset("imagenet_eval", mode=row.preprocessing,
                                   resize_size=row.resize, interpolation=row.interpolation,
                                   antialias=True)
    np.testing.assert_array_equal(evaluation(tf.constant(photo), tf.constant([0, 0])),
                                  published(tf.constant(photo), tf.constant([0, 0])))


def test_recipe_row_for_the_imagenet_resnets():
    row = recipes.recipe_for("resnet50", "imagenet", "torchvision_v2")
    assert (row.batch_size, row.lr, row.weight_decay, row.momentum, row.epochs) == (
        1024, 0.5, 2e-5, 0.9, 600)
    assert (row.lr_schedule, row.warmup_epochs, row.label_smoothing) == ("cosine", 5, 0.1)
    assert row.ema_decay == v2_recipe.ema_decay_per_step()
    with pytest.raises(ValueError, match="torchvision_v2 recipe is for the ImageNet ResNets; "
                                         "vgg16 is not one"):
        recipes.recipe_for("vgg16", "imagenet", "torchvision_v2")


def _photos(imagenet_sample_dir, tmp_path):
    """The shared photos as an image folder with train/ and val/ splits (the same photos)."""
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for split in ("train", "val"):
        if not (folder / split).exists():
            (folder / split).symlink_to(imagenet_sample_dir, target_is_directory=True)
    return folder


def _v2_config(data, model_dir, **settings):
    return training.make_config(**{
        "model": "resnet18", "recipe": "torchvision_v2", "data": str(data), "image_size": 64,
        "max_examples": 64, "max_val_examples": 16, "batch_size": 16, "epochs": 3,
        "warmup_epochs": 1, "model_dir": str(model_dir), "export_dir": "", "verbose": 0,
        "tensorboard": False, "backup_steps": 0, **settings})


def test_v2_runs_input_is_the_recipes(imagenet_sample_dir, tmp_path):
    """--recipe=torchvision_v2's training input on real photos: crops at 176/224 of the
    evaluation size, torchvision's normalisation, and every batch erased and mixed (one-hot
    labels mixed by one lambda per batch, image i with image i - 1); its evaluation input at
    resize 232/224, centre crop."""
    cfg = config_lib.resolve(_v2_config(_photos(imagenet_sample_dir, tmp_path), tmp_path))
    info = registry.model_info("resnet18")
    plan = inputs.plan(cfg, info)
    context = tf.distribute.InputContext()
    batches = list(inputs.train_dataset_fn(cfg, info, plan, 16, 0, 0, [4, 4, 4])(context)
                   .take(4).as_numpy_iterator())
    for images, labels in batches:
        assert images.shape == (16, 50, 50, 3) and labels.shape == (16, 1000)  # 176 x 64/224
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
        two = np.sort(labels, axis=1)[:, -2:]  # [min(lam, 1 - lam), max(...)] per image
        assert np.ptp(two, axis=0).max() < 1e-5  # one lambda per batch
        if two[0, 0] > 1e-5:  # each image mixed with its neighbour (the photos' classes differ)
            classes = [set(np.flatnonzero(row > 1e-6)) for row in labels]
            assert all(len(c) == 2 and len(c & classes[i - 1]) == 1
                       for i, c in enumerate(classes))
    assert any(b[1].max() < 1 - 1e-3 for b in batches)  # lambda 1 in all four: p < 1e-3
    pixels = np.concatenate([b[0].ravel() for b in batches])
    assert pixels.min() >= -2.2 and pixels.max() <= 2.7 and pixels.min() < -1.5  # torch's
    (val_images, _), = inputs.val_dataset_fn(cfg, info, plan, 16)(context).take(1)
    assert val_images.shape == (16, 64, 64, 3)
    assert inputs.eval_preset_options(cfg, info, 64) == {
        "mode": "torch", "resize_size": 66, "interpolation": "bilinear", "antialias": True}


def test_v2_run_steps_torchvisions_lr_per_epoch_with_pytorchs_decay(imagenet_sample_dir,
                                                                     tmp_path):
    """A short run with --recipe=torchvision_v2 on real photos: the lr of each step is
    torchvision's SequentialLR of its epoch (at the recipe's lr scaled to the batch), the
    weight average's decay has torchvision's time constant for this batch and length, and
    config.json names the recipe so a replay runs it again; a warm-up that leaves no epoch
    to the cosine is a one-line error."""
    photos = _photos(imagenet_sample_dir, tmp_path)
    cfg = _v2_config(photos, tmp_path / "run")
    result = training.train(cfg)
    resolved = config_lib.resolve(cfg)
    per_epoch = torch_lrs(resolved.lr, 3, 1, 0.01)
    assert resolved.lr == pytest.approx(0.5 * 16 / 1024)
    np.testing.assert_allclose([s["lr"] for s in result.steps],
                               np.repeat(per_epoch, 4), rtol=1e-6)
    assert resolved.ema_decay == pytest.approx(v2_recipe.ema_decay_per_step(batch_size=16,
                                                                            epochs=3))
    assert all(np.isfinite(s["loss"]) for s in result.steps) and "top1" in result.steps[0]
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["requested"]["recipe"] == "torchvision_v2"
    with pytest.raises(training.ConfigError, match="warms up for 5 epochs, which leaves none "
                                                   "of the 3 epochs"):
        training.train(_v2_config(photos, tmp_path / "x", warmup_epochs=None))


def test_v2_training_preset_applies_trivial_augment_wide_per_image(imagenet_sample_dir):
    """The recipe's crop runs TrivialAugmentWide on its uint8 pixels after the flip: with the
    same seeds, the crop window and flip are those of the preset without it, the pixels are
    whole numbers before normalisation (the policy's uint8), and most images change (one of
    its 14 operations is the identity)."""
    photos = [p.read_bytes() for p in sorted(imagenet_sample_dir.rglob("*.JPEG"))[:16]]
    with_policy = v2_recipe.train_preset(224, mode="torch")
    without = v2_recipe.train_preset(224, mode="torch", policy=None)
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    changed = 0
    for i, photo in enumerate(photos):
        seed = tf.constant([7, i])
        a = with_policy(tf.constant(photo), seed).numpy() * std + mean
        b = without(tf.constant(photo), seed).numpy() * std + mean
        assert a.shape == b.shape == (176, 176, 3)
        np.testing.assert_allclose(a, np.round(a), atol=1e-2)  # uint8 values (float32 noise)
        changed += np.abs(a - b).mean() > 1.0
    assert changed >= 10
