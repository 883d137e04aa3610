"""TrivialAugment Wide (Müller & Hutter 2021), torchvision's `TrivialAugmentWide`: each image gets
one operation drawn uniformly from 14, at a magnitude drawn uniformly from 31 bins, with a random
sign for the signed operations. The V2 recipe's `--auto-augment ta_wide`.

The policy is torchvision's (torchvision/transforms/autoaugment.py, `TrivialAugmentWide.
_augmentation_space` and `_apply_op`): shear up to 0.99, translation up to 32 pixels, rotation up
to 135 degrees, enhancement factors 1 +- 0.99, posterize to 8 .. 2 bits, solarize at 255 .. 0,
nearest interpolation, fill 0. torchvision's recipe applies it to PIL images, so each operation here
computes what Pillow computes for torchvision's call (torchvision/transforms/_functional_pil.py):
ImageEnhance.Brightness/Color/Contrast/Sharpness, ImageOps.posterize/solarize/autocontrast/
equalize, and Image.transform(AFFINE, NEAREST) with torchvision's inverse affine matrix
(functional.py `_get_inverse_affine_matrix`) or, for Rotate, Image.rotate's own matrix.

Images are uint8-valued, [H, W, 3] or a batch [B, H, W, 3], in 0..255 (uint8 or a float type);
float values are rounded to integers first (a resized crop is float here where Pillow's resize
returns uint8). The result has the input's dtype and integer values in 0..255.
"""

import math

import keras
import numpy as np
import tensorflow as tf

OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
       "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")
NUM_MAGNITUDE_BINS = 31
_GEOMETRIC = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
_SIGNED = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
           "Contrast", "Sharpness")


def torch_linspace(start, end, steps):
    """`torch.linspace(start, end, steps)` in float32 as PyTorch's CPU kernel computes it: the
    first half as start + i * step, the second as end - (steps - 1 - i) * step, each a fused
    multiply-add (one rounding). It matters: at 32 pixels / 31 bins, bin 15 is 15.999999 and
    `int()` of it, torchvision's translation, is 15."""
    start, end = np.float32(start), np.float32(end)
    step = (end - start) / np.float32(steps - 1)
    i = np.arange(steps, dtype=np.float64)
    first = np.float64(start) + np.float64(step) * i
    second = np.float64(end) - np.float64(step) * (steps - 1 - i)
    return np.where(i < steps // 2, first, second).astype(np.float32)


def magnitude_table(num_bins=NUM_MAGNITUDE_BINS):
    """{op: (magnitudes, signed)} of TrivialAugmentWide's `_augmentation_space(num_bins)`; the
    magnitudes are float32 [num_bins] (torch's float32 linspace), None for Identity,
    AutoContrast and Equalize."""
    wide = {"ShearX": 0.99, "ShearY": 0.99, "TranslateX": 32.0, "TranslateY": 32.0,
            "Rotate": 135.0, "Brightness": 0.99, "Color": 0.99, "Contrast": 0.99,
            "Sharpness": 0.99}
    table = {op: (torch_linspace(0.0, top, num_bins), True) for op, top in wide.items()}
    # 8 - (arange(bins) / ((bins - 1) / 6)).round().int(): float32 division, halves to even
    bits = 8 - np.round(np.arange(num_bins, dtype=np.float32) / np.float32((num_bins - 1) / 6))
    table["Posterize"] = (bits.astype(np.float32), False)
    table["Solarize"] = (torch_linspace(255.0, 0.0, num_bins), False)
    for op in ("Identity", "AutoContrast", "Equalize"):
        table[op] = (None, False)
    return table


def inverse_affine(op, magnitude):
    """Pillow's inverse map (output pixel -> input pixel) for a geometric op at a signed
    magnitude, as (a0, a1, a3, a4, tx, ty, centred): input x = a0 x + a1 y + a2 with
    a2 = a0 (-cx - tx) + a1 (-cy - ty) + cx, the centre (cx, cy) = (W/2, H/2) when `centred`,
    else (0, 0) (torchvision shears about the corner: `center=[0, 0]`)."""
    if op in ("Identity", "TranslateX", "TranslateY"):
        # torchvision: F.affine(translate=[int(magnitude), 0] or [0, int(magnitude)])
        t = float(int(magnitude)) if op != "Identity" else 0.0
        return 1.0, 0.0, 0.0, 1.0, t * (op == "TranslateX"), t * (op == "TranslateY"), True
    if op in ("ShearX", "ShearY"):
        # shear angle degrees(atan(m)) back in radians; _get_inverse_affine_matrix with rot = 0
        s = math.radians(math.degrees(math.atan(magnitude)))
        if op == "ShearX":  # [d, -b, -c, a] with b = -tan(sx), a = d = 1, c = 0
            return 1.0, math.tan(s), -0.0, 1.0, 0.0, 0.0, False
        # [d, -b, -c, a] with d = 1, b = -0, c = sin(rot - sy) / cos(sy), a = cos(-sy) / cos(sy)
        c = math.sin(-s) / math.cos(s)
        return 1.0, 0.0, -c, math.cos(-s) / math.cos(s), 0.0, 0.0, False
    if op == "Rotate":
        # PIL Image.rotate: angle % 360, then -radians, cos/sin rounded to 15 decimals
        angle = -math.radians(magnitude % 360.0)
        cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
        return cos, sin, -sin, cos, 0.0, 0.0, True
    raise ValueError(f"op must be one of {', '.join(_GEOMETRIC)}; got {op!r}.")


def affine(image, coefficients):
    """Pillow's Image.transform(AFFINE, NEAREST, fillcolor=0) of a uint8 [H, W, C] image with
    `inverse_affine`'s coefficients (float64 [7]). Pillow samples at pixel centres in 16.16 fixed
    point (Geometry.c `affine_fixed`): each coefficient rounded to 1/65536 and the input pixel the
    floor of the sum, so this does the same integer arithmetic."""
    # float64 throughout, as Pillow's doubles (a Python tuple would otherwise become float32)
    coefficients = tf.cast(tf.convert_to_tensor(coefficients, dtype_hint=tf.float64), tf.float64)
    a0, a1, a3, a4, tx, ty, centred = tf.unstack(coefficients)
    shape = tf.shape(image)
    cx = tf.cast(shape[1], tf.float64) * 0.5 * centred
    cy = tf.cast(shape[0], tf.float64) * 0.5 * centred
    a2 = (a0 * (-cx - tx) + a1 * (-cy - ty)) + cx
    a5 = (a3 * (-cx - tx) + a4 * (-cy - ty)) + cy

    def fix(v):
        return tf.cast(tf.floor(v * 65536.0 + 0.5), tf.int64)

    x = tf.range(tf.cast(shape[1], tf.int64))[None, :]
    y = tf.range(tf.cast(shape[0], tf.int64))[:, None]
    xin = (fix(a2 + a0 * 0.5 + a1 * 0.5) + y * fix(a1) + x * fix(a0)) // 65536
    yin = (fix(a5 + a3 * 0.5 + a4 * 0.5) + y * fix(a4) + x * fix(a3)) // 65536
    inside = ((xin >= 0) & (xin < tf.cast(shape[1], tf.int64))
              & (yin >= 0) & (yin < tf.cast(shape[0], tf.int64)))
    index = tf.stack([tf.where(inside, yin, 0), tf.where(inside, xin, 0)], axis=-1)
    return tf.where(inside[..., None], tf.gather_nd(image, index), tf.zeros_like(image))


def blend(degenerate, image, factor):
    """Pillow's Image.blend(degenerate, image, factor), ImageEnhance's `enhance`: in float32,
    degenerate + factor * (image - degenerate), clipped to 0..255 and truncated (Blend.c)."""
    degenerate = tf.cast(degenerate, tf.float32)
    value = degenerate + tf.cast(factor, tf.float32) * (tf.cast(image, tf.float32) - degenerate)
    return tf.cast(tf.clip_by_value(value, 0.0, 255.0), tf.uint8)


def grayscale(image):
    """Pillow's convert("L") of an RGB uint8 image: (19595 R + 38470 G + 7471 B + 2^15) >> 16,
    as int32 [H, W, 1]."""
    rgb = tf.cast(image, tf.int32)
    weighted = rgb[..., 0:1] * 19595 + rgb[..., 1:2] * 38470 + rgb[..., 2:3] * 7471
    return tf.bitwise.right_shift(weighted + 32768, 16)


def brightness(image, factor):
    """ImageEnhance.Brightness(image).enhance(factor): a blend with black."""
    return blend(tf.zeros_like(image), image, factor)


def color(image, factor):
    """ImageEnhance.Color: a blend with the image's grayscale (convert("L").convert("RGB"))."""
    return blend(tf.broadcast_to(grayscale(image), tf.shape(image)), image, factor)


def contrast(image, factor):
    """ImageEnhance.Contrast: a blend with a flat image at the grayscale mean, rounded
    (int(mean + 0.5), the mean in float64 as ImageStat's)."""
    gray = tf.cast(grayscale(image), tf.float64)
    mean = tf.floor(tf.reduce_mean(gray) + 0.5)
    return blend(tf.fill(tf.shape(image), tf.cast(mean, tf.float32)), image, factor)


def smooth(image):
    """Pillow's ImageFilter.SMOOTH (3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13) on a uint8 image, in
    float32 summed in Filter.c's order (row below, row, row above; +0.5, truncated); the border
    pixels are kept, as Pillow keeps them."""
    x = tf.cast(image, tf.float32)
    k0, k1 = np.float32(1.0) / np.float32(13.0), np.float32(5.0) / np.float32(13.0)

    def row(r, middle):
        return (r[:, :-2] * k0 + r[:, 1:-1] * middle) + r[:, 2:] * k0

    inner = ((0.5 + row(x[2:], k0)) + row(x[1:-1], k1)) + row(x[:-2], k0)
    inner = tf.cast(tf.clip_by_value(inner, 0.0, 255.0), tf.uint8)
    shape = tf.shape(image)
    inside = tf.pad(tf.ones(shape - [2, 2, 0], tf.bool), [[1, 1], [1, 1], [0, 0]])
    return tf.where(inside, tf.pad(inner, [[1, 1], [1, 1], [0, 0]]), image)


def sharpness(image, factor):
    """ImageEnhance.Sharpness: a blend with the SMOOTH-filtered image."""
    return blend(smooth(image), image, factor)


def posterize(image, bits):
    """ImageOps.posterize: keep the top `bits` bits of each value."""
    mask = tf.bitwise.invert(tf.bitwise.left_shift(1, 8 - tf.cast(bits, tf.int32)) - 1)
    return tf.cast(tf.bitwise.bitwise_and(tf.cast(image, tf.int32), mask), tf.uint8)


def solarize(image, threshold):
    """ImageOps.solarize: values not below `threshold` inverted."""
    below = tf.cast(image, tf.float32) < tf.cast(threshold, tf.float32)
    return tf.where(below, image, 255 - image)


def autocontrast(image):
    """ImageOps.autocontrast (cutoff 0), per channel: lo..hi stretched to 0..255 as
    int(v * scale + offset) with scale = 255 / (hi - lo), offset = -lo * scale in float64;
    a flat channel unchanged."""
    v = tf.cast(image, tf.float64)
    lo = tf.reduce_min(v, axis=[0, 1])
    hi = tf.reduce_max(v, axis=[0, 1])
    scale = 255.0 / tf.maximum(hi - lo, 1.0)
    stretched = tf.clip_by_value(tf.cast(v * scale + (-lo * scale), tf.int32), 0, 255)
    return tf.where(hi > lo, tf.cast(stretched, tf.uint8), image)


def equalize(image):
    """ImageOps.equalize, per channel: step = (count - count of the last used value) // 255,
    lut[i] = (step // 2 + number of values below i) // step; unchanged where one value is used
    or step is 0."""
    channels = tf.transpose(tf.reshape(tf.cast(image, tf.int64), [-1, tf.shape(image)[-1]]))
    hist = tf.cast(tf.math.bincount(channels, minlength=256, maxlength=256, axis=-1), tf.int64)
    used = tf.range(256, dtype=tf.int64)[None] * tf.cast(hist > 0, tf.int64)
    last = tf.gather(hist, tf.reduce_max(used, axis=1), batch_dims=1)
    step = (tf.reduce_sum(hist, axis=1) - last) // 255
    below = tf.cumsum(hist, axis=1, exclusive=True)
    lut = tf.minimum((step[:, None] // 2 + below) // tf.maximum(step[:, None], 1), 255)
    keep = (tf.math.count_nonzero(hist, axis=1) <= 1) | (step == 0)
    lut = tf.where(keep[:, None], tf.range(256, dtype=tf.int64)[None], lut)
    out = tf.gather(lut, channels, batch_dims=1)
    return tf.reshape(tf.cast(tf.transpose(out), tf.uint8), tf.shape(image))


def op_tables(num_bins=NUM_MAGNITUDE_BINS):
    """The signed magnitude of each (op, bin, sign) as float32 [14, bins, 2] (sign 1 negates,
    torchvision's `torch.randint(2, (1,))` == 1), and the geometric ops' `inverse_affine`
    coefficients as float64 [14, bins, 2, 7] (the identity's for the other ops)."""
    table = magnitude_table(num_bins)
    magnitudes = np.zeros([len(OPS), num_bins, 2], np.float32)
    coefficients = np.tile(np.array(inverse_affine("Identity", 0.0)), [len(OPS), num_bins, 2, 1])
    for o, op in enumerate(OPS):
        values, signed = table[op]
        for b in range(num_bins if values is not None else 0):
            for sign in (0, 1):
                magnitudes[o, b, sign] = -values[b] if signed and sign else values[b]
                if op in _GEOMETRIC:
                    coefficients[o, b, sign] = inverse_affine(op, float(magnitudes[o, b, sign]))
    return magnitudes, coefficients


def apply_op(image, op, magnitude, coefficients):
    """Applies OPS[op] (a scalar int tensor) to one uint8 [H, W, C] image at the signed
    `magnitude`; the geometric ops use `coefficients` (`inverse_affine`'s), as torchvision's
    `_apply_op` does with `magnitude` (enhancements at 1 + magnitude, posterize at
    int(magnitude) bits)."""
    factor = 1.0 + tf.cast(magnitude, tf.float64)  # Pillow takes the factor as a C float
    branches = {"Brightness": lambda: brightness(image, factor),
                "Color": lambda: color(image, factor),
                "Contrast": lambda: contrast(image, factor),
                "Sharpness": lambda: sharpness(image, factor),
                "Posterize": lambda: posterize(image, tf.cast(magnitude, tf.int32)),
                "Solarize": lambda: solarize(image, magnitude),
                "AutoContrast": lambda: autocontrast(image),
                "Equalize": lambda: equalize(image)}
    branches["Identity"] = lambda: image
    for name in _GEOMETRIC[1:]:
        branches[name] = lambda: affine(image, coefficients)
    return tf.switch_case(tf.cast(op, tf.int32), [branches[name] for name in OPS])


def to_uint8(images):
    """0..255 values of any real dtype as uint8, rounded and clipped."""
    if images.dtype == tf.uint8:
        return images
    return tf.cast(tf.clip_by_value(tf.round(tf.cast(images, tf.float32)), 0.0, 255.0), tf.uint8)


@keras.saving.register_keras_serializable(package="keras_deepnets")
class TrivialAugmentWide(keras.layers.Layer):
    """torchvision's `TrivialAugmentWide(num_magnitude_bins=31)` as a Keras augmentation layer
    for tf.data: each image of a batch [B, H, W, 3] (or one [H, W, 3] image) draws its own op,
    magnitude bin and sign, uniformly. Inputs are 0..255 values (uint8 or float; floats are
    rounded); outputs have the input's dtype. `call(images, seed=...)` with a stateless seed
    ([2] int) draws from it, as the package's presets do per example; without one the layer's
    `keras.random.SeedGenerator(seed)` gives the seeds, so a fixed `seed` repeats a run."""

    def __init__(self, num_magnitude_bins=NUM_MAGNITUDE_BINS, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError("num_magnitude_bins must be an integer >= 2; got "
                             f"{num_magnitude_bins!r}.")
        self.num_magnitude_bins = num_magnitude_bins
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._magnitudes, self._coefficients = op_tables(num_magnitude_bins)

    def draw(self, batch_size, seed):
        """The [B] op indices, magnitude bins and signs of a batch, from a stateless seed."""
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        return [tf.random.stateless_uniform([batch_size], s, 0, n, dtype=tf.int32)
                for s, n in zip(seeds, (len(OPS), self.num_magnitude_bins, 2))]

    def call(self, images, seed=None):
        images = tf.convert_to_tensor(images)
        if images.shape.rank not in (3, 4):
            raise ValueError("TrivialAugmentWide takes [H, W, C] or [B, H, W, C] images; got "
                             f"shape {images.shape}.")
        batch = images if images.shape.rank == 4 else images[None]
        if seed is None:
            seed = self.seed_generator.next()
        op, bins, sign = self.draw(tf.shape(batch)[0], tf.cast(seed, tf.int64))
        index = tf.stack([op, bins, sign], axis=1)
        magnitude = tf.gather_nd(tf.constant(self._magnitudes), index)
        coefficients = tf.gather_nd(tf.constant(self._coefficients), index)
        out = tf.map_fn(lambda args: apply_op(*args), (to_uint8(batch), op, magnitude,
                                                       coefficients),
                        fn_output_signature=tf.uint8)
        out = tf.cast(out, images.dtype)
        return out if images.shape.rank == 4 else out[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_magnitude_bins": self.num_magnitude_bins,
                "seed": self.seed}
