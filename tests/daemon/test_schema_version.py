"""A database kpulse must not write to (a newer schema, or not a kpulse
database at all) is refused with a message saying why, and left exactly as
it was."""

import hashlib
import os
import shutil
import sqlite3

from conftest import wait_until

# userspace/store/store.h: STORE_SCHEMA_VERSION, what an upgraded database ends at
SCHEMA_VERSION = 9


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dir_state(path):
    """{name: (size, sha256)} of the files in path."""
    return {n: (os.path.getsize(os.path.join(path, n)), sha256(os.path.join(path, n)))
            for n in sorted(os.listdir(path))}


def edit_db(path, *statements):
    """Runs statements on a read-write connection, closed at once: as the
    last connection it checkpoints and removes the WAL, so that everything
    is in the main file."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def assert_refused_unchanged(daemons, data_dir, *message_parts):
    before = dir_state(data_dir)
    assert "kpulse.db" in before and not {"kpulse.db-wal", "kpulse.db-shm"} & set(before), before

    r = daemons.run_to_exit(["--data-dir", data_dir, "--interval", "0.2"], timeout=30)

    assert r.returncode != 0, f"kpulse accepted the database; stderr: {r.stderr}"
    for part in message_parts:
        assert part in r.stderr, f"{part!r} not in {r.stderr!r}"
    after = dir_state(data_dir)
    assert after["kpulse.db"] == before["kpulse.db"], "the database file was modified"
    # Nothing else changed either (auth.db, jwt.secret of the first run).
    # Reading a WAL-mode database may leave an empty -wal and a -shm index
    # next to it; neither holds data. kpulse.lock holds the PID of the last
    # daemon that started on the data dir (daemon/datadir.h).
    changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    assert changed <= {"kpulse.db-wal", "kpulse.db-shm", "kpulse.lock"}, changed
    assert after.get("kpulse.db-wal", (0,))[0] == 0, "data written to the WAL"
    return r.stderr


def test_database_from_newer_schema_version_is_refused_and_left_unchanged(daemons, workdir):
    data = os.path.join(workdir, "data")
    d = daemons.start(data_dir=data)
    wait_until(lambda: len(d.db.timestamps()) >= 2, 10, "2 rounds stored")
    assert d.stop() == 0, d.log_tail()
    db = os.path.join(data, "kpulse.db")
    conn = sqlite3.connect(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute("SELECT coalesce(sum(n), 0) FROM chunks_raw").fetchone()[0]
    finally:
        conn.close()
    assert version >= 1 and rows > 0
    # a later kpulse that migrated this database one step further
    edit_db(db, f"PRAGMA user_version = {version + 1}")
    for leftover in ("kpulse.db-wal", "kpulse.db-shm"):
        assert not os.path.exists(os.path.join(data, leftover)), leftover

    stderr = assert_refused_unchanged(daemons, data, f"schema version {version + 1}",
                                      f"newer than the {version}", db)
    assert "refus" in stderr, stderr


def test_sqlite_database_of_another_program_is_refused_and_left_unchanged(daemons, workdir):
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    db = os.path.join(data, "kpulse.db")
    edit_db(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
            "INSERT INTO notes (text) VALUES ('not telemetry')")

    stderr = assert_refused_unchanged(daemons, data, "not a kpulse database", db)
    assert "refus" in stderr, stderr


FIXTURE_V4 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures",
                          "store_v4.db")


def test_database_of_schema_4_is_upgraded_to_chunks_at_start_keeping_its_samples(
        daemons, workdir):
    """A database written by the kpulse before compressed chunks
    (tests/unit/fixtures/store_v4.db, 2,400 samples of 6 series) is
    converted at start, with its progress in the log, and the daemon goes on
    writing into it."""
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    db = os.path.join(data, "kpulse.db")
    shutil.copy(FIXTURE_V4, db)

    # the fixture is from 2023: retention must not take it
    d = daemons.start("--retention-raw", "3650d", "--retention-1m", "3650d", "--retention-1h",
                      "3650d", data_dir=data)
    d.wait_log(r"schema 4 -> 5, 2400 raw samples into compressed chunks", timeout=10)
    d.wait_log(r"schema 5, 2400 raw samples in chunks", timeout=10)
    wait_until(lambda: len(d.db.timestamps()) >= 2, 10, "2 rounds stored")
    assert d.stop() == 0, d.log_tail()

    conn = sqlite3.connect(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        old = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'samples_raw'")
        old = old.fetchone()[0]
    finally:
        conn.close()
    # chunks (5), incidents (6), model_state (7), minutes in chunks (8)
    assert version == SCHEMA_VERSION and old == 0
    # the fixture's series read back whole from the chunks
    for i in range(6):
        name = "fixture_ops_total" if i < 2 else "fixture_level_bytes" if i < 4 else \
            "fixture_latency_seconds"
        got = d.db.samples(name, f'{{"n":"{i}"}}')
        assert len(got) == 400, (name, len(got))
        assert got[0][0] == 1700000000000 and got[-1][0] == 1700000429000, got[-1]


FIXTURE_V7 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures",
                          "store_v7.db")


def test_database_of_schema_7_has_its_minutes_moved_into_chunks_at_start(daemons, workdir):
    """A database written by the kpulse of one row per series and minute
    (tests/unit/fixtures/store_v7.db, 906 minutes of 6 series) is converted
    at start, with its progress in the log: the minutes land in one chunk
    per series and hour, and the daemon goes on writing."""
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    db = os.path.join(data, "kpulse.db")
    shutil.copy(FIXTURE_V7, db)

    d = daemons.start("--retention-raw", "3650d", "--retention-1m", "3650d", "--retention-1h",
                      "3650d", data_dir=data)
    d.wait_log(r"schema 7 -> 8, 906 1-minute rows into chunks", timeout=10)
    d.wait_log(r"schema 8, 906 1-minute rows in chunks", timeout=10)
    wait_until(lambda: len(d.db.timestamps()) >= 2, 10, "2 rounds stored")
    assert d.stop() == 0, d.log_tail()

    conn = sqlite3.connect(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        old = conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'samples_1m%'")
        old = old.fetchone()[0]
        # the fixture's 2.5 hours (4 hours begun) of 6 series, and nothing
        # of the daemon's own yet (its first minute is not complete)
        chunks, minutes = conn.execute(
            "SELECT count(*), sum(n) FROM chunks_1m WHERE start_ts < 1700020000").fetchone()
    finally:
        conn.close()
    assert version == SCHEMA_VERSION and old == 0
    assert (chunks, minutes) == (24, 906)
