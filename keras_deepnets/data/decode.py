"""In-graph decoding: encoded bytes to a uint8 RGB crop, decoding only the crop for JPEGs.

A random crop of a JPEG needs only the crop window decoded: `tf.io.decode_and_crop_jpeg` skips
the inverse DCT outside it, which is most of the cost of a full decode. Other containers (PNG,
GIF, BMP, whatever the file's name says) are decoded whole and then cropped. Grayscale and CMYK
JPEGs come out as 3-channel RGB (`channels=3` converts them).
"""

import tensorflow as tf


def decode_full(image_bytes):
    """The whole image as uint8 [H, W, 3], whatever the container."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def crop(image, window):
    """`image[y:y+h, x:x+w]` for `window` = [y, x, h, w]."""
    return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])


def decode_window(image_bytes, window_fn, dct_method=""):
    """Decodes the window `window_fn([height, width])` -> [y, x, h, w] of the image: only that
    window for JPEGs, the whole image then a slice for other formats. `dct_method`: TF's
    default (fast integer IDCT), or "INTEGER_ACCURATE", libjpeg's default that PIL uses."""

    def jpeg():
        shape = tf.io.extract_jpeg_shape(image_bytes)[:2]
        return tf.io.decode_and_crop_jpeg(image_bytes, window_fn(shape), channels=3,
                                          dct_method=dct_method)

    def other():
        image = decode_full(image_bytes)
        return crop(image, window_fn(tf.shape(image)[:2]))

    image = tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other)
    image.set_shape([None, None, 3])
    return image
