"""Bad input: what can be decoded is decoded to RGB, the rest skipped (logged) or, strict, raised;
labels never shift."""

import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from imagetools import Image, encode, real_jpeg_paths
from keras_deepnets import data
from keras_deepnets.data import files, sources


@pytest.fixture
def bad_folder(imagenet_sample_dir, rgb_photo, tmp_path):
    """Class folders a..e holding every kind of file; `expected` maps good names to labels."""
    root = tmp_path / "train"
    jpegs = real_jpeg_paths(imagenet_sample_dir, 4)
    good = {"a": {}, "b": {}, "d": {}, "e": {}}
    raw = jpegs[0].read_bytes()
    photo = Image.fromarray(rgb_photo)
    good["a"]["real.JPEG"] = raw
    good["a"]["png_named.JPEG"] = encode(rgb_photo, "PNG")
    good["a"]["gif_named.JPEG"] = encode(rgb_photo, "GIF")
    good["b"]["bmp_named.JPEG"] = encode(rgb_photo, "BMP")
    good["b"]["gray.JPEG"] = encode(photo.convert("L"), "JPEG")
    good["b"]["cmyk.JPEG"] = encode(photo.convert("CMYK"), "JPEG")
    good["d"]["real.JPEG"] = jpegs[1].read_bytes()
    good["e"]["rgba.png"] = encode(photo.convert("RGBA"), "PNG")
    bad = {"a/truncated.JPEG": raw[: len(raw) // 2],
           "a/zero.JPEG": b"",
           "b/garbage.JPEG": raw[:3] + os.urandom(4000),
           "d/README.txt": b"not an image\n",
           "e/html.JPEG": b"<html>404 Not Found</html>",
           "e/truncated.png": encode(rgb_photo, "PNG")[:5000]}
    for cls, items in good.items():
        for name, content in items.items():
            (root / cls).mkdir(parents=True, exist_ok=True)
            (root / cls / name).write_bytes(content)
    (root / "c").mkdir()  # empty class folder between b and d
    for name, content in bad.items():
        (root / name).write_bytes(content)
    expected = {f"{cls}/{name}": "abcde".index(cls) for cls, items in good.items()
                for name in items}
    return root, expected, sorted(bad)


def test_decodable_files_load_with_right_labels_and_bad_ones_are_logged(bad_folder, caplog):
    root, expected, bad = bad_folder
    with caplog.at_level(logging.WARNING, logger="keras_deepnets.data"):
        source = sources.resolve(root)
    assert source.class_names == ["a", "b", "c", "d", "e"]  # c keeps index 2
    got = {os.path.relpath(p, root): y for p, y in zip(source.paths, source.labels)}
    assert got == expected
    message = " ".join(r.getMessage() for r in caplog.records)
    assert f"Skipping {len(bad)} of {len(bad) + len(expected)}" in message
    assert "zero-byte" in message and "truncated JPEG" in message
    assert "no usable image; they keep their class index (labels do not shift): c" in message
    # Every kept file decodes to 3-channel RGB through the pipeline, labels unchanged.
    ds = data.load(root, preset="imagenet_eval", image_size=64, batch_size=None, shuffle=False)
    items = [(x.numpy(), int(y)) for x, y in ds]
    assert [y for _, y in items] == list(source.labels)
    for image, _ in items:
        assert image.shape == (64, 64, 3) and image.std() > 5
    # The grayscale photo is grey in RGB; the CMYK one is coloured like the original.
    images = dict(zip(got, (x for x, _ in items)))
    gray = images["b/gray.JPEG"]
    assert np.abs(gray - gray[..., :1] - (gray - gray[..., :1]).mean((0, 1))).max() < 1e-3
    np.testing.assert_allclose(images["b/cmyk.JPEG"], images["b/bmp_named.JPEG"], atol=25)


def test_listing_again_remembers_verdicts_but_sees_files_changed_in_place(small_imagenet,
                                                                          tmp_path):
    """Verdicts are kept per (path, size, mtime): a second listing reads no file it has checked,
    yet a file damaged or repaired since is checked again."""
    root = tmp_path / "d"
    shutil.copytree(small_imagenet, root)
    first = sources.resolve(root)
    victim = sorted(root.rglob("*.JPEG"))[2]
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) // 2])
    damaged = sources.resolve(root)
    assert str(victim) in first.paths and str(victim) not in damaged.paths
    assert len(damaged.paths) == len(first.paths) - 1
    victim.write_bytes(raw)
    assert sources.resolve(root).paths == first.paths


def test_strict_raises_naming_the_file(bad_folder):
    root, _, bad = bad_folder
    with pytest.raises(data.BadImageError, match=r"a[/\\](truncated|zero)\.JPEG"):
        data.load(root, preset="imagenet_eval", strict=True)


def test_error_the_header_check_cannot_see_is_skipped_mid_epoch(small_imagenet, tmp_path):
    """A JPEG whose structure and end marker are intact but whose scan names a component that
    does not exist: decoding fails in the pipeline; the epoch goes on, the labels stay right."""
    root = tmp_path / "d"
    shutil.copytree(small_imagenet, root)
    victim = sorted(root.rglob("*.JPEG"))[3]
    raw = victim.read_bytes()
    start = raw.index(b"\xff\xda")  # start of scan
    victim.write_bytes(raw[:start + 5] + b"\x99" + raw[start + 6:])
    assert files.image_problem(str(victim)) is None  # the cheap check passes it
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.decode_jpeg(victim.read_bytes(), channels=3)
    labels = [int(y) for _, y in data.load(root, preset="imagenet_eval", shuffle=False)]
    assert labels == [0, 1, 2, 4, 5, 6, 7]
    cached = data.load(root, preset="resnet_imagenet_train", cache=True, seed=0, batch_size=4)
    assert sorted(int(y) for _, b in cached for y in b) == [0, 1, 2, 4, 5, 6, 7]


def test_missing_split_and_empty_folders(small_cifar, tmp_path):
    with pytest.raises(FileNotFoundError, match="'holdout' not found.*available splits"):
        data.load(small_cifar, "holdout", preset="cifar_eval")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="class sub-folders"):
        data.describe(tmp_path / "empty")
    (tmp_path / "blank" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="no usable image"):
        data.load(tmp_path / "blank", preset="imagenet_eval")
