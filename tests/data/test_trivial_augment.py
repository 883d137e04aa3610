"""TrivialAugmentWide against what torchvision computes on PIL images, torchvision's recipe's input
(torchvision/transforms/autoaugment.py `_apply_op` -> _functional_pil.py -> Pillow), on real
photos: each op at several magnitudes and both signs equals Pillow's output pixel for pixel."""

import math

import numpy as np
import pytest
import tensorflow as tf
from imagetools import Image, real_jpeg_paths

from keras_deepnets.data import trivial_augment as ta

if Image is None:
    pytest.skip("pillow is needed (the reference)", allow_module_level=True)

from PIL import ImageEnhance, ImageOps  # noqa: E402

# torch.linspace(0.0, 32.0, 31) printed by torch 2.13 (CPU): float32, not the exact i * 32 / 30.
TORCH_LINSPACE_0_32_31 = [
    0.0, 1.0666667222976685, 2.133333444595337, 3.200000286102295, 4.266666889190674,
    5.333333492279053, 6.40000057220459, 7.466667175292969, 8.533333778381348,
    9.600000381469727, 10.666666984558105, 11.733333587646484, 12.80000114440918,
    13.866667747497559, 14.933334350585938, 15.999999046325684, 17.066665649414062,
    18.133333206176758, 19.19999885559082, 20.266666412353516, 21.333332061767578,
    22.399999618530273, 23.46666717529297, 24.53333282470703, 25.600000381469727,
    26.66666603088379, 27.733333587646484, 28.799999237060547, 29.866666793823242,
    30.933332443237305, 32.0]


@pytest.fixture(scope="module")
def photos(imagenet_sample_dir, cifar10_dir):
    """Two ImageNet photos (non-square), a square crop of one (Pillow rotates squares by 90
    degrees with a transpose) and a 32x32 CIFAR-10 image, as PIL RGB images."""
    images = [Image.open(p).convert("RGB") for p in real_jpeg_paths(imagenet_sample_dir, 2)]
    images.append(images[0].crop((0, 0, 200, 200)))
    images.append(Image.open(real_jpeg_paths(cifar10_dir / "train", 1)[0]).convert("RGB"))
    return images


def torchvision_inverse_affine(center, angle, translate, shear):
    """torchvision functional.py `_get_inverse_affine_matrix` (scale 1): M^-1 of
    T * C * R(angle) * SHy * SHx * C^-1, as the 6 coefficients Pillow's AFFINE takes."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d, -b, 0.0, -c, a, 0.0]
    (cx, cy), (tx, ty) = center, translate
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def pil_reference(img, op, magnitude):
    """torchvision's `_apply_op(img, op, magnitude, NEAREST, fill=None)` on a PIL image."""
    fill, size = (0, 0, 0), img.size
    centre = [size[0] * 0.5, size[1] * 0.5]
    degrees = math.degrees(math.atan(magnitude))
    affine = {"ShearX": ([0, 0], 0.0, [0, 0], [degrees, 0.0]),
              "ShearY": ([0, 0], 0.0, [0, 0], [0.0, degrees]),
              "TranslateX": (centre, 0.0, [int(magnitude), 0], [0.0, 0.0]),
              "TranslateY": (centre, 0.0, [0, int(magnitude)], [0.0, 0.0])}
    if op in affine:
        matrix = torchvision_inverse_affine(*affine[op])
        return img.transform(size, Image.AFFINE, matrix, Image.NEAREST, fillcolor=fill)
    enhance = {"Brightness": ImageEnhance.Brightness, "Color": ImageEnhance.Color,
               "Contrast": ImageEnhance.Contrast, "Sharpness": ImageEnhance.Sharpness}
    if op in enhance:
        return enhance[op](img).enhance(1.0 + magnitude)
    return {"Identity": lambda: img,
            "Rotate": lambda: img.rotate(magnitude, Image.NEAREST, False, None, fillcolor=fill),
            "Posterize": lambda: ImageOps.posterize(img, int(magnitude)),
            "Solarize": lambda: ImageOps.solarize(img, magnitude),
            "AutoContrast": lambda: ImageOps.autocontrast(img),
            "Equalize": lambda: ImageOps.equalize(img)}[op]()


TABLES = ta.op_tables()


@pytest.mark.parametrize("op", ta.OPS)
def test_each_op_equals_pillow_as_torchvision_calls_it(photos, op):
    """Bins 1, 10, 20 (Rotate: 90 degrees) and 30 with both signs, on four real images: every
    pixel equal. The affine ops agree exactly because Pillow's fixed-point sampling is done in
    the same integer arithmetic; the blends because the float32 formula is Pillow's."""
    magnitudes, coefficients = TABLES
    o = ta.OPS.index(op)
    for b in (1, 10, 20, 30):
        for sign in (0, 1):
            magnitude = float(magnitudes[o, b, sign])
            for img in photos:
                got = ta.apply_op(tf.constant(np.asarray(img)), o, magnitude,
                                  coefficients[o, b, sign])
                want = np.asarray(pil_reference(img, op, magnitude))
                np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{op} {magnitude}")


def test_magnitude_table_is_torchvisions():
    """_augmentation_space(31): the wide ranges as float32 linspaces (torch's own float32
    values for the translation, whose int() torchvision takes), posterize
    8 - round(i / ((bins - 1) / 6)), solarize 255 -> 0; only geometric and enhance ops signed."""
    table = ta.magnitude_table(31)
    assert set(table) == set(ta.OPS) and len(ta.OPS) == 14
    for op, top in [("ShearX", 0.99), ("ShearY", 0.99), ("Rotate", 135.0), ("Brightness", 0.99),
                    ("Color", 0.99), ("Contrast", 0.99), ("Sharpness", 0.99)]:
        values, signed = table[op]
        assert signed and values.dtype == np.float32
        np.testing.assert_allclose(values, np.linspace(0.0, top, 31), rtol=2e-7, atol=0)
    for op in ("TranslateX", "TranslateY"):
        np.testing.assert_array_equal(table[op][0], np.float32(TORCH_LINSPACE_0_32_31))
    assert [int(v) for v in table["TranslateX"][0]][14:17] == [14, 15, 17]
    posterize = [8 - round(i / ((31 - 1) / 6)) for i in range(31)]
    np.testing.assert_array_equal(table["Posterize"][0], posterize)
    np.testing.assert_array_equal(table["Solarize"][0], np.linspace(255.0, 0.0, 31))
    for op in ("Identity", "AutoContrast", "Equalize"):
        assert table[op] == (None, False)
    assert not table["Posterize"][1] and not table["Solarize"][1]
    magnitudes, _ = TABLES
    np.testing.assert_array_equal(magnitudes[ta.OPS.index("Rotate"), :, 1],
                                  -np.linspace(0.0, 135.0, 31))


def batch_of(photos, count=12, size=64):
    """`count` real images, each photo's top-left `size` square, cycled."""
    crops = [np.asarray(p)[:size, :size] for p in photos[:3]]
    return np.stack([crops[i % len(crops)] for i in range(count)])


def test_layer_draws_per_image_and_applies_the_drawn_op(photos):
    """Each image of a batch gets its own op, bin and sign (over 12 images, several ops), and
    its output is that op applied to it alone."""
    images = batch_of(photos)
    layer = ta.TrivialAugmentWide()
    seed = tf.constant([4, 2])
    out = layer(images, seed=seed).numpy()
    ops, bins, signs = (t.numpy() for t in layer.draw(len(images), tf.cast(seed, tf.int64)))
    assert len(set(ops)) >= 4 and len(set(bins)) >= 4
    magnitudes, coefficients = TABLES
    for i, (o, b, s) in enumerate(zip(ops, bins, signs)):
        want = ta.apply_op(tf.constant(images[i]), o, magnitudes[o, b, s],
                           coefficients[o, b, s])
        np.testing.assert_array_equal(out[i], want.numpy())
    draws = [t.numpy() for t in layer.draw(2000, tf.constant([0, 1], tf.int64))]
    assert set(draws[0]) == set(range(14)) and set(draws[1]) == set(range(31))
    assert set(draws[2]) == {0, 1}


def test_layer_is_reproducible_with_a_fixed_seed(photos):
    """Two layers built with seed=7 give the same batches, call after call; another seed
    gives others. Floats in 0..255 come back as floats with the same integer values."""
    images = batch_of(photos)
    first, second = ta.TrivialAugmentWide(seed=7), ta.TrivialAugmentWide(seed=7)
    runs = [[layer(images).numpy() for _ in range(2)] for layer in (first, second)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[0][1])
    assert not np.array_equal(runs[0][0], ta.TrivialAugmentWide(seed=8)(images).numpy())
    as_float = ta.TrivialAugmentWide(seed=7)(images.astype(np.float32))
    assert as_float.dtype == tf.float32
    np.testing.assert_array_equal(as_float.numpy(), runs[0][0])


def test_layer_in_tf_data_per_example(photos):
    """Inside a tf.data map, one image at a time with a per-example stateless seed (the
    package's presets' way): the same as the batched call with those seeds."""
    images = batch_of(photos, count=4)
    layer = ta.TrivialAugmentWide()
    ds = tf.data.Dataset.from_tensor_slices(images).enumerate().map(
        lambda i, x: layer(x, seed=tf.stack([i, i + 1])))
    for i, got in enumerate(ds):
        want = layer(images[i], seed=tf.constant([i, i + 1]))
        assert got.shape == images[i].shape
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_bad_input_is_one_line_error():
    with pytest.raises(ValueError, match=r"num_magnitude_bins must be an integer >= 2; got 1"):
        ta.TrivialAugmentWide(num_magnitude_bins=1)
    with pytest.raises(ValueError, match=r"takes \[H, W, C\] or \[B, H, W, C\] images"):
        ta.TrivialAugmentWide()(np.zeros([8, 8], np.uint8))
