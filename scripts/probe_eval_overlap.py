"""Would an evaluation overlapped with the next epoch's steps cost less wall time than one after
them? Issue 31's direction left: while training, the process keeps about 1.5 of the 2 cores
busy. Times, in one process, `--steps` training steps of the fast recipe's step (one in-memory
batch), the forward pass over `--eval_images` images on a second copy of the model (as an
evaluation of the averaged weights would run), both one after the other, and both at once (the
evaluation in a second Python thread). Prints one line per round and writes a JSON.

    python scripts/probe_eval_overlap.py --output=docs/results/one_cpu/eval_overlap.json
"""

import _quiet_tf  # noqa: F401  (before TensorFlow: quiets its start-up logs)
import json
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from keras_deepnets import registry
from keras_deepnets.training import recipes
from keras_deepnets.training import steps as steps_lib

flags.DEFINE_string("model", "resnet20", "A CIFAR model of the registry.")
flags.DEFINE_string("policy", "mixed_bfloat16", "Keras dtype policy.")
flags.DEFINE_integer("batch_size", 256, "Training and evaluation batch.")
flags.DEFINE_integer("steps", 60, "Training steps per timing.")
flags.DEFINE_integer("eval_images", 10_000, "Images of the evaluation (no flips).")
flags.DEFINE_integer("rounds", 3, "Rounds of the three timings.")
flags.DEFINE_string("output", None, "Write the rounds here (.json).")
FLAGS = flags.FLAGS


def make_jobs():
    """(train(), evaluate()) closures over the fast recipe's step and a second model."""
    build = lambda: registry.get_model(FLAGS.model, classes=10)  # noqa: E731
    recipe = recipes.recipe_for(FLAGS.model, "cifar", "fast")
    step = steps_lib.recipe_step(tf.distribute.get_strategy(), build, recipe,
                                 global_batch=FLAGS.batch_size)
    evaluated = build()
    evaluated.set_weights(step.model.get_weights())
    rng = np.random.default_rng(0)
    batch = (tf.constant(rng.standard_normal((FLAGS.batch_size, 32, 32, 3)), tf.float32),
             tf.constant(rng.integers(0, 10, FLAGS.batch_size)))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    images = tf.constant(rng.standard_normal((FLAGS.eval_images, 32, 32, 3)), tf.float32)
    forward = tf.function(lambda x: evaluated(x, training=False))

    def train():
        step.run(iterator, FLAGS.steps)

    def evaluate():
        for i in range(0, FLAGS.eval_images, FLAGS.batch_size):
            forward(images[i:i + FLAGS.batch_size]).numpy()

    step.run(iterator, 3)  # tracing and first allocations, untimed
    evaluate()
    return train, evaluate


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def both(train, evaluate):
    thread = threading.Thread(target=evaluate)
    thread.start()
    train()
    thread.join()


def main(argv):
    del argv
    keras.config.set_dtype_policy(FLAGS.policy)
    train, evaluate = make_jobs()
    rounds = []
    for r in range(FLAGS.rounds):
        t_train, t_eval = timed(train), timed(evaluate)
        t_both = timed(lambda: both(train, evaluate))
        hidden = (t_train + t_eval - t_both) / t_eval
        rounds.append({"train_s": t_train, "eval_s": t_eval, "sequential_s": t_train + t_eval,
                       "overlapped_s": t_both, "eval_hidden": hidden})
        print(f"round {r}: {FLAGS.steps} steps {t_train:.2f} s, evaluation {t_eval:.2f} s, "
              f"one after the other {t_train + t_eval:.2f} s, at once {t_both:.2f} s "
              f"({100 * hidden:.0f}% of the evaluation hidden)", flush=True)
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump({"flags": {k: FLAGS[k].value for k in ("model", "policy", "batch_size",
                                                             "steps", "eval_images")},
                       "rounds": rounds}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
