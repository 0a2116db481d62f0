"""The raw samples of one series of a kpulse store, for http_bench.sh
(the store keeps them in compressed chunks that SQL alone cannot read).

  store_raw.py DB count NAME [FROM_MS TO_MS]   samples of NAME{} (in range)
  store_raw.py DB times NAME                   their times, one a line
  store_raw.py DB backfill NAME SECONDS        one synthetic sample a second
      for SECONDS before the first real one, around its value (the daemon
      must be stopped)
"""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import chunks  # noqa: E402


def series_chunks(conn, name):
    return conn.execute(
        "SELECT c.series_id, c.data FROM chunks_raw c JOIN series s ON s.id = c.series_id "
        "WHERE s.name = ? AND s.labels = '{}' ORDER BY c.start_ms", (name,)).fetchall()


def samples(conn, name):
    return [(t, v) for _, data in series_chunks(conn, name) for t, v, _ in chunks.decode(data)]


def main(argv):
    db, cmd, name = argv[1], argv[2], argv[3]
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        if cmd == "count":
            got = samples(conn, name)
            if len(argv) > 5:
                lo, hi = int(argv[4]), int(argv[5])
                got = [s for s in got if lo <= s[0] <= hi]
            print(len(got))
        elif cmd == "times":
            for t, _ in samples(conn, name):
                print(t)
        elif cmd == "backfill":
            rows = series_chunks(conn, name)
            if not rows:
                return 1
            sid = rows[0][0]
            t0, v0, _ = chunks.decode(rows[0][1])[0]
            n = int(argv[4])
            synth = [(t0 - k * 1000, v0 + (k % 60) * 4096.0) for k in range(n, 0, -1)]
            conn.execute("BEGIN IMMEDIATE")
            for start, end, cnt, data in chunks.encode(synth):
                conn.execute("INSERT OR IGNORE INTO chunks_raw (series_id, start_ms, end_ms, "
                             "n, data) VALUES (?, ?, ?, ?, ?)", (sid, start, end, cnt, data))
            conn.execute("COMMIT")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
