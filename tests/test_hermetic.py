"""The suite's isolation (hermetic.py): what every test runs with, and the socket guard refusing
what lies beyond loopback, in-process, before any byte or DNS query leaves."""

import http.server
import os
import socket
import threading
import urllib.error
import urllib.request

import pytest

import hermetic


def test_the_machines_folders_and_proxies_are_not_seen():
    assert os.listdir(os.environ["KERAS_HOME"]) == []  # an empty Keras cache of the test's own
    assert os.environ["HF_HOME"] == str(hermetic.ROOT / "hf")
    assert not [n for n in os.environ if n.startswith("HF_") and n not in (
        "HF_HOME", "HF_HUB_DISABLE_TELEMETRY")]
    proxies = {n: v for n, v in os.environ.items() if n.lower().endswith("_proxy")}
    assert proxies == {"no_proxy": "*", "NO_PROXY": "*"}
    assert urllib.request.getproxies() == {"no": "*"}


@pytest.mark.parametrize("reach", [
    lambda: socket.create_connection(("192.0.2.1", 80), timeout=1),  # TEST-NET-1
    lambda: socket.socket(socket.AF_INET6).connect_ex(("2001:db8::1", 80, 0, 0)),
    lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("192.0.2.1", 53)),
    lambda: socket.getaddrinfo("example.com", 443),
    lambda: socket.gethostbyname("example.com"),
])
def test_the_guard_refuses_beyond_loopback(reach, hermetic_test):
    with pytest.raises(hermetic.NetworkForbidden, match="may only reach 127.0.0.1"):
        reach()
    assert len(hermetic_test.violations) == 1
    hermetic_test.violations.clear()  # else this test fails at teardown, as it should


def test_a_swallowed_refusal_is_still_recorded_and_loopback_works(hermetic_test):
    with pytest.raises(urllib.error.URLError) as info:  # urllib wraps the refusal
        urllib.request.urlopen("http://example.com/", timeout=1)
    assert isinstance(info.value.reason, hermetic.NetworkForbidden)
    assert hermetic_test.violations == ["getaddrinfo('example.com')"]
    hermetic_test.violations.clear()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(urllib.error.HTTPError):  # it answered (501: no GET handler)
            urllib.request.urlopen(f"http://localhost:{httpd.server_port}/", timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert hermetic_test.violations == []
