"""Live updates: the dashboard follows the daemon's stream
(GET /api/v1/stream read with fetch, the token in a header) without
reloading: charts gain a point per round and new kernel events appear in
the feed."""

import os
import shutil
import subprocess
import tempfile
import uuid

from apilib import ADMIN_PASSWORD


def test_charts_gain_points_with_each_round(browser, daemon):
    browser.login("admin", ADMIN_PASSWORD)
    first = browser.wait_chart("cpu")
    heat = browser.wait_chart("runqueue-heatmap", cells=True)
    browser.wait(lambda: browser.chart("cpu")["xs"] >= first["xs"] + 3, "three more CPU points")
    browser.wait(lambda: browser.chart("runqueue-heatmap")["xs"] >= heat["xs"] + 3,
                 "three more heatmap columns")
    assert browser.find(".stream-dot.stream-live")
    assert not browser.errors()


def test_a_new_process_appears_in_the_event_feed_without_reload(browser, daemon):
    browser.login("admin", ADMIN_PASSWORD)
    browser.go("events")
    browser.wait(lambda: browser.find("#event-table tbody tr"), "the stored events")
    name = "kpw" + uuid.uuid4().hex[:10]  # a comm of at most 15 bytes
    tmp = tempfile.mkdtemp(prefix="kpulse-web-exec-")
    try:
        prog = os.path.join(tmp, name)
        shutil.copy("/bin/true", prog)
        subprocess.run([prog], check=True)
        rows = browser.wait(lambda: [t for t in browser.texts("#event-table tbody tr")
                                     if name in t], f"an event of {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert any("exec" in r for r in rows), rows
    assert browser.js("return performance.getEntriesByType('navigation').length") == 1
    assert not browser.errors()
