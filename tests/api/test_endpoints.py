"""Each endpoint answers with the documented shape and the daemon's data."""

import http.client
import json
import time

from apilib import HOST, INTERVAL_S

# Every endpoint of issue 4; /openapi.json must document each.
ENDPOINTS = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
    ("GET", "/docs"), ("GET", "/api/v1/status"), ("GET", "/api/v1/live"),
    ("GET", "/api/v1/series"), ("GET", "/api/v1/query_range"), ("GET", "/api/v1/events"),
    ("GET", "/api/v1/anomalies"), ("GET", "/api/v1/processes"), ("GET", "/api/v1/stream"),
    ("POST", "/api/v1/metrics"),
    ("POST", "/api/v1/auth/login"), ("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/tokens"),
    ("DELETE", "/api/v1/auth/tokens/{id}"), ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"), ("DELETE", "/api/v1/users/{name}"),
    ("GET", "/api/v1/forecast"), ("GET", "/api/v1/predictions"),
    ("GET", "/"), ("GET", "/ui/{file}"),
]


def test_healthz_needs_no_token(daemon):
    r = daemon.request("GET", "/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok"}


def test_readyz_reports_its_checks(daemon):
    r = daemon.request("GET", "/readyz")
    assert r.status == 200
    body = r.json()
    assert body["ready"] is True
    assert body["checks"] == {"round_collected": True, "probes_attached": True,
                              "store_writable": True}


def test_openapi_documents_every_endpoint_and_only_those(daemon):
    doc = daemon.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert documented == set(ENDPOINTS)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["summary"], (method, path)
            assert ("security" in op) == (op["x-min-role"] != "none"), (method, path)


def test_docs_lists_every_documented_route(daemon):
    r = daemon.request("GET", "/docs")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/html")
    html = r.body.decode()
    for method, path in ENDPOINTS:
        assert f"{method} {path}" in html


def test_status_shows_rounds_probes_and_store(daemon):
    r = daemon.request("GET", "/api/v1/status", token=daemon.tokens["viewer"])
    assert r.status == 200
    s = r.json()
    assert s["rounds"]["count"] > 0
    assert s["probes"]["attached"] > 0
    assert s["store"]["writable"] is True
    assert s["interval_s"] == INTERVAL_S
    assert s["uptime_s"] > 0


def test_live_is_the_dump_json_shape_and_advances(daemon):
    tok = daemon.tokens["viewer"]
    first = daemon.request("GET", "/api/v1/live", token=tok).json()
    assert set(first) >= {"timestamp", "interval_s", "metrics", "events"}
    names = {m["name"] for m in first["metrics"]}
    assert "kpulse_mem_total_bytes" in names
    assert "kpulse_store_writable" in names
    hist = next(m for m in first["metrics"] if m["type"] == "histogram")
    assert {"count", "sum", "buckets"} <= set(hist)
    time.sleep(INTERVAL_S * 3)
    second = daemon.request("GET", "/api/v1/live", token=tok).json()
    assert second["timestamp"] > first["timestamp"]


def test_processes_group_per_process_series(daemon):
    r = daemon.request("GET", "/api/v1/processes", token=daemon.tokens["viewer"])
    assert r.status == 200
    procs = r.json()["processes"]
    assert procs, "no per-process series"
    for p in procs:
        assert isinstance(p["pid"], int) and p["comm"] is not None and p["metrics"]


def test_series_lists_stored_series_and_filters(daemon):
    tok = daemon.tokens["viewer"]
    all_series = daemon.request("GET", "/api/v1/series", token=tok).json()["series"]
    assert any(s["name"] == "kpulse_mem_total_bytes" for s in all_series)
    some = daemon.request("GET", "/api/v1/series?match=kpulse_mem_total_bytes",
                          token=tok).json()["series"]
    assert some == [{"name": "kpulse_mem_total_bytes", "labels": {}, "type": "gauge"}]


def test_query_range_gauge_and_histogram_percentile(daemon):
    tok = daemon.tokens["viewer"]
    now = time.time()
    r = daemon.request("GET", f"/api/v1/query_range?series=kpulse_mem_total_bytes"
                              f"&from={now - 60}&to={now}&step=1&agg=max", token=tok)
    assert r.status == 200, r.body
    res = r.json()
    assert res["tier"] == "raw" and res["step"] == 1
    pts = res["series"][0]["points"]
    assert pts and all(v > 0 for _, v in pts)
    r = daemon.request("GET", "/api/v1/query_range?series=kpulse_sched_runqueue_latency_seconds"
                              "&step=5&agg=p99", token=tok)
    assert r.status == 200, r.body
    assert r.json()["series"][0]["type"] == "histogram"
    # A label matcher that matches nothing: no series, not an error.
    r = daemon.request("GET", '/api/v1/query_range?series=kpulse_block_bytes_total'
                              '%7Bdevice%3D%22nosuchdev%22%7D&step=5', token=tok)
    assert r.status == 200 and r.json()["series"] == []


def test_events_are_stored_and_filtered(daemon):
    tok = daemon.tokens["viewer"]
    # Start a process so exec/exit events exist.
    import subprocess
    subprocess.run(["/bin/true"], check=True)
    deadline = time.time() + 10
    events = []
    while time.time() < deadline and not events:
        time.sleep(0.5)
        events = daemon.request("GET", "/api/v1/events?type=exec&limit=5&order=desc",
                                token=tok).json()["events"]
    assert events, "no exec events stored"
    assert all(e["type"] == "exec" for e in events) and len(events) <= 5
    assert {"id", "timestamp", "pid", "comm", "fields"} <= set(events[0])


def test_custom_metrics_show_in_live_metrics_and_history(daemon):
    op = daemon.tokens["operator"]
    body = {"metrics": [
        {"name": "app_jobs_total", "type": "counter", "labels": {"queue": "mail"}, "value": 42},
        {"name": "app_temperature_celsius", "type": "gauge", "value": -3.5},
    ]}
    r = daemon.request("POST", "/api/v1/metrics", body, token=op)
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 2
    text = daemon.request("GET", "/metrics").body.decode()
    assert 'app_jobs_total{queue="mail"} 42' in text
    assert "app_temperature_celsius -3.5" in text
    live = daemon.request("GET", "/api/v1/live", token=daemon.tokens["viewer"]).json()
    assert any(m["name"] == "app_jobs_total" and m["value"] == 42 for m in live["metrics"])
    deadline = time.time() + 5
    pts = []
    while time.time() < deadline and not pts:
        r = daemon.request("GET", "/api/v1/query_range?series=app_jobs_total&step=1&agg=last",
                           token=daemon.tokens["viewer"])
        pts = r.json()["series"][0]["points"] if r.json()["series"] else []
        time.sleep(0.3)
    assert pts and pts[-1][1] == 42


def test_stream_sends_one_round_per_interval(daemon):
    conn = http.client.HTTPConnection(HOST, daemon.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/stream",
                     headers={"Authorization": f"Bearer {daemon.tokens['viewer']}"})
        r = conn.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Type") == "text/event-stream"
        rounds, start = [], time.time()
        while len(rounds) < 3 and time.time() - start < 10:
            line = r.fp.readline().decode()
            if line.startswith("data: "):
                rounds.append(json.loads(line[6:]))
        assert len(rounds) == 3
        stamps = [x["timestamp"] for x in rounds]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3
        assert "events" in rounds[0] and rounds[0]["metrics"]
    finally:
        conn.close()


def test_tokens_create_use_and_revoke(daemon):
    admin = daemon.tokens["admin"]
    r = daemon.request("POST", "/api/v1/auth/tokens", {"role": "viewer", "label": "ci"},
                       token=admin)
    assert r.status == 201, r.body
    created = r.json()
    assert created["role"] == "viewer" and created["token"]
    assert daemon.request("GET", "/api/v1/status", token=created["token"]).status == 200
    assert daemon.request("DELETE", f"/api/v1/auth/tokens/{created['id']}",
                          token=admin).status == 204
    assert daemon.request("GET", "/api/v1/status", token=created["token"]).status == 401
    assert daemon.request("DELETE", f"/api/v1/auth/tokens/{created['id']}",
                          token=admin).status == 404


def test_users_add_list_delete(daemon):
    admin = daemon.tokens["admin"]
    r = daemon.request("POST", "/api/v1/users",
                       {"name": "carol", "password": "carol-password", "role": "viewer"},
                       token=admin)
    assert r.status == 201, r.body
    assert daemon.request("POST", "/api/v1/users",
                          {"name": "carol", "password": "carol-password", "role": "viewer"},
                          token=admin).status == 409
    users = daemon.request("GET", "/api/v1/users", token=admin).json()["users"]
    assert {"admin", "carol"} <= {u["name"] for u in users}
    assert "password" not in json.dumps(users)
    tok = daemon.login("carol", "carol-password")
    assert daemon.request("GET", "/api/v1/live", token=tok).status == 200
    assert daemon.request("DELETE", "/api/v1/users/carol", token=admin).status == 204
    assert daemon.request("GET", "/api/v1/live", token=tok).status == 401
    assert daemon.request("DELETE", "/api/v1/users/admin", token=admin).status == 400


def test_login_refuses_bad_credentials_alike(daemon):
    a = daemon.request("POST", "/api/v1/auth/login", {"username": "u_viewer", "password": "wrong!!!"})
    b = daemon.request("POST", "/api/v1/auth/login", {"username": "nobody", "password": "wrong!!!"})
    assert a.status in (401, 429) and b.status in (401, 429)
    if a.status == b.status == 401:
        assert a.json() == b.json()


def test_errors_are_json_with_code_and_message(daemon):
    r = daemon.request("GET", "/nope")
    assert r.status == 404
    assert r.header("Content-Type") == "application/json"
    assert r.json()["error"]["code"] == "not_found"
    r = daemon.request("DELETE", "/healthz")
    assert r.status == 405
    assert r.header("Allow") == "GET"
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_repeated_query_range_sees_data_committed_after_the_first_answer(daemon):
    """query_range answers are cached for at most a second and never past
    the next store commit: the same query asked again after new data was
    written must include it."""
    viewer, op = daemon.tokens["viewer"], daemon.tokens["operator"]
    now = time.time()
    path = (f"/api/v1/query_range?series=app_cache_probe&from={now - 60:.3f}"
            f"&to={now + 120:.3f}&step=1&agg=last")
    first = daemon.request("GET", path, token=viewer)
    assert first.status == 200, first.body
    assert first.json()["series"] == []
    r = daemon.request("POST", "/api/v1/metrics",
                       {"metrics": [{"name": "app_cache_probe", "type": "gauge", "value": 7}]},
                       token=op)
    assert r.status == 200, r.body
    deadline = time.time() + 5
    series = []
    while time.time() < deadline and not series:
        time.sleep(0.2)
        series = daemon.request("GET", path, token=viewer).json()["series"]
    assert series and series[0]["points"][-1][1] == 7, series


def test_me_names_the_login_user_role_and_expiry(daemon):
    for role in ("viewer", "operator", "admin"):
        me = daemon.request("GET", "/api/v1/auth/me", token=daemon.tokens[role]).json()
        assert me["role"] == role
        assert me["user"] == ("admin" if role == "admin" else f"u_{role}")
        assert me["token_id"] is None
        assert time.time() < me["expires_at"] <= time.time() + 3600 + 5


def test_me_for_an_api_token_has_its_id_and_no_expiry(daemon):
    r = daemon.request("POST", "/api/v1/auth/tokens", {"role": "operator", "label": "me-test"},
                       token=daemon.tokens["admin"])
    assert r.status == 201
    created = r.json()
    me = daemon.request("GET", "/api/v1/auth/me", token=created["token"]).json()
    assert me == {"user": "admin", "role": "operator", "token_id": created["id"],
                  "expires_at": None}
    assert daemon.request("GET", "/api/v1/auth/me").status == 401
