"""GET /api/v1/anomalies against a real daemon: the models' anomalies as stored, filtered by
time, severity and series (its own or a contributor), limited, documented with its query
parameters; bad parameters are 400 and the route needs a viewer token.

The records are written into the daemon's own store (its `anomalies` table, as the models sink
writes them) so that the filters can be checked on known values; detection itself is shown end
to end in tests/daemon/test_models.py."""

import json
import os
import sqlite3
import urllib.parse

import pytest

CS = "kpulse_sched_context_switches_total{kind=voluntary}:rate"
PF = "kpulse_mem_page_faults_total{mode=user}:rate"

ROWS = [
    # id, series, start, end, open, severity, peak, detectors, contributors
    (1001, CS, 1000.0, 1060.0, 0, "critical", 0.97, "stream",
     [{"series": CS, "weight": 1.0}]),
    (1002, PF, 2000.0, 2010.0, 0, "info", 0.55, "stream,iforest",
     [{"series": PF, "weight": 2.0}, {"series": CS, "weight": 0.5}]),
    (1003, PF, 3000.0, 3000.0, 1, "warning", 0.75, "stream", [{"series": PF, "weight": 1.0}]),
]


@pytest.fixture(scope="module")
def seeded(daemon):
    conn = sqlite3.connect(os.path.join(daemon.data, "kpulse.db"), timeout=10)
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO anomalies (id, series, start_ts, end_ts, open, severity, "
            "peak_score, detectors, contributors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r[:8] + (json.dumps(r[8]),) for r in ROWS])
        conn.commit()
    finally:
        conn.close()
    return daemon


def _get(d, **params):
    q = urllib.parse.urlencode(params)
    return d.request("GET", "/api/v1/anomalies" + (f"?{q}" if q else ""),
                     token=d.tokens["viewer"])


def _ids(r):
    assert r.status == 200, r.body
    return [a["id"] for a in r.json()["anomalies"]]


def test_anomalies_come_back_as_stored_newest_first(seeded):
    r = _get(seeded, **{"from": 0, "to": 10000})
    assert _ids(r) == [1003, 1002, 1001]
    a = r.json()["anomalies"][1]
    assert a == {"id": 1002, "series": PF, "start": 2000.0, "end": 2010.0, "open": False,
                 "severity": "info", "peak_score": 0.55, "detectors": ["stream", "iforest"],
                 "contributors": [{"series": PF, "weight": 2.0}, {"series": CS, "weight": 0.5}]}
    assert r.json()["anomalies"][0]["open"] is True


def test_filters_time_severity_series_and_limit(seeded):
    assert _ids(_get(seeded, **{"from": 1500, "to": 2500})) == [1002]
    assert _ids(_get(seeded, **{"from": 1060, "to": 1060})) == [1001]  # ends count
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "severity": "warning"})) == [1003, 1001]
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "severity": "critical"})) == [1001]
    # a series' own anomalies and those it contributed to
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "series": CS})) == [1002, 1001]
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "series": PF})) == [1003, 1002]
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "series": "nope{}:rate"})) == []
    assert _ids(_get(seeded, **{"from": 0, "to": 10000, "limit": 2})) == [1003, 1002]
    # default window: the last day (these rows are from 1970)
    assert _ids(_get(seeded)) == []


@pytest.mark.parametrize("params,msg", [
    ({"from": "abc"}, "from"),
    ({"to": "nan"}, "to"),
    ({"from": 10, "to": 5}, "from is after to"),
    ({"severity": "severe"}, "severity"),
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": 1.5}, "limit"),
    ({"series": ""}, "series"),
    ({"series": "x" * 600}, "series"),
])
def test_bad_parameters_are_400_naming_the_parameter(seeded, params, msg):
    r = _get(seeded, **params)
    assert r.status == 400, r.body
    assert msg in r.json()["error"]["message"]


def test_needs_a_viewer_token(seeded):
    assert seeded.request("GET", "/api/v1/anomalies").status == 401
    assert _get(seeded).status == 200


def test_openapi_documents_its_query_parameters(seeded):
    doc = seeded.request("GET", "/openapi.json").json()
    op = doc["paths"]["/api/v1/anomalies"]["get"]
    names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    assert {"from", "to", "severity", "series", "limit"} <= names
    assert op["x-min-role"] == "viewer"


def test_scores_are_series_in_metrics_and_query_range(seeded):
    import time
    deadline = time.time() + 60
    text = ""
    while time.time() < deadline:
        text = seeded.request("GET", "/metrics").body.decode()
        if 'kpulse_anomaly_score{metric="kpulse_mem_available_bytes"' in text:
            break
        time.sleep(0.5)
    line = [x for x in text.splitlines()
            if x.startswith('kpulse_anomaly_score{metric="kpulse_mem_available_bytes"')]
    assert line, "no anomaly score of the available-memory model in /metrics"
    assert 0 <= float(line[0].rsplit(" ", 1)[1]) <= 1
    sel = 'kpulse_anomaly_score{metric="kpulse_mem_available_bytes",stat="value"}'
    deadline = time.time() + 60
    while time.time() < deadline:
        r = seeded.request("GET", "/api/v1/query_range?" + urllib.parse.urlencode(
            {"series": sel, "from": time.time() - 600, "to": time.time(), "step": 1}),
            token=seeded.tokens["viewer"])
        assert r.status == 200, r.body
        series = r.json().get("series") or r.json().get("data", {}).get("result", [])
        if series and any(s.get("points") or s.get("values") for s in series):
            return
        time.sleep(0.5)
    raise AssertionError(f"no stored kpulse_anomaly_score points: {r.body[:300]}")
