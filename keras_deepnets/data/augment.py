"""Named augmentation and evaluation presets, as the papers describe them.

A preset maps encoded image bytes (and a per-example stateless seed, so that a given seed gives
the same augmentation every run) to a float32 [size, size, 3] image, already normalised:

- `resnet_imagenet_train` (ResNet 3.4): shorter side random in [256, 480], random 224 crop,
  flip, mean subtraction, PCA lighting noise
- `vgg_imagenet_train` (VGG 3.1): shorter side S = 256 or 384 (`scale=`) or S random in
  [256, 512] (`scale=(256, 512)`), random 224 crop, flip, RGB colour shift
- `inception_train` (Szegedy et al. 2015, GoogLeNet, section 6): random-resized crop,
  area 8-100 %, aspect 3/4-4/3, flip
- `imagenet_eval` (ResNet 3.4 / AlexNet): shorter side 256, centre 224 crop
- `cifar_train` (ResNet 4.2): per-pixel mean subtracted, 4-pixel zero padding, random 32 crop,
  flip
- `cifar_eval` (ResNet 4.2): per-pixel mean subtracted

ImageNet presets end in `keras_deepnets.preprocess_input(x, mode="caffe")` (RGB to BGR, mean pixel
subtracted), the papers' mean subtraction and what keras.applications' ImageNet weights expect.
CIFAR presets subtract the per-pixel mean image of the training split (`cifar_mean`).

Options: `get_preset(name, image_size=..., **options)`, or `load(..., preset_options={...})`.
`image_size` changes the crop size; the ImageNet scale ranges and the evaluation resize scale
with it (e.g. image_size=160: train scales [183, 343], evaluation resize 183).
"""

import numpy as np
import tensorflow as tf

from keras_deepnets.data import decode
from keras_deepnets.preprocessing import preprocess_input

# Krizhevsky et al. 2012, section 4.1: principal components of ImageNet's RGB pixel values
# (eigenvalues on the [0, 255] scale), the values fb.resnet.torch uses for ResNet training.
_PCA_EIGVAL = np.array([0.2175, 0.0188, 0.0045], np.float32) * 255.0
_PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                        [-0.5808, -0.0045, -0.8140],
                        [-0.5836, -0.6948, 0.4203]], np.float32)


def pca_lighting(image, seed, stddev=0.1):
    """Adds `eigvec @ (alpha * eigval)` to every RGB pixel, alpha ~ N(0, stddev) per image
    (Krizhevsky et al. 2012, 4.1: "altering the intensities of the RGB channels").
    `image`: [H, W, 3] or a batch [B, H, W, 3] (one alpha per image)."""
    batch_shape = tf.shape(image)[:-3]  # empty for one image, [B] for a batch
    alpha = tf.random.stateless_normal(tf.concat([batch_shape, [3]], 0), seed, stddev=stddev)
    shift = tf.linalg.matvec(_PCA_EIGVEC, alpha * _PCA_EIGVAL)
    return image + shift[..., None, None, :]


def random_flip(image, seed):
    """Horizontal flip with probability 1/2 (all the papers)."""
    return tf.image.stateless_random_flip_left_right(image, seed)


def _channel_affine(mode):
    """`preprocess_input(x, mode)` is a per-channel affine map (channel swap, mean subtraction,
    scaling). Reading it off numpy probes lets tf.data apply exactly that map with TF ops, whatever
    the Keras backend (the tensor path of preprocess_input runs on the backend's ops)."""
    probe = np.concatenate([np.zeros((1, 3)), np.eye(3)]).astype(np.float32)
    out = np.asarray(preprocess_input(probe.copy(), mode=mode), np.float32)
    # numpy, not tf.constant: a tensor made at import would initialise TensorFlow's devices,
    # after which logical CPU devices (MirroredStrategy without GPUs) can no longer be set up.
    return out[1:] - out[0], out[0]


_AFFINES = {mode: _channel_affine(mode) for mode in ("caffe", "torch", "tf")}


def _check_mode(mode):
    if mode not in _AFFINES:
        raise ValueError(f"mode must be one of {', '.join(_AFFINES)} (preprocess_input's); got "
                         f"{mode!r}.")


def normalise(image, mode="caffe"):
    """RGB [0, 255] -> `keras_deepnets.preprocess_input(image, mode=mode)`."""
    _check_mode(mode)
    matrix, offset = _AFFINES[mode]
    return tf.tensordot(image, matrix, axes=[[-1], [0]]) + offset


def caffe_normalise(image):
    """RGB [0, 255] -> `keras_deepnets.preprocess_input(image, mode="caffe")` (BGR, mean pixel
    subtracted: the papers' mean subtraction, VGG 2.1 / ResNet 3.4)."""
    return normalise(image, "caffe")


def _seeds(seed, n):
    return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def _resize(image, size):
    # Bilinear without antialias: the crop is mostly upscaled, and antialias doubles the cost.
    return tf.image.resize(image, [size, size], method="bilinear")


class Preset:
    """Base: `window(shape, seed)` picks the crop window [y, x, h, w] in the original image,
    `finish(crop, seed)` resizes, augments and normalises it. Subclasses set `training`."""

    training = False
    name = "preset"
    dct_method = ""  # TF's fast JPEG IDCT; "INTEGER_ACCURATE" is PIL's (libjpeg's default)

    def __init__(self, image_size=224):
        if not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8; got {image_size!r}.")
        self.image_size = image_size

    def window(self, shape, seed):
        raise NotImplementedError

    def finish(self, image, seed):
        raise NotImplementedError

    def __call__(self, image_bytes, seed):
        """Encoded bytes -> normalised float32 [size, size, 3]; decodes only the window."""
        window_seed, finish_seed = _seeds(seed, 2)
        image = decode.decode_window(image_bytes, lambda shape: self.window(shape, window_seed),
                                     self.dct_method)
        return self.finish(image, finish_seed)

    def from_pixels(self, image, seed):
        """The same, from an already decoded uint8 image (the `cache=True` path)."""
        window_seed, finish_seed = _seeds(seed, 2)
        return self.finish(decode.crop(image, self.window(tf.shape(image)[:2], window_seed)),
                           finish_seed)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, image_size={self.image_size})"


def _square_window(shape, side, seed=None):
    """A side x side window, at a uniformly random position (seed given) or centred."""
    h, w = shape[0], shape[1]
    side = tf.minimum(side, tf.minimum(h, w))
    if seed is None:
        return tf.stack([(h - side) // 2, (w - side) // 2, side, side])
    y_seed, x_seed = _seeds(seed, 2)
    y = tf.random.stateless_uniform([], y_seed, 0, h - side + 1, dtype=tf.int32)
    x = tf.random.stateless_uniform([], x_seed, 0, w - side + 1, dtype=tf.int32)
    return tf.stack([y, x, side, side])


def _window_for_scale(shape, shorter_side, crop_size):
    """Side, in original pixels, of a crop_size crop after resizing the shorter side to
    `shorter_side`: cropping first and resizing after is the same crop, decoded for less."""
    short = tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
    side = tf.math.round(crop_size * short / tf.cast(shorter_side, tf.float32))
    return tf.maximum(tf.cast(side, tf.int32), 1)


class ImageNetScaleTrain(Preset):
    """Scale augmentation: shorter side S uniform in [min_scale, max_scale], a random
    image_size crop, flip, the Krizhevsky PCA colour shift, then mean subtraction ("caffe").

    ResNet paper 3.4 uses S in [256, 480] ("resnet_imagenet_train"); VGG paper 3.1 trains at a
    single S = 256 or 384 or multi-scale S in [256, 512] ("vgg_imagenet_train"); both cite
    Krizhevsky et al. 2012 for the colour augmentation.
    """

    training = True

    def __init__(self, scale=(256, 480), image_size=224, lighting_stddev=0.1,
                 name="resnet_imagenet_train", mode="caffe"):
        super().__init__(image_size)
        _check_mode(mode)
        self.mode = mode
        low, high = (scale, scale) if np.isscalar(scale) else tuple(scale)
        if not (isinstance(low, (int, np.integer)) and isinstance(high, (int, np.integer))
                and image_size <= low <= high):
            raise ValueError(f"scale must be an integer S or a range (min, max) with "
                             f"{image_size} (the crop size) <= min <= max; got {scale!r}.")
        self.scale = (int(low), int(high))
        self.lighting_stddev = lighting_stddev
        self.name = name

    def window(self, shape, seed):
        scale_seed, crop_seed = _seeds(seed, 2)
        shorter = tf.random.stateless_uniform([], scale_seed, self.scale[0], self.scale[1] + 1,
                                              dtype=tf.int32)
        return _square_window(shape, _window_for_scale(shape, shorter, self.image_size), crop_seed)

    def finish(self, image, seed):
        flip_seed, light_seed = _seeds(seed, 2)
        image = random_flip(_resize(image, self.image_size), flip_seed)
        if self.lighting_stddev:
            image = pca_lighting(image, light_seed, self.lighting_stddev)
        return normalise(image, self.mode)


class InceptionTrain(Preset):
    """Random-resized crop: area 8-100 % of the image, aspect ratio 3/4-4/3, resized to
    image_size, flip; "caffe" normalisation (Szegedy et al. 2015, GoogLeNet section 6)."""

    training = True
    name = "inception_train"

    def __init__(self, image_size=224, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
                 mode="caffe", policy=None):
        super().__init__(image_size)
        _check_mode(mode)
        if policy is not None and not callable(policy):
            raise ValueError(f"policy must be a function (image, seed) -> image of uint8 values "
                             f"(e.g. TrivialAugmentWide), or None; got {policy!r}.")
        self.mode = mode
        self.area_range = tuple(area_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.policy = policy

    def window(self, shape, seed):
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.concat([shape, [3]], 0), tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed,
            min_object_covered=0.0, aspect_ratio_range=self.aspect_ratio_range,
            area_range=self.area_range, max_attempts=10, use_image_if_no_bounding_boxes=True)
        return tf.stack([begin[0], begin[1], size[0], size[1]])

    def finish(self, image, seed):
        image = random_flip(_resize(image, self.image_size), seed)
        if self.policy is not None:  # on uint8 pixels, as torchvision's policies after Resize
            image = tf.cast(self.policy(tf.cast(tf.clip_by_value(tf.round(image), 0, 255),
                                                tf.uint8), _seeds(seed, 2)[1]), tf.float32)
        return normalise(image, self.mode)


class ImageNetEval(Preset):
    """Shorter side resized to `resize_size` (256), then the centre image_size (224) crop, then
    `preprocess_input`'s `mode` ("caffe"; "torch" or "tf" for weights that expect them).

    By default the window is cropped first and resized after (the same crop, decoding less),
    bilinear without antialias. `antialias=True` is the transform pretrained weights publish
    their accuracy with (torchvision's `Resize(resize_size, antialias=True)`, `CenterCrop`;
    timm's with `interpolation="bicubic"`): the whole image resized with antialias to shorter
    side `resize_size` (longer side truncated, as torchvision computes it), then the centre
    crop at torchvision's offsets, the JPEG decoded with PIL's accurate IDCT.
    """

    name = "imagenet_eval"

    def __init__(self, image_size=224, resize_size=None, mode="caffe", interpolation="bilinear",
                 antialias=False):
        super().__init__(image_size)
        _check_mode(mode)
        if interpolation not in ("bilinear", "bicubic"):
            raise ValueError(f"interpolation must be 'bilinear' or 'bicubic'; got "
                             f"{interpolation!r}.")
        self.resize_size = resize_size or int(round(image_size * 256 / 224))
        self.mode, self.interpolation, self.antialias = mode, interpolation, bool(antialias)
        if self.antialias:  # decode as PIL does: TF's fast IDCT is ~1 level off in R and B
            self.dct_method = "INTEGER_ACCURATE"

    def window(self, shape, seed):
        if self.antialias:  # the resize sees the whole image, as the published transform's
            return tf.stack([0, 0, shape[0], shape[1]])
        return _square_window(shape, _window_for_scale(shape, self.resize_size, self.image_size))

    def finish(self, image, seed):
        if self.antialias:
            return normalise(self._published(image), self.mode)
        return normalise(_resize(image, self.image_size), self.mode)

    def _published(self, image):
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        short, size = tf.minimum(h, w), self.resize_size
        # torchvision: the shorter side becomes `size`, the longer int(size * long / short)
        long_side = tf.cast(size * tf.maximum(h, w) // short, tf.int32)
        new_h, new_w = (tf.where(h <= w, size, long_side), tf.where(h <= w, long_side, size))
        image = tf.image.resize(tf.cast(image, tf.float32), tf.stack([new_h, new_w]),
                                method=self.interpolation, antialias=True)
        crop = self.image_size
        top = tf.cast(tf.math.round(tf.cast(new_h - crop, tf.float32) / 2), tf.int32)
        left = tf.cast(tf.math.round(tf.cast(new_w - crop, tf.float32) / 2), tf.int32)
        # PIL (torchvision's resize of a photo) stores the resized image as uint8: rounded
        image = tf.round(tf.clip_by_value(image[top:top + crop, left:left + crop], 0.0, 255.0))
        return tf.ensure_shape(image, [crop, crop, 3])


class CifarPreset(Preset):
    """CIFAR (ResNet paper 4.2): the per-pixel mean image of the training split is subtracted;
    training adds 4-pixel zero padding, a random 32x32 crop and a horizontal flip.

    The mean is subtracted before padding, so the padding is zeros of the normalised image
    (fb.resnet.torch does the same). A 32x32 image is tiny: it is decoded whole.
    """

    def __init__(self, mean, image_size=32, training=False, padding=4):
        super().__init__(image_size)
        mean = np.asarray(mean, np.float32)
        if mean.ndim != 3 or mean.shape[-1] != 3:
            raise ValueError(f"The CIFAR mean must be an [H, W, 3] image; got shape {mean.shape}.")
        if mean.shape[:2] != (image_size, image_size):
            mean = tf.image.resize(mean, [image_size, image_size]).numpy()
        self.mean = mean
        self.training = training
        self.padding = padding
        self.name = "cifar_train" if training else "cifar_eval"

    def _normalise(self, image):
        image = tf.cast(image, tf.float32)
        image = tf.image.resize(image, [self.image_size, self.image_size])
        return image - self.mean

    def finish(self, image, seed):
        image = self._normalise(image)
        if not self.training:
            return image
        crop_seed, flip_seed = _seeds(seed, 2)
        pad = self.padding
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.stateless_random_crop(image, [self.image_size, self.image_size, 3],
                                               crop_seed)
        return random_flip(image, flip_seed)

    def __call__(self, image_bytes, seed):
        return self.finish(decode.decode_full(image_bytes), seed)

    def from_pixels(self, image, seed):
        return self.finish(image, seed)

    def batch_from_pixels(self, images, bits):
        """`from_pixels` for a batch of uint8 [B, size, size, 3] images at once (the in-memory
        path). `bits`: int64 [B] uniform random values, one per image, from which each image's
        crop offsets (uniform in [0, 2 * padding]) and flip are read, so an image's augmentation
        does not depend on the batch it lands in (one device's batch of 64 and two replicas'
        32 each see the same crops). The crops are two gathers for the whole batch instead of a
        chain of small ops per image."""
        images = tf.cast(images, tf.float32) - self.mean
        if not self.training:
            return images
        pad, size = self.padding, self.image_size
        images = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        span = 2 * pad + 1
        # floormod/floordiv keep negative draws in range; the bias of 2^64 mod 162 is 1e-17.
        dy = tf.cast(tf.math.floormod(bits, span), tf.int32)
        dx = tf.cast(tf.math.floormod(bits // span, span), tf.int32)
        flip = tf.math.floormod(bits // (span * span), 2) > 0
        steps = tf.range(size)
        rows = dy[:, None] + steps
        # A flip reads the crop's columns right to left: the flip costs nothing extra.
        cols = dx[:, None] + tf.where(flip[:, None], size - 1 - steps, steps)
        images = tf.gather(images, rows, axis=1, batch_dims=1)
        return tf.gather(images, cols, axis=2, batch_dims=1)


IMAGENET_PRESETS = ("resnet_imagenet_train", "vgg_imagenet_train", "inception_train",
                    "imagenet_eval")
CIFAR_PRESETS = ("cifar_train", "cifar_eval")
PRESETS = IMAGENET_PRESETS + CIFAR_PRESETS


def _scaled(scale, image_size):
    """ImageNet scales are stated for a 224 crop; keep their ratio to the crop size."""
    if np.isscalar(scale):
        return int(round(scale * image_size / 224))
    return tuple(int(round(s * image_size / 224)) for s in scale)


def get_preset(preset, image_size=None, mean=None, **options):
    """A preset by name (see the module table) or a `Preset` instance (returned as is).

    `image_size` overrides the crop size; `options` go to the preset (e.g. `scale=(256, 512)` for
    VGG multi-scale training, `lighting_stddev=0` to switch colour augmentation off). CIFAR
    presets need `mean` (the [32, 32, 3] per-pixel mean, see `cifar_mean`).
    """
    if isinstance(preset, Preset):
        if image_size is not None or options:
            raise ValueError("image_size and preset options apply to preset names; this preset "
                             f"is already built: {preset!r}.")
        return preset
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; known: {', '.join(PRESETS)} "
                         "(or a keras_deepnets.data.augment.Preset).")
    try:
        if preset in CIFAR_PRESETS:
            if mean is None:
                raise ValueError(f"{preset} needs the training split's per-pixel mean (mean=).")
            return CifarPreset(mean, image_size=32 if image_size is None else image_size,
                               training=preset == "cifar_train", **options)
        size = 224 if image_size is None else image_size
        if preset == "resnet_imagenet_train":
            scale = options.pop("scale", _scaled((256, 480), size))
            return ImageNetScaleTrain(scale=scale, image_size=size, **options)
        if preset == "vgg_imagenet_train":
            scale = options.pop("scale", _scaled(256, size))
            return ImageNetScaleTrain(scale=scale, image_size=size, name=preset, **options)
        if preset == "inception_train":
            return InceptionTrain(image_size=size, **options)
        return ImageNetEval(image_size=size, **options)
    except TypeError as e:
        raise ValueError(f"Bad options for preset {preset!r}: {e}") from None
