"""SIGHUP re-reads the configuration: log level, log format and top-K
change at once; the rest waits for a restart; a bad file keeps the running
configuration. The daemon keeps collecting and writing throughout."""

import json
import os
import signal
import statistics
import time

from conftest import INTERVAL_S, wait_until

RELOAD_RE = (r"reload: log level (?P<level>\w+), log format (?P<format>\w+), "
             r"top-k (?P<top_k>\d+)")


def write_env_file(path, **settings):
    # replace in one step, as an editor or config manager does
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for k, v in settings.items():
            f.write(f"{k}={v}\n")
    os.replace(tmp, path)


def assert_still_writing(d):
    t = time.time()
    wait_until(lambda: (d.db.newest_ts_ms() or 0) / 1000.0 > t + 0.5, 10,
               "rounds collected after the reload in the store")
    assert d.alive(), d.log_tail()


def test_sighup_applies_new_log_level_and_top_k_from_env_file(daemons, workdir):
    env_file = os.path.join(workdir, "kpulse.env")
    write_env_file(env_file, KPULSE_LOG_LEVEL="info", KPULSE_TOP_K="10")
    d = daemons.start("--env-file", env_file)

    write_env_file(env_file, KPULSE_LOG_LEVEL="debug", KPULSE_TOP_K="5")
    d.send(signal.SIGHUP)
    m = d.wait_log(RELOAD_RE, timeout=10)
    assert m.group("level", "format", "top_k") == ("debug", "text", "5"), m.group(0)
    assert_still_writing(d)

    write_env_file(env_file, KPULSE_LOG_LEVEL="warn", KPULSE_TOP_K="5")
    d.send(signal.SIGHUP)
    time.sleep(1.0)
    # at warn, the reload's own info line is not shown any more
    assert len([ln for ln in d.log().splitlines() if "reload:" in ln]) == 1, d.log_tail()
    assert d.stop() == 0, d.log_tail()
    assert "stopped cleanly" not in d.log(), "an info line logged at level warn"


def test_sighup_switches_log_lines_to_json(daemons, workdir):
    env_file = os.path.join(workdir, "kpulse.env")
    write_env_file(env_file, KPULSE_LOG_FORMAT="text")
    d = daemons.start("--env-file", env_file)
    before = len(d.log())

    write_env_file(env_file, KPULSE_LOG_FORMAT="json")
    d.send(signal.SIGHUP)
    d.wait_log(r'"msg":"reload: log level info, log format json', timeout=10)
    assert d.stop() == 0, d.log_tail()

    later = d.log()[before:].splitlines()
    assert [json.loads(ln)["msg"] for ln in later][-1] == "stopped cleanly", later


def test_sighup_with_bad_env_file_keeps_running_configuration(daemons, workdir):
    env_file = os.path.join(workdir, "kpulse.env")
    write_env_file(env_file, KPULSE_TOP_K="7")
    d = daemons.start("--env-file", env_file)

    write_env_file(env_file, KPULSE_TOP_K="0")
    d.send(signal.SIGHUP)
    d.wait_log(r"error\s+reload: \S+/kpulse\.env:1: KPULSE_TOP_K: \"0\" .*; "
               r"keeping the running configuration", timeout=10)
    assert_still_writing(d)

    write_env_file(env_file, KPULSE_TOP_K="8")
    d.send(signal.SIGHUP)
    m = d.wait_log(RELOAD_RE, timeout=10)
    assert m.group("top_k") == "8", m.group(0)
    assert d.stop() == 0, d.log_tail()


def test_sighup_does_not_change_interval_until_restart(daemons, workdir):
    env_file = os.path.join(workdir, "kpulse.env")
    data = os.path.join(workdir, "data")
    # the interval comes from the .env file here (not a flag, which would
    # win over it), so that the reload sees it change
    write_env_file(env_file, KPULSE_INTERVAL=str(INTERVAL_S), KPULSE_FLUSH_INTERVAL="0.2")
    d = daemons.spawn(["--env-file", env_file, "--data-dir", data], data_dir=data)
    d.wait_running()

    write_env_file(env_file, KPULSE_INTERVAL="1.0", KPULSE_FLUSH_INTERVAL="0.2")
    d.send(signal.SIGHUP)
    d.wait_log(r"warn\s+reload: .*only on restart", timeout=10)
    t = time.time()
    wait_until(lambda: len([x for x in d.db.timestamps() if x > t * 1000]) >= 8, 10,
               "8 rounds after the reload stored")
    assert d.stop() == 0, d.log_tail()
    ts = [x for x in d.db.timestamps() if x > t * 1000]
    step = statistics.median(b - a for a, b in zip(ts, ts[1:]))
    assert abs(step - INTERVAL_S * 1000) <= 20, f"rounds {step} ms apart after the reload"
