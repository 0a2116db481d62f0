"""Helpers for the kpulse kernel accuracy tests (standard library only).

The thing under test is always the real binary (env KPULSE_BIN). Each test
starts `kpulse dump --json --interval I`, reads its snapshots in a thread, and
compares counter deltas between two snapshots with the kernel's own counters
read right after each of those snapshots arrived.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

# the binary of the checkout these tests are in, unless KPULSE_BIN names another
KPULSE_BIN = os.environ.get(
    "KPULSE_BIN",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "kpulse"))
PYTHON = sys.executable or "/usr/bin/python3"

# Lines shown in the terminal summary, so that the measured numbers are visible
# even when every test passes (pytest -s is not used).
MEASUREMENTS = []


def report(line):
    MEASUREMENTS.append(line)
    print(line)


# --------------------------------------------------------------------------
# kpulse subprocess


class KpulseDied(AssertionError):
    pass


class Kpulse:
    """`kpulse dump --json` running in the background, snapshots collected."""

    FIRST_SNAPSHOT_TIMEOUT = 45.0

    def __init__(self, interval=1.0, extra_args=(), binary=None, prefix=()):
        self.binary = binary or KPULSE_BIN
        self.interval = float(interval)
        # prefix runs it elsewhere, e.g. ("ip", "netns", "exec", NS), which
        # execs kpulse in place: the pid stays kpulse's.
        self.argv = [*prefix, self.binary, "dump", "--json", "--interval", str(interval), *extra_args]
        self.snapshots = []  # every parsed line, in order
        self.bad_lines = []  # lines that were not JSON objects
        self._q = queue.Queue()
        self._eof = False
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._thread = threading.Thread(target=self._reader, name="kpulse-reader", daemon=True)
        self._thread.start()

    # reader thread
    def _reader(self):
        try:
            for raw in self.proc.stdout:
                recv = time.monotonic()
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    self.bad_lines.append(line[:300])
                    continue
                if not isinstance(obj, dict):
                    self.bad_lines.append(line[:300])
                    continue
                obj["_recv_monotonic"] = recv
                self.snapshots.append(obj)
                self._q.put(obj)
        finally:
            self._q.put(None)

    def stderr_text(self, limit=4000):
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            data = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return "<stderr unavailable>"
        return data[-limit:]

    def _died(self, what):
        rc = self.proc.poll()
        raise KpulseDied(
            f"kpulse ({' '.join(self.argv)}) {what}; exit status {rc}; "
            f"non-JSON stdout lines: {self.bad_lines[:3]}; stderr tail:\n{self.stderr_text()}"
        )

    def next_snapshot(self, timeout=None):
        """Return the first snapshot that arrives after this call."""
        if timeout is None:
            timeout = self.FIRST_SNAPSHOT_TIMEOUT if not self.snapshots else max(10.0, 5 * self.interval)
        while True:  # drop snapshots that arrived earlier
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._eof = True
        if self._eof:
            self._died("exited")
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            self._died(f"printed no snapshot within {timeout:.0f}s")
        if item is None:
            self._eof = True
            self._died("exited")
        return item

    def wait_started(self):
        return self.next_snapshot(timeout=self.FIRST_SNAPSHOT_TIMEOUT)

    def index_of(self, snap):
        for i, s in enumerate(self.snapshots):
            if s is snap:
                return i
        raise ValueError("snapshot not from this kpulse")

    def events_since(self, index):
        out = []
        for s in list(self.snapshots[index:]):
            out.extend(s.get("events") or [])
        return out

    def wait_event(self, pred, since_index, timeout=6.0):
        """Poll snapshots after since_index for an event matching pred."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events_since(since_index):
                if isinstance(ev, dict) and pred(ev):
                    return ev
            if time.monotonic() > deadline:
                return None
            if self.proc.poll() is not None and self._q.empty():
                self._thread.join(1)
                for ev in self.events_since(since_index):
                    if isinstance(ev, dict) and pred(ev):
                        return ev
                self._died("exited while waiting for an event")
            time.sleep(0.1)

    def stop(self):
        """SIGINT, then SIGKILL if needed. Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._thread.join(timeout=5)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        rc = self.proc.returncode
        self._stderr.close()
        return rc


# --------------------------------------------------------------------------
# snapshot accessors


def series(snap, name, **labels):
    out = []
    for m in snap.get("metrics") or []:
        if m.get("name") != name:
            continue
        ml = m.get("labels") or {}
        if all(str(ml.get(k)) == str(v) for k, v in labels.items()):
            out.append(m)
    return out


def counter_sum(snap, name, **labels):
    return sum(float(m.get("value", 0)) for m in series(snap, name, **labels))


def counter_delta(s0, s1, name, **labels):
    return counter_sum(s1, name, **labels) - counter_sum(s0, name, **labels)


def hist_sum_count(snap, name, **labels):
    total, count = 0.0, 0.0
    for m in series(snap, name, **labels):
        total += float(m.get("sum", 0))
        count += float(m.get("count", 0))
    return total, count


def value_of(snap, name, **labels):
    """The value of the one series name{labels}, or None."""
    m = series(snap, name, **labels)
    return float(m[0]["value"]) if len(m) == 1 else None


def label_values(snap, name, key):
    return sorted({str((m.get("labels") or {}).get(key)) for m in series(snap, name)})


def metric_names(snap):
    return sorted({m.get("name") for m in snap.get("metrics") or []})


# --------------------------------------------------------------------------
# comparisons


def compare(what, got, want, tol):
    """Return (ok, line) comparing kpulse's value with the kernel's."""
    if want:
        ratio = got / want
        ok = abs(got - want) <= tol * abs(want)
        line = (f"{what}: kpulse={got:.6g} kernel={want:.6g} ratio={ratio:.4f} "
                f"(diff {100 * (ratio - 1):+.2f}%, tolerance ±{100 * tol:g}%)")
    else:
        ok = False
        line = f"{what}: kpulse={got:.6g} kernel={want:.6g} (kernel delta is 0: the load did not run?)"
    report(("PASS " if ok else "FAIL ") + line)
    return ok, line


def assert_all(results, context=""):
    bad = [line for ok, line in results if not ok]
    allv = "\n  ".join(line for _, line in results)
    assert not bad, f"{context}\n  {allv}"


# --------------------------------------------------------------------------
# kernel counters


def read_proc_stat_ctxt(root="/proc"):
    with open(f"{root}/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    raise AssertionError("no ctxt line in /proc/stat")


def read_vmstat(key):
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            if k == key:
                return int(v)
    raise AssertionError(f"no {key} in /proc/vmstat")


def read_diskstats_completed(disk):
    """reads + writes + discards completed for one disk in /proc/diskstats."""
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if len(p) >= 14 and p[2] == disk:
                reads, writes = int(p[3]), int(p[7])
                discards = int(p[14]) if len(p) >= 18 else 0
                return reads + writes + discards
    raise AssertionError(f"disk {disk} not in /proc/diskstats")


def wait_disk_idle(disk, quiet_s=1.5, timeout=30.0):
    """Wait until no I/O completes on disk for quiet_s seconds (at most timeout)."""
    deadline = time.monotonic() + timeout
    last, since = read_diskstats_completed(disk), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = read_diskstats_completed(disk)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False


def cpu_busy_seconds():
    """Non-idle CPU time of the whole machine (all CPUs), steal included."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_cpu_quiet(max_cpus=0.25, window_s=1.0, timeout=10.0):
    """Wait until the machine uses less than max_cpus CPUs over window_s (at most timeout)."""
    deadline = time.monotonic() + timeout
    used = None
    while time.monotonic() < deadline:
        b0, t0 = cpu_busy_seconds(), time.monotonic()
        time.sleep(window_s)
        used = (cpu_busy_seconds() - b0) / (time.monotonic() - t0)
        if used < max_cpus:
            return used
    return used


def parse_net_dev(text):
    """{iface: {rx_bytes, rx_packets, tx_bytes, tx_packets}} from /proc/net/dev text."""
    out = {}
    for line in text.splitlines()[2:]:
        if ":" not in line:
            continue
        name, rest = line.split(":", 1)
        v = [int(x) for x in rest.split()]
        out[name.strip()] = {"rx_bytes": v[0], "rx_packets": v[1], "tx_bytes": v[8], "tx_packets": v[9]}
    return out


def parse_snmp(text, proto="Tcp", field="RetransSegs"):
    lines = [l.split() for l in text.splitlines() if l.startswith(proto + ":")]
    if len(lines) < 2:
        raise AssertionError(f"no {proto} lines in snmp text")
    hdr, vals = lines[0], lines[1]
    return int(vals[hdr.index(field)])


def netns_cat(ns, path):
    r = subprocess.run(["ip", "netns", "exec", ns, "cat", path], capture_output=True,
                       text=True, timeout=15)
    assert r.returncode == 0, f"ip netns exec {ns} cat {path}: {r.stderr.strip()}"
    return r.stdout


def run(argv, timeout=30, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed with {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


# --------------------------------------------------------------------------
# block devices


def whole_disk_of(path):
    """(disk_name, 'MAJ:MIN') of the whole disk holding path, or None."""
    st = os.stat(path)
    majmin = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    sysdev = f"/sys/dev/block/{majmin}"
    if not os.path.exists(sysdev):
        return None
    real = os.path.realpath(sysdev)
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    with open(os.path.join(real, "dev")) as f:
        disk_majmin = f.read().strip()
    return os.path.basename(real), disk_majmin


# --------------------------------------------------------------------------
# memory cgroups (v1 and v2)


class MemCgroup:
    """A memory cgroup named `name` with a hard limit, v1 or v2."""

    V1_ROOT = "/sys/fs/cgroup/memory"

    def __init__(self, name, limit_bytes):
        self.name = name
        self.limit = limit_bytes
        self._v2_enabled_memory_at = None
        root, version = self._find_root()
        if root is None:
            raise RuntimeError("no memory cgroup hierarchy (v1 memory controller or cgroup2 with memory)")
        self.version = version
        self.root = root
        self.path = os.path.join(root, name)
        self._remove_stale()
        os.mkdir(self.path)
        if version == 1:
            self._write("memory.limit_in_bytes", str(limit_bytes))
            if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                try:
                    self._write("memory.memsw.limit_in_bytes", str(limit_bytes))
                except OSError:
                    pass
        else:
            self._write("memory.max", str(limit_bytes))
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                self._write("memory.swap.max", "0")

    @classmethod
    def _find_root(cls):
        if os.path.exists(os.path.join(cls.V1_ROOT, "memory.limit_in_bytes")):
            return cls.V1_ROOT, 1
        mounts = []
        with open("/proc/self/mounts") as f:
            for line in f:
                p = line.split()
                if p[2] == "cgroup2":
                    mounts.append(p[1])
        for m in mounts:
            try:
                with open(os.path.join(m, "cgroup.controllers")) as f:
                    if "memory" in f.read().split():
                        return m, 2
            except OSError:
                continue
        return None, None

    def _write(self, fname, value):
        with open(os.path.join(self.path, fname), "w") as f:
            f.write(value)

    @property
    def procs_file(self):
        return os.path.join(self.path, "cgroup.procs")

    def add(self, pid):
        with open(self.procs_file, "w") as f:
            f.write(str(pid))

    def pids(self):
        try:
            with open(self.procs_file) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def _remove_stale(self):
        if os.path.isdir(self.path):
            self.path_cleanup()

    def path_cleanup(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                try:
                    os.rmdir(self.path)
                    return
                except FileNotFoundError:
                    return
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        os.rmdir(self.path)  # raise with the real error

    def cleanup(self):
        if os.path.isdir(self.path):
            self.path_cleanup()

    @classmethod
    def prepare_v2(cls):
        """On cgroup2, make sure the root delegates the memory controller."""
        root, version = cls._find_root()
        if version != 2:
            return None
        sub = os.path.join(root, "cgroup.subtree_control")
        with open(sub) as f:
            if "memory" in f.read().split():
                return None
        with open(sub, "w") as f:
            f.write("+memory")
        return sub


# --------------------------------------------------------------------------
# network namespaces


def netns_delete(name):
    if os.path.exists(f"/run/netns/{name}"):
        # processes still inside keep the namespace alive: kill them first
        r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10)
        for tok in r.stdout.split():
            try:
                os.kill(int(tok), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def wait_tcp_listen(pid, port, timeout=10.0):
    """Wait until process pid's namespace has a TCP socket listening on port."""
    want = f":{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fname in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
            try:
                with open(fname) as f:
                    next(f)
                    for line in f:
                        p = line.split()
                        if p[1].endswith(want) and p[3] == "0A":
                            return True
            except (OSError, StopIteration):
                pass
        time.sleep(0.05)
    return False


def kill_proc(p, timeout=5):
    if p is None or p.poll() is not None:
        return
    try:
        p.terminate()
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def cgroup_mounts():
    """{"v2": path, "cpuacct": path, "memory": path, "blkio": path} of the
    cgroup hierarchies this machine mounts (a key is absent when it has none)."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp = left.split()[4].replace("\\040", " ")
            fstype, _src, opts = right.split()[:3]
            if fstype == "cgroup2":
                out.setdefault("v2", mp)
            elif fstype == "cgroup":
                for c in ("cpuacct", "memory", "blkio"):
                    if c in opts.split(","):
                        out.setdefault(c, mp)
    return out


def cgroup_pids(path):
    """The pids in a cgroup directory (empty when it cannot be read)."""
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def remove_cgroup(path, timeout=10.0):
    """Kills what runs in a test's cgroup and removes it, retrying while
    the kernel still holds it (a killed task takes a moment to leave)."""
    deadline = time.monotonic() + timeout
    while os.path.isdir(path) and time.monotonic() < deadline:
        for pid in cgroup_pids(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            time.sleep(0.1)
