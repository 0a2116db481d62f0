"""Configuration of `kpulse run`: defaults < .env < environment < flags;
a bad value stops the daemon before it does anything, with exit code 2 and
one line naming the option; --help; JSON log lines."""

import json
import os
import re
import statistics

import pytest

from conftest import FLUSH_S, RUNNING_RE, wait_until

EXIT_USAGE = 2


def write_env_file(path, **settings):
    with open(path, "w") as f:
        f.write("# written by the kpulse daemon tests\n")
        for k, v in settings.items():
            f.write(f"{k}={v}\n")
    return path


def running_line(d):
    """(interval, db path) from the daemon's start line."""
    m = d.wait_log(RUNNING_RE + r", interval (?P<interval>[0-9.]+)s, data in (?P<db>\S+)",
                   timeout=20)
    return float(m.group("interval")), m.group("db")


def test_env_file_in_working_directory_is_used(daemons, workdir):
    data = os.path.join(workdir, "from-dotenv")
    write_env_file(os.path.join(workdir, ".env"), KPULSE_INTERVAL="0.3", KPULSE_DATA_DIR=data,
                   KPULSE_FLUSH_INTERVAL=str(FLUSH_S))
    d = daemons.spawn([], cwd=workdir, data_dir=data)  # no flags: ./.env only

    interval, db = running_line(d)
    assert interval == 0.3
    assert db == os.path.join(data, "kpulse.db")
    wait_until(lambda: len(d.db.timestamps()) >= 6, 10, "6 rounds stored")
    assert d.stop() == 0, d.log_tail()
    ts = d.db.timestamps()
    step = statistics.median(b - a for a, b in zip(ts, ts[1:]))
    assert 280 <= step <= 320, f"rounds {step} ms apart, .env said 300"


@pytest.mark.parametrize("layers",
                         ["env-file", "env-file+environment", "env-file+environment+flag"])
def test_environment_overrides_env_file_and_flag_overrides_both(daemons, workdir, layers):
    dirs = {k: os.path.join(workdir, k) for k in ("file", "env", "flag")}
    env_file = write_env_file(os.path.join(workdir, "kpulse.env"), KPULSE_INTERVAL="0.3",
                              KPULSE_DATA_DIR=dirs["file"], KPULSE_TOP_K="3")
    env, args, want = {}, ["--env-file", env_file], (0.3, dirs["file"])
    if "environment" in layers:
        env = {"KPULSE_INTERVAL": "0.4", "KPULSE_DATA_DIR": dirs["env"]}
        want = (0.4, dirs["env"])
    if "flag" in layers:
        args += ["--interval", "0.5", "--data-dir", dirs["flag"]]
        want = (0.5, dirs["flag"])
    d = daemons.spawn(args, env=env)

    interval, db = running_line(d)
    assert (interval, db) == (want[0], os.path.join(want[1], "kpulse.db"))
    assert d.stop() == 0, d.log_tail()
    assert os.path.isfile(os.path.join(want[1], "kpulse.db"))
    assert [k for k, p in dirs.items() if os.path.exists(p)] == [
        k for k, p in dirs.items() if p == want[1]], "data directories of overridden layers"


BAD_CONFIGS = [
    # (id, args, environment, .env lines, what the message must name)
    ("env-not-a-number", [], {"KPULSE_INTERVAL": "abc"}, None, "KPULSE_INTERVAL"),
    ("flag-top-k-zero", ["--top-k", "0"], {}, None, "--top-k"),
    ("flag-interval-too-small", ["--interval", "0.05"], {}, None, "--interval"),
    ("env-file-unknown-key", [], {}, "KPULSE_FOO=1", "KPULSE_FOO"),
    ("env-file-bad-value", [], {}, "KPULSE_BUFFER_MAX_SAMPLES=999", "KPULSE_BUFFER_MAX_SAMPLES"),
    ("env-file-missing", ["--env-file", "{workdir}/no-such.env"], {}, None, "no-such.env"),
    ("env-bad-log-format", [], {"KPULSE_LOG_FORMAT": "xml"}, None, "KPULSE_LOG_FORMAT"),
    ("flag-bad-retention", ["--retention-raw", "10x"], {}, None, "--retention-raw"),
    ("env-bad-timestamp-tolerance", [], {"KPULSE_TIMESTAMP_TOLERANCE_MS": "-1"}, None,
     "KPULSE_TIMESTAMP_TOLERANCE_MS"),
    ("unknown-flag", ["--no-such-option", "1"], {}, None, "--no-such-option"),
]


@pytest.mark.parametrize("args,env,dotenv,names", [c[1:] for c in BAD_CONFIGS],
                         ids=[c[0] for c in BAD_CONFIGS])
def test_bad_configuration_exits_2_with_one_line_naming_the_option(daemons, workdir, args, env,
                                                                    dotenv, names):
    data = os.path.join(workdir, "data")
    args = [a.format(workdir=workdir) for a in args]
    if dotenv is not None:
        with open(os.path.join(workdir, "bad.env"), "w") as f:
            f.write(f"KPULSE_TOP_K=5\n{dotenv}\n")
        args = ["--env-file", os.path.join(workdir, "bad.env")] + args
    r = daemons.run_to_exit(["--data-dir", data, *args], env=env)

    assert r.returncode == EXIT_USAGE, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {r.stderr!r}"
    assert names in lines[0], lines[0]
    assert not os.path.exists(data), "a bad configuration must stop kpulse before it starts"


def test_help_exits_0_and_lists_every_option(daemons):
    r = daemons.run_to_exit(["--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: kpulse run")
    for flag, env in [("--interval", "KPULSE_INTERVAL"), ("--data-dir", "KPULSE_DATA_DIR"),
                      ("--flush-interval", "KPULSE_FLUSH_INTERVAL"),
                      ("--retention-raw", "KPULSE_RETENTION_RAW"),
                      ("--retention-1m", "KPULSE_RETENTION_1M"),
                      ("--retention-1h", "KPULSE_RETENTION_1H"),
                      ("--retention-events", "KPULSE_RETENTION_EVENTS"),
                      ("--slow-io-ms", "KPULSE_SLOW_IO_MS"), ("--top-k", "KPULSE_TOP_K"),
                      ("--listen", "KPULSE_LISTEN"), ("--log-level", "KPULSE_LOG_LEVEL"),
                      ("--log-format", "KPULSE_LOG_FORMAT"),
                      ("--buffer-max-samples", "KPULSE_BUFFER_MAX_SAMPLES"),
                      ("--env-file", "")]:
        assert flag in r.stdout, flag
        assert env in r.stdout, env


def test_log_format_json_writes_one_json_object_per_line(daemons):
    d = daemons.start("--log-format", "json")
    wait_until(lambda: len(d.db.timestamps()) >= 2, 10, "2 rounds stored")
    assert d.stop() == 0, d.log_tail()

    lines = d.log().splitlines()
    assert len(lines) >= 3, lines
    entries = []
    for line in lines:
        obj = json.loads(line)  # raises on a line that is not JSON
        assert sorted(obj) == ["level", "msg", "ts"], line
        assert obj["level"] in ("debug", "info", "warn", "error"), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["ts"]), line
        entries.append(obj)
    msgs = [e["msg"] for e in entries]
    assert any(re.match(RUNNING_RE, m) for m in msgs), msgs
    assert msgs[-1] == "stopped cleanly", msgs


def test_unknown_environment_variable_warns_naming_the_closest_option(daemons, workdir):
    """The environment is shared with other tools, so an unknown KPULSE_
    variable does not stop the daemon, but it is named in a warning with the
    option it is probably a typo of; an env file refuses it with the same hint."""
    data = os.path.join(workdir, "data")
    d = daemons.spawn(["--data-dir", data, "--interval", "0.5"],
                      env={"KPULSE_INTERVALL": "0.3", "KPULSE_ZZZ_UNRELATED": "1"},
                      data_dir=data)
    interval, _ = running_line(d)
    assert interval == 0.5
    log = d.log()
    assert re.search(r"warn.*KPULSE_INTERVALL is not a kpulse option \(did you mean "
                     r"KPULSE_INTERVAL\?\)", log), log
    assert re.search(r"warn.*KPULSE_ZZZ_UNRELATED is not a kpulse option", log), log
    assert "did you mean KPULSE_INTERVAL?); ignored" in log
    assert d.stop() == 0
    with open(os.path.join(workdir, "typo.env"), "w") as f:
        f.write("KPULSE_RETENTON_RAW=1h\n")
    r = daemons.run_to_exit(["--env-file", os.path.join(workdir, "typo.env"), "--data-dir", data])
    assert r.returncode == EXIT_USAGE
    assert "did you mean KPULSE_RETENTION_RAW?" in r.stderr, r.stderr


def test_store_open_errors_say_what_the_system_said(daemons, workdir):
    """A data dir that is a file, or on a read-only filesystem, stops the
    daemon with the system's reason, not SQLite's "unable to open database
    file"."""
    import subprocess

    notadir = os.path.join(workdir, "notadir")
    open(notadir, "w").close()
    r = daemons.run_to_exit(["--data-dir", notadir])
    assert r.returncode == 1
    assert "not a directory" in r.stderr, r.stderr
    assert "unable to open database file" not in r.stderr
    ro = os.path.join(workdir, "ro")
    os.mkdir(ro)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], check=True)
    try:
        r = daemons.run_to_exit(["--data-dir", ro])
    finally:
        subprocess.run(["umount", ro], check=True)
    assert r.returncode == 1
    assert "Read-only file system" in r.stderr, r.stderr
    assert "unable to open database file" not in r.stderr
