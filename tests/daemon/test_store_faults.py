"""The store when the database cannot be written: disk full, read-only
file system, a lock held by another process, and the bound on what is kept
in memory meanwhile. The daemon keeps collecting; when writing works again
every buffered round is written, so the history has no gap."""

import collections
import os
import re
import signal
import sqlite3
import time

from conftest import INTERVAL_S, fill_fs, gaps, wait_until

FAILING_RE = r"store: writes failing \((?P<why>.*)\); buffering \d+ samples in memory"
WRITING_AGAIN_RE = r"store: writing again"
# Retries back off (0.1 s doubling), so the first one after the fault ends
# may come a few seconds later.
RECOVERY_TIMEOUT_S = 40.0


def wait_first_rounds(d, n=3):
    wait_until(lambda: len(d.db.timestamps()) >= n, 10, f"{n} rounds in the store")


def unexplained_gaps(d, ts):
    """The gaps of ts that the store lost: those the daemon's own
    kpulse_rounds_skipped_total does not account for (a round thread or a
    machine that stalled collects nothing, which is not the store's loss)."""
    skipped = d.db.samples("kpulse_rounds_skipped_total")
    out = []
    for a, b, secs in gaps(ts, 2 * INTERVAL_S):
        before = [v for t, v in skipped if t <= a * 1000]
        after = [v for t, v in skipped if t >= b * 1000]
        missing = round(secs / INTERVAL_S) - 1
        if not before or not after or after[0] - before[-1] < missing - 1:
            out.append((a, b, secs))
    return out


def assert_recovered_without_gap(d, t_fault, t_back, failing):
    """After a fault from t_fault to t_back: rounds collected after t_back
    are stored, every round of the fault window is stored, and the fault
    is recorded in the health series. (That the recovery is logged is
    test_recovery_after_a_fault_is_logged's business.)"""
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t_back + 1.0, RECOVERY_TIMEOUT_S,
               "rounds collected after the fault in the store")
    assert d.alive(), f"kpulse died; log:\n{d.log_tail()}"

    ts = d.db.timestamps()
    assert unexplained_gaps(d, ts) == [], (
        f"rounds missing (gaps: from, to, seconds) that the daemon did not skip; log:\n"
        f"{d.log_tail()}")
    in_fault = [t for t in ts if t_fault * 1000 <= t <= t_back * 1000]
    expected = (t_back - t_fault) / INTERVAL_S
    assert len(in_fault) >= expected - 2, (
        f"{len(in_fault)} rounds stored for the {t_back - t_fault:.1f}s fault, ~{expected:.0f} "
        f"collected")

    errors = d.db.max_value("kpulse_store_write_errors_total")
    assert errors is not None and errors >= 1, f"write errors recorded: {errors}"
    writable = d.db.samples("kpulse_store_writable")
    assert all(v == 1 for t, v in writable if t < t_fault * 1000), "not writable before the fault"
    zeros = [t for t, v in writable if v == 0]
    assert zeros, "kpulse_store_writable never recorded 0 during the fault"
    assert zeros[0] >= t_fault * 1000, "kpulse_store_writable 0 before the fault"
    assert writable[-1][1] == 1, "kpulse_store_writable still 0 after recovery"
    return ts


def files_held(pid, under):
    """What process pid holds under a directory: open files (by fd) and
    mappings, e.g. ['fd 7 .../kpulse.db', 'map .../kpulse.db-shm']."""
    held = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in sorted(os.listdir(fd_dir), key=int):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith(under + "/"):
            held.append(f"fd {fd} {target}")
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            path = line.split(None, 5)[5].strip() if len(line.split(None, 5)) > 5 else ""
            if path.startswith(under + "/") and f"map {path}" not in held:
                held.append(f"map {path}")
    return held


def test_disk_full_keeps_daemon_running_and_writes_fault_window_once_space_returns(
        daemons, small_tmpfs, report):
    d = daemons.start(data_dir=os.path.join(small_tmpfs, "data"))
    wait_first_rounds(d)

    filler = fill_fs(small_tmpfs)
    t_fault = time.time()
    failing = d.wait_log(FAILING_RE, timeout=15)
    assert re.search(r"full|space", failing.group("why"), re.I), failing.group(0)
    time.sleep(max(0.0, t_fault + 2.5 - time.time()))
    assert d.alive(), f"kpulse died with the disk full; log:\n{d.log_tail()}"

    os.unlink(filler)
    t_back = time.time()
    ts = assert_recovered_without_gap(d, t_fault, t_back, failing)

    assert d.stop() == 0, d.log_tail()
    report(f"disk full: {t_back - t_fault:.1f}s fault, {len(ts)} rounds stored without gap; "
           f"error: {failing.group('why')}")


def test_read_only_file_system_keeps_daemon_running_and_recovers_without_gap(
        daemons, workdir, ext4_loop, report):
    # The daemon keeps DATA_DIR/auth.db open for its API, so a file system
    # holding all of DATA_DIR could not be unmounted while it runs, and
    # ext4 leaves its error-read-only state only at an unmount. So the
    # store's files alone live on the ext4, through a symlink (SQLite puts
    # -wal and -shm next to the symlink's target). The target is in a
    # subdirectory: while unmounted, nothing can be created in its place.
    store_dir = os.path.join(ext4_loop.mnt, "store")
    os.mkdir(store_dir)
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    os.symlink(os.path.join(store_dir, "kpulse.db"), os.path.join(data, "kpulse.db"))
    d = daemons.start(data_dir=data)
    wait_first_rounds(d)
    assert os.path.isfile(os.path.join(store_dir, "kpulse.db-wal")), os.listdir(store_dir)

    # Commits still in the page cache when ext4 turns read-only would be
    # thrown away at the unmount below, as a power cut would. Hold the
    # daemon for the instant of sync + error so that there are none; a
    # stop this short delays a round, it does not skip one.
    d.send(signal.SIGSTOP)
    try:
        ext4_loop.sync()
        ext4_loop.make_read_only()
    finally:
        d.send(signal.SIGCONT)
    t_fault = time.time()
    failing = d.wait_log(FAILING_RE, timeout=15)
    time.sleep(max(0.0, t_fault + 2.5 - time.time()))
    assert d.alive(), f"kpulse died on a read-only file system; log:\n{d.log_tail()}"

    # Writable again: unmount and mount. The daemon must not keep the
    # database open while it cannot write it, or this would never succeed.
    deadline = time.monotonic() + 15
    while files_held(d.pid, ext4_loop.mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    held = files_held(d.pid, ext4_loop.mnt)
    assert not held and ext4_loop.unmount(timeout=15), (
        f"{ext4_loop.mnt} stayed busy for 15s: kpulse keeps the store's files open on the "
        f"read-only file system ({held}); log:\n{d.log_tail()}")
    ext4_loop.mount()
    t_back = time.time()
    ts = assert_recovered_without_gap(d, t_fault, t_back, failing)

    assert d.stop() == 0, d.log_tail()
    report(f"read-only: {t_back - t_fault:.1f}s fault, {len(ts)} rounds stored without gap; "
           f"error: {failing.group('why')}")


def hold_write_lock(db_path, seconds, d):
    """Holds BEGIN EXCLUSIVE on the database for seconds from now.
    Returns (time the lock was taken, time just before it was released)."""
    conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        t_lock = time.time()
        try:
            failing = d.wait_log(FAILING_RE, timeout=seconds + 5)
            time.sleep(max(0.0, t_lock + seconds - time.time()))
            t_release = time.time()
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()
    return t_lock, t_release, failing


def test_locked_database_delays_writes_without_losing_samples(daemons, report):
    d = daemons.start()
    wait_first_rounds(d)

    # longer than the daemon's busy timeout (2 s), so that writes fail
    t_fault, t_back, failing = hold_write_lock(d.db.path, 5.0, d)
    assert re.search(r"locked|busy", failing.group("why"), re.I), failing.group(0)
    ts = assert_recovered_without_gap(d, t_fault, t_back, failing)

    assert d.stop() == 0, d.log_tail()
    report(f"locked: {t_back - t_fault:.1f}s lock, {len(ts)} rounds stored without gap")


def test_recovery_after_a_fault_is_logged(daemons):
    d = daemons.start()
    wait_first_rounds(d)
    t_fault, t_back, failing = hold_write_lock(d.db.path, 3.0, d)
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t_back + 1.0, RECOVERY_TIMEOUT_S,
               "rounds collected after the lock in the store")
    # written again: the operator who saw "writes failing" is told so
    d.wait_log(WRITING_AGAIN_RE, timeout=2, after=failing.end())
    assert d.stop() == 0, d.log_tail()


def test_full_buffer_drops_and_counts_samples_and_daemon_keeps_running(daemons, report):
    buffer_max = 1000  # the smallest allowed: ~12 rounds at this pace
    d = daemons.start("--buffer-max-samples", str(buffer_max))
    wait_first_rounds(d, 5)
    by_ts = collections.Counter(t for _, t, _ in d.db.all_samples())
    per_round = min(by_ts[t] for t in sorted(by_ts)[-4:])
    lock_s = 7.0
    assert lock_s / INTERVAL_S * per_round > 2 * buffer_max, "the lock is too short to fill"

    t_fault, t_back, failing = hold_write_lock(d.db.path, lock_s, d)
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t_back + 1.0, RECOVERY_TIMEOUT_S,
               "rounds collected after the lock in the store")
    assert d.alive(), f"kpulse died; log:\n{d.log_tail()}"

    # What was kept never exceeded the bound ...
    raw = d.db.all_samples()
    kept = sum(1 for _, t, _ in raw if int(t_fault * 1000) < t < int(t_back * 1000))
    assert 0 < kept <= buffer_max
    buffered = d.db.max_value("kpulse_store_samples_buffered")
    assert buffered <= buffer_max
    # ... the rest was dropped, and counted: a round missing entirely had
    # all of its samples dropped, at least those of the series that every
    # stored round has (the round that filled the buffer lost only part).
    ts = d.db.timestamps()
    in_fault = [t for t in ts if t_fault * 1000 < t < t_back * 1000]
    missing_rounds = round((t_back - t_fault) / INTERVAL_S) - len(in_fault)
    assert missing_rounds >= 5, f"only {missing_rounds} rounds missing in a {lock_s}s lock"
    per_series = collections.Counter(sid for sid, _, _ in raw)
    always = sum(1 for n in per_series.values() if n == len(ts))
    assert always >= 20, f"only {always} series in every round"
    dropped = d.db.max_value("kpulse_store_samples_dropped_total")
    assert dropped >= (missing_rounds - 1) * always, (
        f"{dropped} samples counted as dropped for {missing_rounds} missing rounds of at least "
        f"{always} series each")
    # Before the lock and after it, nothing is missing.
    assert gaps([t for t in ts if t < t_fault * 1000 + 1000], 2 * INTERVAL_S) == []
    assert gaps([t for t in ts if t > t_back * 1000], 2 * INTERVAL_S) == []

    assert d.stop() == 0, d.log_tail()
    report(f"buffer {buffer_max}: kept {kept} samples of the {t_back - t_fault:.1f}s lock, "
           f"dropped {dropped:.0f} ({missing_rounds} rounds of ~{per_round}, >= {always} each)")
