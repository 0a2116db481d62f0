"""Round sinks: a slow or stuck consumer of the daemon's rounds never delays collection; it
drops the oldest rounds waiting for it, and says so in its metrics."""

import json
import signal
import time

from conftest import Api, free_port, gaps, wait_until

# The test sink sleeps this long per round: fifteen intervals.
SLOW_SINK_MS = 3000
INTERVAL = 0.2


def _metric(d, name, sink):
    """Value of name{sink=...} from the daemon's own rounds, as stored."""
    rows = d.db.samples(name, json.dumps({"sink": sink}, separators=(",", ":")))
    return rows[-1][1] if rows else None


def test_slow_sink_leaves_round_timestamps_regular_and_counts_its_drops(daemons, report):
    """With a sink that takes 3 s per round, rounds are still collected and stored every 0.2 s;
    the slow sink's queue stays bounded and the rounds it missed are counted."""
    d = daemons.start(env={"KPULSE_TEST_SLOW_SINK_MS": str(SLOW_SINK_MS)}, interval=INTERVAL)
    time.sleep(8.0)
    t_stop = time.monotonic()
    rc = d.stop()
    stop_s = time.monotonic() - t_stop
    assert rc == 0, f"exit code {rc}; log:\n{d.log_tail()}"

    ts = d.db.timestamps()
    assert len(ts) >= 25, f"only {len(ts)} rounds stored in 8 s at {INTERVAL} s"
    steps = [(b - a) / 1000.0 for a, b in zip(ts, ts[1:])]
    mean = sum(steps) / len(steps)
    # A round is collected every interval: nothing near the slow sink's 3 s.
    assert gaps(ts, 5 * INTERVAL) == [], f"gaps in the stored rounds: {gaps(ts, 5 * INTERVAL)}"
    assert abs(mean - INTERVAL) < 0.05, f"mean round interval {mean:.3f}s, expected {INTERVAL}s"

    dropped = _metric(d, "kpulse_sink_rounds_dropped_total", "test_slow")
    done = _metric(d, "kpulse_sink_rounds_total", "test_slow")
    queued = _metric(d, "kpulse_sink_queue_rounds", "test_slow")
    assert dropped is not None and dropped >= 10, f"slow sink dropped {dropped} rounds"
    assert done is not None and done <= 4, f"slow sink finished {done} rounds in 8 s"
    assert queued is not None and queued <= 8, f"slow sink queue {queued}"
    # At stop the slow sink's queue is dropped, not worked through (8 x 3 s): only the round
    # in progress is waited for.
    assert stop_s < 8 * SLOW_SINK_MS / 1000.0 / 2, f"stop took {stop_s:.1f}s"
    # The store's sink kept up.
    assert _metric(d, "kpulse_sink_rounds_dropped_total", "store") == 0
    report(f"{len(ts)} rounds, mean step {mean:.3f}s, max step {max(steps):.3f}s; "
           f"slow sink: {done:.0f} done, {dropped:.0f} dropped, {queued:.0f} queued; "
           f"stop took {stop_s:.1f}s")


def test_rounds_on_time_are_stamped_exactly_an_interval_apart(daemons, report):
    """A round that begins within KPULSE_TIMESTAMP_TOLERANCE_MS (and 1% of the interval) of
    when it was due is stamped with the time it was due, so rounds lie exactly an interval
    apart whatever the wake-ups' jitter (tens to hundreds of microseconds): in the live round's
    timestamp and, to the millisecond, in the store."""
    interval, password, port = 0.5, "timestamp-test-password", free_port()
    d = daemons.start(interval=interval, env={
        "KPULSE_LISTEN": f"127.0.0.1:{port}", "KPULSE_ADMIN_PASSWORD": password,
        "KPULSE_TIMESTAMP_TOLERANCE_MS": "5"})
    api = Api(port, password)
    api.login()
    stamps = set()
    deadline = time.monotonic() + 30
    while len(stamps) < 10 and time.monotonic() < deadline:
        status, body = api.get("/api/v1/live", api.token)
        if status != 503:  # 503: no round yet
            assert status == 200, body
            stamps.add(json.loads(body)["timestamp"])
        time.sleep(interval / 3)
    assert d.stop() == 0, d.log_tail()

    stamps = sorted(stamps)
    assert len(stamps) >= 10, f"{len(stamps)} rounds seen in 30 s"
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    # within 50 us of a whole number of intervals (the wall clock may be slewed by NTP); a
    # round more than 5 ms late (a busy machine) keeps the time it began
    off = [s for s in steps if abs(s - round(s / interval) * interval) > 50e-6]
    assert len(off) <= 2, f"{len(off)} of {len(steps)} steps off a whole interval: {steps}"
    ts = d.db.timestamps()
    step_ms = round(interval * 1000)
    off_grid = [t - ts[0] for t in ts if (t - ts[0]) % step_ms]
    assert len(off_grid) <= len(ts) // 5, f"{len(off_grid)} of {len(ts)} stored rounds off the grid"
    report(f"live: {len(steps) - len(off)} of {len(steps)} steps a whole interval to 50 us; "
           f"store: {len(ts) - len(off_grid)} of {len(ts)} rounds on the {step_ms} ms grid")


def test_a_stalled_daemon_counts_and_logs_the_rounds_it_did_not_collect(daemons, report):
    """A daemon stopped for 1.2 s (as a stalled machine would stop it) cannot collect the
    rounds of that time: the gap in its history is counted in kpulse_rounds_skipped_total and
    logged, so that nobody mistakes it for data the store lost."""
    d = daemons.start(interval=INTERVAL)
    wait_until(lambda: len(d.db.timestamps()) >= 3, 10, "3 rounds in the store")
    d.send(signal.SIGSTOP)
    try:
        time.sleep(1.2)
    finally:
        d.send(signal.SIGCONT)
    line = d.wait_log(r"collection ran (?P<late>[0-9.]+)s late: (?P<n>\d+) rounds skipped",
                      timeout=10)
    t_cont = time.time()
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t_cont + 1.0, 10,
               "rounds after the stall in the store")
    assert d.stop() == 0, d.log_tail()

    ts = d.db.timestamps()
    stall_gaps = gaps(ts, 2 * INTERVAL)
    assert len(stall_gaps) == 1, f"one gap expected, for the stop: {stall_gaps}"
    missing = round(stall_gaps[0][2] / INTERVAL) - 1
    skipped = d.db.samples("kpulse_rounds_skipped_total")
    # The counter is 0 before the stall and, from the round after it, holds the rounds the
    # gap lacks (within one: the stop began somewhere inside an interval).
    gap_end_ms = stall_gaps[0][1] * 1000
    before = [v for t, v in skipped if t < gap_end_ms]
    after = [v for t, v in skipped if t >= gap_end_ms]
    assert before and before[-1] == 0, f"rounds skipped before the stall: {before[-3:]}"
    assert after and abs(after[0] - missing) <= 1, (
        f"counter {after[0] if after else None} after the stall, {missing} rounds missing")
    assert int(line.group("n")) == after[0], line.group(0)
    report(f"stall of 1.2s: gap {stall_gaps[0][2]:.3f}s, {missing} rounds missing, "
           f"kpulse_rounds_skipped_total {after[0]:.0f}; log: {line.group(0)}")
