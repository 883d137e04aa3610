"""scripts/tune_depth.py ends a user's mistake with one `error:` line before any trial."""

import pytest
from tuning_helpers import tune_depth


@pytest.mark.parametrize("flags, message", [
    (["--depths=20,33"], "error: A CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110, 1202, ...); "
                         "got depth=33."),
    (["--fixed=depth=33"], "got depth=33."),
    (["--fixed=depth"], "error: --fixed needs NAME=VALUE; got 'depth'."),
    (["--cardinalities=1,32"], "error: --cardinalities is for --family=imagenet"),
])
def test_impossible_network_is_one_clear_error(flags, message, tmp_path):
    proc = tune_depth("--family=cifar", *flags, f"--directory={tmp_path}")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*/trial_*"))  # no trial was started
