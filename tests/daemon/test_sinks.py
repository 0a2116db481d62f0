"""Round sinks: a slow or stuck consumer of the daemon's rounds never delays collection; it
drops the oldest rounds waiting for it, and says so in its metrics."""

import json
import time

from conftest import gaps

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
