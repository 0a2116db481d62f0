"""Hostile and malformed input: JSON bodies (size, depth, duplicates, NUL,
non-finite and huge numbers, invalid UTF-8, unknown fields), custom metric
validation, query parameters. Every refusal is a JSON error with 400 or 413
and changes nothing."""

import json
import socket

import pytest

from apilib import HOST

GOOD = {"name": "input_ok_total", "type": "counter", "value": 1}


def post_raw(daemon, body, token, path="/api/v1/metrics"):
    return daemon.request("POST", path, body, token=token,
                          headers={"Content-Type": "application/json"})


def assert_400(r, fragment=None):
    assert r.status == 400, (r.status, r.body)
    err = r.json()["error"]
    assert err["code"] == "bad_request"
    if fragment:
        assert fragment in err["message"], err["message"]


@pytest.mark.parametrize("body,fragment", [
    (b'{"metrics":[' + b'[' * 40 + b']' * 40 + b']}', "nested deeper"),
    (b'{"metrics":[], "metrics":[]}', "duplicate"),
    (b'{"metrics":[{"name":"a\x00b","type":"gauge","value":1}]}', "NUL"),
    (b'{"metrics":[{"name":"a\\u0000b","type":"gauge","value":1}]}', None),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":NaN}]}', "invalid JSON"),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":Infinity}]}', "invalid JSON"),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":1e999}]}', "invalid JSON"),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":123456789012345678901234567890}]}',
     "invalid JSON"),
    (b'{"metrics":[{"name":"x_\xff\xfe","type":"gauge","value":1}]}', "invalid JSON"),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":1}]} trailing', "invalid JSON"),
    (b'[1,2]', "JSON object"),
    (b'', "required"),
    (b'{"metrics":[], "extra":1}', 'unknown field "extra"'),
    (b'{"metrics":[{"name":"x_g","type":"gauge","value":1,"unit":"s"}]}',
     'unknown field "unit"'),
])
def test_malformed_json_bodies_are_refused(daemon, body, fragment):
    assert_400(post_raw(daemon, body, daemon.tokens["operator"]), fragment)


@pytest.mark.parametrize("metric,fragment", [
    ({"name": "kpulse_fake_total", "type": "counter", "value": 1}, "name"),
    ({"name": "9bad", "type": "gauge", "value": 1}, "name"),
    ({"name": "a" * 96, "type": "gauge", "value": 1}, "name"),
    ({"name": "x_latency_bucket", "type": "gauge", "value": 1}, "name"),
    ({"name": "x_g", "type": "histogram", "value": 1}, "type"),
    ({"name": "x_g", "type": "gauge", "value": "1"}, "value"),
    ({"name": "x_total", "type": "counter", "value": -1}, "value"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": {"a": "1", "b": "2", "c": "3",
                                                             "d": "4", "e": "5"}}, "labels"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": {"__name__": "x"}}, "key"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": {"k": "v" * 64}}, "labels.k"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": {"k": 5}}, "labels.k"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": {"k": "a\nb"}}, "control"),
    ({"name": "x_g", "type": "gauge", "value": 1, "labels": ["k"]}, "labels"),
])
def test_invalid_custom_metrics_are_refused(daemon, metric, fragment):
    r = daemon.request("POST", "/api/v1/metrics", {"metrics": [GOOD, metric]},
                       token=daemon.tokens["operator"])
    assert_400(r, fragment)
    # All or nothing: the valid first entry was not applied either.
    assert b"input_ok_total" not in daemon.request("GET", "/metrics").body


def test_timestamp_must_be_recent_and_finite(daemon):
    op = daemon.tokens["operator"]
    for ts in (1, 4e9, "now", None):
        r = daemon.request("POST", "/api/v1/metrics", {"timestamp": ts, "metrics": [GOOD]},
                           token=op)
        assert_400(r, "timestamp")


def test_batch_must_be_a_non_empty_bounded_array(daemon):
    op = daemon.tokens["operator"]
    assert_400(daemon.request("POST", "/api/v1/metrics", {"metrics": []}, token=op), "metrics")
    assert_400(daemon.request("POST", "/api/v1/metrics", {"metrics": {}}, token=op), "metrics")
    many = [dict(GOOD, labels={"i": str(i)}) for i in range(1001)]
    assert_400(daemon.request("POST", "/api/v1/metrics", {"metrics": many}, token=op),
               "metrics")


def test_type_clash_with_an_existing_custom_series_is_refused(daemon):
    op = daemon.tokens["operator"]
    ok = {"metrics": [{"name": "clash_x", "type": "gauge", "value": 1}]}
    assert daemon.request("POST", "/api/v1/metrics", ok, token=op).status == 200
    bad = {"metrics": [{"name": "clash_x", "type": "counter", "value": 1}]}
    assert_400(daemon.request("POST", "/api/v1/metrics", bad, token=op), "already")


def test_login_and_user_bodies_reject_unknown_fields_and_types(daemon):
    assert_400(daemon.request("POST", "/api/v1/auth/login",
                              {"username": "admin", "password": "x" * 8, "otp": "1"}),
               "unknown field")
    assert_400(daemon.request("POST", "/api/v1/auth/login", {"username": "admin",
                                                            "password": 12345678}))
    admin = daemon.tokens["admin"]
    assert_400(daemon.request("POST", "/api/v1/users",
                              {"name": "bad name!", "password": "password1", "role": "viewer"},
                              token=admin))
    assert_400(daemon.request("POST", "/api/v1/users",
                              {"name": "ok", "password": "password1", "role": "root"},
                              token=admin))
    assert_400(daemon.request("POST", "/api/v1/auth/tokens", {"role": "god"}, token=admin))
    assert_400(daemon.request("DELETE", "/api/v1/auth/tokens/-1", token=admin))
    assert_400(daemon.request("DELETE", "/api/v1/auth/tokens/abc", token=admin))


def test_body_over_the_limit_gets_413_before_it_is_read(daemon):
    """The declared length is enough: the answer comes before any body byte."""
    with socket.create_connection((HOST, daemon.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2097152\r\n"
                  b"Content-Type: application/json\r\nAuthorization: Bearer "
                  + daemon.tokens["operator"].encode() + b"\r\n\r\n")
        reply = b""
        while b"}}" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_chunked_body_over_the_limit_is_refused(daemon):
    """Without Content-Length the limit applies while reading."""
    with socket.create_connection((HOST, daemon.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Authorization: Bearer " + daemon.tokens["operator"].encode() + b"\r\n\r\n")
        chunk = b" " * 65536
        try:
            for _ in range(20):  # 1.25 MiB, over the 1 MiB default
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            return  # dropped mid-body: refused too
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]


@pytest.mark.parametrize("query,fragment", [
    ("/api/v1/query_range", "series is required"),
    ("/api/v1/query_range?series=1bad", "selector"),
    ('/api/v1/query_range?series=m%7Ba%3D1%7D', "selector"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&from=abc", "from"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&to=inf", "to"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&from=10&to=5", "after"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&step=0", "step"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&agg=median", "agg"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&agg=p99", None),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&from=0&step=0.001", "too many"),
    ("/api/v1/query_range?series=kpulse_mem_total_bytes&bogus=1", "unknown query parameter"),
    ("/api/v1/events?limit=0", "limit"),
    ("/api/v1/events?limit=100000", "limit"),
    ("/api/v1/events?limit=2.5", "limit"),
    ("/api/v1/events?type=BAD-TYPE", "type"),
    ("/api/v1/events?order=sideways", "order"),
    ("/api/v1/series?match=%7B%7D", "match"),
    ("/api/v1/live?x=1", "unknown query parameter"),
])
def test_bad_query_parameters_are_refused(daemon, query, fragment):
    assert_400(daemon.request("GET", query, token=daemon.tokens["viewer"]), fragment)


def test_oversized_headers_are_refused_not_crashing(daemon):
    r = daemon.request("GET", "/healthz", headers={"X-Big": "a" * 100000})
    assert r.status in (413, 431)
    assert daemon.request("GET", "/healthz").status == 200
