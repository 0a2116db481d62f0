"""The API against hostile clients (issue 9): login floods and slowloris
from many loopback addresses while an honest client is still served,
separate rate-limit buckets, bodies refused before they are read, and the
correctness bugs (invalid UTF-8, %00, token times, streams outliving their
credential, lockouts, nbf, the Bearer scheme, HEAD), the browser checks
(Host, Content-Type, security headers) and the security log.

Attackers use source addresses 127.A.B.C (A >= 1): Linux routes all of
127.0.0.0/8 to lo, so nothing leaves the machine. The honest client uses
127.0.0.1. Tests assert on what was answered, never on how fast."""

import http.client
import json
import random
import re
import socket
import threading
import time

from apilib import ADMIN_PASSWORD, HOST, sign_jwt


def attacker_address(rng):
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def request_from(d, source, method, path, body=None, headers=None, timeout=15):
    conn = http.client.HTTPConnection(HOST, d.port, timeout=timeout, source_address=(source, 0))
    try:
        hdrs = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def metric(d, name, labels=""):
    text = d.request("GET", "/metrics").body.decode()
    m = re.search(rf"^{re.escape(name + labels)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def security_events(d, event):
    return metric(d, "kpulse_api_security_events_total", f'{{event="{event}"}}')


def login_with_retry(d, user, password, source=HOST, attempts=60):
    """Logs in, waiting as told on 503 and 429; the last status and body."""
    for _ in range(attempts):
        status, body = request_from(d, source, "POST", "/api/v1/auth/login",
                                    {"username": user, "password": password})
        if status not in (429, 503):
            return status, body
        time.sleep(1)
    return status, body


# ------------------------------------------------------------ denial of service

def test_login_flood_from_many_addresses_leaves_healthz_and_a_known_login_served(make_daemon):
    d = make_daemon()
    d.login("admin", ADMIN_PASSWORD)  # 127.0.0.1 is now a known address
    stop = threading.Event()
    answers = {}
    lock = threading.Lock()

    def attack(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                status, _ = request_from(d, attacker_address(rng), "POST", "/api/v1/auth/login",
                                         {"username": "admin", "password": "wrong-guess"},
                                         timeout=30)
            except OSError:
                status = "error"
            with lock:
                answers[status] = answers.get(status, 0) + 1

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)  # let the queue fill
        for _ in range(30):
            r = d.request("GET", "/healthz", timeout=10)
            assert r.status == 200, r.body
            time.sleep(0.1)
        status, body = login_with_retry(d, "admin", ADMIN_PASSWORD)
        assert status == 200, body
        assert json.loads(body)["token_type"] == "Bearer"
    finally:
        stop.set()
        for t in threads:
            t.join()
    # Wrong passwords were checked and refused; the rest were turned away
    # cheaply because the hashing queue was full.
    assert answers.get(401, 0) > 0, answers
    assert answers.get(503, 0) > 0, answers
    assert answers.get(200, 0) == 0, answers
    assert security_events(d, "login_busy") > 0
    assert security_events(d, "login_failed") > 0


def test_slowloris_from_120_addresses_is_cut_off_and_honest_clients_served(make_daemon):
    d = make_daemon({"KPULSE_API_REQUEST_TIMEOUT": "3"})
    rng = random.Random(9)
    slow = []
    for _ in range(120):
        s = socket.create_connection((HOST, d.port), timeout=10,
                                     source_address=(attacker_address(rng), 0))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(s)
    closed = set()
    try:
        deadline = time.time() + 12
        i = 0
        while time.time() < deadline:
            # every slow client sends one more header line every ~2 s
            for k, s in enumerate(slow):
                if k in closed:
                    continue
                try:
                    s.sendall(f"X-Slow-{i}: {k}\r\n".encode())
                except OSError:
                    closed.add(k)
            r = d.request("GET", "/healthz", timeout=10)
            assert r.status == 200, r.body
            i += 1
            time.sleep(2)
        # by now every slow request is past its 3 s: the server closed them
        for k, s in enumerate(slow):
            if k in closed:
                continue
            s.settimeout(5)
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            if data == b"":
                closed.add(k)
    finally:
        for s in slow:
            s.close()
    assert len(closed) == 120
    assert security_events(d, "slow_client") > 0
    assert d.request("GET", "/healthz").status == 200


def test_bad_tokens_do_not_make_healthz_and_metrics_answer_429(make_daemon):
    d = make_daemon({"KPULSE_API_RATE_LIMIT": "5"})
    statuses = [d.request("GET", "/api/v1/status", token="not-a-token").status
                for _ in range(30)]
    assert 429 in statuses and set(statuses) <= {401, 429}
    assert d.request("GET", "/healthz").status == 200
    assert d.request("GET", "/metrics").status == 200
    assert security_events(d, "bad_token") > 0
    assert security_events(d, "rate_limited") > 0


def test_a_body_is_not_read_before_the_token_is_checked(daemon):
    """A declared 1 MB body without a token is answered at once: the
    server does not wait for (or keep) a byte of it."""
    with socket.create_connection((HOST, daemon.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 401"), head


# ------------------------------------------------------------ correctness

def test_invalid_utf8_in_a_query_key_is_a_400_with_valid_json(daemon):
    r = daemon.request("GET", "/healthz?%ff=1")
    assert r.status == 400
    assert "\\xff" in r.json()["error"]["message"]


def test_invalid_utf8_in_a_json_field_name_is_a_400_with_valid_json(daemon):
    for body in (b'{"\xff\xfe":1,"username":"a","password":"b"}',
                 b'{"username":"a","password":"b","\xc3":1}'):
        r = daemon.request("POST", "/api/v1/auth/login", body=body,
                           headers={"Content-Type": "application/json"})
        assert r.status == 400, r.body
        assert r.json()["error"]["code"] == "bad_request"
    long_name = "%C3%A9" * 200  # "é" 200 times: cut inside the message
    r = daemon.request("GET", f"/healthz?{long_name}=1")
    assert r.status == 400
    r.json()  # cut at a character, still valid JSON


def test_nul_in_a_path_is_refused_and_deletes_nothing(daemon):
    admin = daemon.tokens["admin"]
    r = daemon.request("POST", "/api/v1/users",
                       {"name": "nulltest", "password": "nulltest-pw", "role": "viewer"},
                       token=admin)
    assert r.status in (201, 409)
    r = daemon.request("DELETE", "/api/v1/users/nulltest%00.x", token=admin)
    assert r.status == 400, r.body
    names = [u["name"] for u in daemon.request("GET", "/api/v1/users", token=admin).json()["users"]]
    assert "nulltest" in names
    assert daemon.request("GET", "/healthz?x=%00").status == 400


def test_a_user_recreated_at_once_does_not_revive_old_tokens(daemon):
    admin = daemon.tokens["admin"]
    user = {"name": "recreated", "password": "recreated-pw", "role": "viewer"}
    assert daemon.request("POST", "/api/v1/users", user, token=admin).status == 201
    old = daemon.login("recreated", "recreated-pw")
    assert daemon.request("GET", "/api/v1/status", token=old).status == 200
    assert daemon.request("DELETE", "/api/v1/users/recreated", token=admin).status == 204
    user["role"] = "admin"
    assert daemon.request("POST", "/api/v1/users", user, token=admin).status == 201
    assert daemon.request("GET", "/api/v1/users", token=old).status == 401
    assert daemon.request("GET", "/api/v1/status", token=old).status == 401
    new = daemon.login("recreated", "recreated-pw")
    assert daemon.request("GET", "/api/v1/users", token=new).status == 200
    assert daemon.request("DELETE", "/api/v1/users/recreated", token=admin).status == 204


def open_stream(d, token):
    s = socket.create_connection((HOST, d.port), timeout=10)
    s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def stream_ends(s, within_s=15):
    """True when the server ends the stream (EOF or reset) in time."""
    s.settimeout(1)
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_revoking_a_token_ends_its_live_streams(daemon):
    admin = daemon.tokens["admin"]
    r = daemon.request("POST", "/api/v1/auth/tokens", {"role": "viewer", "label": "stream"},
                       token=admin)
    assert r.status == 201
    tok = r.json()
    s = open_stream(daemon, tok["token"])
    other = open_stream(daemon, daemon.tokens["viewer"])
    try:
        assert daemon.request("DELETE", f"/api/v1/auth/tokens/{tok['id']}",
                              token=admin).status == 204
        assert stream_ends(s)
        other.settimeout(5)
        assert other.recv(65536) != b""  # other streams go on
    finally:
        s.close()
        other.close()


def test_deleting_a_user_ends_their_live_streams(daemon):
    admin = daemon.tokens["admin"]
    assert daemon.request("POST", "/api/v1/users",
                          {"name": "streamer", "password": "streamer-pw", "role": "viewer"},
                          token=admin).status == 201
    s = open_stream(daemon, daemon.login("streamer", "streamer-pw"))
    try:
        assert daemon.request("DELETE", "/api/v1/users/streamer", token=admin).status == 204
        assert stream_ends(s)
    finally:
        s.close()


def test_failed_logins_from_one_address_do_not_lock_the_account_out_elsewhere(make_daemon):
    d = make_daemon()
    statuses = []
    for _ in range(20):
        status, _ = request_from(d, "127.0.0.9", "POST", "/api/v1/auth/login",
                                 {"username": "admin", "password": "wrong-guess"})
        statuses.append(status)
        if status == 429:
            break
    assert statuses[-1] == 429, statuses  # that address backs off...
    status, body = request_from(d, HOST, "POST", "/api/v1/auth/login",
                                {"username": "admin", "password": ADMIN_PASSWORD})
    assert status == 200, body  # ...the owner elsewhere does not
    assert security_events(d, "login_backoff") + security_events(d, "rate_limited") > 0


def test_nbf_in_the_future_is_refused(daemon):
    now = time.time()
    base = {"sub": "admin", "role": "admin", "iat": now, "exp": now + 600, "jti": "n"}
    hdr = {"alg": "HS256", "typ": "JWT"}
    later = sign_jwt(hdr, dict(base, nbf=now + 3600))
    assert daemon.request("GET", "/api/v1/status", token=later).status == 401
    bad = sign_jwt(hdr, dict(base, nbf="soon"))
    assert daemon.request("GET", "/api/v1/status", token=bad).status == 401
    ok = sign_jwt(hdr, dict(base, nbf=now - 10))
    assert daemon.request("GET", "/api/v1/status", token=ok).status == 200


def test_a_token_without_the_bearer_scheme_is_refused(daemon):
    tok = daemon.tokens["viewer"]
    r = daemon.request("GET", "/api/v1/status", headers={"Authorization": tok})
    assert r.status == 401
    r = daemon.request("GET", "/api/v1/status", headers={"Authorization": f"bearer {tok}"})
    assert r.status == 200


def test_head_is_answered_like_get_without_a_body(daemon):
    conn = http.client.HTTPConnection(HOST, daemon.port, timeout=10)
    try:
        conn.request("HEAD", "/healthz")
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == b""
        assert int(r.getheader("Content-Length")) == len(b'{"status":"ok"}')
        conn.request("HEAD", "/api/v1/status")
        r = conn.getresponse()
        assert r.status == 401 and r.read() == b""
    finally:
        conn.close()


# ------------------------------------------------------------ browsers

def test_a_foreign_host_header_is_refused_on_loopback(daemon):
    r = daemon.request("GET", "/healthz", headers={"Host": "attacker.example"})
    assert r.status == 421
    assert r.json()["error"]["code"] == "misdirected_request"
    for host in (f"127.0.0.1:{daemon.port}", f"localhost:{daemon.port}", "localhost",
                 f"[::1]:{daemon.port}"):
        assert daemon.request("GET", "/healthz", headers={"Host": host}).status == 200, host


def test_json_endpoints_need_the_json_content_type(daemon):
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD})
    for ct in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": ct} if ct else {}
        r = daemon.request("POST", "/api/v1/auth/login", body=body, headers=headers)
        assert r.status == 415, (ct, r.body)
    r = daemon.request("POST", "/api/v1/auth/login", body=body,
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 200


def stream_headers(d, token):
    """The status and headers of GET /api/v1/stream; closed right after."""
    conn = http.client.HTTPConnection(HOST, d.port, timeout=15)
    try:
        conn.request("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def test_every_kind_of_answer_carries_the_security_headers(daemon):
    viewer = daemon.tokens["viewer"]
    answers = {
        "JSON": daemon.request("GET", "/api/v1/status", token=viewer),
        "JSON, HEAD": daemon.request("HEAD", "/healthz"),
        "OpenAPI": daemon.request("GET", "/openapi.json"),
        "/metrics (text)": daemon.request("GET", "/metrics"),
        "error 401": daemon.request("GET", "/api/v1/status"),
        "error 403": daemon.request("POST", "/api/v1/metrics", {"metrics": []}, token=viewer),
        "error 404": daemon.request("GET", "/api/v1/nope"),
        "error 405": daemon.request("DELETE", "/healthz"),
        "error 421": daemon.request("GET", "/healthz", headers={"Host": "attacker.example"}),
        "dashboard page": daemon.request("GET", "/"),
    }
    status, headers = stream_headers(daemon, viewer)
    assert status == 200 and headers["content-type"] == "text/event-stream"
    answers["stream (SSE)"] = type("R", (), {"status": status,
                                             "header": lambda self, n: headers.get(n.lower())})()
    expected_status = {"error 401": 401, "error 403": 403, "error 404": 404, "error 405": 405,
                       "error 421": 421}
    for kind, r in answers.items():
        assert r.status == expected_status.get(kind, 200), (kind, r.status)
        csp = r.header("Content-Security-Policy") or ""
        assert "frame-ancestors 'none'" in csp, kind
        # the dashboard's files run their own scripts; nothing else may run anything
        assert csp.startswith("default-src 'self'" if kind == "dashboard page"
                              else "default-src 'none'"), (kind, csp)
        assert r.header("X-Frame-Options") == "DENY", kind
        assert r.header("X-Content-Type-Options") == "nosniff", kind
        assert r.header("Referrer-Policy") == "no-referrer", kind
        assert r.header("Cross-Origin-Resource-Policy") == "same-origin", kind
        assert r.header("Cross-Origin-Opener-Policy") == "same-origin", kind
        assert r.header("Cache-Control") == ("no-cache" if kind == "dashboard page"
                                             else "no-store"), kind


# ------------------------------------------------------------ audit

def test_security_events_are_logged_and_counted_without_secrets(make_daemon):
    d = make_daemon()
    admin = d.login("admin", ADMIN_PASSWORD)
    status, _ = request_from(d, "127.0.0.7", "POST", "/api/v1/auth/login",
                             {"username": "admin", "password": "the-wrong-secret"})
    assert status == 401
    r = d.request("POST", "/api/v1/auth/tokens", {"role": "viewer", "label": "audit"}, token=admin)
    assert r.status == 201
    api_token = r.json()["token"]
    assert d.request("DELETE", f"/api/v1/auth/tokens/{r.json()['id']}", token=admin).status == 204
    assert d.request("POST", "/api/v1/users",
                     {"name": "audited", "password": "audited-pw", "role": "viewer"},
                     token=admin).status == 201
    assert d.request("DELETE", "/api/v1/users/audited", token=admin).status == 204
    log = d.logtext()
    assert re.search(r"security: login_failed client=127\.0\.0\.7 user=admin", log), log
    assert re.search(r"security: token_created client=- user=admin token id \d+", log), log
    assert "security: token_revoked" in log
    assert "security: user_added client=- user=admin user audited role viewer" in log
    assert "security: user_deleted client=- user=admin user audited" in log
    for secret in ("the-wrong-secret", ADMIN_PASSWORD, api_token, admin):
        assert secret not in log
    assert security_events(d, "login_failed") == 1
    assert security_events(d, "token_created") == 1
    assert security_events(d, "user_deleted") == 1


# ------------------------------------------------------------ custom metrics

def push_gauges(d, token, keys):
    return d.request("POST", "/api/v1/metrics", {"metrics": [
        {"name": "quota_g", "type": "gauge", "labels": {"k": str(k)}, "value": 1}
        for k in keys]}, token=token)


def test_custom_samples_have_a_quota_per_token(make_daemon):
    # bursts of one batch (1000); series enough for 600 of them
    d = make_daemon({"KPULSE_CUSTOM_SAMPLES_RATE": "1", "KPULSE_CUSTOM_TOKEN_MAX_SERIES": "1000"})
    admin = d.login("admin", ADMIN_PASSWORD)
    tokens = []
    for label in ("one", "two"):
        r = d.request("POST", "/api/v1/auth/tokens", {"role": "operator", "label": label},
                      token=admin)
        assert r.status == 201
        tokens.append(r.json()["token"])
    assert push_gauges(d, tokens[0], range(600)).status == 200
    r = push_gauges(d, tokens[0], range(600))
    assert r.status == 429, r.body
    assert int(r.header("Retry-After")) >= 1
    # the quota is the token's: another token of the same owner is not held
    assert push_gauges(d, tokens[1], range(600)).status == 200


def test_custom_series_expire_and_free_the_cap(make_daemon):
    # the token's own quota above the cap: the cap is what is reached
    d = make_daemon({"KPULSE_CUSTOM_MAX_SERIES": "2", "KPULSE_CUSTOM_TOKEN_MAX_SERIES": "10",
                     "KPULSE_CUSTOM_SERIES_TTL": "1"})
    tok = d.login("admin", ADMIN_PASSWORD)
    assert push_gauges(d, tok, ["a", "b"]).status == 200
    # full now; once a and b are not pushed for a while they go
    deadline = time.time() + 20
    while time.time() < deadline:
        r = push_gauges(d, tok, ["c"])
        if r.status == 200:
            break
        assert r.status == 400 and "limit" in r.json()["error"]["message"]
        time.sleep(0.5)
    assert r.status == 200, r.body
    assert b'quota_g{k="a"}' not in d.request("GET", "/metrics").body


def operator_tokens(d, n):
    admin = d.login("admin", ADMIN_PASSWORD)
    tokens = []
    for i in range(n):
        r = d.request("POST", "/api/v1/auth/tokens", {"role": "operator", "label": f"t{i}"},
                      token=admin)
        assert r.status == 201, r.body
        tokens.append(r.json()["token"])
    return tokens


def test_one_token_cannot_take_every_custom_series(make_daemon):
    d = make_daemon()  # defaults: 1000 series in all, a quarter of them per token
    hog, other = operator_tokens(d, 2)
    assert push_gauges(d, hog, range(250)).status == 200
    r = push_gauges(d, hog, [250])
    assert r.status == 429, r.body
    err = r.json()["error"]
    assert err["code"] == "too_many_requests"
    assert "KPULSE_CUSTOM_TOKEN_MAX_SERIES" in err["message"] and "250" in err["message"], err
    assert int(r.header("Retry-After")) >= 1
    # the refused batch changed nothing, and the token still pushes its own series
    assert push_gauges(d, hog, range(250)).status == 200
    assert b'quota_g{k="250"}' not in d.request("GET", "/metrics").body
    # another token still creates series; pushing the hog's costs it nothing
    assert push_gauges(d, other, range(250)).status == 200
    assert push_gauges(d, other, range(250, 500)).status == 200
    assert push_gauges(d, other, [500]).status == 429
    assert metric(d, "kpulse_api_custom_series_refused_total", '{limit="token"}') == 2
    assert metric(d, "kpulse_api_custom_series_refused_total", '{limit="total"}') == 0
    assert metric(d, "kpulse_api_custom_series") == 500
    assert "custom series over 250 per token" in d.logtext()


def test_a_token_quota_frees_up_as_its_series_expire(make_daemon):
    d = make_daemon({"KPULSE_CUSTOM_TOKEN_MAX_SERIES": "2", "KPULSE_CUSTOM_SERIES_TTL": "1"})
    tok, = operator_tokens(d, 1)
    assert push_gauges(d, tok, ["a", "b"]).status == 200
    deadline = time.time() + 20
    while time.time() < deadline:
        r = push_gauges(d, tok, ["c"])
        if r.status == 200:
            break
        assert r.status == 429 and "per token" in r.json()["error"]["message"], r.body
        time.sleep(0.5)
    assert r.status == 200, r.body
    # c is the token's one series now: one more fits, two do not
    r = push_gauges(d, tok, ["c", "d", "e"])
    assert r.status == 429 and "own 3 custom series" in r.json()["error"]["message"], r.body
    assert push_gauges(d, tok, ["c", "d"]).status == 200
