"""`kpulse replay`: the daemon's detector over a timestamp,value CSV. One output row per input
row, scores in [0, 1] that use only the past (a prefix scores the same), and every kind of bad
input refused with one line naming the line, leaving no output file behind."""

import math
import os
import random
import subprocess

import pytest

from conftest import KPULSE_BIN

HEADER = "timestamp,value\n"


def _replay(tmp, text, *args, name="in.csv"):
    src = os.path.join(tmp, name)
    with open(src, "w", newline="") as f:
        f.write(text)
    out = os.path.join(tmp, "out.csv")
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([KPULSE_BIN, "replay", "--input", src, "--output", out, *args],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    rows = None
    if os.path.exists(out):
        with open(out) as f:
            rows = [line.rstrip("\n").split(",") for line in f]
    return r, rows


def _series(n, seed=1, spike_at=None, start=1396310400, step=300, unix=False):
    rnd = random.Random(seed)
    lines = [HEADER]
    for i in range(n):
        t = start + i * step
        v = 50 + rnd.gauss(0, 1) + (40 if i == spike_at else 0)
        if unix:
            ts = str(t)
        else:
            import datetime
            ts = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S")
        lines.append(f"{ts},{v!r}\n")
    return "".join(lines)


def test_one_row_per_input_row_with_a_high_score_on_the_spike(workdir):
    r, rows = _replay(workdir, _series(1000, spike_at=900))
    assert r.returncode == 0, r.stderr
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 1001
    scores = [float(x[2]) for x in rows[1:]]
    assert all(0 <= s <= 1 for s in scores)
    assert scores[900] >= 0.9
    assert max(scores[:900]) < 0.9
    # values and timestamps come back as read
    assert rows[1][0] == "2014-04-01 00:00:00"
    src = _series(1000, spike_at=900).splitlines()[1].split(",")
    assert float(rows[1][1]) == float(src[1])


def test_no_look_ahead_a_prefix_scores_the_same(workdir):
    full = _series(800, seed=3, unix=True)
    prefix = "".join(full.splitlines(keepends=True)[:501])
    _, a = _replay(workdir, full)
    _, b = _replay(workdir, prefix)
    assert len(b) == 501
    assert a[:501] == b


def test_repeated_timestamps_keep_every_row(workdir):
    text = HEADER + "".join(f"2014-03-09 0{2 if i < 3 else 3}:00:00,{i}\n" for i in range(15))
    r, rows = _replay(workdir, text)
    assert r.returncode == 0, r.stderr
    assert [x[1] for x in rows[1:]] == [str(i) for i in range(15)]


def test_detectors_by_name(workdir):
    r, rows = _replay(workdir, _series(400), "--detector", "ewma")
    assert r.returncode == 0 and len(rows) == 401
    r, _ = _replay(workdir, _series(10), "--detector", "htm")
    assert r.returncode == 2 and "not a detector" in r.stderr


BAD = [
    pytest.param("", "empty input", id="empty-file"),
    pytest.param("time,value\n1,2\n", ":1: header", id="missing-header"),
    pytest.param("1,2\n3,4\n", ":1: header", id="no-header-line"),
    pytest.param(HEADER + "1,2\n2,abc\n", ":3:", id="bad-number"),
    pytest.param(HEADER + "1,2\n2,nan\n", ":3:", id="nan"),
    pytest.param(HEADER + "1,2\n2,inf\n", ":3:", id="infinity"),
    pytest.param(HEADER + "1,2\n2\n", ":3:", id="one-field"),
    pytest.param(HEADER + "1,2\n2014-02-30 00:00:00,1\n", ":3:", id="bad-date"),
    pytest.param(HEADER + "1,2\n2," + "1" * 5000 + "\n", ":3:", id="huge-line"),
    pytest.param(HEADER + "10,1\n11,1\n9,1\n", ":4: timestamp 9 goes back in time",
                 id="non-monotonic"),
    pytest.param(HEADER + "1,1\n\n2,1\n", ":3:", id="blank-line"),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_bad_input_is_one_line_naming_the_line_and_writes_nothing(workdir, text, msg):
    r, rows = _replay(workdir, text)
    assert r.returncode == 1
    err = r.stderr.strip()
    assert "\n" not in err, err
    assert err.startswith("kpulse replay: "), err
    assert msg in err, err
    assert rows is None, "a partial output file was left behind"
    assert not [f for f in os.listdir(workdir) if f.startswith("out.csv")]


def test_missing_input_and_usage(workdir):
    r = subprocess.run([KPULSE_BIN, "replay"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--input" in r.stderr
    r = subprocess.run([KPULSE_BIN, "replay", "--input", os.path.join(workdir, "nope.csv")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "No such file" in r.stderr


def test_scores_are_finite_on_extreme_values(workdir):
    text = HEADER + "".join(f"{i},{v}\n" for i, v in enumerate(
        [0, 1e300, -1e300, 5e-324, 0, 0] * 100))
    r, rows = _replay(workdir, text)
    assert r.returncode == 0, r.stderr
    assert all(math.isfinite(float(x[2])) and 0 <= float(x[2]) <= 1 for x in rows[1:])
