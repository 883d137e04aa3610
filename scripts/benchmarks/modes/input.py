"""Images per second of the ImageNet training input pipeline against a Keras-utilities baseline.

    python scripts/benchmarks/benchmark.py input \\
        --data ~/.cache/keras_deepnets/imagenet1k-sample/imagenet1k-sample

Both pipelines read the same class folder, repeated to --num_images images, and do the ResNet
training augmentation (paper 3.4): shorter side random in [256, 480], random 224 crop, flip,
PCA lighting noise, "caffe" mean subtraction.
- keras_deepnets: `keras_deepnets.data.load(..., preset="resnet_imagenet_train")` (decodes only
  the crop window, parallel maps, prefetch).
- baseline: `keras.utils.image_dataset_from_directory` (image_size 256, aspect kept by a centre
  crop), then Keras preprocessing layers: RandomZoom (in by up to 480/256, the scale
  augmentation), RandomCrop(224), RandomFlip, then the same lighting noise and mean subtraction,
  mapped in parallel and prefetched as the Keras guides do.
The rounds alternate between the two; the table shows each one's best round. The last line is
`speedup: X.XXx` (keras_deepnets over the baseline).
"""

import os
import time

from absl import app, flags

import keras
import tensorflow as tf

from keras_deepnets.data import augment, load

_DEFAULT_DATA = os.path.join(
    os.environ.get("KERAS_DEEPNETS_CACHE", os.path.expanduser("~/.cache/keras_deepnets")),
    "imagenet1k-sample", "imagenet1k-sample")
FLAGS = flags.FLAGS
flags.DEFINE_string("data", _DEFAULT_DATA, "Class folder of ImageNet images (the shared sample, "
                    "extracted by the tests' fixtures or `tar xzf imagenet1k-sample.tar.gz`).")
flags.DEFINE_integer("num_images", 10_000, "Images per measurement (the folder is repeated).")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("rounds", 2, "Measurements per pipeline (alternating); the best counts.")
flags.DEFINE_integer("image_size", 224, "Crop size.")


def ours():
    return load(FLAGS.data, preset="resnet_imagenet_train", image_size=FLAGS.image_size,
                batch_size=FLAGS.batch_size, repeat=True, seed=0)


def baseline():
    size = FLAGS.image_size
    augmenter = keras.Sequential([
        keras.layers.RandomZoom(height_factor=(-(1 - 256 / 480), 0.0), seed=0),
        keras.layers.RandomCrop(size, size, seed=0),
        keras.layers.RandomFlip("horizontal", seed=0),
    ])
    ds = keras.utils.image_dataset_from_directory(
        FLAGS.data, labels="inferred", label_mode="int", batch_size=None,
        image_size=(round(size * 256 / 224),) * 2, crop_to_aspect_ratio=True, shuffle=True,
        seed=0)
    seeds = tf.data.Dataset.random(seed=0).batch(2)

    def finish(images, labels, seed):
        # Batched lighting noise and mean subtraction: vectorised, so the baseline is not
        # slowed by anything the Keras layers themselves do not do.
        images = augment.caffe_normalise(augment.pca_lighting(images, seed))
        return images, tf.cast(labels, tf.int32)

    ds = ds.repeat().batch(FLAGS.batch_size)
    ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: finish(*xy, s),
                                              num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def measure(dataset):
    """Images per second over --num_images images, after a warm-up of 3 batches."""
    it = iter(dataset)
    for _ in range(3):
        next(it)
    batches = -(-FLAGS.num_images // FLAGS.batch_size)
    start = time.perf_counter()
    for _ in range(batches):
        images, _ = next(it)
    images.numpy()
    return batches * FLAGS.batch_size / (time.perf_counter() - start)


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    if not os.path.isdir(FLAGS.data):
        raise app.UsageError(f"--data={FLAGS.data} is not a folder; extract the shared ImageNet "
                             "sample first (run the tests once, or tar xzf it into a cache).")
    pipelines = {"keras_deepnets.data.load": ours,
                 "image_dataset_from_directory + layers": baseline}
    best = {name: 0.0 for name in pipelines}
    for r in range(FLAGS.rounds):
        for name, build in pipelines.items():
            rate = measure(build())
            best[name] = max(best[name], rate)
            print(f"round {r + 1}: {name}: {rate:.1f} images/s", flush=True)
    ours_rate, base_rate = best.values()
    print(f"\n{os.cpu_count()} CPU cores, {FLAGS.num_images} images per measurement, "
          f"batch {FLAGS.batch_size}, {FLAGS.image_size}x{FLAGS.image_size} crops\n")
    print("| pipeline | images/s |\n|---|---|")
    for name, rate in best.items():
        print(f"| {name} | {rate:.1f} |")
    print(f"speedup: {ours_rate / base_rate:.2f}x")
