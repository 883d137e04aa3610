"""Presets: shapes, ranges and statistics of the papers' augmentation, on real images."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import data, preprocess_input
from keras_deepnets.data import augment, decode, mean, sources


def seeds(n, base=0):
    return [tf.constant([base, i], tf.int64) for i in range(n)]


def test_caffe_normalise_is_preprocess_input():
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(augment.caffe_normalise(tf.constant(x)).numpy(),
                               preprocess_input(x.copy(), mode="caffe"), atol=1e-4)


@pytest.mark.parametrize("shape", [(256, 341), (300, 200), (500, 500), (180, 900)])
def test_scale_augmentation_windows_stay_inside_and_cover_the_range(shape):
    """ResNet 3.4: S in [256, 480] -> a 224 crop is 224*short/S original pixels wide."""
    preset = data.get_preset("resnet_imagenet_train")
    windows = np.array([preset.window(tf.constant(shape), s).numpy() for s in seeds(300)])
    y, x, h, w = windows.T
    assert (y >= 0).all() and (x >= 0).all()
    assert (y + h <= shape[0]).all() and (x + w <= shape[1]).all()
    assert (h == w).all()
    short = min(shape)
    low, high = 224 * short / 480, 224 * short / 256
    assert h.min() >= np.floor(low) and h.max() <= np.ceil(high)
    assert h.min() < low + 0.1 * (high - low) and h.max() > high - 0.1 * (high - low)
    if shape[0] != shape[1]:  # positions vary along the longer side
        assert len(set((x if shape[1] > shape[0] else y).tolist())) > 50


def test_vgg_scales():
    shape = tf.constant((300, 400))
    single = data.get_preset("vgg_imagenet_train", scale=384)
    sides = {int(single.window(shape, s)[2]) for s in seeds(50)}
    assert sides == {round(224 * 300 / 384)}
    default = data.get_preset("vgg_imagenet_train")
    assert default.scale == (256, 256)
    multi = data.get_preset("vgg_imagenet_train", scale=(256, 512))
    sides = np.array([int(multi.window(shape, s)[2]) for s in seeds(300)])
    assert sides.min() <= round(224 * 300 / 500) and sides.max() >= round(224 * 300 / 266)
    with pytest.raises(ValueError, match="scale"):
        data.get_preset("vgg_imagenet_train", scale=(128, 512))


def test_inception_crop_area_and_aspect():
    shape = (300, 400)
    preset = data.get_preset("inception_train")
    windows = np.array([preset.window(tf.constant(shape), s).numpy() for s in seeds(300)])
    y, x, h, w = windows.T
    assert (y >= 0).all() and (x >= 0).all()
    assert (y + h <= shape[0]).all() and (x + w <= shape[1]).all()
    area = h * w / (shape[0] * shape[1])
    aspect = w / h
    whole = area == 1.0  # the fallback after 10 failed attempts
    assert area.min() >= 0.08 - 0.01 and area[~whole].min() < 0.2
    assert (aspect[~whole] >= 0.75 - 0.02).all() and (aspect[~whole] <= 4 / 3 + 0.02).all()


def test_eval_window_is_centred():
    preset = data.get_preset("imagenet_eval")
    y, x, h, w = preset.window(tf.constant((300, 500)), None).numpy()
    assert h == w == round(224 * 300 / 256)
    assert (y, x) == ((300 - h) // 2, (500 - w) // 2)
    assert data.get_preset("imagenet_eval", image_size=160).resize_size == 183


def test_decode_and_crop_matches_full_decode_then_crop(imagenet_sample_dir):
    """The fast path decodes the window only; the pixels are those of a full decode."""
    source = sources.resolve(imagenet_sample_dir)
    preset = data.get_preset("resnet_imagenet_train", lighting_stddev=0)
    for path in source.paths[:20]:
        image_bytes = tf.io.read_file(path)
        full = decode.decode_full(image_bytes)
        window = preset.window(tf.shape(full)[:2], tf.constant([3, 4], tf.int64))
        fast = decode.decode_window(image_bytes, lambda shape, window=window: window)
        slow = decode.crop(full, window)
        assert fast.shape == slow.shape
        diff = np.abs(fast.numpy().astype(int) - slow.numpy().astype(int))
        assert diff.mean() < 1.0


def test_pca_lighting_statistics():
    """Krizhevsky 4.1: one RGB shift per image along the principal components, alpha ~ N(0, 0.1)."""
    image = tf.zeros([2, 2, 3])
    shifts = np.array([augment.pca_lighting(image, s).numpy()[0, 0] for s in seeds(1000)])
    projected = shifts @ augment._PCA_EIGVEC  # the eigenvectors are orthonormal columns
    np.testing.assert_allclose(projected.std(0), 0.1 * augment._PCA_EIGVAL, rtol=0.12)
    assert np.abs(projected.mean(0)).max() < 0.15 * 0.1 * augment._PCA_EIGVAL[0]
    batch = augment.pca_lighting(tf.zeros([4, 2, 2, 3]), tf.constant([0, 0], tf.int64)).numpy()
    assert len({tuple(b[0, 0]) for b in batch}) == 4  # one shift per image of a batch


@pytest.mark.parametrize("preset", augment.IMAGENET_PRESETS)
def test_imagenet_presets_shapes_and_ranges(imagenet_sample_dir, preset):
    ds = data.load(imagenet_sample_dir, preset=preset, batch_size=16, max_examples=48, seed=0,
                   image_size=160 if preset == "inception_train" else None)
    count = 0
    for images, labels in ds:
        size = 160 if preset == "inception_train" else 224
        assert images.shape[1:] == (size, size, 3) and images.dtype == tf.float32
        assert labels.dtype == tf.int32 and labels.shape == images.shape[:1]
        rgb = images.numpy()[..., ::-1] + np.array([123.68, 116.779, 103.939])  # undo "caffe"
        margin = 40 if preset.endswith("imagenet_train") else 0.5  # RGB colour shift
        assert rgb.min() >= -margin and rgb.max() <= 255 + margin
        assert rgb.std() > 20  # real photos, not blank
        count += len(labels)
    assert count == 48


def test_flips_happen_half_the_time(small_cifar):
    """CIFAR training with no padding differs from evaluation only by the flip."""
    common = dict(batch_size=None, seed=7, shuffle=False)
    train = data.load(small_cifar, "train", preset="cifar_train",
                      preset_options={"padding": 0}, **common)
    evaluation = data.load(small_cifar, "train", preset="cifar_eval", **common)
    flipped = []
    for (a, ya), (b, yb) in zip(train, evaluation):
        assert ya == yb
        a, b = a.numpy(), b.numpy()
        if np.allclose(a, b, atol=1e-3):
            flipped.append(False)
        else:
            np.testing.assert_allclose(a, b[:, ::-1], atol=1e-3)
            flipped.append(True)
    assert len(flipped) == 120 and 0.35 < np.mean(flipped) < 0.65


def test_cifar_padding_and_crop(small_cifar):
    """ResNet 4.2: zero-pad 4 pixels, random 32 crop: a shift of at most 4 in each direction."""
    common = dict(batch_size=None, seed=3, shuffle=False)
    train = data.load(small_cifar, "train", preset="cifar_train", **common)
    evaluation = data.load(small_cifar, "train", preset="cifar_eval", **common)
    shifts = []
    for (a, _), (b, _) in zip(train, evaluation):
        a, padded = a.numpy(), np.pad(b.numpy(), [(4, 4), (4, 4), (0, 0)])
        match = [(dy, dx) for dy in range(9) for dx in range(9) for flip in (False, True)
                 if np.allclose(a, (padded[:, ::-1] if flip else padded)[dy:dy + 32, dx:dx + 32],
                                atol=1e-3)]
        assert match, "a training image is not a padded crop of the evaluation image"
        shifts.append(match[0])
    shifts = np.array(shifts) - 4
    assert np.abs(shifts).max() == 4 and len({tuple(s) for s in shifts}) > 20


def test_cifar_mean_is_the_training_split_mean_and_cached(small_cifar, monkeypatch):
    source = sources.resolve(small_cifar, "train")
    images = [tf.io.decode_jpeg(tf.io.read_file(p), channels=3).numpy() for p in source.paths]
    expected = np.mean(np.array(images, np.float64), axis=0)
    got = data.cifar_mean(small_cifar)
    assert got.shape == (32, 32, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert list(mean.cache_dir().glob("mean_*.npy"))

    def fail(*args, **kwargs):
        raise AssertionError("the cached mean was recomputed")

    monkeypatch.setattr(mean, "per_pixel_mean", fail)
    np.testing.assert_array_equal(data.cifar_mean(small_cifar), got)
    images, _ = next(iter(data.load(small_cifar, "test", preset="cifar_eval", batch_size=40,
                                    shuffle=False)))
    assert abs(float(tf.reduce_mean(images))) < 20  # mean-subtracted


def test_default_presets(small_cifar, small_imagenet):
    train = data.load(small_cifar, "train", batch_size=4)
    assert next(iter(train))[0].shape == (4, 32, 32, 3)
    assert data.pipeline.default_preset(sources.resolve(small_imagenet), None) == "imagenet_eval"
    assert data.pipeline.default_preset(sources.resolve(small_cifar, "train"),
                                        "train") == "cifar_train"


def test_same_seed_same_batches_other_seed_other_batches(small_imagenet):
    def first(seed):
        ds = data.load(small_imagenet, preset="resnet_imagenet_train", batch_size=8, seed=seed)
        return [(x.numpy(), y.numpy()) for x, y in ds]

    a, b, c = first(1), first(1), first(2)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_preset_errors():
    with pytest.raises(ValueError, match="Unknown preset"):
        data.get_preset("alexnet_train")
    with pytest.raises(ValueError, match="Bad options"):
        data.get_preset("imagenet_eval", scale=3)
    with pytest.raises(ValueError, match="mean"):
        data.get_preset("cifar_train")
    with pytest.raises(ValueError, match="image_size"):
        data.get_preset("imagenet_eval", image_size=0)
