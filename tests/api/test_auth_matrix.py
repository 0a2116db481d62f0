"""Every endpoint against every role, no token, a bad signature, an
expired token and alg none. The route list comes from /openapi.json (which
test_endpoints checks against the issue's list), with its x-min-role."""

import http.client
import time

import pytest

from apilib import ADMIN_PASSWORD, HOST, b64url, jwt_claims, sign_jwt

ROLES = {"viewer": 1, "operator": 2, "admin": 3}
REQUIRED = {"none": 0, "viewer": 1, "operator": 2, "admin": 3}


def body_for(method, path, n):
    if path == "/api/v1/metrics":
        return {"metrics": [{"name": "matrix_probe_total", "type": "counter", "value": n}]}
    if path == "/api/v1/auth/tokens":
        return {"role": "viewer", "label": f"matrix{n}"}
    if path == "/api/v1/users":
        return {"name": f"matrix{n}", "password": "matrix-password", "role": "viewer"}
    if path == "/api/v1/auth/login":
        return {"username": "admin", "password": ADMIN_PASSWORD}
    return None


def concrete(path):
    return (path.replace("{id}", "999999").replace("{name}", "no_such_user")
            .replace("{file}", "app.js"))


def call(daemon, method, path, token, n):
    """Status only; the stream is closed right after its headers."""
    if path == "/api/v1/stream":
        conn = http.client.HTTPConnection(HOST, daemon.port, timeout=10)
        try:
            hdrs = {"Authorization": f"Bearer {token}"} if token is not None else {}
            conn.request(method, path, headers=hdrs)
            return conn.getresponse().status
        finally:
            conn.close()
    return daemon.request(method, concrete(path), body_for(method, path, n), token=token).status


@pytest.fixture(scope="module")
def routes(daemon):
    doc = daemon.request("GET", "/openapi.json").json()
    return [(m.upper(), p, op["x-min-role"]) for p, item in doc["paths"].items()
            for m, op in item.items()]


@pytest.fixture(scope="module")
def bad_tokens(daemon):
    good = daemon.tokens["admin"]
    h, p, s = good.split(".")
    flipped = s[:-2] + ("AA" if s[-2:] != "AA" else "BB")
    claims = jwt_claims(good)
    expired = dict(claims, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    none_header = b64url(b'{"alg":"none","typ":"JWT"}')
    return {
        "no token": None,
        "garbage": "not-a-token",
        "bad signature": f"{h}.{p}.{flipped}",
        "expired": sign_jwt({"alg": "HS256", "typ": "JWT"}, expired),
        "alg none": f"{none_header}.{p}.",
        "alg none signed": f"{none_header}.{p}.{s}",
        "other secret": sign_jwt({"alg": "HS256", "typ": "JWT"}, claims,
                                 secret="another-secret-0123456789abcdef0123"),
    }


def test_forged_token_with_the_right_secret_is_accepted(daemon):
    """The control for the expired case: same forging, not expired, works, so
    the expired token fails for its exp and not for its signature."""
    claims = jwt_claims(daemon.tokens["viewer"])
    tok = sign_jwt({"alg": "HS256", "typ": "JWT"}, claims)
    assert daemon.request("GET", "/api/v1/status", token=tok).status == 200


def test_bad_credentials_get_401_on_every_protected_route(daemon, routes, bad_tokens):
    failures = []
    for n, (method, path, role) in enumerate(routes):
        for kind, tok in bad_tokens.items():
            status = call(daemon, method, path, tok, n)
            if REQUIRED[role] > 0 and status != 401:
                failures.append(f"{method} {path} with {kind}: {status}, expected 401")
            if REQUIRED[role] == 0 and status in (401, 403):
                failures.append(f"{method} {path} needs no token but gave {status} ({kind})")
    assert not failures, "\n".join(failures)


def test_each_role_gets_exactly_its_routes(daemon, routes):
    failures = []
    n = 1000
    for method, path, role in routes:
        for user, level in ROLES.items():
            n += 1
            status = call(daemon, method, path, daemon.tokens[user], n)
            allowed = level >= REQUIRED[role]
            if allowed and status in (401, 403):
                failures.append(f"{method} {path} as {user}: {status}, expected access")
            if not allowed and status != 403:
                failures.append(f"{method} {path} as {user}: {status}, expected 403")
    assert not failures, "\n".join(failures)


def test_401_says_how_to_authenticate(daemon):
    r = daemon.request("GET", "/api/v1/live")
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert r.json()["error"]["code"] == "unauthorized"


def test_login_token_expires_after_its_ttl(make_daemon):
    d = make_daemon({"KPULSE_TOKEN_TTL": "2s"})
    tok = d.login("admin", ADMIN_PASSWORD)
    assert d.request("GET", "/api/v1/status", token=tok).status == 200
    time.sleep(3.5)
    assert d.request("GET", "/api/v1/status", token=tok).status == 401


def test_metrics_auth_on_requires_a_viewer_token(make_daemon):
    d = make_daemon({"KPULSE_METRICS_AUTH": "on"})
    assert d.request("GET", "/metrics").status == 401
    tok = d.login("admin", ADMIN_PASSWORD)
    r = d.request("GET", "/metrics", token=tok)
    assert r.status == 200 and b"# TYPE" in r.body
    assert d.request("GET", "/healthz").status == 200
