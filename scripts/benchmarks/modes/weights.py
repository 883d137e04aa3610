"""Times weights by name for ResNet-50 on this machine: the first call and the cached ones.

The first call downloads from an HTTP server on 127.0.0.1, verifies, converts and caches; the
second and third read the cached converted file only.
The file is torchvision's ResNet-50 state_dict rebuilt from ../shared/torchvision (no network
here), registered as a team's weights; a real download adds the transfer time of ~98 MB.

    python scripts/benchmarks/benchmark.py weights \\
        --json=docs/results/one_cpu/weights_load_resnet50.json
"""

import functools
import hashlib
import http.server
import json
import os
import pathlib
import sys
import tempfile
import threading
import time

from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("shared", str(pathlib.Path(__file__).resolve().parents[4] / "shared"),
                    "The shared folder (its torchvision/ fixtures).")
flags.DEFINE_string("json", None, "Write the figures here.")


def _serve(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main(argv):
    del argv  # benchmark.py refuses arguments beside the flags
    sys.path.insert(0, os.path.join(FLAGS.shared, "torchvision"))
    from seeded_weights import load_fixture  # the shared folder's numpy-only rebuild
    from safetensors.numpy import save_file

    import keras_deepnets as kd
    work = tempfile.mkdtemp()
    os.environ["KERAS_DEEPNETS_HOME"] = os.path.join(work, "home")
    save_file(load_fixture("resnet50")[0], os.path.join(work, "resnet50.safetensors"))
    data = pathlib.Path(work, "resnet50.safetensors").read_bytes()
    httpd = _serve(work)
    kd.register_weights("bench", model="resnet50", sha256=hashlib.sha256(data).hexdigest(),
                        url=f"http://127.0.0.1:{httpd.server_port}/resnet50.safetensors",
                        model_kwargs={"stride_in_1x1": False})
    figures = {"file_mb": round(len(data) / 2**20, 1)}
    for key in ("first_call_s", "cached_call_s", "cached_again_s"):
        start = time.perf_counter()
        kd.ResNet50(weights="bench")
        figures[key] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    kd.ResNet50(weights=None, stride_in_1x1=False)
    figures["build_only_s"] = round(time.perf_counter() - start, 2)
    httpd.shutdown()
    print(json.dumps(figures))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"command": "python scripts/benchmarks/benchmark.py weights", **figures}, f,
                      indent=1)
