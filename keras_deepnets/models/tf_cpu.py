"""What this TensorFlow's CPU kernels can do, and this CPU, asked once per process.

Why: TensorFlow's x86 wheels run oneDNN's kernels by default only on CPUs with AVX-512 (or
AMX/AVX-VNNI); elsewhere (an AVX2-only CPU, or TF_ENABLE_ONEDNN_OPTS=0) its CPU kernels
have no NCHW Conv2D ("The Conv2D op currently only supports the NHWC tensor format on the
CPU") and no gradient for grouped convolutions ("Gradients for grouped convolutions are not
supported on CPU"). The layers ask here and take another path where a kernel is missing or
slow, so that a model runs and trains on any CPU. With a GPU visible, convolutions run there.
"""

import functools
import platform

import keras


def _cpu_only():
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def _grouped_gradients_run(dtype):
    """Whether TensorFlow's grouped-convolution gradient kernels run on the CPU in `dtype`: a
    3x3 kernel in 2 groups (4 -> 4 channels; a 1x1 grouped kernel passes where this fails), run
    eagerly even while a graph is being traced. The kernels are called by name: init_scope
    pauses every gradient tape."""
    import tensorflow as tf

    with tf.init_scope(), tf.device("CPU:0"):
        x, kernel = tf.ones((1, 4, 4, 4), dtype), tf.ones((3, 3, 2, 4), dtype)
        try:
            y = tf.nn.convolution(x, kernel, padding="SAME")
            tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel,
                                           out_backprop=y, strides=[1, 1, 1, 1], padding="SAME")
            tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(kernel),
                                            out_backprop=y, strides=[1, 1, 1, 1],
                                            padding="SAME")
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                tf.errors.NotFoundError):
            return False
    return True


@functools.cache
def native_grouped_gradients(dtype="float32"):
    """Whether TensorFlow's own grouped convolution has gradients here in `dtype` (oneDNN on the
    CPU; its bfloat16 kernels need AVX-512, elsewhere TensorFlow falls back to Eigen's)."""
    return keras.backend.backend() == "tensorflow" and _grouped_gradients_run(dtype)


@functools.cache
def needs_channels_last():
    """Whether a channels_first convolution runs as channels_last (transposed around it): on
    the TensorFlow backend with no GPU. Without oneDNN, TensorFlow's CPU kernels have no NCHW
    convolution at all; with it, on an AVX2 CPU, oneDNN's NCHW kernels for some shapes are its
    reference ones: a channels_first VGG-11 at 123x123 took 35 s per image, 0.11 s transposed.
    The transposes cost little beside a convolution on any CPU."""
    return keras.backend.backend() == "tensorflow" and _cpu_only()


@functools.cache
def cpu_flags():
    """The CPU's feature words from Linux's /proc/cpuinfo (x86 `flags`, Arm `Features`); empty
    where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(f.read().split())
    except OSError:
        return frozenset()


def native_bfloat16():
    """Whether this CPU computes in bfloat16 natively (AVX512_BF16 or AMX on x86, BF16 on Arm;
    False where /proc/cpuinfo cannot be read). Elsewhere bfloat16 is emulated: measured on an
    AVX2 EPYC, a ResNet-20 training step ran 32 img/s in bfloat16 against 226 in float32."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "bf16" in cpu_flags()
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
