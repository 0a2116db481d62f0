"""Process churn and the store: per-process series per name and cgroup (the
default) stay bounded however many processes run; per pid
(KPULSE_PROCESS_SERIES_BY_PID=on) the store gains a series for every busy
process. Counted in the store's series table and in GET /metrics."""

import os
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import free_port, wait_until

CHURN_SCRIPT = "#!/bin/sh\ni=0\nwhile [ $i -lt 100 ]; do i=$((i+1)); done\n"
PROCESS_SERIES = ("SELECT COUNT(*) FROM series WHERE name IN ("
                  "'kpulse_sched_process_cpu_seconds_total', "
                  "'kpulse_sched_process_runqueue_seconds_total', "
                  "'kpulse_mem_process_page_faults_total', "
                  "'kpulse_block_process_io_bytes_total')")


def stored_process_series(d):
    return d.db.query(PROCESS_SERIES)[0][0]


def exported_process_series(listen):
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as r:
        text = r.read().decode()
    return [line for line in text.splitlines()
            if line.startswith(("kpulse_sched_process_", "kpulse_mem_process_",
                                "kpulse_block_process_"))]


def churn(script, n):
    for _ in range(n):
        subprocess.run([script], check=True)


def settle(d):
    """Two flushes after now: the store has every round so far."""
    t = time.time() + 2 * d.flush + 2 * d.interval
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t, 20, "rounds stored after the churn")


@pytest.mark.parametrize("by_pid", ["off", "on"])
def test_stored_process_series_grow_with_churn_only_by_pid(daemons, workdir, report, by_pid):
    listen = f"127.0.0.1:{free_port()}"
    env = {"KPULSE_PROCESS_SERIES_BY_PID": by_pid, "KPULSE_TOP_K": "1000",
           "KPULSE_MODELS": "off", "KPULSE_LISTEN": listen}
    d = daemons.start(env=env)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "kpchurn")
        with open(script, "w") as f:
            f.write(CHURN_SCRIPT)
        os.chmod(script, 0o755)
        churn(script, 300)
        settle(d)
        first = stored_process_series(d)
        churn(script, 1200)
        settle(d)
        every = stored_process_series(d)
        exported = exported_process_series(listen)
    assert d.alive(), d.log_tail()
    report(f"INFO stored per-process series (by pid {by_pid}): {first} after 300 processes, "
           f"{every} after 1,500 (+{every - first}); {len(exported)} in the last /metrics")
    if by_pid == "on":
        assert every - first >= 600, f"by pid the store should gain a series per busy process"
    else:
        assert every - first <= 60, f"by name the store should not grow with the processes"
        assert exported and not any('pid="' in line for line in exported), exported[:5]


def test_a_process_storm_stores_events_at_the_configured_rate(daemons, workdir, report):
    """KPULSE_EVENTS_STORE_RATE=1: each event type gets one stored event a
    second with bursts of 60; 600 processes (600 fork, exec and exit events
    each, besides whatever else runs here) are left out of the store but
    counted. The bound is taken from the daemon's own lifetime, never from
    how fast the processes ran."""
    listen = f"127.0.0.1:{free_port()}"
    t0 = time.time()
    d = daemons.start(env={"KPULSE_EVENTS_STORE_RATE": "1", "KPULSE_MODELS": "off",
                           "KPULSE_LISTEN": listen})
    for _ in range(600):
        subprocess.run(["/bin/true"], check=True)
    settle(d)
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    lifetime = time.time() - t0 + 1
    # rows, and the minutes maintenance already moved into blocks
    stored = dict(d.db.query("SELECT type, sum(c) FROM (SELECT type, COUNT(*) AS c FROM events "
                             "GROUP BY type UNION ALL SELECT type, sum(n) FROM event_blocks "
                             "GROUP BY type) GROUP BY type"))
    unstored = {}
    for line in metrics.splitlines():
        if line.startswith("kpulse_store_events_unstored_total{"):
            unstored[line.split('type="')[1].split('"')[0]] = float(line.split()[-1])
    assert d.alive(), d.log_tail()
    report(f"INFO events stored at 1/s over {lifetime:.0f} s: {stored}; unstored {unstored}")
    for t in ("fork", "exec", "exit"):
        assert stored.get(t, 0) <= 60 + lifetime + 1, (t, stored, lifetime)
        assert stored.get(t, 0) + unstored.get(t, 0) >= 600, (t, stored, unstored)
