"""Where weights files live on disk and how they get there: download, verify, cache.

The folder (`home()`): `downloads/<file>` holds the publishers' files as published (a mirror
serves a copy of this folder), `converted/<model>-<tag>-<key>.weights.h5` our models' weights,
converted once, each with a `.json` beside it that holds the file's SHA-256.

Environment:
- `KERAS_DEEPNETS_HOME`: the folder (default `$KERAS_HOME/keras_deepnets`, i.e.
  `~/.keras/keras_deepnets`).
- `KERAS_DEEPNETS_MIRROR=<base URL>`: fetch every file as `<base URL>/<file name>` instead of
  from its publisher (an internal server holding a copy of `downloads/`).
- `KERAS_DEEPNETS_OFFLINE=1`: never touch the network; a file not in the folder is an error
  that says which file to put where.
- `KERAS_DEEPNETS_TIMEOUT=<seconds>` (default 60): how long a connection or a download may wait
  for the server's next bytes before it fails (a stalled server fails instead of hanging).

What a user sees when a download goes wrong is one line, and nothing of the file is kept: an HTTP
error (404, 403, 5xx) or an unreachable server names the URL and the ways round it (the mirror,
the offline switch); a redirect loop says so; a stall names the timeout; a cut-off download the
bytes received; an HTML page served in place of the file (a captive portal or a proxy's login
page) says it is one; any other bytes show both hashes. Redirects are followed and the file
is checked against its hash wherever it came from; a response without Content-Length is read
to its end and then checked the same way.

Nothing half-written is ever used: a download streams into a `.part` file beside its target,
hashed as it goes, and is renamed into place only when the whole file arrived and its hash
matches; a converted file is saved under a temporary name, renamed, and then its `.json` is
written, so a file without its `.json` (or whose bytes no longer match it) is rebuilt. One lock
file per target (the `filelock` package: the same lock on Linux, macOS and Windows) lets two
processes on one host (the workers of a MultiWorkerMirroredStrategy job) share one download.

`keras.utils.get_file` is not used: it writes straight into its cache and keeps a file whose
hash does not match (it only warns), the two faults this module exists to rule out.
"""

import hashlib
import http.client
import importlib.util
import json
import math
import os
import re
import socket
import sys
import urllib.error
import urllib.request

import filelock
import tqdm

from keras_deepnets.startup import keras_home  # Keras's folder

ENV_HOME = "KERAS_DEEPNETS_HOME"
ENV_MIRROR = "KERAS_DEEPNETS_MIRROR"
ENV_OFFLINE = "KERAS_DEEPNETS_OFFLINE"
ENV_TIMEOUT = "KERAS_DEEPNETS_TIMEOUT"
TIMEOUT_SECONDS = 60  # per socket operation, unless KERAS_DEEPNETS_TIMEOUT says otherwise
_CHUNK = 1 << 20
_H5 = ".weights.h5"


class WeightsUnavailable(FileNotFoundError):
    """The file is not in the cache and cannot be fetched (offline, 404, no connection)."""


class DownloadError(OSError):
    """A download that was cut off, or whose bytes do not match the published hash (nothing of
    it was kept)."""


def home():
    """The cache folder: $KERAS_DEEPNETS_HOME, else $KERAS_HOME/keras_deepnets."""
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(keras_home(), "keras_deepnets")


def keras_cache_dir():
    """Where keras.utils.get_file keeps downloaded files (`$KERAS_HOME/models`)."""
    return os.path.join(keras_home(), "models")


def offline():
    """Whether KERAS_DEEPNETS_OFFLINE forbids the network."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def timeout():
    """Seconds a socket operation of a download may wait: $KERAS_DEEPNETS_TIMEOUT, else 60."""
    text = os.environ.get(ENV_TIMEOUT, "").strip()
    if not text:
        return TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < math.inf:
        raise ValueError(f"{ENV_TIMEOUT}={text!r}: expected a positive number of seconds.")
    return seconds


def url_of(row, include_top=True):
    """Where the file of `row` is fetched from: the mirror when one is set."""
    mirror = os.environ.get(ENV_MIRROR)
    base = mirror.rstrip("/") + "/" if mirror else row.url
    return base + row.file_name(include_top)


def download_path(row, include_top=True):
    return os.path.join(home(), "downloads", row.file_name(include_top))


def lock(path):
    """The inter-process lock of one target file (held with `with`)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return filelock.FileLock(path + ".lock")


def file_digest(path, algorithm="sha256"):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _algorithm(expected):
    """keras' rule: 32 hex digits are an MD5; anything else a SHA-256 (or its first digits)."""
    return "md5" if len(expected) == 32 else "sha256"


def _matches(digest, expected):
    return digest == expected if len(expected) in (32, 64) else digest.startswith(expected)


def _hint(row, include_top, target):
    url = url_of(row, include_top)
    return (f" To get it another way: fetch {url} on a machine that can (or run "
            f"scripts/download_weights.py --models={row.model} --tags={row.tag} there) and put "
            f"it at {target}; or set {ENV_MIRROR}=<base URL> to fetch "
            f"{row.file_name(include_top)} from a mirror. {ENV_OFFLINE}=1 never touches the "
            "network.")


def fetch(row, include_top=True, verbose=True, elsewhere=()):
    """The local path of `row`'s file (with or without the classifier), downloaded and verified
    first if the cache does not hold it. `elsewhere`: other folders that may hold the same file
    (keras.applications' own cache), used in place when its hash matches."""
    target = download_path(row, include_top)
    expected = row.hash_for(include_top)
    timeout()  # a bad KERAS_DEEPNETS_TIMEOUT is an error before any work
    for folder in elsewhere:
        path = os.path.join(folder, row.file_name(include_top))
        if expected and os.path.isfile(path) and _matches(
                file_digest(path, _algorithm(expected)), expected):
            return path
    with lock(target):
        if os.path.isfile(target):
            if not expected or _matches(file_digest(target, _algorithm(expected)), expected):
                return target
            os.remove(target)  # a file that does not match its hash is never used
        _remove_parts(target)  # left by a killed process: we hold the lock, none is live
        if offline():
            raise WeightsUnavailable(
                f"{row.describe()}: {ENV_OFFLINE} is set and {target} is not in the cache."
                + _hint(row, include_top, target))
        _download(row, include_top, target, expected, verbose)
    return target


def _remove_parts(target):
    folder, name = os.path.split(target)
    for entry in os.listdir(folder):
        if entry.startswith(name + ".") and entry.endswith(".part"):
            os.remove(os.path.join(folder, entry))


def _download(row, include_top, target, expected, verbose):
    url, part = url_of(row, include_top), f"{target}.{os.getpid()}.part"
    received = {"bytes": 0, "length": 0, "type": ""}
    try:
        digest = _stream(url, part, expected, received, verbose)
        if expected and not _matches(digest, expected):
            raise DownloadError(_mismatch(url, part, received["type"], expected, digest))
        os.replace(part, target)
    except urllib.error.HTTPError as error:
        # urllib follows up to 10 redirects, then raises the last one's code with this text
        said = ("redirects in a loop (or more than 10 times)" if "infinite loop" in
                str(error.reason) else f"answered HTTP {error.code} ({_first_line(error.reason)})")
        raise WeightsUnavailable(f"{row.describe()}: {url} {said}."
                                 + _hint(row, include_top, target)) from None
    except urllib.error.URLError as error:
        raise WeightsUnavailable(f"{row.describe()}: {url} could not be reached "
                                 f"({_first_line(error.reason)})."
                                 + _hint(row, include_top, target)) from None
    except socket.timeout:
        of = f" of {received['length']:,}" if received["length"] else ""
        raise DownloadError(
            f"{url}: the server stalled: nothing arrived for {timeout():g} s after "
            f"{received['bytes']:,}{of} bytes ({ENV_TIMEOUT} sets the wait). Nothing was kept; "
            "call again to download it anew.") from None
    except (http.client.HTTPException, ConnectionError) as error:
        raise DownloadError(
            f"{url}: the download was cut off after {received['bytes']:,} of "
            f"{received['length']:,} bytes ({type(error).__name__}). Nothing was kept; call "
            "again to download it anew.") from None
    finally:
        if os.path.exists(part):
            os.remove(part)


def _first_line(reason):
    return str(reason).strip().splitlines()[0] if str(reason).strip() else "no reason given"


def _mismatch(url, part, content_type, expected, digest):
    """The error of a download whose bytes are not the published file's: an HTML page (what a
    captive portal or a proxy's login page serves with 200) is named as one."""
    with open(part, "rb") as f:
        head = f.read(512).lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        return (f"{url}: the server answered with an HTML page, not the weights file (a captive "
                "portal or a proxy's login page?). Nothing was kept; open the network's login "
                "page, or fetch the file where the network is open.")
    return (f"{url}: the downloaded bytes do not match the published hash: expected "
            f"{_algorithm(expected)} {expected}, got {digest}. The file was deleted; if the "
            "server holds another file under this name, fix the server or the table row.")


def progress_bar():
    """tqdm's class for the download bar: Jupyter's widget in a notebook kernel that can draw
    it (ipywidgets installed, as on Colab), else the text bar, which terminals and Jupyter both
    show. Not `tqdm.auto`: imported without ipywidgets it warns "IProgress not found" into the
    notebook (at `import keras_deepnets`, when imported at the top of this module)."""
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as bar
    else:
        bar = tqdm.tqdm
    return bar


def _stream(url, part, expected, received, verbose):
    """Copies `url` into `part`, hashing as it goes; returns the hex digest."""
    digest = hashlib.new(_algorithm(expected) if expected else "sha256")
    with urllib.request.urlopen(url, timeout=timeout()) as response, \
            open(part, "wb") as out:
        received["length"] = int(response.headers.get("Content-Length") or 0)
        received["type"] = response.headers.get("Content-Type") or ""
        with progress_bar()(total=received["length"] or None, unit="B", unit_scale=True,
                       unit_divisor=1024, desc=f"Downloading {url}", disable=not verbose,
                       file=sys.stderr) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                received["bytes"] += len(chunk)
                bar.update(len(chunk))
    if received["length"] and received["bytes"] != received["length"]:
        raise http.client.IncompleteRead(b"", received["length"] - received["bytes"])
    return digest.hexdigest()


def signature(model):
    """What a weights file must fit: every weight's path and shape, hashed."""
    spec = [(w.path, list(w.shape)) for w in model.weights]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:10]


def converted_path(row, model):
    """Where `row`'s weights, converted for `model` (its include_top, aux heads, ...), are kept."""
    include_top = model.get_config().get("include_top", True)
    source = [row.publisher, row.tag, row.url, row.file_name(include_top),
              row.hash_for(include_top), signature(model)]
    if row.revision:  # a Hub file: another commit is other weights
        source.append(row.revision)
    key = hashlib.sha256(json.dumps(source).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", row.tag).strip("_")
    return os.path.join(home(), "converted", f"{row.model}-{slug}-{key}{_H5}")


def _meta_path(path):
    return path[: -len(_H5)] + ".json"


def _discard(path):
    for p in (path, _meta_path(path)):
        if os.path.exists(p):
            os.remove(p)


def load_converted(model, path):
    """Loads a converted file into `model`; False (and the file removed) when it is missing,
    has no `.json`, no longer matches its SHA-256 or does not load."""
    meta = _meta_path(path)
    if not (os.path.isfile(path) and os.path.isfile(meta)):
        _discard(path)
        return False
    try:
        with open(meta, encoding="utf-8") as f:
            expected = json.load(f)["sha256"]
        if file_digest(path) != expected:
            raise ValueError("its bytes no longer match its SHA-256")
        model.load_weights(path)
    except Exception as error:  # corrupt JSON, a changed or truncated file: rebuild it
        print(f"keras_deepnets: the cached {path} is damaged ({error}); removed, rebuilding.",
              file=sys.stderr)
        _discard(path)
        return False
    return True


def save_converted(model, path, row):
    """Saves `model`'s weights at `path` atomically, then the `.json` that vouches for them
    (under the path's lock: the temporary files of a killed process are removed first)."""
    folder, stem = os.path.split(path[: -len(_H5)])
    for entry in os.listdir(folder):
        if entry.startswith(stem + ".") and ".part" in entry:
            os.remove(os.path.join(folder, entry))
    part = path[: -len(_H5)] + f".{os.getpid()}.part{_H5}"
    try:
        model.save_weights(part)
        digest = file_digest(part)
        os.replace(part, path)
    finally:
        if os.path.exists(part):
            os.remove(part)
    meta = {"sha256": digest, "model": row.model, "tag": row.tag, "publisher": row.publisher,
            "source": row.url + row.file}
    write_json(_meta_path(path), meta)


def write_json(path, data):
    """Writes `data` as JSON at `path` atomically: into a temporary file, renamed into place,
    so a reader (another process) sees the old file or the new one, never half of it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.part"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
