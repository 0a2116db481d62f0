"""`kpulse forecast`: the output contract on real and synthetic CSV files, the
backtest table, and every bad-input path (one line naming the problem, exit 1,
or 2 for a usage error). Needs no root and loads no probe."""

import datetime
import math
import os
import subprocess

import pytest

# the binary of the checkout these tests are in, unless KPULSE_BIN names another
KPULSE_BIN = os.environ.get(
    "KPULSE_BIN",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "kpulse"))
HEADER = "timestamp,forecast,lo80,hi80,lo95,hi95"
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
# shared/ sits beside the checkout (CI), or beside its parent (worktrees)
NAB_CPU = next((p for p in (os.path.join(REPO, up, "shared", "data", "nab", "data",
                                         "realAWSCloudwatch", "ec2_cpu_utilization_825cc2.csv")
                            for up in ("..", os.path.join("..", "..")))
                if os.path.exists(p)), "")


def run(*args, timeout=120):
    return subprocess.run([KPULSE_BIN, "forecast", *args], capture_output=True, text=True,
                          timeout=timeout)


def write(tmp_path, name, rows, header="timestamp,value"):
    p = tmp_path / name
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return str(p)


def parse(out, n):
    lines = out.strip().split("\n")
    assert lines[0] == HEADER
    assert len(lines) == n + 1
    rows = []
    for line in lines[1:]:
        f = line.split(",")
        assert len(f) == 6
        v = [float(x) for x in f[1:]]
        assert all(math.isfinite(x) for x in v)
        fc, lo80, hi80, lo95, hi95 = v
        assert lo95 <= lo80 <= fc <= hi80 <= hi95
        rows.append((f[0], v))
    return rows


def datetime_rows(start, step_s, values):
    t0 = datetime.datetime.fromisoformat(start)
    return [f"{(t0 + datetime.timedelta(seconds=i * step_s)):%Y-%m-%d %H:%M:%S},{v!r}"
            for i, v in enumerate(values)]


def test_forecast_prints_header_and_the_next_n_steps_in_the_input_format(tmp_path):
    values = [10 + math.sin(i / 20) for i in range(500)]
    path = write(tmp_path, "s.csv", datetime_rows("2024-02-28 22:00:00", 300, values))
    r = run("--input", path, "--horizon", "30")
    assert r.returncode == 0, r.stderr
    rows = parse(r.stdout, 30)
    last = datetime.datetime(2024, 2, 28, 22) + datetime.timedelta(seconds=499 * 300)
    for k, (ts, v) in enumerate(rows):
        want = last + datetime.timedelta(seconds=(k + 1) * 300)
        assert ts == f"{want:%Y-%m-%d %H:%M:%S}"  # crosses 29 Feb (a leap day)
        assert 8 < v[0] < 12


def test_unix_timestamps_stay_unix_and_gaps_are_filled(tmp_path):
    # every 50th row missing; the last row is i = 299
    rows = [f"{1700000000 + 60 * i},{float(i % 7)}" for i in range(300) if i % 50 != 48]
    path = write(tmp_path, "u.csv", rows)
    r = run("--input", path, "--horizon", "5")
    assert r.returncode == 0, r.stderr
    out = parse(r.stdout, 5)
    assert [ts for ts, _ in out] == [str(1700000000 + 60 * (299 + k)) for k in range(1, 6)]


def test_repeated_timestamps_are_accepted(tmp_path):
    rows = datetime_rows("2014-03-09 02:00:00", 300, [1.0] * 12)
    rows += ["2014-03-09 03:00:00,1.0"] * 5 + datetime_rows("2014-03-09 03:05:00", 300,
                                                             [1.0] * 40)
    path = write(tmp_path, "dst.csv", rows)
    r = run("--input", path, "--horizon", "3")
    assert r.returncode == 0, r.stderr
    out = parse(r.stdout, 3)
    assert out[0][0] == "2014-03-09 06:25:00"
    assert out[0][1][0] == pytest.approx(1.0)


def test_a_non_negative_series_gets_no_negative_bound(tmp_path):
    values = [0.0 if i % 10 else 50.0 for i in range(1000)]
    path = write(tmp_path, "z.csv", datetime_rows("2024-01-01 00:00:00", 60, values))
    r = run("--input", path, "--horizon", "20")
    assert r.returncode == 0, r.stderr
    assert all(v[3] >= 0 and v[1] >= 0 for _, v in parse(r.stdout, 20))


@pytest.mark.skipif(not os.path.exists(NAB_CPU), reason="shared NAB data not present")
def test_backtest_reports_mase_against_naive_and_seasonal_naive_and_coverage():
    r = run("--input", NAB_CPU, "--horizon", "12", "--backtest")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert lines[0].startswith("backtest: rows=4034 step=300s horizon=12 origins=20 season=288")
    assert lines[1] == "method,mase,rel_snaive,cov80,cov95"
    table = {f[0]: f[1:] for f in (line.split(",") for line in lines[2:])}
    assert set(table) == {"kpulse", "naive", "snaive"}
    k, naive = float(table["kpulse"][0]), float(table["naive"][0])
    assert 0 < k < naive  # beats the last value on this series
    assert 0.7 <= float(table["kpulse"][3]) <= 1.0
    assert table["snaive"][1] == "1.0000"


@pytest.mark.parametrize("rows,header,msg", [
    (["2014-01-01 00:00:00,1", "2014-01-01 00:05:00,NaN"], "timestamp,value",
     ":3: value \"NaN\" is not a finite decimal number"),
    (["2014-01-01 00:00:00,1", "2014-01-01 00:05:00,"], "timestamp,value", ":3: value"),
    (["2014-01-01 00:00:00,1", "2014-13-01 00:05:00,2"], "timestamp,value", ":3: timestamp"),
    (["2014-01-01 00:00:00,1,3"], "timestamp,value", ":2: expected 2 fields"),
    (["1,2"], "time,val", ":1: header must be"),
    (["2014-01-01 00:00:00,1"], "timestamp,value", "one row is not enough"),
    ([], "timestamp,value", "no rows after the header"),
    (["2014-01-01 00:00:00,1", "2014-01-01 00:00:00,2"], "timestamp,value", "never increase"),
    (["0,1", "1,1", "100,1"], "timestamp,value", "too irregular"),
])
def test_bad_input_is_refused_with_one_line_naming_it(tmp_path, rows, header, msg):
    path = write(tmp_path, "bad.csv", rows, header)
    r = run("--input", path, "--horizon", "3")
    assert r.returncode == 1
    assert r.stdout == ""
    assert msg in r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("args,msg", [
    (["--horizon", "3"], "--input and --horizon are required"),
    (["--input", "x.csv"], "--input and --horizon are required"),
    (["--input", "x.csv", "--horizon", "0"], "--horizon: '0'"),
    (["--input", "x.csv", "--horizon", "-5"], "--horizon: '-5'"),
    (["--input", "x.csv", "--horizon", "10001"], "--horizon: '10001'"),
    (["--input", "x.csv", "--horizon", "3", "extra"], "unexpected argument 'extra'"),
])
def test_usage_errors_exit_2(args, msg):
    r = run(*args)
    assert r.returncode == 2
    assert msg in r.stderr


def test_a_missing_file_is_named():
    r = run("--input", "/nonexistent/in.csv", "--horizon", "3")
    assert r.returncode == 1
    assert "/nonexistent/in.csv: cannot open" in r.stderr


def test_backtest_needs_enough_rows(tmp_path):
    path = write(tmp_path, "short.csv", [f"{1700000000 + 60 * i},1" for i in range(20)])
    r = run("--input", path, "--horizon", "12", "--backtest")
    assert r.returncode == 1
    assert "--backtest needs more than" in r.stderr
