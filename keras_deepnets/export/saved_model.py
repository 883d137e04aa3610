"""SavedModel export in TF Serving's conventions.

Two signatures:
- `serving_default`: `images` float32 [batch, size, size, 3] ([..., 1] for greyscale LeNet-5),
  already preprocessed exactly as the Keras model takes them -> `predictions` (the model's
  output). It is the Keras model, nothing added, which is also what TFLite is converted from.
- `classify_image_bytes`: `image_bytes` string [batch] of encoded JPEG/PNG (GIF/BMP also
  decode) -> `classes` int32 [batch, k], `probabilities` float32 [batch, k] and, where the class
  names are known, `class_names` string [batch, k]. Decoding, resizing, centre-cropping and
  normalisation run in the graph, through the same `keras_deepnets.data` evaluation preset that
  the input pipeline uses, so serving cannot drift from evaluation.

Bad requests fail the request, not the server: a wrong image size is refused by the input spec
of `serving_default`; bytes that are no image fail an in-graph assertion naming the element,
which TF Serving (or a Python caller) gets back as an InvalidArgumentError for that call.
"""

import logging
import os

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets.export import inputs
from keras_deepnets.export.source import (ExportError, image_size as resolve_image_size,
                                          input_channels)
from keras_deepnets.preprocessing import (imagenet_class_names, imagenet_wnids,
                                          model_preprocessing)

logger = logging.getLogger("keras_deepnets.export")

SERVING_DEFAULT = "serving_default"
CLASSIFY_BYTES = "classify_image_bytes"
# Magic numbers of the containers tf.io.decode_image reads.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")
# An evaluation preset ignores its seed; the map needs one tensor all the same.
# numpy, not tf.constant: a tensor made at import would initialise TensorFlow's devices, after
# which logical CPU devices (MirroredStrategy without GPUs) can no longer be set up.
_NO_SEED = np.zeros(2, np.int64)


def _ends_in_softmax(model):
    """Whether the model outputs probabilities already (else the bytes signature adds softmax)."""
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    return getattr(last, "activation", None) is keras.activations.softmax


def _is_image(image_bytes):
    return tf.reduce_any([tf.strings.substr(image_bytes, 0, len(m)) == m for m in _MAGIC])


def _decode_batch(image_bytes, preset):
    """Encoded images [batch] -> the model's input [batch, size, size, 3]; asserts every element
    is an image so that garbage gets a message naming it instead of a decoder error."""
    size = preset.image_size

    def one(args):
        encoded, index = args
        check = tf.debugging.Assert(
            _is_image(encoded),
            [tf.strings.format("image_bytes[{}] is not a JPEG, PNG, GIF or BMP image", index)])
        with tf.control_dependencies([check]):
            return preset(tf.identity(encoded), _NO_SEED)

    indices = tf.range(tf.shape(image_bytes)[0])
    return tf.map_fn(one, (image_bytes, indices),
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


class _Signatures:
    """The two signature functions over one model (plain Python: the archive saves the state)."""

    def __init__(self, model, size, preset, class_names, top_k):
        self.model = model
        self.shape = [size, size, input_channels(model)]
        self.softmax = not _ends_in_softmax(model)
        self.preset = preset
        self.names = None if class_names is None else np.array(class_names, dtype=object)
        self.top_k = top_k

    def images(self, images):
        # A fully convolutional model would quietly accept any size; refuse what it was not
        # exported for, naming the expected shape (the check folds away in TFLite's static graph).
        expected = tf.constant(self.shape, tf.int32)
        check = tf.debugging.Assert(
            tf.reduce_all(tf.shape(images)[1:] == expected),
            [tf.strings.format("images must have shape [batch, {}, {}, {}]; got {}",
                               (*tf.unstack(expected), tf.shape(images)))])
        with tf.control_dependencies([check]):
            return {"predictions": self.model(tf.identity(images), training=False)}

    def image_bytes(self, image_bytes):
        scores = self.model(_decode_batch(image_bytes, self.preset), training=False)
        if self.softmax:
            scores = tf.nn.softmax(scores, axis=-1)
        probabilities, classes = tf.math.top_k(scores, k=self.top_k)
        outputs = {"classes": classes, "probabilities": probabilities}
        if self.names is not None:
            outputs["class_names"] = tf.gather(tf.constant(self.names, tf.string), classes)
        return outputs


def _archive(model, size, preset, class_names, top_k):
    """A `keras.export.ExportArchive` with the signatures (Keras's own SavedModel writer: it
    tracks the model's variables so that the TFLite converter can freeze them)."""
    functions = _Signatures(model, size, preset, class_names, top_k)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SERVING_DEFAULT, functions.images,
        input_signature=[tf.TensorSpec([None, *functions.shape], tf.float32, name="images")])
    if preset is not None:
        archive.add_endpoint(
            CLASSIFY_BYTES, functions.image_bytes,
            input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    return archive


def _check_class_names(class_names, classes):
    if class_names is None:
        return None
    names = [str(n) for n in class_names]
    if len(names) != classes:
        raise ExportError(f"{len(names)} class names for a model with {classes} outputs.")
    return names


def default_class_names(classes):
    """Readable ImageNet names for a 1000-class model (wnids when Keras's class index is not
    cached), else None."""
    if classes != 1000:
        return None
    names = imagenet_class_names()
    return [names.get(wnid, wnid) for wnid in imagenet_wnids()]


def export_saved_model(model, export_dir, *, image_size=None, preprocessing="auto",
                       class_names=None, top_k=5):
    """Writes `model` as a SavedModel in `export_dir` (the folder itself; TF Serving wants it at
    `<base>/<version>/`, see `export_model`) and returns `export_dir`.

    Args:
        model: a `keras.Model` with one [batch, size, size, 3] (or greyscale 1) input.
        image_size: the square input size; default the model's.
        preprocessing: the bytes signature's preprocessing: "auto" ("imagenet_eval", or for
            models on images of at most 64 px nothing, as the CIFAR mean image is unknown here),
            a preset name, a `keras_deepnets.data.Preset` (e.g. `get_preset("cifar_eval",
            mean=cifar_mean(train_data))`), or None for no bytes signature.
        class_names: one name per output class; default the ImageNet names for 1000 classes.
        top_k: classes returned per image by the bytes signature (at most the class count).
    """
    size = resolve_image_size(model, image_size)
    classes = int(model.output_shape[-1])
    channels = input_channels(model)
    preset = None if preprocessing is None else inputs.eval_preset(
        preprocessing, size, mode=model_preprocessing(model), channels=channels,
        pretrained=inputs.is_pretrained(model))
    if preset is None and preprocessing is not None and channels == 3:
        logger.warning("No %s signature: a %d px model needs the CIFAR mean image; pass "
                       "preprocessing=keras_deepnets.data.get_preset('cifar_eval', mean=...).",
                       CLASSIFY_BYTES, size)
    if class_names is None:
        class_names = default_class_names(classes)
    class_names = _check_class_names(class_names, classes)
    if not isinstance(top_k, int) or top_k < 1:
        raise ExportError(f"top_k must be a positive integer; got {top_k!r}.")
    export_dir = os.fspath(export_dir)
    _archive(model, size, preset, class_names, min(top_k, classes)).write_out(
        export_dir, verbose=False)
    return export_dir


def load_signature(export_dir, name=SERVING_DEFAULT):
    """A signature function of a SavedModel, with a clear error for a folder that is none."""
    if not tf.saved_model.contains_saved_model(export_dir):
        raise ExportError(f"{export_dir} holds no SavedModel (no saved_model.pb).")
    loaded = tf.saved_model.load(export_dir)
    if name not in loaded.signatures:
        raise ExportError(f"{export_dir} has no signature {name!r}; it has "
                          f"{sorted(loaded.signatures)}.")
    function = loaded.signatures[name]
    function._loaded = loaded  # the function needs its SavedModel's variables kept alive
    return function


def signature_image_size(function):
    """The square size of a loaded float signature's `images` input."""
    spec = function.structured_input_signature[1]["images"]
    return int(spec.shape[1])


def predict_saved_model(function, images, batch_size=64):
    """Runs a loaded `serving_default` on numpy images, refusing a wrong shape up front."""
    spec = function.structured_input_signature[1]["images"]
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(spec.shape[1:]):
        raise ExportError(f"The SavedModel takes images of shape [batch, "
                          f"{', '.join(str(d) for d in spec.shape[1:])}]; got {images.shape}.")
    out = [function(images=tf.constant(images[i:i + batch_size]))["predictions"].numpy()
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)
