"""The data dir: one daemon at a time (a second exits non-zero naming the
holder's PID), private modes (dir 0700, files 0600, an existing 0755 dir
fixed with a warning), and `kpulse user` refusing a data dir that has no
users database instead of creating one."""

import os
import re
import stat
import subprocess
import time

from conftest import KPULSE_BIN, clean_env, wait_until


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_second_daemon_on_the_same_data_dir_exits_naming_the_holder(daemons, workdir):
    first = daemons.start()
    data = first.data_dir
    r = daemons.run_to_exit(["--data-dir", data, "--interval", "0.2"])
    assert r.returncode != 0
    assert f"in use by another kpulse (PID {first.pid}" in r.stderr, r.stderr
    assert "kpulse.lock" in r.stderr
    # the first goes on writing, alone
    t = time.time()
    wait_until(lambda: (first.db.newest_ts_ms() or 0) / 1000.0 > t + 0.5, 10,
               "the first daemon still writing")
    assert first.alive()
    assert first.stop() == 0, first.log_tail()
    # the lock goes with its holder: the next start on that data dir works
    again = daemons.start(data_dir=data)
    assert again.stop() == 0, again.log_tail()


def test_a_killed_daemon_leaves_no_lock_behind(daemons):
    first = daemons.start()
    first.kill()
    second = daemons.start(data_dir=first.data_dir)
    assert second.alive()
    with open(os.path.join(first.data_dir, "kpulse.lock")) as f:
        assert int(f.read()) == second.pid
    assert second.stop() == 0, second.log_tail()


def test_a_new_data_dir_and_its_files_are_private(daemons, workdir):
    d = daemons.start()
    wait_until(lambda: os.path.exists(os.path.join(d.data_dir, "kpulse.db-wal")), 10,
               "the store's WAL")
    assert mode(d.data_dir) == 0o700
    names = sorted(os.listdir(d.data_dir))
    for name in ("kpulse.db", "kpulse.db-wal", "kpulse.db-shm", "auth.db", "jwt.secret",
                 "kpulse.lock"):
        assert name in names, names
    for name in names:
        m = mode(os.path.join(d.data_dir, name))
        assert m & 0o077 == 0, f"{name} is {oct(m)}"
    assert d.stop() == 0, d.log_tail()


def test_an_open_data_dir_is_made_private_at_start_with_a_warning(daemons, workdir):
    data = os.path.join(workdir, "open")
    first = daemons.start(data_dir=data)
    assert first.stop() == 0
    os.chmod(data, 0o755)
    os.chmod(os.path.join(data, "kpulse.db"), 0o644)
    os.chmod(os.path.join(data, "auth.db"), 0o664)
    d = daemons.start(data_dir=data)
    d.wait_log(r"data dir \S+ was mode 0755, open to other users; now 0700")
    d.wait_log(r"kpulse\.db was mode 0644, readable by other users; now 0600")
    d.wait_log(r"auth\.db was mode 0664, readable by other users; now 0600")
    assert mode(data) == 0o700
    for name in os.listdir(data):
        assert mode(os.path.join(data, name)) & 0o077 == 0, name
    assert d.stop() == 0, d.log_tail()


def kpulse_user(args, env=None, stdin=None):
    return subprocess.run([KPULSE_BIN, "user", *args], input=stdin, capture_output=True,
                          text=True, timeout=30, env=clean_env(env))


def test_kpulse_user_refuses_a_data_dir_without_auth_db(workdir):
    data = os.path.join(workdir, "typo")
    for args in (["list", "--data-dir", data], ["delete", "bob", "--data-dir", data],
                 ["add", "bob", "--role", "admin", "--password-stdin", "--data-dir", data]):
        r = kpulse_user(args, stdin="a-long-password\n")
        assert r.returncode == 1, (args, r.stderr)
        assert f"no users database at {data}/auth.db" in r.stderr, r.stderr
        assert f"kpulse run --data-dir {data}" in r.stderr, r.stderr
        assert not os.path.exists(data), "kpulse user created the data dir"
    assert "--init" in r.stderr  # add says how to create it here
    # KPULSE_DATA_DIR is named as where the data dir came from
    r = kpulse_user(["list"], env={"KPULSE_DATA_DIR": data})
    assert r.returncode == 1 and "from KPULSE_DATA_DIR" in r.stderr, r.stderr


def test_kpulse_user_add_init_creates_a_private_users_database(workdir):
    data = os.path.join(workdir, "fresh")
    r = kpulse_user(["add", "bob", "--role", "admin", "--password-stdin", "--init",
                     "--data-dir", data], stdin="a-long-password\n")
    assert r.returncode == 0, r.stderr
    assert mode(data) == 0o700
    assert mode(os.path.join(data, "auth.db")) & 0o077 == 0
    r = kpulse_user(["list", "--data-dir", data])
    assert r.returncode == 0 and re.search(r"\bbob\b", r.stdout), r.stdout + r.stderr
