"""Weights by name end to end, against a real HTTP server on 127.0.0.1 (conftest.py): download,
verify, convert once, cache; the mirror and offline switches; and each fault a user meets (HTTP
404, 403 and 5xx, a refused connection, redirects and a redirect loop, a stall, no
Content-Length, a captive portal's page, a download cut off or killed half-way, a conversion
killed, bytes that do not match, a damaged cache, two processes at once). Only 127.0.0.1 is
contacted (tests/hermetic.py fails a test that reaches further), so the tests behave the same on a
machine with internet and without."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import keras_deepnets as kd
from keras_deepnets.weights import prefetch, store, table

from weights_helpers import check_logits

WORKER = pathlib.Path(__file__).with_name("load_worker.py")
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "download_weights.py"


@pytest.fixture
def team_row(server, resnet18_file, kd_home):
    """ResNet-18 weights served at /resnet18.safetensors, registered as "team"."""
    data, sha, _ = resnet18_file
    server.files["resnet18.safetensors"] = data
    row = kd.register_weights("team", model="resnet18", url=server.url("resnet18.safetensors"),
                              sha256=sha)
    yield row
    table.unregister_weights("resnet18", "team")


def _files(home, folder):
    path = home / folder
    return sorted(p.name for p in path.iterdir() if not p.name.endswith(".lock")) \
        if path.is_dir() else []


def test_download_convert_then_the_cache_serves_offline(team_row, server, resnet18_file,
                                                        images, kd_home, monkeypatch):
    _, _, fixture = resnet18_file
    model = kd.ResNet18(weights="team", classifier_activation=None)
    check_logits(model, fixture, images)
    assert model.preprocessing == "torch" and server.requests["resnet18.safetensors"] == 1
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]  # nothing partial left
    converted = _files(kd_home, "converted")
    assert len(converted) == 2 and converted[0].endswith(".json")
    # the second call neither downloads nor converts: the server sees no request, and the
    # cache serves it with the network switched off
    monkeypatch.setenv("KERAS_DEEPNETS_OFFLINE", "1")
    again = kd.get_model("resnet18", weights="team", classifier_activation=None)
    check_logits(again, fixture, images)
    assert server.requests["resnet18.safetensors"] == 1
    # headless: another converted file (other weights), from the downloaded file
    backbone = kd.ResNet18(weights="team", include_top=False, pooling="avg")
    assert backbone.output_shape == (None, 512) and len(_files(kd_home, "converted")) == 4


def test_the_mirror_serves_a_registered_file_and_checks_published_hashes(
        team_row, server, resnet18_file, images, kd_home, monkeypatch):
    data, sha, fixture = resnet18_file
    kd.register_weights("elsewhere", model="resnet18", url="http://weights.invalid/r18/"
                        "resnet18.safetensors", sha256=sha)
    try:
        monkeypatch.setenv("KERAS_DEEPNETS_MIRROR", server.url())
        check_logits(kd.ResNet18(weights="elsewhere", classifier_activation=None), fixture,
                     images)
    finally:
        table.unregister_weights("resnet18", "elsewhere")
    # torchvision's file name through the mirror, but other bytes: its SHA-256 prefix
    # (f37072fd) does not match, the file is deleted and the error shows both hashes
    server.files["resnet18-f37072fd.pth"] = data
    with pytest.raises(store.DownloadError) as info:
        kd.ResNet18(weights="IMAGENET1K_V1")
    assert "expected sha256 f37072fd, got " + sha in str(info.value)
    assert "resnet18-f37072fd.pth" not in _files(kd_home, "downloads")
    assert server.requests["resnet18-f37072fd.pth"] == 1


@pytest.mark.parametrize("url, message", [
    ("{server}missing.safetensors", "answered HTTP 404"),
    ("http://127.0.0.1:{closed}/r18.safetensors", "could not be reached"),
])
def test_unreachable_files_say_what_to_do(url, message, server, kd_home):
    with socket.socket() as s:  # a port nothing listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = url.format(server=server.url(), closed=closed)
    kd.register_weights("gone", model="resnet18", url=url, sha256="0" * 64)
    try:
        with pytest.raises(store.WeightsUnavailable) as info:
            kd.ResNet18(weights="gone")
    finally:
        table.unregister_weights("resnet18", "gone")
    text = str(info.value)
    assert message in text and url in text and "resnet18 weights 'gone'" in text
    assert "KERAS_DEEPNETS_MIRROR" in text and "KERAS_DEEPNETS_OFFLINE" in text
    assert len(text.splitlines()) == 1 and _files(kd_home, "downloads") == []


def test_offline_with_an_empty_cache_names_the_file_and_where_to_put_it(kd_home, monkeypatch,
                                                                       server):
    monkeypatch.setenv("KERAS_DEEPNETS_OFFLINE", "1")
    monkeypatch.setenv("KERAS_DEEPNETS_MIRROR", server.url())
    for build, name in [(lambda: kd.ResNet34(weights="imagenet"), "resnet34-b627a593.pth"),
                        (lambda: kd.ResNet50(weights="imagenet", include_top=False),
                         "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")]:
        with pytest.raises(store.WeightsUnavailable) as info:
            build()
        assert str(kd_home / "downloads" / name) in str(info.value)
    assert sum(server.requests.values()) == 0  # offline: not even the mirror


def test_a_download_cut_off_half_way_keeps_nothing_and_the_next_call_succeeds(
        team_row, server, resnet18_file, images, kd_home):
    server.faults["resnet18.safetensors"] = "cut"
    with pytest.raises(store.DownloadError, match=r"cut off after [\d,]+ of 46,8"):
        kd.ResNet18(weights="team")
    assert _files(kd_home, "downloads") == [] and _files(kd_home, "converted") == []
    del server.faults["resnet18.safetensors"]
    check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                 images)


def _one_line_and_nothing_kept(info, message, home):
    text = str(info.value)
    assert message in text and len(text.splitlines()) == 1, text
    assert _files(home, "downloads") == [] and _files(home, "converted") == []  # no .part


@pytest.mark.parametrize("status, message", [
    (403, "answered HTTP 403 (Forbidden)"),
    (500, "answered HTTP 500 (Internal Server Error)"),
    (503, "answered HTTP 503 (Service Unavailable)"),
])
def test_http_errors_name_the_status(status, message, team_row, server, kd_home):
    server.faults["resnet18.safetensors"] = status
    with pytest.raises(store.WeightsUnavailable) as info:
        kd.ResNet18(weights="team")
    _one_line_and_nothing_kept(info, message, kd_home)
    assert "KERAS_DEEPNETS_MIRROR" in str(info.value)  # and the way round it


def test_redirects_are_followed_to_the_right_bytes_and_a_loop_is_refused(
        team_row, server, resnet18_file, images, kd_home):
    server.files["cdn/blob"] = server.files.pop("resnet18.safetensors")
    server.redirects.update({"resnet18.safetensors": "hop", "hop": "cdn/blob"})
    check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                 images)
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]  # under the row's name
    assert server.requests["cdn/blob"] == 1
    server.redirects.update({"a.safetensors": "b.safetensors", "b.safetensors": "a.safetensors"})
    kd.register_weights("loop", model="resnet18", url=server.url("a.safetensors"),
                        sha256=resnet18_file[1])
    try:
        with pytest.raises(store.WeightsUnavailable) as info:
            kd.ResNet18(weights="loop")
    finally:
        table.unregister_weights("resnet18", "loop")
    assert "redirects in a loop" in str(info.value) and len(str(info.value).splitlines()) == 1
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]


def test_a_server_that_stalls_mid_file_times_out(team_row, server, kd_home, monkeypatch):
    monkeypatch.setenv("KERAS_DEEPNETS_TIMEOUT", "0.5")
    server.faults["resnet18.safetensors"] = "stall"
    with pytest.raises(store.DownloadError) as info:
        kd.ResNet18(weights="team")
    _one_line_and_nothing_kept(info, "the server stalled: nothing arrived for 0.5 s", kd_home)
    assert re.search(r"after [\d,]+ of 46,807,448 bytes \(KERAS_DEEPNETS_TIMEOUT sets",
                     str(info.value))
    monkeypatch.setenv("KERAS_DEEPNETS_TIMEOUT", "soon")
    with pytest.raises(ValueError, match=r"KERAS_DEEPNETS_TIMEOUT='soon': expected a positive"):
        kd.ResNet18(weights="team")
    assert server.requests["resnet18.safetensors"] == 1  # refused before any request


def test_a_response_without_content_length_is_read_to_its_end_and_checked(
        team_row, server, resnet18_file, images, kd_home):
    server.faults["resnet18.safetensors"] = "no-length cut"  # half, then the connection ends
    with pytest.raises(store.DownloadError) as info:
        kd.ResNet18(weights="team")
    _one_line_and_nothing_kept(info, "do not match the published hash", kd_home)
    server.faults["resnet18.safetensors"] = "no-length"
    check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                 images)
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]


@pytest.mark.parametrize("fault", ["html", "html-as-octets"])
def test_a_captive_portals_page_is_named_as_one(fault, team_row, server, kd_home):
    server.faults["resnet18.safetensors"] = fault  # 200 and a login page, for any URL
    with pytest.raises(store.DownloadError) as info:
        kd.ResNet18(weights="team")
    _one_line_and_nothing_kept(info, "the server answered with an HTML page, not the weights "
                               "file (a captive portal", kd_home)


@pytest.mark.parametrize("die_at, left", [
    ("converting", []),  # killed half-way through the conversion: nothing written yet
    ("saving", [".part.weights.h5"]),  # the converted file under its temporary name
    ("vouching", [".weights.h5"]),  # renamed into place, without the .json vouching for it
])
def test_a_conversion_killed_is_redone_cleanly(die_at, left, team_row, server, kd_home,
                                               resnet18_file, images):
    proc = _worker("team", team_row.url + team_row.file, team_row.file_hash, die_at)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    converted = _files(kd_home, "converted")
    assert [suffix for suffix in left if any(f.endswith(suffix) for f in converted)] == left
    assert not any(f.endswith(".json") for f in converted)  # nothing vouched for
    check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                 images)
    converted = _files(kd_home, "converted")
    assert len(converted) == 2 and not any(".part" in f for f in converted), converted
    h5 = kd_home / "converted" / converted[1]
    meta = json.loads((kd_home / "converted" / converted[0]).read_text())
    assert store.file_digest(str(h5)) == meta["sha256"]
    assert server.requests["resnet18.safetensors"] == 1  # the killed run's download is kept


def test_prefetch_fills_the_cache_a_machine_without_internet_uses(team_row, server, kd_home,
                                                                  monkeypatch):
    done = prefetch.prefetch(["resnet18"], ["team", "IMAGENET1K_V2"])  # V2: skipped, said why
    assert done == [("resnet18", "team", str(kd_home / "downloads" / "resnet18.safetensors"))]
    monkeypatch.setenv("KERAS_DEEPNETS_OFFLINE", "1")
    kd.ResNet18(weights="team", include_top=False)
    assert server.requests["resnet18.safetensors"] == 1


def test_the_download_script_says_what_failed(server, kd_home):
    env = {**os.environ, "KERAS_DEEPNETS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--models=resnet34"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error: torchvision's resnet34 weights 'IMAGENET1K_V1'" in done.stderr
    assert "KERAS_DEEPNETS_OFFLINE is set" in done.stderr


def _worker(tag, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(WORKER), tag, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_download_killed_half_way_keeps_nothing(team_row, server, kd_home, resnet18_file,
                                                  images):
    server.faults["resnet18.safetensors"] = "slow"  # ~2 s for the whole file
    proc = _worker("team", team_row.url + team_row.file, team_row.file_hash)
    downloads = kd_home / "downloads"
    deadline = time.time() + 120
    while not any(p.suffix == ".part" and p.stat().st_size > 0
                  for p in (downloads.iterdir() if downloads.is_dir() else [])):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert "resnet18.safetensors" not in _files(kd_home, "downloads")  # only the dead .part
    del server.faults["resnet18.safetensors"]
    check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                 images)
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]  # the .part was removed


def test_a_damaged_converted_file_is_rebuilt_not_loaded(team_row, server, resnet18_file,
                                                        images, kd_home):
    kd.ResNet18(weights="team")
    h5 = next((kd_home / "converted").glob("*.weights.h5"))
    for damage in ("truncate", "flip"):
        data = bytearray(h5.read_bytes())
        if damage == "truncate":
            data = data[: len(data) // 3]
        else:  # same size, one byte changed in the weights
            data[len(data) // 2] ^= 0xFF
        h5.write_bytes(bytes(data))
        check_logits(kd.ResNet18(weights="team", classifier_activation=None), resnet18_file[2],
                     images)
        meta = json.loads(h5.with_name(h5.name[: -len(".weights.h5")] + ".json").read_text())
        assert store.file_digest(str(h5)) == meta["sha256"]  # rebuilt from the download
    assert server.requests["resnet18.safetensors"] == 1


def test_two_processes_at_once_share_one_download(team_row, server, kd_home):
    server.faults["resnet18.safetensors"] = "slow"
    url = team_row.url + team_row.file
    procs = [_worker("team", url, team_row.file_hash) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1] and results[0]["preprocessing"] == "torch"
    assert server.requests["resnet18.safetensors"] == 1
    assert _files(kd_home, "downloads") == ["resnet18.safetensors"]
    assert len(_files(kd_home, "converted")) == 2


def test_a_tag_registered_by_one_process_is_loaded_by_another(team_row, resnet18_file,
                                                              kd_home):
    """The parent registers; a worker sharing the cache folder loads the tag without
    registering it, until the parent unregisters it."""
    rows = json.loads((kd_home / table.REGISTERED_FILE).read_text())["rows"]
    assert [(r["model"], r["tag"], r["file_hash"]) for r in rows] == [
        ("resnet18", "team", team_row.file_hash)]
    out, err = _worker("team").communicate(timeout=300)
    assert json.loads(out.strip().splitlines()[-1])["sum"] == pytest.approx(
        float(resnet18_file[2]["logits"].astype("float64").sum()), rel=1e-4, abs=1e-2), err
    assert kd.unregister_weights("team")
    proc = _worker("team")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "resnet18 has no weights tagged 'team'" in err
    assert json.loads((kd_home / table.REGISTERED_FILE).read_text()) == {"rows": []}


def _hub_cache(root, repo, files, commit="0123456789abcdef0123456789abcdef01234567"):
    """A Hugging Face cache holding `files` of `repo` as huggingface_hub lays it out."""
    folder = root / "hub" / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)


def test_timm_weights_from_the_hub_cache(resnet18_file, tmp_path, kd_home):
    """The real huggingface_hub, offline, on a pre-filled cache: timm's config.json decides the
    architecture and the preprocessing; the logits are torchvision's (timm's ResNets share its
    tensor names)."""
    data, _, fixture = resnet18_file
    config = {"architecture": "resnet18", "num_classes": 1000, "pretrained_cfg": {
        "input_size": [3, 224, 224], "crop_pct": 0.95, "interpolation": "bicubic",
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
    _hub_cache(tmp_path / "hf", "timm/resnet18.a1_in1k",
               {"config.json": json.dumps(config).encode(), "model.safetensors": data})
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(WORKER), "hf://timm/resnet18.a1_in1k"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["preprocessing"] == "torch"  # from config.json's mean/std, as its crop:
    assert result["evaluation"] == {"resize": 235, "crop": 224, "interpolation": "bicubic"}
    assert result["sum"] == pytest.approx(float(fixture["logits"].astype("float64").sum()),
                                          rel=1e-4, abs=1e-2)
    done = subprocess.run([sys.executable, str(WORKER), "hf://timm/resnet18.tv_in1k"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "is not in the Hugging Face cache" in done.stderr


def _closed_port():
    with socket.socket() as s:  # a port nothing listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_HUB_LOAD = """
import sys, keras_deepnets as kd
try:
    model = kd.ResNet18(weights=sys.argv[1])
except FileNotFoundError as error:
    print("ERROR", error)
else:
    print("LOADED", model.preprocessing)
"""


@pytest.mark.parametrize("tag, expected", [
    ("hf://timm/resnet18.a1_in1k", "LOADED torch"),  # in the cache: used without the Hub
    ("hf://timm/resnet18.a1_in1k@" + "0123456789abcdef" * 2 + "01234567", "LOADED torch"),
    ("hf://timm/resnet18.a1_in1k@" + "f" * 40, "ERROR weights='hf://timm/resnet18.a1_in1k@fff"),
    ("hf://timm/resnet18.tv_in1k", "ERROR weights='hf://timm/resnet18.tv_in1k': config.json "
     "of timm/resnet18.tv_in1k is not in the Hugging Face cache and the Hub cannot be reached"),
])
def test_a_hub_that_cannot_be_reached_is_said_at_once(tag, expected, resnet18_file, tmp_path,
                                                      kd_home):
    """No network and no HF_HUB_OFFLINE (the Hub's address a closed port on 127.0.0.1): a
    pinned or unpinned tag in the Hugging Face cache loads from it, one that is not is a
    one-line error, without huggingface_hub's five retries and their lines."""
    config = {"architecture": "resnet18", "num_classes": 1000, "pretrained_cfg": {}}
    _hub_cache(tmp_path / "hf", "timm/resnet18.a1_in1k",
               {"config.json": json.dumps(config).encode(), "model.safetensors": resnet18_file[0]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in
           k.lower()}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _HUB_LOAD, tag], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith(expected)
    assert len(done.stdout.strip().splitlines()) == 1
    assert "Retry" not in done.stderr and "thrown while requesting" not in done.stderr
