"""The suite's isolation from the machine it runs on (conftest.py applies it to every test).

The tests must pass the same on a bare machine and on one with internet, proxies, a used Keras
cache and Hugging Face settings:

- Keras's folder (`KERAS_HOME`, where keras.applications caches its files and our cache lives by
  default) is an empty temporary folder: once for the session, before Keras is imported (Keras
  reads `keras.json` at import; the backend that file names is kept in `KERAS_BACKEND`), and
  again per test (conftest.py), so nothing one test downloads serves another.
- Every `HF_*` / `HUGGINGFACE_*` variable is removed (an inherited `HF_HUB_CACHE` would override
  the `HF_HOME` a test sets) and `HF_HOME` is a temporary folder; huggingface_hub reads these
  once, at import, so this is done before the test modules import it.
- Every `*_proxy` variable (urllib reads all of them, in either case) is removed and
  `no_proxy=*` set, so no proxy routes even 127.0.0.1, and urllib does not fall back to the
  system's proxy settings (macOS, Windows), which it reads only when no proxy variable is set.
- `KERAS_DEEPNETS_HOME`, `_MIRROR` and `_OFFLINE` are removed.

Subprocesses started with `os.environ` inherit all of this.

`LoopbackOnly`, the socket guard, refuses (and records, so the test fails even where a library
swallows the error) every Python-level attempt to reach beyond 127.0.0.0/8 and ::1:
`socket.socket.connect`, `connect_ex` and `sendto` (so `socket.create_connection`, urllib,
http.client, requests/urllib3, httpx and asyncio, and TLS sockets, which connect through them),
and name lookups through `socket.getaddrinfo`, `gethostbyname` and `gethostbyname_ex` of any
name but "localhost" (so no DNS query). It cannot see: subprocesses (they inherit the
environment above, not the patches), sockets opened by C/C++ code (TensorFlow's gRPC, libcurl),
a function bound before the patch (`from socket import getaddrinfo` at a module's import), and
reverse lookups (`gethostbyaddr`, which `http.server` uses on its own address).
"""

import atexit
import ipaddress
import json
import os
import pathlib
import shutil
import socket
import tempfile

KERAS_DEEPNETS_VARIABLES = ("KERAS_DEEPNETS_HOME", "KERAS_DEEPNETS_MIRROR",
                            "KERAS_DEEPNETS_OFFLINE")
ROOT = None  # the session's temporary folder (isolate_environment)


def _from_the_machine(name):
    return (name.lower().endswith("_proxy") or name in KERAS_DEEPNETS_VARIABLES
            or name.startswith(("HF_", "HUGGINGFACE_", "HUGGING_FACE_")))


def _fixed():
    return {"HF_HOME": str(ROOT / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1", "no_proxy": "*",
            "NO_PROXY": "*"}


def clear_machine_variables(delete, set_):
    """Removes the machine's proxy, HF_* and KERAS_DEEPNETS_* variables through `delete(name)`
    and sets the session's own through `set_(name, value)` (monkeypatch's, per test)."""
    for name in [n for n in os.environ if _from_the_machine(n)]:
        delete(name)
    for name, value in _fixed().items():
        set_(name, value)


def _keras_json_backend():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def isolate_environment():
    """The session's isolation (see the module doc); call before Keras is imported."""
    global ROOT
    ROOT = pathlib.Path(tempfile.mkdtemp(prefix="keras_deepnets-tests-"))
    atexit.register(shutil.rmtree, ROOT, ignore_errors=True)
    backend = _keras_json_backend()
    if backend and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = backend
    os.environ["KERAS_HOME"] = str(ROOT / "keras")
    clear_machine_variables(os.environ.pop, os.environ.__setitem__)


class NetworkForbidden(OSError):
    """A test tried to reach beyond loopback (an OSError, so that code under test reacts as to
    a machine without network; the guard fails the test anyway)."""


def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class LoopbackOnly:
    """The socket guard: `install(monkeypatch.setattr)`; `violations` lists what was refused."""

    def __init__(self):
        self.violations = []

    def _refuse(self, what):
        self.violations.append(what)
        raise NetworkForbidden(f"the tests may only reach 127.0.0.1/::1: refused {what}")

    def _check_address(self, sock, address, what):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            self._refuse(f"{what} to {address[:2]!r}")

    def install(self, setattr_):
        guard, real = self, {name: getattr(socket.socket, name)
                             for name in ("connect", "connect_ex", "sendto")}

        def connect(sock, address):
            guard._check_address(sock, address, "connect")
            return real["connect"](sock, address)

        def connect_ex(sock, address):
            guard._check_address(sock, address, "connect_ex")
            return real["connect_ex"](sock, address)

        def sendto(sock, data, *args):
            guard._check_address(sock, args[-1], "sendto")
            return real["sendto"](sock, data, *args)

        for name, patched in (("connect", connect), ("connect_ex", connect_ex),
                              ("sendto", sendto)):
            setattr_(socket.socket, name, patched)
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            setattr_(socket, name, self._lookup(name, getattr(socket, name)))

    def _lookup(self, name, real):
        def lookup(host, *args, **kwargs):
            if host not in (None, "", b"") and not _loopback(host):
                self._refuse(f"{name}({host!r})")
            return real(host, *args, **kwargs)
        return lookup
