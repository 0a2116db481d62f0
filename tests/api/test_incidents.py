"""Incidents over the REST API against a real daemon: an anomaly written into the daemon's own
store (as the models sink writes them) opens an incident with evidence, the built-in reading and
an LLM's explanation (tests/fakes/fake_llm.py on 127.0.0.1); operators acknowledge, comment and
resolve it, each change lands in the audit log (admin only), the webhook receiver
(tests/fakes/webhook_receiver.py) gets the open and resolve alerts; POST /api/v1/analyze answers a
free-form question for the window it names, and falls back to the built-in reading when every
provider fails. Bad bodies and ids are 400 / 404, roles are enforced, and no key shows anywhere."""

import json
import os
import sqlite3
import subprocess
import time
import urllib.request

import pytest

from apilib import Daemon

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, "..", "fakes")
GROQ_KEY = "gsk_PYTESTKEY_incidents_0f1e2d3c4b5a"
RUNQ = "kpulse_sched_runqueue_latency_seconds:p99"


class Fake:
    def __init__(self, script, args=()):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(FAKES, script), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT "), f"{script} did not start: {line!r}"
        self.base = "http://127.0.0.1:%d" % int(line.split()[1])

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def env():
    import shutil
    import tempfile

    llm = Fake("fake_llm.py", ["--key", "groq=" + GROQ_KEY])
    hook = Fake("webhook_receiver.py")
    tmp = tempfile.mkdtemp(prefix="kpulse-api-inc-")
    d = Daemon(tmp, {
        "KPULSE_LLM_PROVIDERS": "groq",
        "KPULSE_LLM_GROQ_URL": llm.base + "/groq/openai/v1",
        "KPULSE_LLM_GROQ_KEY": GROQ_KEY,
        "KPULSE_LLM_TIMEOUT": "5",
        "KPULSE_LLM_RETRIES": "0",
        "KPULSE_LLM_BREAKER_FAILURES": "100",
        "KPULSE_ALERT_WEBHOOK_URL": hook.base + "/webhook/kpulse",
        "KPULSE_ALERT_RETRIES": "0",
        "KPULSE_INCIDENT_QUIET": "1h",
        "KPULSE_INCIDENT_SETTLE": "1s",
    })
    try:
        d.wait_ready()
        d.setup_roles()
        yield d, llm, hook
    finally:
        rc = d.stop()
        llm.stop()
        hook.stop()
        log = d.logtext()
        stored = b""
        for name in os.listdir(d.data):
            if name.startswith("kpulse.db"):
                with open(os.path.join(d.data, name), "rb") as f:
                    stored += f.read()
        shutil.rmtree(tmp, ignore_errors=True)
        # the key is in no log line and nowhere in the store (prompts, answers, analyses)
        assert GROQ_KEY not in log
        assert GROQ_KEY.encode() not in stored and b"PYTESTKEY" not in stored
    assert rc == 0


def seed_anomaly(d, aid, series, severity="critical", open_=1):
    now = time.time()
    conn = sqlite3.connect(os.path.join(d.data, "kpulse.db"), timeout=10)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO anomalies (id, series, start_ts, end_ts, open, severity, "
            "peak_score, detectors, contributors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (aid, series, now - 2, now, open_, severity, 0.97, "stream",
             json.dumps([{"series": series, "weight": 1.0}])))
        conn.commit()
    finally:
        conn.close()


def get(d, path, role="viewer"):
    return d.request("GET", path, token=d.tokens[role])


def post(d, path, body=None, role="operator"):
    return d.request("POST", path, body=body, token=d.tokens[role], timeout=60)


@pytest.fixture(scope="module")
def incident(env):
    d, _llm, _hook = env
    seed_anomaly(d, 7001, RUNQ)

    def listed():
        r = get(d, "/api/v1/incidents?state=active")
        assert r.status == 200, r.body
        items = r.json()["incidents"]
        return items[0] if items else None

    inc = wait_for(listed, 60, "an incident opened by the seeded anomaly")
    # the analysis at open: the built-in reading, then the LLM's
    wait_for(lambda: len(get(d, f"/api/v1/incidents/{inc['id']}").json()["analyses"]) >= 2, 60,
             "the analyses of the new incident")
    return inc


def test_an_anomaly_opens_an_incident_with_evidence_and_analyses(env, incident):
    d, _llm, hook = env
    assert incident["state"] == "open"
    assert incident["severity"] == "critical"
    assert incident["subsystems"] == ["cpu"]
    r = get(d, f"/api/v1/incidents/{incident['id']}")
    assert r.status == 200, r.body
    inc = r.json()
    assert [p["series"] for p in inc["parts"]] == [RUNQ]
    assert inc["timeline"][0]["kind"] == "opened" and inc["timeline"][0]["who"] == "kpulse"
    assert inc["evidence"]["window"]["from"] <= inc["opened_at"] + 1
    assert "cpu_busy_cpus" in inc["evidence"]["indicators"]
    analysts = [(a["analyst"], a.get("provider")) for a in inc["analyses"]]
    assert ("builtin", None) in analysts and ("llm", "groq") in analysts
    llm = [a for a in inc["analyses"] if a["analyst"] == "llm"][0]
    assert llm["status"] == "ok" and llm["text"] and llm["cache_hit"] is False
    assert inc["llm_status"] == "ok"
    assert inc["resource"] and inc["reading"]
    got = wait_for(lambda: [e for e in hook.call("GET", "/_received")
                            if e.get("body", {}).get("kind") == "open"], 30, "the open alert")
    body = got[0]["body"]
    assert body["incident_id"] == incident["id"] and body["severity"] == "critical"


def test_operator_acknowledges_comments_and_resolves_and_the_audit_log_says_who(env, incident):
    d, _llm, hook = env
    iid = incident["id"]
    assert post(d, f"/api/v1/incidents/{iid}/ack", role="viewer").status == 403
    r = post(d, f"/api/v1/incidents/{iid}/ack")
    assert r.status == 200, r.body
    assert r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "u_operator"
    assert post(d, f"/api/v1/incidents/{iid}/ack").status == 409
    r = post(d, f"/api/v1/incidents/{iid}/comments", {"text": "looking at the run queue"})
    assert r.status == 201, r.body
    comments = [t for t in r.json()["timeline"] if t["kind"] == "comment"]
    assert comments[-1]["who"] == "u_operator"
    assert comments[-1]["detail"] == "looking at the run queue"
    r = post(d, f"/api/v1/incidents/{iid}/resolve", {}, role="admin")
    assert r.status == 200, r.body
    assert r.json()["state"] == "resolved" and r.json()["resolved_at"] is not None
    assert post(d, f"/api/v1/incidents/{iid}/resolve").status == 409
    # a resolved incident still takes comments
    assert post(d, f"/api/v1/incidents/{iid}/comments", {"text": "post-mortem"}).status == 201

    assert get(d, "/api/v1/audit", role="operator").status == 403
    r = get(d, "/api/v1/audit", role="admin")
    assert r.status == 200, r.body
    acts = [(e["action"], e["who"], e["target"]) for e in r.json()["entries"]]
    target = f"incident/{iid}"
    assert ("incident.ack", "u_operator", target) in acts
    assert ("incident.comment", "u_operator", target) in acts
    assert ("incident.resolve", "admin", target) in acts
    wait_for(lambda: [e for e in hook.call("GET", "/_received")
                      if e.get("body", {}).get("kind") == "resolve"], 30, "the resolve alert")
    r = get(d, "/api/v1/incidents?state=resolved")
    assert iid in [i["id"] for i in r.json()["incidents"]]
    assert "evidence" not in r.json()["incidents"][0]


def test_analyze_again_adds_analyses(env, incident):
    d, _llm, _hook = env
    iid = incident["id"]
    before = len(get(d, f"/api/v1/incidents/{iid}").json()["analyses"])
    r = post(d, f"/api/v1/incidents/{iid}/analyze", {"question": "what ran?"})
    assert r.status == 200, r.body
    assert [a["analyst"] for a in r.json()["analyses"]] == ["builtin", "llm"]
    # the same prompt again: answered from the cache
    r2 = post(d, f"/api/v1/incidents/{iid}/analyze", {"question": "what ran?"})
    assert r2.status == 200
    after = get(d, f"/api/v1/incidents/{iid}").json()["analyses"]
    assert len(after) == before + 4
    assert post(d, f"/api/v1/incidents/{iid}/analyze", role="viewer").status == 403


def test_free_form_question_names_its_window_and_falls_back_when_providers_fail(env):
    d, llm, _hook = env
    r = post(d, "/api/v1/analyze", {"question": "why was the box slow in the last 5 minutes?"},
             role="viewer")
    assert r.status == 200, r.body
    a = r.json()
    assert a["window"]["said"] == "the last 300 seconds"
    assert abs((a["window"]["to"] - a["window"]["from"]) - 300) < 1
    assert a["answer"]["source"] == "llm" and a["answer"]["provider"] == "groq"
    assert a["reading"]["analyst"] == "builtin"
    llm.call("POST", "/_control", {"target": "groq", "mode": "error500"})
    try:
        r = post(d, "/api/v1/analyze", {"question": "anything odd in the last hour?"},
                 role="viewer")
    finally:
        llm.call("POST", "/_control", {"target": "groq", "mode": "ok"})
    assert r.status == 200, r.body
    a = r.json()
    assert a["answer"]["source"] == "builtin"
    assert a["answer"]["text"] == a["reading"]["text"]
    assert "built-in" in a["answer"]["note"]
    assert GROQ_KEY not in r.body.decode()
    s = get(d, "/api/v1/status").json()
    assert s["llm"]["providers"][0]["name"] == "groq"
    assert s["llm"]["providers"][0]["breaker"] in ("closed", "open", "half_open")
    assert "webhook" in s["alerts"]["targets"]
    assert s["incidents"] == {"active": 0, "opened": 1, "resolved": 1, "llm_failed": 1}

    def incident_series():
        m = d.request("GET", "/metrics").body.decode()
        assert "kpulse_llm_breaker_open" in m and "kpulse_alert_events_total" in m
        return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in m.splitlines()
                                         if line.startswith("kpulse_incidents_"))}

    # the counters reach /metrics with the next rounds
    want = {"kpulse_incidents_active": 0, "kpulse_incidents_opened_total": 1,
            "kpulse_incidents_resolved_total": 1, "kpulse_incidents_llm_failed_total": 1}
    wait_for(lambda: incident_series() == want, 20, f"{want} in /metrics")


@pytest.mark.parametrize("path,body,status", [
    ("/api/v1/incidents/1/comments", None, 415),  # no Content-Type: refused first
    ("/api/v1/incidents/1/comments", {}, 400),
    ("/api/v1/incidents/1/comments", {"text": ""}, 400),
    ("/api/v1/incidents/1/comments", {"text": "x" * 2001}, 400),
    ("/api/v1/incidents/1/comments", {"text": "hi", "extra": 1}, 400),
    ("/api/v1/incidents/1/comments", {"text": 5}, 400),
    ("/api/v1/incidents/1/comments", "not json", 415),  # sent as text
    ("/api/v1/incidents/1/ack", {"unknown": True}, 400),
    ("/api/v1/incidents/abc/ack", {}, 404),
    ("/api/v1/incidents/0/ack", {}, 404),
    ("/api/v1/incidents/999999/ack", {}, 404),
    ("/api/v1/incidents/999999/comments", {"text": "hi"}, 404),
    ("/api/v1/analyze", {}, 400),
    ("/api/v1/analyze", {"question": "  "}, 400),
    ("/api/v1/analyze", {"question": "q", "from": 10}, 400),
    ("/api/v1/analyze", {"question": "q", "from": 10, "to": 5}, 400),
    ("/api/v1/analyze", {"question": "q" * 5000}, 400),
])
def test_bad_bodies_and_ids_are_refused(env, path, body, status):
    d, _llm, _hook = env
    r = post(d, path, body, role="admin")
    assert r.status == status, r.body
    assert "error" in r.json()


@pytest.mark.parametrize("query", ["state=bogus", "severity=huge", "limit=0", "limit=x",
                                   "offset=-1", "from=5&to=1"])
def test_bad_list_parameters_are_400(env, query):
    d, _llm, _hook = env
    assert get(d, "/api/v1/incidents?" + query).status == 400


def test_routes_need_a_token(env):
    d, _llm, _hook = env
    for method, path in [("GET", "/api/v1/incidents"), ("GET", "/api/v1/audit"),
                         ("POST", "/api/v1/analyze"), ("POST", "/api/v1/incidents/1/ack")]:
        assert d.request(method, path).status == 401
