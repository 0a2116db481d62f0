"""What the fake servers in tests/fakes share: a threaded HTTP server on
127.0.0.1, per-target behaviour set through POST /_control, a record of
what each target received (GET /_received, GET /_stats), and a clean stop
on SIGTERM or when the process that started it goes away.

Python's standard library only. A fake prints one line, "PORT <n>", on
stdout once it listens, so that whoever started it (a C unit test, a
pytest fixture) learns the port without racing for a free one.

Control (JSON bodies):
  POST /_control {"target": T, "mode": M, "count": N, "delay": S,
                  "retry_after": "2", "answer": TEXT, "size": BYTES}
      target T (the first path segment) answers the next N requests
      (-1: all of them) in mode M, then goes back to "ok".
  POST /_reset   forgets every mode and everything received.
  GET  /_stats   {"targets": {T: {"requests": n}}}
  GET  /_received [{"target", "path", "headers", "body", "ts"}, ...]
"""

import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 8 << 20
MAX_RECORDED = 1000


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.modes = {}
        self.counts = {}
        self.received = []
        # set at stop: requests left hanging on purpose return then
        self.release = threading.Event()

    def take_mode(self, target):
        """The mode for this request of target, counting it down."""
        with self.lock:
            self.counts[target] = self.counts.get(target, 0) + 1
            m = self.modes.get(target)
            if not m:
                return {"mode": "ok"}
            if m["count"] == 0:
                del self.modes[target]
                return {"mode": "ok"}
            if m["count"] > 0:
                m["count"] -= 1
            return dict(m)

    def record(self, entry):
        with self.lock:
            if len(self.received) < MAX_RECORDED:
                self.received.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()

    def log_message(self, fmt, *args):  # quiet: tests read /_received
        pass

    # ---------------------------------------------------------------- helpers
    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def send(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def hang(self):
        """Accept the request and never answer (until the fake stops)."""
        self.state.release.wait()
        self.close_connection = True

    def target(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        return parts[0] if parts and parts[0] else ""

    # ---------------------------------------------------------------- control
    def control(self, method):
        st = self.state
        if method == "GET" and self.path == "/_stats":
            with st.lock:
                body = {"targets": {t: {"requests": n} for t, n in st.counts.items()}}
            return self.send(200, body)
        if method == "GET" and self.path == "/_received":
            with st.lock:
                body = list(st.received)
            return self.send(200, body)
        if method == "POST" and self.path == "/_reset":
            self.read_body()
            with st.lock:
                st.modes.clear()
                st.counts.clear()
                st.received.clear()
            return self.send(200, {"ok": True})
        if method == "POST" and self.path == "/_control":
            spec = json.loads(self.read_body() or b"{}")
            m = {
                "mode": spec.get("mode", "ok"),
                "count": int(spec.get("count", -1)),
                "delay": float(spec.get("delay", 0)),
                "retry_after": spec.get("retry_after"),
                "answer": spec.get("answer"),
                "size": int(spec.get("size", 0)),
            }
            with st.lock:
                st.modes[spec["target"]] = m
            return self.send(200, {"ok": True})
        return self.send(404, {"error": "no such control path"})

    def do_GET(self):
        if self.path.startswith("/_"):
            return self.control("GET")
        return self.send(404, {"error": "not found"})

    def do_POST(self):
        if self.path.startswith("/_"):
            return self.control("POST")
        try:
            raw = self.read_body()
        except ValueError:
            return self.send(413, {"error": "request body too large"})
        target = self.target()
        mode = self.state.take_mode(target)
        entry = {
            "target": target,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "raw": raw.decode("utf-8", "replace"),
            "ts": time.time(),
        }
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = None
        self.state.record(entry)
        if mode["mode"] == "hang":
            return self.hang()
        if mode["mode"] == "slow":
            time.sleep(mode["delay"])
        return self.handle_post(target, raw, mode)

    def handle_post(self, target, raw, mode):  # the fake's own protocol
        raise NotImplementedError


def serve(handler_class, tls=None):
    """Serves until SIGTERM/SIGINT or the parent goes away; over TLS with
    tls = (certificate file, key file)."""
    state = State()
    handler_class.state = state
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    stop = threading.Event()
    parent = os.getppid()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    print("PORT %d" % server.server_address[1], flush=True)
    while not stop.wait(0.5):
        if os.getppid() != parent:
            break
    state.release.set()
    server.shutdown()
    server.server_close()
    sys.exit(0)
