"""Mixing and erasing against torchvision's formulas (torchvision/transforms/v2/_augment.py:
`MixUp`, `CutMix`, `RandomErasing`), written below in numpy, on real CIFAR-10 images."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets.data import mixing


@pytest.fixture(scope="module")
def batch(cifar10_dir):
    """Eight real CIFAR-10 training images (float32 [8, 32, 32, 3]) and their one-hot labels."""
    classes = sorted(p.name for p in cifar10_dir.joinpath("train").iterdir())
    images, labels = [], []
    for index, name in enumerate(classes[:8]):
        path = sorted(cifar10_dir.joinpath("train", name).iterdir())[0]
        images.append(tf.io.decode_jpeg(path.read_bytes()).numpy().astype(np.float32))
        labels.append(index)
    return np.stack(images), np.eye(10, dtype=np.float32)[labels]


def torch_mixup(x, y, lam):
    """_augment.py MixUp._transform: inpt.roll(1, 0).mul_(1 - lam).add_(inpt.mul(lam)), and
    _mixup_label the same on one-hot labels."""
    return (np.roll(x, 1, 0) * (1 - lam) + x * lam, np.roll(y, 1, 0) * (1 - lam) + y * lam)


def torch_cutmix(x, y, lam, r_x, r_y):
    """_augment.py CutMix._get_params and _transform (NHWC here)."""
    H, W = x.shape[1:3]
    r = 0.5 * math.sqrt(1.0 - lam)
    r_w_half, r_h_half = int(r * W), int(r * H)
    x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
    x2, y2 = min(r_x + r_w_half, W), min(r_y + r_h_half, H)
    lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
    out = x.copy()
    out[:, y1:y2, x1:x2] = np.roll(x, 1, 0)[:, y1:y2, x1:x2]
    return out, np.roll(y, 1, 0) * (1 - lam_adjusted) + y * lam_adjusted, lam_adjusted


@pytest.mark.parametrize("lam", [0.0, 0.137, 0.5, 0.93])
def test_mixup_equals_torchvision(batch, lam):
    x, y = batch
    got_x, got_y = mixing.mixup(x, y, lam)
    want_x, want_y = torch_mixup(x, y, lam)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6, atol=1e-7)


# Centres inside, at the corners and edges (the box is clamped there), several lambdas.
@pytest.mark.parametrize("lam,r_y,r_x", [(0.3, 16, 16), (0.75, 0, 0), (0.05, 31, 31),
                                         (0.6, 3, 29), (0.999, 10, 20), (0.0, 16, 5)])
def test_cutmix_equals_torchvision(batch, lam, r_y, r_x):
    x, y = batch
    box, lam_adjusted = mixing.cutmix_box(lam, 32, 32, r_y, r_x)
    got_x, got_y = mixing.cutmix(x, y, box, lam_adjusted)
    want_x, want_y, want_lam = torch_cutmix(x, y, lam, r_x, r_y)
    assert float(lam_adjusted) == pytest.approx(want_lam, abs=1e-7)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6, atol=1e-7)


def test_mix_batch_draws_as_torchvision(batch):
    """Over many seeds: mixup or cutmix each half the time, mixup's lambda Beta(0.2, 0.2)
    (mean 1/2, variance 1/(4 (2 alpha + 1))), every output one of the two formulas."""
    x, y = batch
    n, mixups, lams = 400, 0, []
    for i in range(n):
        got_x, got_y = mixing.mix_batch(x, y, tf.constant([7, i]))
        # the label weight on each image's own class is lambda (or the adjusted one)
        lam = float(np.sum(got_y.numpy() * y, axis=1)[0])
        want_x, _ = torch_mixup(x, y, lam)
        if np.allclose(got_x, want_x, atol=1e-2):
            mixups += 1
            lams.append(lam)
        else:  # a cutmix: each pixel is its own image's or the previous image's
            own = np.all(got_x.numpy() == x, axis=-1)
            rolled = np.all(got_x.numpy() == np.roll(x, 1, 0), axis=-1)
            assert np.all(own | rolled)
            assert np.mean(~own[0]) == pytest.approx(1 - lam, abs=1e-6)
    assert abs(mixups / n - 0.5) < 4 * math.sqrt(0.25 / n)
    lams = np.array(lams)
    assert abs(lams.mean() - 0.5) < 0.06
    assert abs(lams.var() - 1 / (4 * 1.4)) < 0.03


def torch_erasing_params(rng, H, W, scale=(0.02, 0.33), ratio=(0.3, 3.3)):
    """_augment.py RandomErasing._get_params, numpy's random numbers for torch's."""
    log_ratio = np.log(ratio)
    for _ in range(10):
        erase_area = H * W * rng.uniform(*scale)
        aspect_ratio = math.exp(rng.uniform(*log_ratio))
        h = int(round(math.sqrt(erase_area * aspect_ratio)))
        w = int(round(math.sqrt(erase_area / aspect_ratio)))
        if not (h < H and w < W):
            continue
        i, j = rng.integers(0, H - h + 1), rng.integers(0, W - w + 1)
        return i, j, h, w
    return None


def test_erase_fills_the_box_as_torchvision(batch):
    """Given boxes: torchvision's F.erase, img[..., i:i + h, j:j + w] = v, per image."""
    x, _ = batch
    x = (x - 120.0) / 60.0  # normalised, with negative values that must survive
    tops, lefts, hs, ws = np.array([[0, 5, 10, 3, 0, 20, 7, 1], [0, 9, 2, 20, 3, 0, 7, 1],
                                    [5, 12, 3, 9, 31, 4, 1, 20], [7, 4, 20, 11, 2, 31, 1, 8]])
    apply = np.array([True, True, False, True, True, True, True, False])
    got = mixing.erase(x, (tops, tops + hs, lefts, lefts + ws), apply, 0.0).numpy()
    want = x.copy()
    for b in np.flatnonzero(apply):
        want[b, tops[b]:tops[b] + hs[b], lefts[b]:lefts[b] + ws[b]] = 0.0
    np.testing.assert_array_equal(got, want)


def test_erasing_boxes_follow_torchvision_distribution():
    """Box heights, widths and positions over 4,000 draws on 40x24 images match torchvision's
    sampling (simulated in numpy) in mean and spread."""
    n, H, W = 4000, 40, 24
    (y1, y2, x1, x2), found = mixing.erasing_boxes(n, H, W, tf.constant([3, 4]))
    assert bool(tf.reduce_all(found))
    ours = np.stack([y1.numpy(), x1.numpy(), (y2 - y1).numpy(), (x2 - x1).numpy()], 1)
    rng = np.random.default_rng(0)
    theirs = np.array([torch_erasing_params(rng, H, W) for _ in range(n)])
    assert np.all(ours[:, 0] + ours[:, 2] <= H) and np.all(ours[:, 1] + ours[:, 3] <= W)
    for column in range(4):
        tolerance = 4 * theirs[:, column].std() / math.sqrt(n) * math.sqrt(2)
        assert abs(ours[:, column].mean() - theirs[:, column].mean()) < tolerance, column
        assert ours[:, column].std() == pytest.approx(theirs[:, column].std(), rel=0.06)
    area, their_area = (b[:, 2] * b[:, 3] / (H * W) for b in (ours, theirs))
    assert area.mean() == pytest.approx(their_area.mean(), rel=0.03)
    assert their_area.min() - 0.01 < area.min() and area.max() < their_area.max() + 0.01


def test_random_erasing_erases_p_of_the_images(batch):
    x, _ = batch
    images = np.repeat(x - 100.0, 100, axis=0)  # 800 images, no pixel at exactly 0
    out = mixing.random_erasing(images, tf.constant([1, 2]), p=0.1).numpy()
    erased = np.any(np.all(out == 0.0, axis=-1), axis=(1, 2))
    changed = np.any(out != images, axis=(1, 2, 3))
    np.testing.assert_array_equal(erased, changed)
    assert abs(erased.mean() - 0.1) < 4 * math.sqrt(0.09 / 800)
