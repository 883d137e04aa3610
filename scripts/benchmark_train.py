"""Training throughput of the training core: images/s and achieved GFLOP/s.

    python scripts/benchmark_train.py                      # ResNet-20 @32 b128, ResNet-50 @224 b32
    python scripts/benchmark_train.py --models=resnet20 --steps=50 --precisions=float32

Each case times `--steps` training steps (after `--warmup` steps that include tracing) of the
same `strategy.run` step as training.train (SGD momentum, weight decay, top-1/5 sums), on one
in-memory batch, so the input pipeline is not measured (scripts/benchmark_input.py does that).
keras.applications.ResNet50 runs through the same step in the same run, as a reference.

GFLOP/s = images/s x multiply-adds per image (keras_deepnets.model_stats: convolutions and the
dense layer, as the ResNet paper's Table 1 counts) x 3 (forward; backward w.r.t. inputs and
w.r.t. weights each cost about one forward) x 2 (a multiply-add is two floating point ops).
The matmul ceiling is a square tf.matmul in the same precision: what this machine's TF can reach.
"""

import os
import time

from absl import app, flags

flags.DEFINE_list("models", ["resnet20", "resnet50", "keras.applications.ResNet50"],
                  "Registry names and/or keras.applications.ResNet50.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies.")
flags.DEFINE_integer("steps", None, "Timed steps (default 20 at 32x32, 4 at 224x224).")
flags.DEFINE_integer("warmup", 2, "Untimed steps first (tracing, allocation).")
flags.DEFINE_integer("matmul_size", 4096, "Side of the matmul for the ceiling.")
FLAGS = flags.FLAGS

BATCH = {32: 128, 224: 32}


def matmul_gflops(dtype, n):
    import tensorflow as tf

    a = tf.random.normal([n, n], dtype=tf.float32)
    a = tf.cast(a, dtype)
    step = tf.function(lambda x: tf.matmul(x, x))
    step(a).numpy()
    reps, t0 = 5, time.perf_counter()
    for _ in range(reps):
        out = step(a)
    out.numpy()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def time_case(name, policy, steps, warmup):
    import keras
    import tensorflow as tf

    from keras_deepnets import model_stats, registry
    from keras_deepnets.training.loop import _Steps

    keras.config.set_dtype_policy(policy)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    try:
        with strategy.scope():
            if name == "keras.applications.ResNet50":
                model = keras.applications.ResNet50(weights=None)
            else:
                model = registry.get_model(name)
            size = model.input_shape[1]
            optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
            optimizer.build(model.trainable_variables)
        batch = BATCH[size]
        run = _Steps(strategy, model, optimizer, batch, 1e-4, 0.0, False, False,
                     model.output_shape[-1])
        images = tf.random.uniform([batch, size, size, 3], -1, 1)
        labels = tf.random.uniform([batch], 0, model.output_shape[-1], tf.int32)
        data = strategy.experimental_distribute_values_from_function(lambda _: (images, labels))
        for _ in range(warmup):
            run.train_step(data)[0].numpy()
        steps = steps or (20 if size == 32 else 4)
        t0 = time.perf_counter()
        for _ in range(steps):
            out = run.train_step(data)
        out[0].numpy()
        ips = batch * steps / (time.perf_counter() - t0)
        keras.config.set_dtype_policy("float32")
        macs = model_stats(registry.get_model(name) if name in registry.list_models()
                           else keras.applications.ResNet50(weights=None)).mult_adds
        return size, batch, ips, ips * macs * 3 * 2 / 1e9
    finally:
        keras.config.set_dtype_policy("float32")


def main(argv):
    del argv
    import tensorflow as tf

    rows = []
    for name in FLAGS.models:
        for policy in FLAGS.precisions:
            size, batch, ips, gflops = time_case(name, policy, FLAGS.steps, FLAGS.warmup)
            rows.append((name, f"{size}x{size}", batch, policy, ips, gflops))
            print(f"  {name} {policy}: {ips:.1f} img/s", flush=True)
    ceilings = {p: matmul_gflops(tf.bfloat16 if "bfloat16" in p else tf.float32,
                                 FLAGS.matmul_size) for p in FLAGS.precisions}
    cpus = os.cpu_count()
    print(f"\nTraining throughput ({tf.config.list_physical_devices('GPU') and 'GPU' or 'CPU'}, "
          f"TF {tf.__version__}; matmul ceiling: "
          + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in ceilings.items()) + f"; {cpus} CPU cores)")
    print("| model | input | batch | precision | images/s | GFLOP/s | % of matmul ceiling |")
    print("|---|---|---|---|---|---|---|")
    for name, size, batch, policy, ips, gflops in rows:
        print(f"| {name} | {size} | {batch} | {policy} | {ips:.1f} | {gflops:.1f} | "
              f"{100 * gflops / ceilings[policy]:.0f}% |")


if __name__ == "__main__":
    app.run(main)
