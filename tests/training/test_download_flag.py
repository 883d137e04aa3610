"""--data=<TFDS name> downloads a missing dataset (as tfds.load) unless --nodownload; offline the
script ends in seconds with one line. The successful download cannot be tested here (no
internet); the offline test runs the same on a machine with internet: the script's every
request goes to a proxy at a closed local port, as through a firewall that lets nothing out."""

import socket
import time

import pytest
from training_helpers import ENV, run_script

from keras_deepnets import training
from keras_deepnets.data import tfds_prepare
from keras_deepnets.training.strategy import ConfigError


def test_offline_tfds_name_ends_the_script_with_one_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = {name: value for name, value in ENV.items() if name.lower() != "no_proxy"}
        env.update(dict.fromkeys(("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"),
                                 proxy))
        start = time.monotonic()
        proc = run_script("train_cifar.py", "--data=cifar10", f"--data_dir={tmp_path}/tfds",
                          f"--model_dir={tmp_path}/m", "--export_dir=", timeout=120, env=env)
    assert time.monotonic() - start < 60  # TFDS alone retries for minutes
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Cannot read --data='cifar10' (split 'train'): TFDS dataset "
                           f"'cifar10' is not prepared in {tmp_path}/tfds and cannot be "
                           "downloaded from this machine"), last
    assert "tfds build cifar10" in last and "--data=<folder" in last
    assert "Variant folder" not in proc.stderr  # TFDS's misleading warning is hidden
    assert not (tmp_path / "tfds" / "downloads").exists()


def test_download_false_reaches_the_data_layer(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_prepare, "download_and_prepare",
                        lambda builder: pytest.fail("download=False must not download"))
    with pytest.raises(ConfigError, match="downloads are off"):
        training.evaluate(model="resnet20", data="cifar10", data_dir=str(tmp_path),
                          download=False)
