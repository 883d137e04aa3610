"""Preparing a missing TFDS dataset the way `tfds.load` does (download_and_prepare), but failing in
seconds, with one line that says what to do, on a machine that cannot reach the internet.

Why the reachability probe: offline, TFDS's downloader retries each URL ten times with back-off
(204 s for CIFAR-10 on a machine whose DNS fails at once) before it raises. A 2-second TCP
connect to the dataset's hosts (and to TFDS's GCS mirror, tried first) tells the same much
sooner. The probe goes through the HTTP(S) proxy of the environment when there is one, as the
download itself would.
"""

import socket
import threading
import urllib.parse

PROBE_SECONDS = 2.0
# TFDS tries its mirror of prepared datasets first (DownloadConfig.try_download_gcs).
GCS_MIRROR = "https://storage.googleapis.com/tfds-data"


def reachable(url, timeout=PROBE_SECONDS):
    """True when a TCP connection to `url`'s host (or the environment's proxy for it) opens
    within `timeout` seconds, name lookup included (it runs in a thread: a hanging DNS lookup
    cannot be given a timeout otherwise)."""
    import requests

    target = urllib.parse.urlsplit(
        requests.utils.get_environ_proxies(url).get(urllib.parse.urlsplit(url).scheme) or url)
    port = target.port or (443 if target.scheme == "https" else 80)
    opened = []

    def connect():
        try:
            socket.create_connection((target.hostname, port), timeout=timeout).close()
            opened.append(True)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened)


def _hosts(builder):
    """The dataset's download URLs, one per host (from its registered checksums), plus the
    GCS mirror."""
    urls = list((getattr(builder, "url_infos", None) or {}).keys())
    by_host = {urllib.parse.urlsplit(u).netloc: u for u in urls + [GCS_MIRROR]}
    return list(by_host.values())


def _root(builder):
    """The data_dir TFDS looked in (the folder that holds <name>/<version>/)."""
    return str(getattr(builder, "_data_dir_root", None) or builder.data_dir)


def _offline(builder, reason):
    name, root = builder.name, _root(builder)
    return FileNotFoundError(
        f"TFDS dataset {name!r} is not prepared in {root} and cannot be downloaded from this "
        f"machine ({reason}). On a connected machine run `tfds build {name}` (or tfds.load) and "
        f"copy its ~/tensorflow_datasets/{name} folder to {root}/{name}, or train from a folder "
        "of images instead (--data=<folder with train/<class>/*.jpg and test/<class>/*.jpg>).")


def not_prepared(builder):
    """The error for a dataset that is not prepared and is not to be downloaded: ImageNet's
    manual download (TFDS cannot download it: its licence), or downloads turned off."""
    name, root = builder.name, _root(builder)
    manual = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if manual:
        return FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {root}. It needs a manual download: "
            + " ".join(manual.split()) + f" Put the files in {root}/downloads/manual/ and run "
            f"`tfds build {name} --data_dir {root}`.")
    return FileNotFoundError(
        f"TFDS dataset {name!r} is not prepared in {root} and downloads are off "
        f"(--nodownload / download=False). Prepare it with `tfds build {name} --data_dir {root}` "
        f"(on a connected machine, then copy {root}/{name} here), or allow the download "
        "(--download / download=True).")


def download_and_prepare(builder):
    """`builder.download_and_prepare()` when one of its hosts answers; otherwise, or when the
    download fails on the network, one FileNotFoundError line (see `_offline`)."""
    urls = _hosts(builder)
    if not any(reachable(u) for u in urls):
        hosts = ", ".join(urllib.parse.urlsplit(u).hostname for u in urls)
        raise _offline(builder, f"no answer from {hosts} within {PROBE_SECONDS:g} s")
    try:
        builder.download_and_prepare()
    except OSError as e:  # requests' ConnectionError and friends, socket errors
        detail = str(e).splitlines()[0] if str(e) else ""
        raise _offline(builder, f"the download failed: {type(e).__name__}: {detail}") from None
