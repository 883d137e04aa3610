"""torchvision's V2 recipe's parts, trained with a plain `model.fit` on CIFAR-10 (an image
folder) at CIFAR's scale, to show that they train together:

    python scripts/train_v2_demo.py --data=/path/to/cifar10 --epochs=6

The parts are the recipe's: random-resized crop at 176/224 of the evaluation size and flip,
random erasing 0.1, mixup 0.2 / cutmix 1.0 (one per batch), label-smoothed cross-entropy 0.1,
SGD momentum 0.9 with PyTorch's weight decay off the norms, a linear warm-up from 0.01 x lr
into a per-epoch cosine, evaluation at resize 232/224 and the centre crop. The lr and batch
follow the recipe's linear scaling (0.5 at 1024). Prints each epoch's figures and a table row.
"""

import _quiet_tf  # noqa: F401  (first: quiets TensorFlow's start-up logs; see its docstring)
import time

import keras
import tensorflow as tf
from absl import app, flags

from keras_deepnets import registry
from keras_deepnets.data import augment, load
from keras_deepnets.training import v2_recipe

flags.DEFINE_string("data", None, "CIFAR-10 image folder (train/ and test/ class folders).")
flags.DEFINE_string("model", "resnet20", "A registry model.")
flags.DEFINE_integer("epochs", 6, "Epochs.")
flags.DEFINE_integer("warmup_epochs", 1, "Linear warm-up epochs (the recipe: 5 of 600).")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_integer("image_size", 32, "Evaluation crop; training crop and resize scale with it.")
flags.DEFINE_integer("max_examples", None, "A training subset of this many images.")
flags.DEFINE_integer("seed", 0, "Seed of the data order and augmentation.")
flags.mark_flag_as_required("data")
FLAGS = flags.FLAGS


def _scaled(size):
    """A size of the recipe's (stated for a 224 evaluation crop) at this run's crop size."""
    return max(8, int(round(size * FLAGS.image_size / 224)))


def _datasets(classes):
    train_preset = augment.InceptionTrain(image_size=_scaled(176), mode="torch")
    eval_preset = augment.ImageNetEval(image_size=FLAGS.image_size, resize_size=_scaled(232),
                                       mode="torch", antialias=True)
    train = load(FLAGS.data, "train", preset=train_preset, batch_size=FLAGS.batch_size,
                 seed=FLAGS.seed, drop_remainder=True, max_examples=FLAGS.max_examples,
                 repeat=True)
    train = v2_recipe.mix_batches(train, classes, FLAGS.seed)
    test = load(FLAGS.data, "test", preset=eval_preset, batch_size=FLAGS.batch_size)
    test = test.map(lambda x, y: (x, tf.one_hot(y, classes)))
    return train.prefetch(tf.data.AUTOTUNE), test.prefetch(tf.data.AUTOTUNE)


def main(_):
    classes = 10
    train_images = FLAGS.max_examples or 50000
    steps_per_epoch = train_images // FLAGS.batch_size
    train, test = _datasets(classes)
    # any input size: trained at the smaller crop, evaluated at the larger, as the recipe
    model = registry.get_model(FLAGS.model, weights=None, classes=classes,
                               input_shape=(None, None, 3))
    lr = v2_recipe.SETTINGS.scaled_lr(FLAGS.batch_size)
    schedule = v2_recipe.warmup_cosine(lr, FLAGS.epochs, FLAGS.warmup_epochs,
                                       v2_recipe.SETTINGS.warmup_start_factor, steps_per_epoch)
    model.compile(optimizer=v2_recipe.v2_optimizer(model, schedule), loss=v2_recipe.v2_loss(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="acc")])
    print(f"{FLAGS.model}: train crop {_scaled(176)}, eval resize {_scaled(232)} / crop "
          f"{FLAGS.image_size}, batch {FLAGS.batch_size}, lr {lr:g}, {FLAGS.epochs} epochs of "
          f"{steps_per_epoch} steps")
    start = time.time()
    history = model.fit(train, epochs=FLAGS.epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=test, verbose=2)
    h = history.history
    print("| epoch | train loss (mixed labels) | test loss | test top-1 error |")
    for e in range(FLAGS.epochs):
        print(f"| {e + 1} | {h['loss'][e]:.3f} | {h['val_loss'][e]:.3f} | "
              f"{100 * (1 - h['val_acc'][e]):.2f}% |")
    print(f"wall time {time.time() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
