"""Test-time evaluation of the papers: centre crop, 10-crop, multi-scale and dense evaluation.

- Centre crop (`crops=1`): shorter side 256, the centre 224 crop.
- 10-crop (`crops=10`, ResNet paper 4.1 / AlexNet 4.1): the four corners and the centre, and
  their horizontal flips; softmax scores averaged.
- Fully-convolutional multi-scale (`crops="dense"`, `scales=RESNET_SCALES`, ResNet paper 4.1
  and 3.4 "we adopt the fully-convolutional form ... and average the scores at multiple scales
  (images are resized such that the shorter side is in {224, 256, 384, 480, 640})").
- VGG dense evaluation (`crops="dense"`, `scales=VGG_SCALES`, `flip=True`, VGG paper 3.2 and
  4.2): the fully-connected layers become convolutions (the first 7x7, the others 1x1), the
  class score map of the whole image is averaged spatially, over scales and over flips.
  For a model trained at a single S, VGG 4.2 uses Q = {S - 32, S, S + 32}.

Every view is normalised like the ImageNet presets ("caffe" mode of `preprocess_input`).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets.data import augment, decode, sources
from keras_deepnets.metrics import top_k_hits

RESNET_SCALES = (224, 256, 384, 480, 640)
VGG_SCALES = (256, 384, 512)


def resize_shorter(image, size):
    """Resizes so that the shorter side is `size`, keeping the aspect ratio (float32 out)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.math.round(shape * scale), tf.int32)
    return tf.image.resize(tf.cast(image, tf.float32), tf.maximum(new, 1), method="bilinear")


def center_crop(image, size):
    """The centre size x size crop of [H, W, C] (H, W >= size)."""
    shape = tf.shape(image)
    return decode.crop(image, tf.stack([(shape[0] - size) // 2, (shape[1] - size) // 2,
                                        size, size]))


def ten_crop(image, size=224):
    """[10, size, size, C]: the four corner crops and the centre crop of `image` ([H, W, C],
    H, W >= size), then the same five flipped horizontally (ResNet 4.1, AlexNet 4.1)."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size),
               ((h - size) // 2, (w - size) // 2)]
    crops = tf.stack([decode.crop(image, tf.stack([y, x, size, size])) for y, x in corners])
    return tf.concat([crops, tf.reverse(crops, axis=[2])], 0)


def crop_views(image_bytes, crops=1, scales=(256,), image_size=224):
    """All views of one image for `crops` in {1, 10}: per scale, shorter side resized to the scale
    then the centre crop or the 10 crops; normalised ([n_views, size, size, 3])."""
    image = decode.decode_full(image_bytes)
    views = []
    for scale in scales:
        resized = resize_shorter(image, scale)
        views.append(ten_crop(resized, image_size) if crops == 10
                     else center_crop(resized, image_size)[None])
    return augment.caffe_normalise(tf.concat(views, 0))


def fully_convolutional(model):
    """The same network taking images of any size and returning [B, h, w, classes] class scores.

    Convolutional trunks with global pooling already take any size: the model is re-applied to
    an input of unknown size (output [B, 1, 1, classes]). A `Flatten` followed by Dense layers
    (VGG) becomes convolutions with the same weights: the first Dense a conv over the Flatten's
    input size, the next ones 1x1 convs (VGG paper 3.2). Dropout is dropped (inference only).
    """
    channels = model.inputs[0].shape[-1]
    inputs = keras.Input((None, None, channels))
    flatten = next((layer for layer in model.layers if isinstance(layer, keras.layers.Flatten)),
                   None)
    # Functional.call re-runs the layer graph on the new input; calling the model itself would
    # reject a size other than the one it was built for.
    if flatten is None:
        scores = keras.Model(model.inputs[0], model.outputs[0]).call(inputs)
        return keras.Model(inputs, keras.layers.Reshape((1, 1, scores.shape[-1]))(scores))
    x = keras.Model(model.inputs[0], flatten.input).call(inputs)
    kh, kw, c = flatten.input.shape[1:]
    layers = model.layers[model.layers.index(flatten) + 1:]
    first = True
    for layer in layers:
        if isinstance(layer, keras.layers.Dense):
            kernel, *bias = layer.get_weights()
            units = kernel.shape[-1]
            shape = (kh, kw, c, units) if first else (1, 1, kernel.shape[0], units)
            conv = keras.layers.Conv2D(units, shape[:2], activation=layer.activation,
                                       use_bias=bool(bias), name=f"{layer.name}_conv")
            x = conv(x)
            conv.set_weights([kernel.reshape(shape), *bias])
            first = False
        elif isinstance(layer, keras.layers.Dropout):
            continue
        elif isinstance(layer, keras.layers.Activation):
            x = layer(x)
        else:
            raise ValueError(f"fully_convolutional: cannot convert layer {layer.name!r} "
                             f"({type(layer).__name__}) after Flatten; expected Dense, Dropout "
                             "or Activation layers.")
    return keras.Model(inputs, x)


def _predict(model, images, from_logits):
    """Class scores as numpy, whatever the Keras backend (views are made with TF ops)."""
    out = keras.ops.convert_to_numpy(model(images.numpy(), training=False)).astype(np.float64)
    if from_logits:
        out = np.exp(out - out.max(-1, keepdims=True))
        out /= out.sum(-1, keepdims=True)
    return out


def evaluate_crops(model, data, split=None, crops=1, scales=None, *, flip=False, data_dir=None,
                   image_size=224, batch_size=32, max_examples=None, from_logits=False,
                   strict=False, labels_file=None, label_offset=0):
    """Top-1 and top-5 accuracy of `model` with the papers' test-time views, scores averaged.

    Args:
        model: a Keras classifier of "caffe"-normalised images (softmax outputs; logits with
            `from_logits=True`).
        data, split, data_dir, max_examples, strict, labels_file, label_offset: as in `load`.
        crops: 1 (centre crop), 10 (`ten_crop`) or "dense" (whole image through
            `fully_convolutional(model)`, one image at a time as sizes differ).
        scales: shorter sides to evaluate at; default (256,) for crops, RESNET_SCALES for
            "dense". Scores are averaged over all scales.
        flip: also average the horizontally flipped image (for "dense"; 10-crop has flips).
    Returns:
        {"top1": float, "top5": float, "num_examples": int}; hits by `metrics.top_k_hits`, the
        training step's rule (classes tied with the true class do not push it out).
    """
    scales = _checked_scales(crops, scales, image_size)
    source = sources.resolve(data, split, data_dir=data_dir, strict=strict,
                             labels_file=labels_file, label_offset=label_offset)
    records = source.records(max_examples=max_examples)
    if crops == "dense":
        scored = _dense_scores(model, records, scales, flip, from_logits, strict)
    else:
        scored = _crop_scores(model, records, crops, scales, image_size, batch_size,
                              from_logits, strict)
    correct1 = correct5 = total = 0
    for scores, labels in scored:
        # The training step's rule (metrics.top_k_hits): ties with the true class count as hits.
        k = min(5, scores.shape[-1])
        correct1 += int(np.sum(top_k_hits(labels, scores, 1).numpy()))
        correct5 += int(np.sum(top_k_hits(labels, scores, k).numpy()))
        total += len(labels)
    if total == 0:
        raise ValueError(f"No example could be evaluated from {source.location}.")
    return {"top1": correct1 / total, "top5": correct5 / total, "num_examples": total}


def _checked_scales(crops, scales, image_size):
    """`evaluate_crops`'s scales as integers, defaults filled in, after checking `crops`."""
    if crops not in (1, 10, "dense"):
        raise ValueError(f"crops must be 1, 10 or 'dense'; got {crops!r}.")
    if scales is None:
        scales = RESNET_SCALES if crops == "dense" else (int(round(image_size * 256 / 224)),)
    scales = tuple(int(s) for s in scales)
    if crops != "dense" and min(scales) < image_size:
        raise ValueError(f"Every scale must be >= image_size={image_size}; got {scales}.")
    return scales


def _dense_scores(model, records, scales, flip, from_logits, strict):
    """(scores [1, classes], labels [1]) per image: the whole image through the fully
    convolutional model at every scale (and flipped), the score maps averaged."""
    dense = fully_convolutional(model)
    views = records.map(
        lambda b, y: (decode.decode_full(b), y), num_parallel_calls=tf.data.AUTOTUNE)
    if not strict:
        views = views.ignore_errors(log_warning=True)
    for image, label in views.prefetch(2):
        score = 0.0
        for scale in scales:
            x = augment.caffe_normalise(resize_shorter(image, scale))[None]
            batch = tf.concat([x, tf.reverse(x, axis=[2])], 0) if flip else x
            score += _predict(dense, batch, from_logits).mean(axis=(0, 1, 2))
        yield score[None], np.array([label.numpy()])


def _crop_scores(model, records, crops, scales, image_size, batch_size, from_logits, strict):
    """(scores [n, classes], labels [n]) per batch of images: every crop of every scale
    (`crop_views`) through the model, averaged per image; about `batch_size` crops a batch."""
    views = records.map(lambda b, y: (crop_views(b, crops, scales, image_size), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
    if not strict:
        views = views.ignore_errors(log_warning=True)
    per_image = (10 if crops == 10 else 1) * len(scales)
    for x, y in views.batch(max(1, batch_size // per_image)).prefetch(2):
        n = x.shape[0]
        flat = tf.reshape(x, [-1, image_size, image_size, 3])
        scores = _predict(model, flat, from_logits)
        yield scores.reshape(n, per_image, -1).mean(1), y.numpy()
