"""What the weights tests share: a real HTTP server on 127.0.0.1 (the standard library's, in a
thread) that serves files the tests write, counts requests and fails the way servers do; the
check against torchvision's logits."""

import collections
import http.server
import pathlib
import threading
import time

import numpy as np

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"


class WeightsServer:
    """`files[name] = bytes` serves /name; `faults[name]` = "cut" (announces the whole length,
    sends half, closes) or "slow" (sends 256 KiB every 20 ms); `requests[name]` counts GETs."""

    def __init__(self):
        self.files, self.faults = {}, {}
        self.requests = collections.Counter()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, name=""):
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests[name] += 1
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                server.send(self, name)

        return Handler

    def send(self, handler, name):
        data, fault = self.files[name], self.faults.get(name)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.close_connection = True
        if fault == "cut":
            handler.wfile.write(data[: len(data) // 2])
            return
        step = 256 * 1024
        for start in range(0, len(data), step):
            try:
                handler.wfile.write(data[start:start + step])
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away (killed): nothing more to send
            if fault == "slow":
                time.sleep(0.02)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def check_logits(model, fixture, images):
    """torchvision's logits within 1e-4 x max |logit| and the same top-5 (the fixtures'
    README's tolerance)."""
    out = np.asarray(model(images, training=False))
    ref = fixture["logits"]
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()
    np.testing.assert_array_equal(np.argsort(-out, 1)[:, :5], np.argsort(-ref, 1)[:, :5])
