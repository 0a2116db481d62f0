"""The incidents and ask pages against the daemon's incident routes: an anomaly written into the
daemon's store opens an incident, which the list shows; its page shows the evidence, timeline and
the built-in analysis; an operator acknowledges it and comments from the page; the ask page
answers a question with the built-in reading (no LLM provider is configured here)."""

import json
import os
import sqlite3
import time

from test_pages import USERS

SERIES = "kpulse_sched_runqueue_latency_seconds:p99"


def _seed_incident(daemon):
    now = time.time()
    conn = sqlite3.connect(os.path.join(daemon.data, "kpulse.db"), timeout=10)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO anomalies (id, series, start_ts, end_ts, open, severity, "
            "peak_score, detectors, contributors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (9101, SERIES, now - 2, now, 1, "critical", 0.95, "stream",
             json.dumps([{"series": SERIES, "weight": 1.0}])))
        conn.commit()
    finally:
        conn.close()
    deadline = time.time() + 60
    while time.time() < deadline:
        r = daemon.request("GET", "/api/v1/incidents?state=active",
                           token=daemon.tokens["viewer"]).json()["incidents"]
        ids = [i["id"] for i in r if SERIES in i["summary"] or i["subsystems"] == ["cpu"]]
        if ids:
            inc = daemon.request("GET", f"/api/v1/incidents/{ids[0]}",
                                 token=daemon.tokens["viewer"]).json()
            if inc["analyses"]:
                return ids[0]
        time.sleep(0.3)
    raise AssertionError("no incident opened from the seeded anomaly")


def test_an_operator_acknowledges_and_comments_from_the_incident_page(browser, daemon):
    iid = _seed_incident(daemon)
    browser.login(*USERS["operator"])
    browser.go("incidents")
    browser.wait(lambda: [r for r in browser.find("#incident-table tbody tr")
                          if r.get_attribute("data-id") == str(iid)], "the incident's row")
    browser.js("location.hash = arguments[0]", f"#/incidents/{iid}")
    browser.wait(lambda: browser.find('#incident-actions button[data-action="ack"]'),
                 "the acknowledge button")
    analysis = browser.wait(lambda: [t for t in browser.texts('[data-panel="analysis"] .prose')
                                     if t], "the built-in analysis")
    assert analysis[0]
    assert "opened" in " ".join(browser.texts('[data-panel="timeline"] li'))
    # the panels are redrawn as the incident reloads, which can replace the
    # button between finding and clicking it: find and click in one step
    browser.wait(lambda: browser.js(
        """const b = document.querySelector('#incident-actions button[data-action="ack"]');
           if (!b) return false;
           b.click();
           return true;"""), "the acknowledge button clicked")
    browser.wait(lambda: "acknowledged" in " ".join(browser.texts(".incident-head .badge")),
                 "the acknowledged state")
    # the panels are redrawn as the incident reloads: type and send in one step
    browser.wait(lambda: browser.js(
        """const t = document.querySelector('#comment-text');
           if (!t) return false;
           t.value = 'checked the run queue';
           t.closest('form').requestSubmit();
           return true;"""), "the comment sent")
    browser.wait(lambda: "checked the run queue" in " ".join(browser.texts(".comments li")),
                 "the comment in the list")
    inc = daemon.request("GET", f"/api/v1/incidents/{iid}", token=daemon.tokens["viewer"]).json()
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "u_operator"
    assert any(t["kind"] == "comment" and t["who"] == "u_operator" for t in inc["timeline"])
    browser.screenshot("operator-incident")
    assert not browser.errors()


def test_the_ask_page_answers_with_the_builtin_reading(browser, daemon):
    browser.login(*USERS["viewer"])
    browser.go("ask")
    browser.find("#chat-input")[0].send_keys("why was the box slow in the last 10 minutes?")
    browser.find("#chat-send")[0].click()
    text = browser.wait(lambda: [t for t in browser.texts("#chat-log .chat-answer .muted")
                                 if "builtin" in t], "the answer's source", timeout=60)
    assert "window: the last 600 seconds" in text[0]
    assert browser.texts("#chat-log .chat-answer .prose")[0]
    browser.screenshot("viewer-ask")
    assert not browser.errors()
