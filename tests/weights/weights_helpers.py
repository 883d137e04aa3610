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
# What a captive portal (a hotel's or an airport's network before login) serves for any URL.
PORTAL_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body><form>"
               b"Accept the terms to use this network</form></body></html>\n")


class WeightsServer:
    """`files[name] = bytes` serves /name; `redirects[name] = other` answers /name with a 302 to
    /other; `faults[name]` makes /name fail as servers do: an HTTP status (403, 500, 503), or a
    string naming one or more of "cut" (sends half the file, then closes), "slow" (256 KiB
    every 20 ms), "stall" (sends half, then nothing until the server closes), "no-length" (no
    Content-Length header; the end of the file is the end of the connection), "html" (a captive
    portal's login page with 200, as text/html) and "html-as-octets" (the same page, sent as
    application/octet-stream). `requests[name]` counts GETs."""

    def __init__(self):
        self.files, self.faults, self.redirects = {}, {}, {}
        self.requests = collections.Counter()
        self.closing = threading.Event()
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
                fault = server.faults.get(name, "")
                if name in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.url(server.redirects[name]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif isinstance(fault, int):
                    self.send_error(fault)
                elif "html" in fault:
                    server.send_page(self, fault)
                elif name not in server.files:
                    self.send_error(404, "Not Found")
                else:
                    server.send(self, name)

        return Handler

    def send_page(self, handler, fault):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream"
                            if fault == "html-as-octets" else "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(PORTAL_PAGE)))
        handler.end_headers()
        handler.wfile.write(PORTAL_PAGE)

    def send(self, handler, name):
        data, fault = self.files[name], self.faults.get(name, "")
        handler.send_response(200)
        if "no-length" not in fault:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.close_connection = True
        if "cut" in fault or "stall" in fault:
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            if "stall" in fault:  # the connection stays open, silent
                self.closing.wait(120)
            return
        step = 256 * 1024
        for start in range(0, len(data), step):
            try:
                handler.wfile.write(data[start:start + step])
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away (killed): nothing more to send
            if "slow" in fault:
                time.sleep(0.02)

    def close(self):
        self.closing.set()
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
