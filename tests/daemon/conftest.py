"""Fixtures for the kpulse daemon tests: `kpulse run` and its SQLite store.

Each test runs the real binary (env KPULSE_BIN) in a temporary directory of
its own, fast (--interval 0.2 --flush-interval 0.2), and reads the store
back with Python's sqlite3. Run as root (the daemon loads BPF probes; some
tests mount file systems):

  /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/daemon

Cleanup: every daemon is killed, every mount is unmounted and every
temporary directory is removed at teardown, also when the test failed.
"""

import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import pytest

import chunks

# the binary of the checkout these tests are in, unless KPULSE_BIN names another
KPULSE_BIN = os.environ.get(
    "KPULSE_BIN",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "kpulse"))

# The pace of every test: a round every INTERVAL_S, a flush every FLUSH_S.
INTERVAL_S = 0.2
FLUSH_S = 0.2
# Loading the BPF probes takes a fraction of a second; this is the limit.
START_TIMEOUT_S = 20.0
# SIGTERM to exit: the final flush is quick unless the store is failing.
STOP_TIMEOUT_S = 30.0
# A series every round has, with no labels.
MEM_TOTAL = "kpulse_mem_total_bytes"
RUNNING_RE = r"kpulse running: \d+ probes attached"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="daemon tests need root (BPF probes, mounts); run them as root")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


# --------------------------------------------------------------------------
# the store, read back


class StoreDB:
    """Read-only queries on DATA_DIR/kpulse.db (safe while the daemon writes:
    WAL readers do not block the writer, and mode=ro never checkpoints)."""

    def __init__(self, path):
        self.path = str(path)

    def connect(self):
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def query(self, sql, params=()):
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def samples(self, name, labels="{}"):
        """[(ts_ms, value)] of one series, oldest first (decoded from its
        raw chunks)."""
        rows = self.query(
            "SELECT c.data FROM chunks_raw c JOIN series s ON s.id = c.series_id "
            "WHERE s.name = ? AND s.labels = ? ORDER BY c.start_ms",
            (name, labels),
        )
        return [(t, v) for (data,) in rows for t, v, _ in chunks.decode(data)]

    def all_samples(self):
        """[(series_id, ts_ms, value)] of every raw sample."""
        rows = self.query("SELECT series_id, data FROM chunks_raw ORDER BY series_id, start_ms")
        return [(sid, t, v) for sid, data in rows for t, v, _ in chunks.decode(data)]

    def timestamps(self, name=MEM_TOTAL):
        return [ts for ts, _ in self.samples(name)]

    def newest_ts_ms(self, name=MEM_TOTAL):
        rows = self.query(
            "SELECT c.data FROM chunks_raw c JOIN series s ON s.id = c.series_id "
            "WHERE s.name = ? AND s.labels = '{}' ORDER BY c.start_ms DESC LIMIT 1",
            (name,),
        )
        return chunks.decode(rows[0][0])[-1][0] if rows else None

    def max_value(self, name):
        vals = [v for _, v in self.samples(name)]
        return max(vals) if vals else None


def gaps(ts_ms, limit_s):
    """The consecutive timestamps (in seconds) further apart than limit_s."""
    out = []
    for a, b in zip(ts_ms, ts_ms[1:]):
        if (b - a) / 1000.0 > limit_s:
            out.append((a / 1000.0, b / 1000.0, (b - a) / 1000.0))
    return out


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except sqlite3.Error as e:  # the database may be busy or not yet created
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last_exc})" if last_exc else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------
# the daemon


def clean_env(extra=None):
    """The caller's environment without any KPULSE_* setting, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
    env.update(extra or {})
    return env


class Daemon:
    """One `kpulse run` process; stderr goes to a log file we poll."""

    def __init__(self, argv, log_path, cwd, env, data_dir):
        self.argv = argv
        self.log_path = log_path
        self.data_dir = data_dir
        self.db = StoreDB(os.path.join(data_dir, "kpulse.db")) if data_dir else None
        self._log = open(log_path, "wb")
        self.started_at = time.time()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log, cwd=cwd, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def alive(self):
        return self.proc.poll() is None

    def wait_log(self, pattern, timeout=10.0, after=0):
        """The first match of pattern in the log from character offset after."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            m = rx.search(text, after)
            if m:
                return m
            if not self.alive():
                # one last read: the process may have written just before exiting
                m = rx.search(self.log(), after)
                if m:
                    return m
                raise AssertionError(f"kpulse exited ({self.proc.returncode}) before logging "
                                     f"/{pattern}/; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"kpulse did not log /{pattern}/ within {timeout}s; "
                                     f"log:\n{self.log_tail()}")
            time.sleep(0.02)

    def wait_running(self):
        self.wait_log(RUNNING_RE, timeout=START_TIMEOUT_S)
        return self

    def send(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT_S):
        """The exit code; kills and fails when it does not exit in time."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"kpulse did not exit within {timeout}s; "
                                 f"log:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Sends sig and returns the exit code; kills and fails on a hang."""
        if self.alive():
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"kpulse did not exit within {timeout}s of signal {sig}; "
                                 f"log:\n{self.log_tail()}")

    def threads(self):
        """{tid: "comm state wchan syscall"} of the daemon's threads: where
        each one is blocked, as evidence when a timing check fails."""
        out = {}
        base = f"/proc/{self.proc.pid}/task"
        try:
            tids = os.listdir(base)
        except OSError:
            return out
        for tid in tids:
            parts = []
            for name in ("comm", "wchan", "syscall"):
                try:
                    with open(f"{base}/{tid}/{name}") as f:
                        parts.append(f.read().strip().split(" ")[0])
                except OSError:
                    parts.append("?")
            try:
                with open(f"{base}/{tid}/stat") as f:
                    parts.insert(1, f.read().rsplit(")", 1)[1].split()[0])
            except (OSError, IndexError):
                parts.insert(1, "?")
            out[int(tid)] = " ".join(parts)
        return out

    def kill(self):
        """SIGKILL (if still running) and reap. Returns the time of the kill."""
        t = time.time()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        return t


class Api:
    """The daemon's REST API on 127.0.0.1:port, as the admin with password."""

    def __init__(self, port, password):
        self.host, self.port, self.password = "127.0.0.1", port, password
        self.token = None

    def get(self, path, token=None):
        """(status, body) of GET path, with token as the bearer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            hdrs = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request("GET", path, headers=hdrs)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def login(self):
        """Logs in as the admin; the token is kept for json()."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("POST", "/api/v1/auth/login",
                         body=json.dumps({"username": "admin", "password": self.password}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, body
            self.token = json.loads(body)["token"]
        finally:
            conn.close()
        return self.token

    def json(self, path):
        status, body = self.get(path, self.token)
        assert status == 200, body
        return json.loads(body)


def free_port():
    """A TCP port of 127.0.0.1 nothing listens on now, for the daemon's API
    (its default port may be taken by another kpulse on this machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemons:
    """Starts daemons for one test and kills whatever is left at teardown."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []
        os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)

    def spawn(self, args, env=None, cwd=None, data_dir=None):
        """`kpulse run ARGS` as given; the API on a free port (KPULSE_LISTEN
        in the environment, unless env sets it)."""
        log_path = os.path.join(self.workdir, "logs", f"kpulse-{len(self.all)}.log")
        env = {"KPULSE_LISTEN": f"127.0.0.1:{free_port()}", **(env or {})}
        d = Daemon([KPULSE_BIN, "run", *args], log_path, cwd or self.workdir, clean_env(env),
                   data_dir)
        self.all.append(d)
        return d

    def start(self, *args, data_dir=None, env=None, interval=INTERVAL_S, flush=FLUSH_S,
              wait=True):
        """`kpulse run` on data_dir (default WORKDIR/data) at the test pace."""
        data_dir = str(data_dir or os.path.join(self.workdir, "data"))
        d = self.spawn(["--data-dir", data_dir, "--interval", str(interval),
                        "--flush-interval", str(flush), *args],
                       env=env, data_dir=data_dir)
        d.interval = interval
        d.flush = flush
        if wait:
            d.wait_running()
        return d

    def run_to_exit(self, args, env=None, cwd=None, timeout=30):
        """Runs `kpulse run ARGS` that is expected to exit by itself."""
        try:
            env = {"KPULSE_LISTEN": f"127.0.0.1:{free_port()}", **(env or {})}
            return subprocess.run([KPULSE_BIN, "run", *args], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout,
                                  cwd=cwd or self.workdir, env=clean_env(env))
        except subprocess.TimeoutExpired as e:  # run() has killed it already
            raise AssertionError(f"kpulse run {args} did not exit within {timeout}s: "
                                 f"stderr {e.stderr!r}")

    def kill_all(self):
        for d in self.all:
            d.kill()


# --------------------------------------------------------------------------
# mounts


def run_cmd(argv, timeout=30, check=True):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({r.returncode}): "
                             f"{r.stderr.strip()}")
    return r


def mounts_under(path):
    """Mount points at or below path, deepest first."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def umount(path, timeout=10.0):
    """Unmounts path, retrying while busy; falls back to a lazy unmount."""
    deadline = time.monotonic() + timeout
    while path in mounts_under(path):
        r = run_cmd(["umount", path], check=False)
        if r.returncode == 0:
            continue
        if time.monotonic() > deadline:
            run_cmd(["umount", "-l", path], check=False)
            return False
        time.sleep(0.05)
    return True


def fill_fs(path, name="filler"):
    """Writes a file in the file system at path until it is full."""
    filler = os.path.join(path, name)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        for chunk in (1 << 16, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    if os.write(fd, block) < chunk:
                        break
                except OSError as e:
                    if e.errno != 28:  # ENOSPC
                        raise
                    break
    finally:
        os.close(fd)
    return filler


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def kpulse_bin():
    if not (os.path.isfile(KPULSE_BIN) and os.access(KPULSE_BIN, os.X_OK)):
        pytest.fail(f"kpulse binary {KPULSE_BIN} is missing or not executable: build it with "
                    f"`make build` or point KPULSE_BIN at it", pytrace=False)
    return KPULSE_BIN


@pytest.fixture
def workdir(kpulse_bin):
    d = tempfile.mkdtemp(prefix="kpulse-daemon-test-")
    try:
        yield d
    finally:
        for mp in mounts_under(d):  # a fixture that failed to unmount
            umount(mp, timeout=2)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemons(workdir):
    ds = Daemons(workdir)
    try:
        yield ds
    finally:
        ds.kill_all()


@pytest.fixture
def small_tmpfs(workdir, daemons):
    """A small tmpfs; the daemons are killed before it is unmounted. At the
    test pace the WAL grows by ~250 KB/s until its first checkpoint at 4 MB,
    so 8 MiB leaves room to write the backlog after the disk was full."""
    mnt = os.path.join(workdir, "tmpfs")
    os.mkdir(mnt)
    run_cmd(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mnt])
    try:
        yield mnt
    finally:
        daemons.kill_all()
        umount(mnt)


class Ext4Loop:
    """A small ext4 file system on a loop device, mounted with
    errors=remount-ro so that it can be made read-only under open files."""

    def __init__(self, workdir):
        self.image = os.path.join(workdir, "ext4.img")
        self.mnt = os.path.join(workdir, "ext4")
        os.mkdir(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(32 << 20)
        run_cmd(["mkfs.ext4", "-q", "-F", self.image])
        self.mount()

    def mount(self):
        run_cmd(["mount", "-o", "loop,errors=remount-ro", self.image, self.mnt])

    def device(self):
        r = run_cmd(["findmnt", "-n", "-o", "SOURCE", "--mountpoint", self.mnt])
        return os.path.basename(r.stdout.strip())

    def sync(self):
        """syncfs(2) of this file system only (os.sync() would wait for
        every disk of the machine)."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.mnt, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if libc.syncfs(fd) != 0:
                raise OSError(ctypes.get_errno(), "syncfs", self.mnt)
        finally:
            os.close(fd)

    def make_read_only(self):
        """ext4's own test hook: a file system error, which with
        errors=remount-ro makes every later write fail with EROFS, also
        through files already open (remount,ro refuses while files are
        open for writing, so it cannot do this)."""
        with open(f"/sys/fs/ext4/{self.device()}/trigger_fs_error", "w") as f:
            f.write("kpulse daemon test: read-only data dir\n")

    def unmount(self, timeout=10.0):
        return umount(self.mnt, timeout=timeout)


@pytest.fixture
def ext4_loop(workdir, daemons):
    if not os.path.isdir("/sys/fs/ext4") or shutil.which("mkfs.ext4") is None:
        pytest.fail("the read-only test needs ext4 and mkfs.ext4 (e2fsprogs)", pytrace=False)
    fs = Ext4Loop(workdir)
    try:
        yield fs
    finally:
        daemons.kill_all()
        fs.unmount()  # `mount -o loop` detaches the loop device at unmount


# Measured margins, shown after the run even when every test passes.
MEASUREMENTS = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if MEASUREMENTS:
        terminalreporter.section("kpulse daemon measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture
def report():
    """report(line): a measurement for the terminal summary."""
    def add(line):
        MEASUREMENTS.append(line)
        print(line)
    return add
