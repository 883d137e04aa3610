"""Choosing the tf.distribute strategy and the mixed-precision policy, and ending a
multi-worker run cleanly when a peer worker dies.

One custom loop (loop.py) runs under every strategy here; Keras 3's `model.fit` is not used
because it fails under MultiWorkerMirroredStrategy (keras-team/keras#20585).

When a worker of a MultiWorkerMirroredStrategy cluster dies (kill -9, OOM, a lost machine), TF
2.21 aborts the survivors' collectives: a closed connection within ~2 s, a silent peer once TF's
coordination service misses its heartbeats (10 s). A peer that is alive but never reaches the
next collective (stuck I/O, a deadlock) is ended by the collective timeout set here. Either way
the survivor gets a long tf.errors traceback; `worker_failure_guard` turns it into `WorkerLost`.
"""

import contextlib
import json
import os
import re

import tensorflow as tf

from keras_deepnets.models.tf_cpu import native_bfloat16

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


# A collective (gradient all-reduce, sync-BN moments, the step's metrics) that has not completed
# after this many seconds fails with DeadlineExceededError instead of waiting forever. Ten
# minutes is far above a step, an evaluation or the chief's epoch-end writes on any cluster, yet
# bounds the wait for a peer that is alive (heartbeats go on) but never reaches the collective.
DEFAULT_COLLECTIVE_TIMEOUT = 600.0
COLLECTIVE_TIMEOUT_ENV = "KERAS_DEEPNETS_COLLECTIVE_TIMEOUT"


class ConfigError(ValueError):
    """A user's mistake in the training configuration; the scripts print it as one line."""


class WorkerLost(RuntimeError):
    """A peer worker of a multi-worker run died or became unreachable; the last backup is kept
    and starting every worker again with the same command resumes from it."""


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


def collective_timeout_seconds(collective_timeout=None):
    """The collective timeout to use: the argument, else $KERAS_DEEPNETS_COLLECTIVE_TIMEOUT,
    else DEFAULT_COLLECTIVE_TIMEOUT; 0 waits forever (TF's own default)."""
    value = collective_timeout
    if value is None:
        value = os.environ.get(COLLECTIVE_TIMEOUT_ENV, "").strip() or DEFAULT_COLLECTIVE_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:  # also rejects NaN
        raise ConfigError(f"collective_timeout must be a number of seconds >= 0 (0: no "
                          f"timeout); got {value!r}.")
    return seconds


def _multi_worker(collective_timeout):
    seconds = collective_timeout_seconds(collective_timeout)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=seconds or None)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except RuntimeError as e:
        if "program startup" not in str(e):
            raise
        # TF configures collectives when it initialises, so a TF op before this (a tf.constant
        # at some module's import, a tf.config call) makes the strategy impossible to create.
        raise ConfigError("MultiWorkerMirroredStrategy must be created before any TensorFlow op "
                          "runs in the process, but TensorFlow is already initialised (a TF op "
                          "at import time?). Make the strategy first.") from e


def make_strategy(name="auto", num_gpus=None, num_cpu_devices=None, tpu_address=None,
                  collective_timeout=None):
    """Returns a tf.distribute.Strategy.

    auto: MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over the GPUs when
    there are several (or over `num_cpu_devices` logical CPUs), else OneDevice (GPU 0 or CPU).
    `num_gpus` limits the GPUs used; 0 forces the CPU. `collective_timeout` (seconds, multi-worker
    only; see `collective_timeout_seconds`) bounds how long a worker waits for its peers.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"distribution_strategy must be one of {', '.join(STRATEGIES)}; "
                          f"got {name!r}.")
    if name == "multi_worker" or (name == "auto" and _tf_config_workers() > 1):
        # Collective ops need the strategy to be made before any other TF op of the process.
        return _multi_worker(collective_timeout)
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise ConfigError(
                f"No TPU found ({type(e).__name__}: {str(e).splitlines()[0]}).") from e
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
            tf.distribute.OneDeviceStrategy: "one_device"}.get(type(strategy),
                                                               type(strategy).__name__)


def resolve_precision(precision, strategy=None):
    """Maps `--mixed_precision` to a Keras dtype policy name.

    auto: mixed_float16 on GPUs (tensor cores), mixed_bfloat16 on TPUs and on CPUs that compute
    in bfloat16 natively (same exponent range as float32, so no loss scaling is needed), float32
    on other CPUs, where bfloat16 is emulated and several times slower (`tf_cpu.native_bfloat16`).
    "float16"/"bfloat16" mean the mixed policies.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"mixed_precision must be one of auto, float32, float16, bfloat16; "
                          f"got {precision!r}.")
    if precision == "auto":
        if isinstance(strategy, tf.distribute.TPUStrategy):
            return "mixed_bfloat16"
        if tf.config.list_logical_devices("GPU"):
            return "mixed_float16"
        return "mixed_bfloat16" if native_bfloat16() else "float32"
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


# What a survivor gets when a peer dies: Unavailable (connection reset, peer missed heartbeats),
# DeadlineExceeded (the collective timeout, a heartbeat RPC to a silent leader) and the ops that
# were cancelled or aborted with them. Only errors naming a collective, the coordination service
# or a peer task are converted, so a local failure (a bad file, an OOM) keeps its own error.
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError,
                tf.errors.FailedPreconditionError)
_PEER_MARKERS = ("collective", "heartbeat", "coordination", "unhealthy", "connection reset",
                 "socket closed", "failed to connect", "/job:")
_TASK = re.compile(r"/job:\w+/replica:\d+/task:\d+")


def num_workers(strategy=None):
    """Worker processes in the cluster of `strategy` (default: TF_CONFIG's); 1 when not
    multi-worker."""
    if strategy is None:
        return max(_tf_config_workers(), 1)
    resolver = getattr(strategy, "cluster_resolver", None)
    jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return max(len(jobs.get("worker", [])) + len(jobs.get("chief", [])), 1)


def peer_failure_cause(error):
    """The line of a TF error that says why the collectives stopped, e.g. "The following tasks
    are unhealthy (stopped sending heartbeats): /job:worker/replica:0/task:1"; None when the
    error does not look like a lost peer."""
    if not isinstance(error, _PEER_ERRORS):
        return None
    text = error.message or ""
    if not any(marker in text.lower() for marker in _PEER_MARKERS):
        return None
    # TF's message also holds the op's Python traceback and node names ("Detected at node
    # sgd/CollectiveReduceV2", "File ..."), which would match "collective" without saying why.
    noise = ("Detected at node", "File ", "[[", "Graph execution error")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(noise)]
    key = "Collective ops is aborted by:"
    picked = next((i for i, line in enumerate(lines) if key in line), None)
    if picked is None:
        picked = next((i for i, line in enumerate(lines)
                       if any(m in line.lower() for m in _PEER_MARKERS)), 0)
    cause = lines[picked].split(key)[-1].strip()
    following = lines[picked + 1] if picked + 1 < len(lines) else ""
    if not cause or cause.endswith(":") or following.startswith("RPC:"):
        cause = f"{cause} {following}".strip()  # "Deadline Exceeded" + which RPC timed out
    if "timed out" in cause:
        cause += " (a peer did not reach it within the collective timeout)"
    tasks = [t for t in dict.fromkeys(_TASK.findall(text)) if t not in cause]
    if tasks:
        cause += f" (peer {', '.join(tasks)})"
    return cause[:300]


def worker_lost_message(cause, backup_dir=None):
    """One line: what happened, what is kept, and how to go on."""
    latest = tf.train.latest_checkpoint(backup_dir) if backup_dir else None
    if latest or not backup_dir:
        then = (f"The last backup is kept{f' ({latest})' if latest else ''}; start all workers "
                "again with the same command to resume from it.")
    else:
        then = ("No backup was written yet; start all workers again with the same command to "
                "train from the start.")
    return (f"A peer worker of this multi-worker run died or is unreachable (killed, out of "
            f"memory, machine or network down), so training cannot go on: {cause}. {then}")


@contextlib.contextmanager
def worker_failure_guard(strategy=None, backup_dir=None):
    """Turns TF's errors for a dead or unreachable peer worker into a one-line `WorkerLost`.

    Does nothing unless the run has several workers. `strategy`: the run's strategy (default:
    TF_CONFIG tells); `backup_dir`: the backup folder, to name the backup a restart resumes
    from. Use it around the training loop:

        with worker_failure_guard(strategy, os.path.join(model_dir, "backup")):
            ...
    """
    try:
        yield
    except _PEER_ERRORS as e:
        cause = peer_failure_cause(e) if num_workers(strategy) > 1 else None
        if cause is None:
            raise
        raise WorkerLost(worker_lost_message(cause, backup_dir)) from e
