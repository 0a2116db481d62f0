"""GET /api/v1/forecast and GET /api/v1/predictions against a real daemon.

The forecast reads stored history: an hour of a custom gauge is pushed with
past timestamps through POST /api/v1/metrics, then forecast. Predictions come
from the daemon's own rounds: a configured limit on kpulse_sink_rounds_total,
which grows by exactly one a round, must be predicted at the time the round
rate implies."""

import math
import time
import urllib.parse

import pytest

from apilib import INTERVAL_S

STEP_S = 10.0
HISTORY_S = 3000.0  # inside the hour POST /api/v1/metrics accepts


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


@pytest.fixture(scope="module")
def history(daemon):
    """test_forecast_load{host="a"}: 100 + a 10-minute wave, every 10 s for
    HISTORY_S, ending now; and test_forecast_load{host="b"} at 50."""
    now = time.time()
    t0 = now - HISTORY_S
    n = int(HISTORY_S / STEP_S)
    for i in range(n):
        ts = t0 + i * STEP_S
        wave = 5 * math.sin(2 * math.pi * i * STEP_S / 600)
        body = {"timestamp": ts, "metrics": [
            {"name": "test_forecast_load", "type": "gauge", "labels": {"host": "a"},
             "value": 100 + wave},
            {"name": "test_forecast_load", "type": "gauge", "labels": {"host": "b"},
             "value": 50.0},
            {"name": "test_forecast_requests_total", "type": "counter",
             "value": 20.0 * i * STEP_S},
        ]}
        r = daemon.request("POST", "/api/v1/metrics", body, token=daemon.tokens["operator"])
        assert r.status in (200, 202), r.body
    time.sleep(1.0)  # a flush or two
    return t0 + (n - 1) * STEP_S


def test_forecast_gives_points_and_both_intervals_for_every_matching_series(daemon, history):
    r = daemon.request("GET", q("/api/v1/forecast", series="test_forecast_load", horizon="600"),
                       token=daemon.tokens["viewer"])
    assert r.status == 200, r.body
    body = r.json()
    assert body["step_s"] == STEP_S and body["steps"] == 60
    series = {s["labels"]["host"]: s for s in body["series"]}
    assert set(series) == {"a", "b"}
    a = series["a"]
    assert a["aggregation"] == "avg"
    assert a["history_points"] > 200
    pts = a["points"]
    assert len(pts) == 60
    for k, p in enumerate(pts):
        assert p["ts"] == pytest.approx(a["last_ts"] + (k + 1) * STEP_S)
        assert p["lo95"] <= p["lo80"] <= p["forecast"] <= p["hi80"] <= p["hi95"]
        assert 90 < p["forecast"] < 110
    assert all(p["forecast"] == pytest.approx(50, abs=0.01) for p in series["b"]["points"])


def test_a_counter_is_forecast_as_its_rate(daemon, history):
    r = daemon.request("GET", q("/api/v1/forecast", series="test_forecast_requests_total",
                                horizon="5m"), token=daemon.tokens["viewer"])
    assert r.status == 200, r.body
    s = r.json()["series"][0]
    assert s["aggregation"] == "rate"
    assert s["points"][0]["forecast"] == pytest.approx(20, rel=0.01)


def test_a_label_selector_narrows_the_forecast(daemon, history):
    r = daemon.request("GET", q("/api/v1/forecast", series='test_forecast_load{host="b"}'),
                       token=daemon.tokens["viewer"])
    assert r.status == 200, r.body
    body = r.json()
    assert body["horizon_s"] == 3600  # KPULSE_FORECAST_HORIZON's default
    assert [s["labels"]["host"] for s in body["series"]] == ["b"]


@pytest.mark.parametrize("params,status,msg", [
    ({}, 400, "series is required"),
    ({"series": "bad name{"}, 400, "not a selector"),
    ({"series": "test_forecast_load", "horizon": "0"}, 400, "horizon"),
    ({"series": "test_forecast_load", "horizon": "8d"}, 400, "horizon"),
    ({"series": "test_forecast_load", "horizon": "soon"}, 400, "horizon"),
    ({"series": "kpulse_no_such_series"}, 404, "no stored series"),
])
def test_bad_forecast_requests_are_refused(daemon, history, params, status, msg):
    r = daemon.request("GET", q("/api/v1/forecast", **params), token=daemon.tokens["viewer"])
    assert r.status == status, r.body
    assert msg in r.json()["error"]["message"]


def test_predictions_lists_nothing_alarming_on_a_quiet_daemon(daemon):
    r = daemon.request("GET", "/api/v1/predictions", token=daemon.tokens["viewer"])
    assert r.status == 200
    body = r.json()
    assert isinstance(body["predictions"], list)
    assert body["alerts"] == sum(1 for p in body["predictions"] if p["alert"])


def test_a_configured_limit_is_predicted_at_the_time_the_rate_implies(make_daemon):
    limit = 4000
    d = make_daemon({"KPULSE_PREDICT_LIMITS": f"kpulse_sink_rounds_total>{limit}",
                     "KPULSE_PREDICT_WINDOW": "60s", "KPULSE_PREDICT_MIN_HISTORY": "10s",
                     "KPULSE_PREDICT_HORIZON": "1h"})
    d.setup_roles()
    deadline = time.time() + 60
    pred = None
    while time.time() < deadline and pred is None:
        time.sleep(1)
        r = d.request("GET", "/api/v1/predictions", token=d.tokens["viewer"])
        assert r.status == 200
        for p in r.json()["predictions"]:
            if p["kind"] == "limit" and p["labels"].get("sink") == "store":
                pred = p
    assert pred, "no prediction for kpulse_sink_rounds_total{sink=store} within 60 s"
    assert pred["series"] == "kpulse_sink_rounds_total"
    assert pred["limit"] == limit
    # one round per INTERVAL_S; a loaded machine may stretch the rounds
    rate = 1 / INTERVAL_S
    assert 0.5 * rate < pred["rate_per_s"] <= 1.05 * rate
    expected_eta = (limit - pred["current"]) / pred["rate_per_s"]
    assert pred["eta_s"] == pytest.approx(expected_eta, rel=0.01)
    assert pred["eta_lo_s"] <= pred["eta_s"] <= pred["eta_hi_s"]
    assert pred["predicted_at"] == pytest.approx(time.time() + pred["eta_s"], abs=30)
    assert pred["significant"] is True
    assert pred["alert"] is True  # within the hour
