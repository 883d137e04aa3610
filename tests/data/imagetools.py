"""Helpers of tests/data: real JPEG paths, Pillow encoding."""

import io
import pathlib

import pytest

try:
    from PIL import Image
except ImportError:  # pillow is a test dependency (setup.py extras "test")
    Image = None


def real_jpeg_paths(folder, count):
    """The first `count` JPEG files under `folder` (sorted, so the same every run)."""
    folder = pathlib.Path(folder)
    paths = sorted(folder.rglob("*.JPEG")) + sorted(folder.rglob("*.jpg"))
    return paths[:count]


def encode(array, fmt, **kwargs):
    """Encodes a uint8 array (H, W, 3) or a PIL image with Pillow."""
    if Image is None:
        pytest.skip("pillow is needed to write test images")
    image = array if isinstance(array, Image.Image) else Image.fromarray(array)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()
