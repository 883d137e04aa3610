"""training/strategy.py's precision: `auto` takes bfloat16 on a CPU only where the CPU computes
in it natively, as /proc/cpuinfo says (an AVX2 CPU emulates it, several times slower)."""

import pathlib

import pytest

from keras_deepnets.models import tf_cpu
from keras_deepnets.training import strategy


def test_auto_precision_follows_the_cpus_bfloat16():
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo: auto is float32 on every CPU here")
    flags = set(cpuinfo.read_text().split())
    native = bool(flags & {"avx512_bf16", "amx_bf16"}) or (
        "bf16" in flags and "avx2" not in flags)  # Arm's feature word
    assert tf_cpu.native_bfloat16() == native
    assert strategy.resolve_precision("auto") == ("mixed_bfloat16" if native else "float32")
    assert strategy.resolve_precision("bfloat16") == "mixed_bfloat16"  # asked for: always


def test_unknown_precision_names_the_accepted_ones():
    with pytest.raises(strategy.ConfigError, match="auto, float32, float16, bfloat16"):
        strategy.resolve_precision("fp8")
