"""Batch mixing and random erasing as torchvision's V2 recipe draws them, applied by Keras's own
layers (`keras.layers.MixUp`, `CutMix`, `RandomErasing`).

Keras's layers draw their parameters differently from torchvision, so the parameters are drawn
here, torchvision's way, and handed to the Keras layers' `transform_images`/`transform_labels`,
which apply them:

- MixUp (torchvision/transforms/v2/_augment.py, `MixUp`): one lambda ~ Beta(alpha, alpha) per
  batch and each image paired with the previous one (`roll(1, 0)`), labels mixed likewise.
  Keras's MixUp draws one lambda per image and pairs by a random permutation.
- CutMix (same file, `CutMix`): one lambda ~ Beta(alpha, alpha) per batch; the box is centred at
  a uniform pixel (r_x, r_y), half-sides int(0.5 sqrt(1 - lambda) W) and ... H, clamped to the
  image, and lambda re-adjusted to the clamped box's area. Keras's CutMix draws alpha itself
  uniformly in [0, factor], a box per image kept whole inside the image, and a random pairing.
- One of the two per batch, each with probability 1/2 (references/classification/transforms.py
  `get_mixup_cutmix`: `v2.RandomChoice([MixUp, CutMix])`).
- Random erasing (same file, `RandomErasing`): per image with probability p; area fraction
  uniform in `scale`, log aspect ratio uniform in log(`ratio`), h = round(sqrt(area * r)),
  w = round(sqrt(area / r)), up to 10 draws until h < H and w < W (else nothing is erased),
  top-left uniform; filled with `value` (0: on a normalised image, the mean colour). Keras's
  RandomErasing draws the two sides' fractions as sqrt(U(scale)) each, has no aspect-ratio
  range, and with `factor=p` erases with a probability drawn in [0, p] (p/2 on average).

All draws are stateless: the same `seed` gives the same batch, every run.
"""

import functools
import math

import keras
import tensorflow as tf

TORCHVISION_MIXUP_ALPHA = 0.2
TORCHVISION_CUTMIX_ALPHA = 1.0


@functools.cache
def _applier(cls, **kwargs):
    """One Keras layer of `cls` per process, built eagerly: its constructor makes a seed variable
    (unused here: the layer only applies given transformations), which a tf.data map function
    or a tf.function cannot create."""
    with tf.init_scope():
        return cls(**kwargs)


def beta_sample(alpha, seed):
    """One draw of Beta(alpha, alpha), as X / (X + Y) with X, Y ~ Gamma(alpha)."""
    gammas = tf.random.stateless_gamma([2], seed, alpha=alpha)
    return gammas[0] / (gammas[0] + gammas[1])


def rolled_pairs(batch_size):
    """torchvision's pairing, `x.roll(1, 0)`: image i is mixed with image i - 1."""
    return tf.roll(tf.range(batch_size), 1, 0)


def mixup(images, labels, lam):
    """torchvision's MixUp with a given lambda: x' = lam x + (1 - lam) x.roll(1, 0), labels
    (one-hot or soft) likewise; applied by `keras.layers.MixUp`."""
    layer = _applier(keras.layers.MixUp)
    batch = tf.shape(images)[0]
    transformation = {"mix_weight": tf.fill([batch], tf.cast(lam, layer.compute_dtype)),
                      "permutation_order": rolled_pairs(batch)}
    return (layer.transform_images(images, transformation),
            layer.transform_labels(tf.cast(labels, layer.compute_dtype), transformation))


def cutmix_box(lam, height, width, center_y, center_x):
    """torchvision's CutMix box (y1, y2, x1, x2) for lambda and a centre pixel, and lambda
    re-adjusted to the box's area: half-sides int(0.5 sqrt(1 - lam) * side), clamped to the
    image."""
    # float64 as Python's floats; int() truncates, as the cast does
    r = 0.5 * tf.sqrt(1.0 - tf.cast(lam, tf.float64))
    half_w = tf.cast(r * tf.cast(width, tf.float64), tf.int32)
    half_h = tf.cast(r * tf.cast(height, tf.float64), tf.int32)
    x1, x2 = tf.maximum(center_x - half_w, 0), tf.minimum(center_x + half_w, width)
    y1, y2 = tf.maximum(center_y - half_h, 0), tf.minimum(center_y + half_h, height)
    lam_adjusted = 1.0 - tf.cast((x2 - x1) * (y2 - y1), tf.float32) / tf.cast(
        width * height, tf.float32)
    return (y1, y2, x1, x2), lam_adjusted


def box_mask(shape, box):
    """A boolean [B, H, W, C] mask, True inside box (y1, y2, x1, x2) of every image; `box`'s
    entries may be scalars (one box for the batch) or [B] vectors (a box per image)."""
    y1, y2, x1, x2 = (tf.reshape(tf.cast(b, tf.int32), [-1, 1, 1, 1]) for b in box)
    rows = tf.range(shape[1])[None, :, None, None]
    cols = tf.range(shape[2])[None, None, :, None]
    inside = (rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)
    return tf.broadcast_to(inside, shape)


def cutmix(images, labels, box, lam_adjusted):
    """torchvision's CutMix with a given box: the box of image i comes from image i - 1, labels
    mixed with the re-adjusted lambda; applied by `keras.layers.CutMix`."""
    layer = _applier(keras.layers.CutMix)
    shape = tf.shape(images)
    transformation = {"permutation_order": rolled_pairs(shape[0]),
                      "batch_masks": box_mask(shape, box),
                      "mix_weight": tf.fill([shape[0]], tf.cast(lam_adjusted,
                                                                layer.compute_dtype))}
    return (layer.transform_images(images, transformation),
            layer.transform_labels(tf.cast(labels, layer.compute_dtype), transformation))


def mix_batch(images, labels, seed, mixup_alpha=TORCHVISION_MIXUP_ALPHA,
              cutmix_alpha=TORCHVISION_CUTMIX_ALPHA):
    """MixUp or CutMix, one of them per batch with probability 1/2 each, drawn as torchvision's
    V2 recipe draws them. `labels`: one-hot or soft [B, classes]; `seed`: a stateless seed."""
    choice_seed, mixup_seed, cutmix_seed, y_seed, x_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 5))
    shape = tf.shape(images)

    def do_mixup():
        return mixup(images, labels, beta_sample(mixup_alpha, mixup_seed))

    def do_cutmix():
        center_y = tf.random.stateless_uniform([], y_seed, 0, shape[1], dtype=tf.int32)
        center_x = tf.random.stateless_uniform([], x_seed, 0, shape[2], dtype=tf.int32)
        box, lam = cutmix_box(beta_sample(cutmix_alpha, cutmix_seed), shape[1], shape[2],
                              center_y, center_x)
        return cutmix(images, labels, box, lam)

    use_mixup = tf.random.stateless_uniform([], choice_seed) < 0.5
    return tf.cond(use_mixup, do_mixup, do_cutmix)


def erasing_boxes(batch_size, height, width, seed, scale=(0.02, 0.33), ratio=(0.3, 3.3),
                  attempts=10):
    """torchvision's RandomErasing box per image: (y1, y2, x1, x2) as [B] vectors and whether
    a draw fitted (`found`, [B]); the first of `attempts` draws with h < H and w < W."""
    area_seed, ratio_seed, y_seed, x_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    area = tf.cast(height * width, tf.float32) * tf.random.stateless_uniform(
        [batch_size, attempts], area_seed, scale[0], scale[1])
    aspect = tf.exp(tf.random.stateless_uniform([batch_size, attempts], ratio_seed,
                                                math.log(ratio[0]), math.log(ratio[1])))
    # Python's round() and tf.round both round halves to even.
    h = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    w = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (h < height) & (w < width)
    first = tf.argmax(tf.cast(fits, tf.int32), axis=1, output_type=tf.int32)
    h, w = (tf.gather(v, first, axis=1, batch_dims=1) for v in (h, w))
    found = tf.reduce_any(fits, axis=1)
    top = _uniform_int(y_seed, height - h + 1)
    left = _uniform_int(x_seed, width - w + 1)
    return (top, top + h, left, left + w), found


def _uniform_int(seed, limits):
    """An integer uniform in [0, limit) for each of `limits`."""
    u = tf.random.stateless_uniform(tf.shape(limits), seed)
    return tf.minimum(tf.cast(u * tf.cast(limits, tf.float32), tf.int32), limits - 1)


def erase(images, box, apply, value=0.0):
    """Fills each image's box with `value` where `apply` ([B] bool) holds; applied by
    `keras.layers.RandomErasing`. The value range is left open so that normalised images
    (negative values) are not clipped."""
    layer = _applier(keras.layers.RandomErasing, value_range=(-math.inf, math.inf))
    shape = tf.shape(images)
    transformation = {"batch_masks": box_mask(shape, box), "apply_erasing": apply,
                      "fill_value": tf.fill(shape, tf.cast(value, layer.compute_dtype))}
    return layer.transform_images(images, transformation)


def random_erasing(images, seed, p=0.1, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0):
    """torchvision's RandomErasing(p, scale, ratio, value) on each image of a batch [B, H, W, C]
    (torchvision applies it per image, after normalisation)."""
    box_seed, apply_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(images)
    box, found = erasing_boxes(shape[0], shape[1], shape[2], box_seed, scale, ratio)
    apply = (tf.random.stateless_uniform([shape[0]], apply_seed) < p) & found
    return erase(images, box, apply, value)
