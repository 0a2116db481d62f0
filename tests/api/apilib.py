"""Helpers for the REST API tests: the daemon under test, HTTP requests
with the standard library, JWT forging with the daemon's known secret, and
skipping when an optional tool is missing. Fixtures are in conftest.py."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

# the binary of the checkout these tests are in, unless KPULSE_BIN names another
KPULSE_BIN = os.environ.get(
    "KPULSE_BIN",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "kpulse"))
HOST = "127.0.0.1"
ADMIN_PASSWORD = "admin-password-1"
JWT_SECRET = "kpulse-test-secret-0123456789abcdef"
INTERVAL_S = 0.5
START_TIMEOUT_S = 30.0


def need_tool(name, package):
    """Skips the calling test when a tool is missing, naming its package."""
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed: apt-get install {package} (add it to DEPS_TEST)")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(header, claims, secret=JWT_SECRET):
    """An HS256 JWT signed with the daemon's secret (to forge test tokens)."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def jwt_claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Daemon:
    def __init__(self, tmp, extra_env=None, extra_args=()):
        self.tmp = tmp
        self.port = free_port()
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "kpulse.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
        env.update(
            KPULSE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            KPULSE_JWT_SECRET=JWT_SECRET,
            KPULSE_API_RATE_LIMIT="100000",
        )
        env.update(extra_env or {})
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [KPULSE_BIN, "run", "--data-dir", self.data, "--listen", f"{HOST}:{self.port}",
             "--interval", str(INTERVAL_S), "--flush-interval", "0.2", *extra_args],
            cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.tokens = {}

    def wait_ready(self):
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kpulse exited {self.proc.returncode}:\n{self.logtext()}")
            try:
                if self.request("GET", "/readyz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"kpulse not ready in {START_TIMEOUT_S}s:\n{self.logtext()}")

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def request(self, method, path, body=None, token=None, headers=None, timeout=15):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if token is not None:
                hdrs["Authorization"] = f"Bearer {token}"
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def login(self, user, password):
        r = self.request("POST", "/api/v1/auth/login", {"username": user, "password": password})
        assert r.status == 200, r.body
        return r.json()["token"]

    def setup_roles(self):
        """admin, operator and viewer login tokens in self.tokens."""
        self.tokens["admin"] = self.login("admin", ADMIN_PASSWORD)
        for role in ("operator", "viewer"):
            r = self.request("POST", "/api/v1/users",
                             {"name": f"u_{role}", "password": f"{role}-password", "role": role},
                             token=self.tokens["admin"])
            assert r.status in (201, 409), r.body
            self.tokens[role] = self.login(f"u_{role}", f"{role}-password")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
