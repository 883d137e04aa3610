"""Choosing the tf.distribute strategy and the mixed-precision policy.

One custom loop (loop.py) runs under every strategy here; Keras 3's `model.fit` is not used
because it fails under MultiWorkerMirroredStrategy (keras-team/keras#20585).
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


class ConfigError(ValueError):
    """A user's mistake in the training configuration; the scripts print it as one line."""


def configure_cpu_devices(num_cpu_devices):
    """Splits the host CPU into `num_cpu_devices` logical devices, so MirroredStrategy can be run
    (and tested) without GPUs. Must run before TensorFlow initialises its devices."""
    if not num_cpu_devices or num_cpu_devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == num_cpu_devices:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
    except RuntimeError as e:
        raise ConfigError(
            f"Cannot split the CPU into {num_cpu_devices} logical devices: TensorFlow has already "
            "initialised its devices in this process. Run training in a fresh process (the "
            "scripts do), or call configure_cpu_devices() first.") from e


def _tf_config_workers():
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}.") from e
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy(name="auto", num_gpus=None, num_cpu_devices=None, tpu_address=None):
    """Returns a tf.distribute.Strategy.

    auto: MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over the GPUs when
    there are several (or over `num_cpu_devices` logical CPUs), else OneDevice (GPU 0 or CPU).
    `num_gpus` limits the GPUs used; 0 forces the CPU.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"distribution_strategy must be one of {', '.join(STRATEGIES)}; "
                          f"got {name!r}.")
    if name == "multi_worker" or (name == "auto" and _tf_config_workers() > 1):
        # Collective ops need the strategy to be made before any other TF op of the process.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise ConfigError(f"No TPU found ({type(e).__name__}: {str(e).splitlines()[0]}).") from e
        return tf.distribute.TPUStrategy(resolver)
    configure_cpu_devices(num_cpu_devices)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if num_gpus is not None:
        if num_gpus > len(gpus):
            raise ConfigError(f"--num_gpus={num_gpus} but this machine has {len(gpus)} GPU(s).")
        gpus = gpus[:num_gpus]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "mirrored" or (name == "auto" and (len(gpus) > 1 or (not gpus and len(cpus) > 1))):
        devices = gpus or cpus
        cross = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=cross)
    return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")


def strategy_name(strategy):
    return {tf.distribute.MultiWorkerMirroredStrategy: "multi_worker",
            tf.distribute.MirroredStrategy: "mirrored",
            tf.distribute.OneDeviceStrategy: "one_device"}.get(type(strategy), type(strategy).__name__)


def resolve_precision(precision, strategy=None):
    """Maps `--mixed_precision` to a Keras dtype policy name.

    auto: mixed_float16 on GPUs (tensor cores), mixed_bfloat16 on CPUs and TPUs (same exponent
    range as float32, so no loss scaling is needed). "float16"/"bfloat16" mean the mixed policies.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"mixed_precision must be one of auto, float32, float16, bfloat16; "
                          f"got {precision!r}.")
    if precision == "auto":
        on_gpu = bool(tf.config.list_logical_devices("GPU"))
        if isinstance(strategy, tf.distribute.TPUStrategy):
            on_gpu = False
        return "mixed_float16" if on_gpu else "mixed_bfloat16"
    if precision in ("float16", "bfloat16"):
        return "mixed_" + precision
    return precision


def is_chief(strategy):
    """Whether this process writes the records (worker 0 of a multi-worker cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0
                                    and "chief" not in resolver.cluster_spec().as_dict())
