"""Anomaly models on the real daemon: a context-switch storm after a quiet warm-up is detected,
stored and exported; the host's kernel signals train the multivariate detectors (Isolation
Forest, LOF), which score every round; a correlated shift in pushed metrics is a multivariate
anomaly with its contributing series, in the store and at /api/v1/anomalies; the models' state
survives a restart; a daemon without saved state warms up from the stored history;
KPULSE_MODELS=off and bad thresholds.

Paces are counted in rounds read back from the store, never in wall-clock sleeps, so a slow
machine (or ASan) only makes the tests longer."""

import http.client
import json
import sqlite3
import subprocess
import time

from conftest import Api, free_port, wait_until

INTERVAL = 0.1
# The detector scores nothing during its first 300 updates (DETECTOR_WARMUP).
WARMUP_ROUNDS = 320
SWITCHES = "kpulse_sched_context_switches_total"


def _rounds(d):
    return len(d.db.timestamps())


def _last(d, name, labels="{}"):
    rows = d.db.samples(name, labels)
    return rows[-1][1] if rows else None


def _anomalies(d, since_ts=0):
    return d.db.query(
        "SELECT id, series, start_ts, end_ts, open, severity, peak_score, detectors, "
        "contributors FROM anomalies WHERE end_ts >= ? ORDER BY id", (since_ts,))


def _wait_rounds(d, n, what):
    # a generous bound for a loaded machine under ASan: twenty times the nominal pace
    wait_until(lambda: _rounds(d) >= n, max(120.0, n * INTERVAL * 20), what, interval=0.5)


def _storm(seconds):
    subprocess.run(["stress-ng", "--switch", "2", "--timeout", f"{seconds}s", "--quiet"],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


def test_context_switch_storm_after_warmup_is_stored_and_exported(daemons, report):
    """After a warm-up, a context-switch storm opens an anomaly on the context-switch rate
    (critical, detector "stream"), stored with its contributing series, and its score reaches
    /metrics-bound series kpulse_anomaly_score in the store."""
    d = daemons.start(interval=INTERVAL)
    _wait_rounds(d, WARMUP_ROUNDS + 50, "the models' warm-up")
    storm_start = time.time()
    _storm(4)

    # an anomaly on the context-switch rate that covers the storm (machine noise may have
    # opened one shortly before: the storm then continues it, within the cooldown)
    def storm_anomaly():
        for row in _anomalies(d, storm_start - 1):
            if row[1].startswith(SWITCHES + "{") and row[6] >= 0.7:
                return row
        return None

    row = wait_until(storm_anomaly, 120, "an anomaly on the context-switch rate")
    _id, series, start_ts, end_ts, _open, severity, peak, detectors, contrib = row
    assert series.endswith(":rate")
    assert severity in ("warning", "critical"), row
    assert peak >= 0.7, row
    assert "stream" in detectors.split(",")
    assert series in [c["series"] for c in json.loads(contrib)]
    assert end_ts >= start_ts

    # the score went into the next rounds, and so into the store
    labels = json.dumps({"metric": SWITCHES, "series": series[len(SWITCHES) + 1:].split("}")[0],
                         "stat": "rate"}, separators=(",", ":"), sort_keys=True)
    wait_until(lambda: d.db.samples("kpulse_anomaly_score", labels), 30,
               f"stored kpulse_anomaly_score{labels}")
    scores = [v for ts, v in d.db.samples("kpulse_anomaly_score", labels)
              if ts >= (storm_start - 1) * 1000]
    assert scores, f"no kpulse_anomaly_score{labels} stored since the storm"
    assert max(scores) >= 0.7
    assert _last(d, "kpulse_anomalies_total") >= 1
    assert d.stop() == 0
    report(f"storm anomaly {series} {severity} peak {peak:.2f}, "
           f"started {start_ts - storm_start:+.1f}s from the storm")


def test_state_survives_restart_and_a_new_daemon_warms_up_from_history(daemons):
    """SIGTERM saves every model's state; the next daemon restores it (and ends the anomalies
    the previous one left open); without saved state, a daemon warms up from the stored history
    instead of starting from nothing."""
    d = daemons.start(interval=INTERVAL)
    _wait_rounds(d, 50, "a few rounds")
    assert d.stop() == 0
    states = d.db.query("SELECT count(*) FROM model_state")[0][0]
    assert states >= 5, f"only {states} model states saved"

    d2 = daemons.start(interval=INTERVAL)
    wait_until(lambda: (_last(d2, "kpulse_models_restored_total") or 0) >= states, 30,
               "the restored models counted")
    assert d2.db.query("SELECT count(*) FROM anomalies WHERE open != 0 AND end_ts < ?",
                       (d2.started_at - 1,))[0][0] == 0
    assert d2.stop() == 0

    # no saved state: the history in the store is the teacher
    conn = sqlite3.connect(d2.db.path, timeout=10)
    try:
        conn.execute("DELETE FROM model_state")
        conn.commit()
    finally:
        conn.close()
    d3 = daemons.start(interval=INTERVAL)
    wait_until(lambda: (_last(d3, "kpulse_models_warmed_up_total") or 0) >= 5, 60,
               "models warmed up from stored history")
    assert (_last(d3, "kpulse_models_restored_total") or 0) == 0
    assert d3.stop() == 0


def test_models_off_exports_no_scores(daemons):
    d = daemons.start(env={"KPULSE_MODELS": "off"}, interval=INTERVAL)
    _wait_rounds(d, 20, "a few rounds")
    assert d.stop() == 0
    assert d.db.query("SELECT count(*) FROM series WHERE name = 'kpulse_anomaly_score'")[0][0] == 0
    assert "models" not in [r[0] for r in d.db.query(
        "SELECT json_extract(labels, '$.sink') FROM series WHERE name = 'kpulse_sink_rounds_total'")]


def test_thresholds_out_of_order_refuse_to_start(daemons, workdir):
    r = daemons.run_to_exit(["--data-dir", f"{workdir}/data", "--anomaly-warning", "0.95",
                             "--anomaly-critical", "0.9"])
    assert r.returncode != 0
    assert "info <= warning <= critical" in r.stderr, r.stderr


MV_PASSWORD = "multivar-test-password"


def test_the_host_kernel_signals_train_the_multivariate_model_and_rounds_are_scored(daemons):
    """With the host's scheduler and fault rates as the modelled series, the host's Isolation
    Forest and LOF train in the background on the 1 s windows the daemon keeps, and score the
    rounds after it: kpulse_multivar_series counts the series, and both detectors' scores are
    stored, in [0, 1].

    Whether a fork storm then opens an anomaly depends on what else the machine ran while the
    model trained, so it is not asserted here: on a shared machine other jobs' bursts in the
    32 training windows reach the storm's rate (issue 10: 2,020 forks/s in one training window,
    the storm 1,253/s beside stress-ng noise; 1,100/s against bursts of 137/s in another run, 8
    times past the training range but inside its spread on the log scale). Detection is tested
    on inputs the test controls: test_a_correlated_shift_in_pushed_metrics_is_a_multivariate_
    anomaly."""
    d = daemons.start(interval=INTERVAL, env={
        "KPULSE_MULTIVAR_WINDOW": "1s",
        "KPULSE_MULTIVAR_HISTORY": "10m",
        "KPULSE_MODELS_INCLUDE": "kpulse_sched_*,kpulse_mem_page_faults_total",
    })
    # a first model needs 33 complete windows; then some more rounds scored
    wait_until(lambda: (_last(d, "kpulse_multivar_trainings_total") or 0) >= 1,
               max(180.0, 600 * INTERVAL * 20), "a multivariate model trained")
    assert (_last(d, "kpulse_multivar_series") or 0) >= 3
    trained_ms = time.time() * 1000
    _wait_rounds(d, _rounds(d) + 100, "rounds scored by the model")
    assert d.stop() == 0
    for det in ("iforest", "lof"):
        labels = json.dumps({"detector": det}, separators=(",", ":"))
        scores = [v for ts, v in d.db.samples("kpulse_multivar_score", labels) if ts >= trained_ms]
        assert len(scores) >= 10, f"{det}: {len(scores)} scores stored after the training"
        assert all(0 <= v <= 1 for v in scores), (det, scores)


def _push_gauges(port, token, values, labels):
    """POST /api/v1/metrics: one gauge per name in values, each with labels."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/metrics",
                     body=json.dumps({"metrics": [
                         {"name": name, "type": "gauge", "labels": labels, "value": value}
                         for name, value in values.items()]}),
                     headers={"Content-Type": "application/json",
                              "Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        body = r.read()
        assert r.status in (200, 202, 204), body
    finally:
        conn.close()


def _push_gauge(port, token, name, value):
    _push_gauges(port, token, {name: value}, {"queue": "mail"})


def test_a_custom_metric_pushed_by_a_client_is_modelled(daemons, report):
    """A gauge pushed to POST /api/v1/metrics reaches the models (the default include list has
    @custom): after the warm-up, a level shift in it opens an anomaly on that series, and its
    score is stored as kpulse_anomaly_score. Paced by stored rounds, not by time."""
    import random
    port = free_port()
    d = daemons.start(interval=INTERVAL, env={
        "KPULSE_LISTEN": f"127.0.0.1:{port}",
        "KPULSE_ADMIN_PASSWORD": MV_PASSWORD,
        "KPULSE_MULTIVAR": "off",
    })
    api = Api(port, MV_PASSWORD)
    token = api.login()
    rng = random.Random(7)
    start = _rounds(d)
    while _rounds(d) < start + WARMUP_ROUNDS + 50:
        _push_gauge(port, token, "app_queue_depth", 100 + rng.gauss(0, 3))
        time.sleep(INTERVAL / 2)
    shift_ts = time.time()
    shifted = _rounds(d)

    def custom_anomaly():
        for row in _anomalies(d, shift_ts - 1):
            if row[1].startswith("app_queue_depth{"):
                return row
        return None

    row = None
    while _rounds(d) < shifted + 100 and row is None:
        _push_gauge(port, token, "app_queue_depth", 400 + rng.gauss(0, 3))
        time.sleep(INTERVAL / 2)
        row = custom_anomaly()
    row = row or wait_until(custom_anomaly, 30, "an anomaly on the pushed gauge")
    assert row[1] == "app_queue_depth{queue=mail}:value", row
    assert "stream" in row[7].split(","), row
    wait_until(lambda: d.db.query(
        "SELECT count(*) FROM series WHERE name = 'kpulse_anomaly_score' "
        "AND labels LIKE '%app_queue_depth%'")[0][0] >= 1, 30,
        "the pushed gauge's anomaly score stored")
    report(f"custom gauge anomaly {row[1]} {row[5]} peak {row[6]:.2f}")


APP_SERIES = ("app_requests", "app_cpu", "app_queue_depth")


def _app_values(rng, load):
    """Three gauges of one service that move together with its load."""
    return {"app_requests": load + rng.gauss(0, 2), "app_cpu": 0.02 * load + rng.gauss(0, 0.05),
            "app_queue_depth": 0.5 * load + rng.gauss(0, 1)}


def test_a_correlated_shift_in_pushed_metrics_is_a_multivariate_anomaly(daemons, report):
    """The host's Isolation Forest and LOF on inputs the test controls: three gauges of one
    service, pushed to POST /api/v1/metrics and the only modelled series
    (KPULSE_MODELS_INCLUDE=app_*), move together around a load of 100 while the model trains
    on 1 s windows; then all three rise a hundredfold together. Both detectors score the shift at
    least 0.5, the anomaly record (store and GET /api/v1/anomalies) names iforest or lof and
    the pushed series as contributors. Paced by the daemon's rounds and trainings, never by
    time, so it does not depend on the machine being quiet or fast."""
    import random
    port = free_port()
    d = daemons.start(interval=INTERVAL, env={
        "KPULSE_LISTEN": f"127.0.0.1:{port}",
        "KPULSE_ADMIN_PASSWORD": MV_PASSWORD,
        "KPULSE_MULTIVAR_WINDOW": "1s",
        "KPULSE_MULTIVAR_HISTORY": "10m",
        "KPULSE_MODELS_INCLUDE": "app_*",
    })
    api = Api(port, MV_PASSWORD)
    token = api.login()
    rng = random.Random(11)

    def push_until(pred, load, rounds, what):
        deadline = _rounds(d) + rounds
        while _rounds(d) < deadline:
            _push_gauges(port, token, _app_values(rng, load + rng.gauss(0, 5)), {"service": "web"})
            value = pred()
            if value:
                return value
            time.sleep(INTERVAL / 2)
        raise AssertionError(f"{what} not seen within {rounds} rounds")

    # a first model needs 33 complete 1 s windows of the three series; a retry every 16
    push_until(lambda: (_last(d, "kpulse_multivar_trainings_total") or 0) >= 1, 100, 3000,
               "a multivariate model trained")
    assert _last(d, "kpulse_multivar_series") == 3
    start = _rounds(d)
    push_until(lambda: _rounds(d) >= start + 30, 100, 100, "rounds scored by the model")
    shift_start = time.time()

    def mv_anomaly():
        for row in _anomalies(d, shift_start - 1):
            dets = row[7].split(",")
            if ("iforest" in dets or "lof" in dets) and json.loads(row[8]):
                return row
        return None

    def mv_peaks():
        out = {}
        for det in ("iforest", "lof"):
            labels = json.dumps({"detector": det}, separators=(",", ":"))
            vals = [v for ts, v in d.db.samples("kpulse_multivar_score", labels)
                    if ts >= shift_start * 1000]
            out[det] = round(max(vals), 2) if vals else None
        return out

    # the shift lasts until both detectors have scored it (a window and a round later);
    # a hundredfold, so the forest's peak is not near 0.5 (replayed: 0.95 in the first
    # window, 0.62 after; tenfold: 0.89, then 0.50-0.54, live peaks 0.57-0.79)
    try:
        push_until(lambda: mv_anomaly() and all(
            (p or 0) >= 0.5 for p in mv_peaks().values()), 10000, 300,
            "a multivariate anomaly scored >= 0.5 by both detectors")
    except AssertionError as e:
        raise AssertionError(f"{e}; peak multivariate scores since the shift {mv_peaks()}, "
                             f"anomalies {_anomalies(d, shift_start - 1)}") from None
    row = mv_anomaly()
    contrib = json.loads(row[8])
    assert all(c["weight"] > 0 for c in contrib), contrib
    names = {c["series"].split("{")[0] for c in contrib}
    assert names and names <= set(APP_SERIES), contrib

    body = api.json(f"/api/v1/anomalies?from={shift_start - 5:.3f}")
    rec = [a for a in body["anomalies"] if a["id"] == row[0]]
    assert rec, body
    assert set(rec[0]["detectors"]) & {"iforest", "lof"}, rec
    assert rec[0]["contributors"] and all(set(c) == {"series", "weight"}
                                          for c in rec[0]["contributors"]), rec
    assert d.stop() == 0
    report(f"multivariate anomaly {row[1]} {row[5]} peak {row[6]:.2f} detectors {row[7]} "
           f"contributors {sorted(names)}; peak multivariate scores {mv_peaks()}")
