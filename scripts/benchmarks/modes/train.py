"""Training and inference throughput of the training core, against keras.applications.ResNet50.

    # ResNet-20 @32 b128, ResNet-50 and keras.apps @224 b32:
    python scripts/benchmarks/benchmark.py train
    python scripts/benchmarks/benchmark.py train --models=resnet20 --precisions=mixed_bfloat16 \\
        --cifar_data=~/.cache/keras_deepnets/cifar10-jpeg        # + step time on real images
    python scripts/benchmarks/benchmark.py train --precisions=mixed_float16 --jit_compile  # a GPU

Each (model, precision) runs in a fresh process (clean dtype policy, graph caches and memory
figures). It times `--steps` training steps, after `--warmup` steps that include tracing, of the
same `strategy.run` step as training.train (SGD momentum, weight decay, top-1/5 sums) on one
in-memory batch ("synthetic"), then the forward pass alone at the same batch ("inference",
training=False), and, with --cifar_data/--imagenet_data, the same training step fed by the real
input pipeline (keras_deepnets.data.load with the training preset and cache setting of
training.train: decode, augment, batch) that shares the machine's cores with the step, as in
training, and on one real batch reused (real pixels, no pipeline: what the data alone changes).
Those three are timed in alternating rounds (`--rounds`) and the best of each is shown.

GFLOP/s = images/s x multiply-adds per image (keras_deepnets.model_stats: convolutions and the
dense layer, as the ResNet paper's Table 1 counts) x 2 (a multiply-add is two floating point
ops) x 3 for training (the backward pass w.r.t. inputs and w.r.t. weights each cost about one
forward) or x 1 for inference. The ceiling is a square tf.matmul in the same precision, measured
in the same run: what this machine's TF can reach.

Peak memory: on a GPU, TF's allocator peak during the timed steps; on a CPU, the growth of the
process's peak resident set (ru_maxrss) over the timed steps and their tracing, i.e. what the
training step adds on top of the model, its optimizer slots and the batch.
"""

import json
import multiprocessing
import os
import resource
import time

from absl import app, flags

REFERENCE = "keras.applications.ResNet50"
# Variants timed under their own names. torchvision's ResNet-50 is "v1.5" (stride on the 3x3,
# 6% more multiply-adds than the paper's v1), so a side-by-side with PyTorch
# (`benchmark.py vs_torch`) times the same network, not just the same name.
VARIANTS = {"resnet50_v1.5": ("resnet50", {"stride_in_1x1": False})}
flags.DEFINE_list("models", ["resnet20", "resnet50", REFERENCE],
                  f"Registry names, {', '.join(VARIANTS)} and/or {REFERENCE}.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"],
                  "Keras dtype policies (mixed_float16 adds dynamic loss scaling, as training).")
flags.DEFINE_list("recipes", ["paper"], "Training recipes whose step to time: paper (SGD "
                  "momentum, weight decay) and/or fast (also Nesterov, label smoothing and the "
                  "weights' moving average; CIFAR models), at the same batch and precision.")
flags.DEFINE_integer("steps", None, "Timed steps (default 20 at 32x32, 5 at 224x224).")
flags.DEFINE_integer("warmup", 2, "Untimed steps first (tracing, allocation).")
flags.DEFINE_integer("train_rounds", 1, "The training step and the forward pass each timed in "
                     "this many rounds of --steps; the best round's mean is shown (3: "
                     "../shared/bench/torch_step.py's protocol for PyTorch, for side-by-side "
                     "ratios).")
flags.DEFINE_bool("mark_steps", False, "Print onednn_log's BEGIN/END lines around the timed "
                  "training steps (one round), so that a run with ONEDNN_VERBOSE=1 logs what "
                  "oneDNN ran in them (benchmark.py vs_torch --onednn).")
flags.DEFINE_bool("metrics", True, "Count top-1/top-5 in the timed step, as training does; "
                  "--nometrics times it without them (PyTorch's benchmark step has none).")
flags.DEFINE_list("extra_metrics", [], "More metrics in the timed step and the train() loop, by "
                  "name (top<k>, accuracy), e.g. top3,top10,accuracy: what they cost.")
flags.DEFINE_integer("batch_size", None, "Default 128 at 32x32, 32 at 224x224.")
flags.DEFINE_integer("matmul_size", 4096, "Side of the matmul for the ceiling.")
flags.DEFINE_bool("inference", True, "Also time the forward pass (training=False).")
flags.DEFINE_string("cifar_data", None, "CIFAR-10 folder or TFDS name: also time 32x32 models "
                    "on real images through the input pipeline.")
flags.DEFINE_string("imagenet_data", None, "ImageNet-style folder (class folders, or train/): "
                    "also time 224x224 models on real images through the input pipeline.")
flags.DEFINE_bool("loop", True, "Also run training.train itself on synthetic data (1 + "
                  "--train_rounds epochs of --steps steps) and report the best img/s after the "
                  "first (tracing) epoch: the loop's own overhead (host syncs, records, "
                  "synthetic input) on top of the step.")
flags.DEFINE_integer("steps_per_loop", 1, "The train() loop's --steps_per_loop.")
flags.DEFINE_integer("rounds", 3, "With real data: rounds of synthetic and real-data steps, "
                     "in turn; the best round of each is shown.")
flags.DEFINE_bool("input_cache", True, "Real data as training.train reads it (CIFAR decoded once "
                  "and augmented by the batch); --noinput_cache: the per-image path.")
flags.DEFINE_integer("input_threads", 0, "A private thread pool of this size for the real-data "
                     "pipeline (load's private_threads); 0: tf.data's shared pool.")
flags.DEFINE_bool("jit_compile", False, "XLA for the forward/backward pass (as --jit_compile).")
flags.DEFINE_integer("intra_op_threads", 0, "tf.config.threading; 0 keeps TF's default.")
flags.DEFINE_integer("inter_op_threads", 0, "tf.config.threading; 0 keeps TF's default.")
FLAGS = flags.FLAGS

BATCH = {32: 128, 224: 32}


def _registry_name(name):
    """The registry model a benchmarked name stands for (keras.applications' ResNet50: resnet50)."""
    return "resnet50" if name == REFERENCE else VARIANTS.get(name, (name,))[0]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        out = fn()
    if out is not None:
        out.numpy()
    return (time.perf_counter() - t0) / steps


def _best_of(fn, warmup, steps, rounds):
    """The best (shortest) mean seconds per call over `rounds` rounds of `_timed`."""
    return min(_timed(fn, warmup if i == 0 else 0, steps) for i in range(rounds))


def run_case(opts):
    """One (model, precision) in this process; returns a dict of figures."""
    import tensorflow as tf

    if opts["intra"]:
        tf.config.threading.set_intra_op_parallelism_threads(opts["intra"])
    if opts["inter"]:
        tf.config.threading.set_inter_op_parallelism_threads(opts["inter"])
    import keras

    from keras_deepnets import model_stats
    from keras_deepnets.training import recipes
    from keras_deepnets.training.steps import recipe_step

    name, policy = opts["model"], opts["policy"]
    build = _builder(name)
    float32_model = build()  # before the policy changes: multiply-adds and the input size
    macs, size = model_stats(float32_model).mult_adds, float32_model.input_shape[1]
    del float32_model
    keras.config.set_dtype_policy(policy)
    gpus = tf.config.list_physical_devices("GPU")
    device = "/gpu:0" if gpus else "/cpu:0"
    strategy = tf.distribute.OneDeviceStrategy(device)
    recipe = recipes.FAST_CIFAR if opts["recipe"] == "fast" else recipes.CIFAR
    batch = opts["batch"] or BATCH[size]
    run = recipe_step(strategy, build, recipe, global_batch=batch, jit_compile=opts["jit"],
                      metrics=opts["metrics"])
    images = tf.random.uniform([batch, size, size, 3], -1, 1)
    labels = tf.random.uniform([batch], 0, run.model.output_shape[-1], tf.int32)
    fixed = strategy.experimental_distribute_values_from_function(lambda _: (images, labels))
    steps = opts["steps"] or (20 if size == 32 else 5)
    out = {"model": name, "recipe": opts["recipe"], "policy": policy, "size": size,
           "batch": batch, "macs": macs, "metrics": opts["metrics"],
           "train_rounds": opts["train_rounds"]}
    out.update(_train_step_figures(lambda: run.train_step(fixed)[0], batch, steps, opts, gpus))
    if opts["inference"]:
        out["infer_ips"] = _infer_ips(run.model, images, batch, device, steps, opts)
    if opts["loop"]:
        out["loop_ips"] = _loop_ips(name, policy, batch, steps, opts["jit"], build,
                                    opts["steps_per_loop"], opts["recipe"], opts["train_rounds"],
                                    opts["metrics"])
    real = opts["cifar_data"] if size == 32 else opts["imagenet_data"]
    if real:
        out.update(_real_data_step_ms(run, strategy, fixed, real, size, batch, steps, opts))
    return out


def _builder(name):
    """A function that builds the benchmarked model: keras.applications' ResNet50 for
    REFERENCE, else the registry's model (with a variant's arguments)."""
    import keras

    from keras_deepnets import registry

    if name == REFERENCE:
        return lambda: keras.applications.ResNet50(weights=None)
    base, kwargs = VARIANTS.get(name, (name, {}))
    return lambda: registry.get_model(base, **kwargs)


def _train_step_figures(step, batch, steps, opts, gpus):
    """Images/s and ms of the training step on one fixed batch (or, with --mark_steps, one
    round between onednn_log's markers), and the peak memory the timed steps add."""
    import tensorflow as tf

    from keras_deepnets.diagnostics import onednn_log

    if gpus:
        tf.config.experimental.reset_memory_stats("GPU:0")
    rss0 = _peak_rss_mb()
    train_s = (onednn_log.marked_steps(step, steps, opts["warmup"]) if opts["mark"] else
               _best_of(step, opts["warmup"], steps, opts["train_rounds"]))
    peak_mb = (tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20 if gpus
               else _peak_rss_mb() - rss0)
    return {"train_ips": batch / train_s, "train_step_ms": 1000 * train_s, "peak_mb": peak_mb}


def _infer_ips(model, images, batch, device, steps, opts):
    """Images/s of the forward pass alone (training=False) on the same batch."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), jit_compile=opts["jit"])
    with tf.device(device):
        infer_s = _best_of(lambda: forward(images), opts["warmup"], steps, opts["train_rounds"])
    return batch / infer_s


def _real_data_step_ms(run, strategy, fixed, real, size, batch, steps, opts):
    """Best ms per training step, in alternating rounds, fed by random numbers, by one real
    batch reused and by the input pipeline on the real data at `real`."""
    from keras_deepnets import data as kd_data
    from keras_deepnets.data.sources import has_splits
    from keras_deepnets.training.inputs import keeps_decoded

    family_preset = "cifar_train" if size == 32 else "resnet_imagenet_train"
    split = "train" if has_splits(real) else None
    dataset = kd_data.load(real, split, preset=family_preset, image_size=size,
                           batch_size=batch, shuffle=True, seed=0, repeat=True,
                           drop_remainder=True,
                           cache=opts["input_cache"] and keeps_decoded(
                               "cifar" if size == 32 else "imagenet"),
                           private_threads=opts["input_threads"] or None)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    one_batch = next(iter(dataset))
    one_real = strategy.experimental_distribute_values_from_function(lambda _: one_batch)
    # Three inputs: random numbers; one real batch reused (the same step on real pixels,
    # no pipeline); the pipeline. Rounds in turn, best of each: 2 shared cores drift by
    # +-5% between rounds, which would otherwise show up as (or hide) the pipeline's cost.
    inputs = {"synthetic_step_ms": lambda: fixed, "real_batch_step_ms": lambda: one_real,
              "real_step_ms": lambda: next(iterator)}
    best = dict.fromkeys(inputs, float("inf"))
    # _timed calls each lambda right away; the default binds this iteration's input.
    for make in inputs.values():
        _timed(lambda make=make: run.train_step(make())[0], opts["warmup"], 1)
    for _ in range(opts["rounds"]):
        for key, make in inputs.items():
            ms = 1000 * _timed(lambda make=make: run.train_step(make())[0], 0, steps)
            best[key] = min(best[key], ms)
    return best


def _loop_ips(name, policy, batch, steps, jit, build, steps_per_loop, recipe, rounds,
              metrics=("top1", "top5")):
    import tempfile

    from keras_deepnets import training

    precision = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(policy, "float32")
    plain = _registry_name(name) == name  # a registry name as it stands
    with tempfile.TemporaryDirectory() as tmp:
        result = training.train(
            model=_registry_name(name), model_fn=None if plain else (lambda **kw: build()),
            use_synthetic_data=True, synthetic_examples=batch * steps, batch_size=batch,
            epochs=1 + rounds, eval_every=0, export_dir="", verbose=0, tensorboard=False,
            backup_steps=0, mixed_precision=precision, jit_compile=jit,
            steps_per_loop=steps_per_loop, recipe=recipe, model_dir=tmp, metrics=list(metrics))
    return max(epoch["images_per_sec"] for epoch in result.history[1:])  # after tracing


def matmul_gflops(policy, n):
    import tensorflow as tf

    dtype = {"mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}.get(policy, tf.float32)
    a = tf.cast(tf.random.normal([n, n]), dtype)
    step = tf.function(lambda x: tf.matmul(x, x))
    seconds = _timed(lambda: step(a), 1, 5)
    return 2 * n ** 3 / seconds / 1e9


def _in_fresh_process(fn, arg):
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, (arg,))


def _cases():
    """(model, policy, recipe) to time; the fast recipe only for the CIFAR models."""
    from keras_deepnets import registry

    unknown = sorted(set(FLAGS.recipes) - {"paper", "fast"})
    if unknown:
        raise app.UsageError(f"--recipes takes paper and/or fast; got {', '.join(unknown)}.")
    return [(name, policy, recipe) for name in FLAGS.models for policy in FLAGS.precisions
            for recipe in FLAGS.recipes
            if recipe == "paper" or registry.model_info(_registry_name(name)).family == "cifar"]


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    rows = []
    for name, policy, recipe in _cases():
        opts = {"model": name, "policy": policy, "recipe": recipe, "steps": FLAGS.steps,
                "warmup": FLAGS.warmup, "batch": FLAGS.batch_size,
                "inference": FLAGS.inference, "jit": FLAGS.jit_compile, "loop": FLAGS.loop,
                "steps_per_loop": FLAGS.steps_per_loop, "rounds": FLAGS.rounds,
                "train_rounds": FLAGS.train_rounds,
                "metrics": (["top1", "top5"] if FLAGS.metrics else []) + FLAGS.extra_metrics,
                "mark": FLAGS.mark_steps,
                "input_cache": FLAGS.input_cache, "input_threads": FLAGS.input_threads,
                "cifar_data": FLAGS.cifar_data and os.path.expanduser(FLAGS.cifar_data),
                "imagenet_data": FLAGS.imagenet_data and os.path.expanduser(FLAGS.imagenet_data),
                "intra": FLAGS.intra_op_threads, "inter": FLAGS.inter_op_threads}
        row = _in_fresh_process(run_case, opts)
        rows.append(row)
        rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
        print(f"  {json.dumps(rounded)}", flush=True)
    import tensorflow as tf

    ceilings = {p: matmul_gflops(p, FLAGS.matmul_size) for p in FLAGS.precisions}
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU, {os.cpu_count()} cores"
    print(f"\nThroughput ({device}; TF {tf.__version__}; "
          f"XLA {'on' if FLAGS.jit_compile else 'off'}; metrics in the timed step: "
          f"{', '.join(opts['metrics']) or 'none'}; train, infer and train() img/s: best of "
          f"{FLAGS.train_rounds} round(s); "
          "matmul ceiling: " + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in ceilings.items()) + ")")
    print("| model | input | batch | precision | train img/s | vs keras.apps | train GFLOP/s "
          "(% ceiling) | peak MB | infer img/s | vs keras.apps | "
          "step ms: synthetic / one real batch / input pipeline | "
          "train() loop img/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ref = {r["policy"]: r for r in rows if r["model"] == REFERENCE}
    for r in rows:
        other = ref.get(r["policy"]) if r["size"] == 224 and r["model"] != REFERENCE else None
        gflops = r["train_ips"] * r["macs"] * 6 / 1e9
        ratio = f"{r['train_ips'] / other['train_ips']:.2f}x" if other else "-"
        infer = f"{r['infer_ips']:.1f}" if "infer_ips" in r else "-"
        iratio = (f"{r['infer_ips'] / other['infer_ips']:.2f}x"
                  if other and "infer_ips" in r and "infer_ips" in other else "-")
        steps_ms = (" / ".join(f"{r[k]:.0f}" for k in ("synthetic_step_ms", "real_batch_step_ms",
                                                       "real_step_ms"))
                    if "real_step_ms" in r else f"{r['train_step_ms']:.0f}")
        loop = f"{r['loop_ips']:.1f}" if "loop_ips" in r else "-"
        label = r["model"] + (f" ({r['recipe']} recipe)" if r["recipe"] != "paper" else "")
        print(f"| {label} | {r['size']}x{r['size']} | {r['batch']} | {r['policy']} | "
              f"{r['train_ips']:.1f} | {ratio} | "
              f"{gflops:.0f} ({100 * gflops / ceilings[r['policy']]:.0f}%) | "
              f"{r['peak_mb']:.0f} | {infer} | {iratio} | {steps_ms} | "
              f"{loop} |")
