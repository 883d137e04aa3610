"""A missing TFDS dataset is downloaded as `tfds.load` would, unless download=False; offline, one
line in seconds says where TFDS looked and how to place the files.

The successful download cannot be tested here (no internet); these tests never download. The
real offline test runs the same on a machine with internet: it sends every request through a
proxy at a closed local port (HTTP(S)_PROXY, which the probe and TFDS's requests both honour),
as a firewall that lets nothing out would.
"""

import socket
import time

import pytest
import requests
import tensorflow_datasets as tfds

from keras_deepnets import data
from keras_deepnets.data import tfds_prepare

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"


@pytest.fixture
def no_download(monkeypatch):
    """Fails the test if TFDS's download_and_prepare is ever called."""
    def refuse(*args, **kwargs):
        raise AssertionError("download_and_prepare must not be called")
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse)


def one_line(err):
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_download_false_names_the_dataset_the_folder_and_the_fix(tmp_path, no_download):
    with pytest.raises(FileNotFoundError) as err:
        data.describe("cifar10", "train", data_dir=str(tmp_path), download=False)
    message = one_line(err)
    assert f"'cifar10' is not prepared in {tmp_path}" in message
    assert f"tfds build cifar10 --data_dir {tmp_path}" in message and "--download" in message
    assert not any(tmp_path.iterdir())  # nothing started


def test_unreachable_hosts_fail_before_any_download(tmp_path, monkeypatch, no_download):
    probed = []
    monkeypatch.setattr(tfds_prepare, "reachable", lambda url: probed.append(url) and False)
    with pytest.raises(FileNotFoundError) as err:
        data.load("cifar10", "test", data_dir=str(tmp_path))
    message = one_line(err)
    assert probed == [CIFAR_URL, tfds_prepare.GCS_MIRROR]
    assert "no answer from www.cs.toronto.edu, storage.googleapis.com within 2 s" in message
    assert f"not prepared in {tmp_path}" in message and "tfds build cifar10" in message
    assert f"{tmp_path}/cifar10" in message and "--data=<folder" in message


def test_a_network_error_during_the_download_gives_the_same_line(tmp_path, monkeypatch):
    def drop(self, *args, **kwargs):
        raise requests.ConnectionError("Connection reset by peer\nmore detail")
    monkeypatch.setattr(tfds_prepare, "reachable", lambda url: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", drop)
    with pytest.raises(FileNotFoundError) as err:
        data.describe("cifar10", "train", data_dir=str(tmp_path))
    assert "the download failed: ConnectionError: Connection reset by peer" in one_line(err)


def test_the_probe_is_bounded_and_sees_a_listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert tfds_prepare.reachable(f"http://127.0.0.1:{server.getsockname()[1]}/x")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        assert not tfds_prepare.reachable(f"http://127.0.0.1:{closed.getsockname()[1]}/x")
    with socket.socket() as full, socket.socket() as first:
        full.bind(("127.0.0.1", 0))
        full.listen(0)  # one pending connection fills its queue: the next one hangs, unanswered
        first.connect(full.getsockname())
        start = time.monotonic()
        assert not tfds_prepare.reachable(f"http://127.0.0.1:{full.getsockname()[1]}/x",
                                          timeout=1.0)
    assert time.monotonic() - start < 1.5


def test_offline_for_real_fails_in_seconds(tmp_path, monkeypatch):
    """The real code path with no way out: a proxy nobody listens on, online or not."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        assert not any(tfds_prepare.reachable(u) for u in (CIFAR_URL, tfds_prepare.GCS_MIRROR))
        start = time.monotonic()
        with pytest.raises(FileNotFoundError) as err:
            data.describe("cifar10", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    assert "cannot be downloaded from this machine" in one_line(err)
    assert not (tmp_path / "downloads").exists()
