"""API ergonomics: relative times and durations in query arguments, a
counter's default aggregation is its rate, an unknown event type is an
error, and users are named "name" everywhere ("username" still accepted)."""

import time
import urllib.parse

from apilib import ADMIN_PASSWORD


def get(daemon, path, role="viewer", **args):
    q = urllib.parse.urlencode(args)
    return daemon.request("GET", f"{path}?{q}" if q else path, token=daemon.tokens[role])


def wait_stored(daemon, series, n=4):
    deadline = time.time() + 30
    while time.time() < deadline:
        r = get(daemon, "/api/v1/query_range", series=series, agg="last", step="1", **{"from": "-1m"})
        assert r.status == 200, r.body
        pts = [p for s in r.json()["series"] for p in s["points"]]
        if len(pts) >= n:
            return
        time.sleep(0.5)
    raise AssertionError(f"{series}: not stored in time")


def test_relative_times_and_durations(daemon):
    wait_stored(daemon, "kpulse_mem_total_bytes")
    now = time.time()
    rel = get(daemon, "/api/v1/query_range", series="kpulse_mem_total_bytes", step="5s",
              **{"from": "-2m", "to": "now"})
    assert rel.status == 200, rel.body
    absolute = get(daemon, "/api/v1/query_range", series="kpulse_mem_total_bytes", step="5",
                   **{"from": str(now - 120), "to": str(now)})
    assert absolute.status == 200
    assert rel.json()["step"] == absolute.json()["step"] == 5
    assert rel.json()["series"] and rel.json()["series"][0]["points"]
    assert get(daemon, "/api/v1/query_range", series="kpulse_mem_total_bytes",
               step="1m", **{"from": "now-1h"}).json()["step"] == 60
    for path in ("/api/v1/events", "/api/v1/anomalies"):
        r = get(daemon, path, **{"from": "-1h", "to": "now"})
        assert r.status == 200, (path, r.body)
    for bad in ("-1x", "yesterday", "now+1h", "--1h"):
        r = get(daemon, "/api/v1/events", **{"from": bad})
        assert r.status == 400, bad
        assert "-1h" in r.json()["error"]["message"]
    r = get(daemon, "/api/v1/query_range", series="kpulse_mem_total_bytes", step="0s")
    assert r.status == 400 and "step" in r.json()["error"]["message"]


def test_a_counters_default_aggregation_is_its_rate(daemon):
    wait_stored(daemon, "kpulse_sched_context_switches_total")
    now = time.time()
    args = {"series": "kpulse_sched_context_switches_total", "step": "2",
            "from": str(now - 30), "to": str(now)}
    default = get(daemon, "/api/v1/query_range", **args)
    rate = get(daemon, "/api/v1/query_range", agg="rate", **args)
    avg = get(daemon, "/api/v1/query_range", agg="avg", **args)
    assert default.status == rate.status == avg.status == 200
    assert default.json()["series"] == rate.json()["series"]
    assert default.json()["series"] != avg.json()["series"]
    # a gauge still averages
    g = {"series": "kpulse_mem_available_bytes", "step": "2", "from": str(now - 30),
         "to": str(now)}
    assert get(daemon, "/api/v1/query_range", **g).json()["series"] == \
        get(daemon, "/api/v1/query_range", agg="avg", **g).json()["series"]


def test_unknown_event_type_is_an_error(daemon):
    r = get(daemon, "/api/v1/events", type="oom_kil")
    assert r.status == 400
    assert "oom_kill" in r.json()["error"]["message"]
    assert get(daemon, "/api/v1/events", type="oom_kill").status == 200
    assert get(daemon, "/api/v1/events", type="exec").status == 200


def test_users_are_named_name_and_username_still_works(daemon):
    r = daemon.request("POST", "/api/v1/auth/login",
                       {"name": "admin", "password": ADMIN_PASSWORD})
    assert r.status == 200, r.body
    assert daemon.request("POST", "/api/v1/auth/login",
                          {"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    r = daemon.request("POST", "/api/v1/auth/login",
                       {"name": "admin", "username": "other", "password": ADMIN_PASSWORD})
    assert r.status == 400
    admin = daemon.tokens["admin"]
    r = daemon.request("POST", "/api/v1/users",
                       {"username": "u_alias", "password": "alias-password", "role": "viewer"},
                       token=admin)
    assert r.status == 201, r.body
    assert r.json()["name"] == "u_alias"
    assert daemon.request("POST", "/api/v1/auth/login",
                          {"name": "u_alias", "password": "alias-password"}).status == 200
