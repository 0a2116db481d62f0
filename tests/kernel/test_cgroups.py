"""Per-cgroup figures and bounded per-process series.

Each cgroup test makes a cgroup of the same name in every hierarchy this
machine mounts (cgroup2, and the v1 cpuacct, memory and blkio hierarchies),
drives a load into it and compares kpulse's kpulse_cgroup_* series with the
cgroup's own accounting files. The tests run once per naming mode kpulse
offers (`--cgroups v1`: the cpuacct hierarchy's ids; `--cgroups v2`: the
cgroup2 ids) and report which files they compared with, since that depends
on the controllers each hierarchy holds.

The churn test runs thousands of short processes and counts the distinct
per-process series kpulse produced: by name and cgroup (the default) the
count does not grow with the processes, by pid (`--by-pid`) it does.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

import kptlib
from kptlib import PYTHON, assert_all, compare, remove_cgroup, report, series, value_of


# --------------------------------------------------------------------------
# cgroup hierarchies


def _v2_controllers(root):
    try:
        with open(os.path.join(root, "cgroup.controllers")) as f:
            return f.read().split()
    except OSError:
        return []


MOUNTS = kptlib.cgroup_mounts()
V2_CTRL = _v2_controllers(MOUNTS["v2"]) if "v2" in MOUNTS else []


class ScratchCgroup:
    """A cgroup `name` in every mounted hierarchy; processes join all of them."""

    def __init__(self, name):
        self.name = name
        self.dirs = {}
        for key in ("v2", "cpuacct", "memory", "blkio"):
            if key in MOUNTS:
                path = os.path.join(MOUNTS[key], name)
                remove_cgroup(path)
                os.mkdir(path)
                self.dirs[key] = path

    def read(self, key, fname):
        with open(os.path.join(self.dirs[key], fname)) as f:
            return f.read()

    def write(self, key, fname, value):
        with open(os.path.join(self.dirs[key], fname), "w") as f:
            f.write(value)

    def join_self(self):
        """For preexec_fn: move the calling (child) process into every hierarchy."""
        for path in self.dirs.values():
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def spawn(self, argv, **kw):
        return subprocess.Popen(argv, preexec_fn=self.join_self, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, **kw)

    def cleanup(self):
        for path in self.dirs.values():
            remove_cgroup(path)


def _mode_or_skip(mode):
    if mode == "v1" and "cpuacct" not in MOUNTS:
        pytest.skip("no v1 cpuacct hierarchy on this machine")
    if mode == "v2" and "v2" not in MOUNTS:
        pytest.skip("cgroup2 is not mounted on this machine")


def _cpu_usage_s(cg, mode):
    """The cgroup's own CPU time: v1 cpuacct.usage (ns), v2 cpu.stat usage_usec."""
    if mode == "v1":
        return int(cg.read("cpuacct", "cpuacct.usage")) / 1e9
    for line in cg.read("v2", "cpu.stat").splitlines():
        k, v = line.split()
        if k == "usage_usec":
            return int(v) / 1e6
    raise AssertionError("cpu.stat has no usage_usec")


def _memory(cg):
    """(bytes, file) of the hierarchy that holds the memory controller."""
    if "memory" in V2_CTRL:
        return int(cg.read("v2", "memory.current")), "v2 memory.current"
    return int(cg.read("memory", "memory.usage_in_bytes")), "v1 memory.usage_in_bytes"


def _oom_kills(cg):
    if "memory" in V2_CTRL:
        text, name = cg.read("v2", "memory.events"), "v2 memory.events"
    else:
        text, name = cg.read("memory", "memory.oom_control"), "v1 memory.oom_control"
    for line in text.splitlines():
        k, v = line.split()
        if k == "oom_kill":
            return int(v), name
    raise AssertionError(f"{name} has no oom_kill")


def _io_write_bytes(cg):
    """Bytes written as the cgroup's blkio / io accounting has them."""
    if "io" in V2_CTRL:
        total = 0
        for line in cg.read("v2", "io.stat").splitlines():
            for kv in line.split()[1:]:
                k, v = kv.split("=")
                if k == "wbytes":
                    total += int(v)
        return total, "v2 io.stat wbytes"
    total = 0
    for line in cg.read("blkio", "blkio.throttle.io_service_bytes").splitlines():
        p = line.split()
        if len(p) == 3 and p[1] == "Write":
            total += int(p[2])
    return total, "v1 blkio.throttle.io_service_bytes Write"


def _run_delay_s(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


def _wait_snapshot_with(k, name, cgroup, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = k.next_snapshot()
        if series(snap, name, cgroup=cgroup):
            return snap
    raise AssertionError(f"no {name}{{cgroup={cgroup!r}}} within {timeout}s; cgroups seen: "
                         f"{kptlib.label_values(snap, name, 'cgroup')}")


def _wait_file(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, f"load exited with {proc.returncode} before {path}"
        assert time.monotonic() < deadline, f"load did not reach {path}"
        time.sleep(0.05)


# A process that wakes every 50 ms: it keeps its cgroup among the active ones
# (only active cgroups get series), at a negligible CPU cost.
TICKER = "import time\nwhile True: time.sleep(0.05)\n"

# Says it is ready, waits for the go file, spins for 2 s of wall time, says
# so, then sleeps (stays alive so its schedstat can be read).
SPINNER = ("import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
           "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
           "t = time.time()\nwhile time.time() - t < 2.0: pass\n"
           "open(sys.argv[3], 'w').close()\ntime.sleep(1000)\n")

# Touches N MiB of anonymous memory, says so, then holds it.
HOLDER = ("import sys, time\nb = bytearray(int(sys.argv[1]) << 20)\n"
          "for i in range(0, len(b), 4096): b[i] = 1\n"
          "open(sys.argv[2], 'w').close()\ntime.sleep(1000)\n")

# Writes N MiB with O_DIRECT (so the bytes reach the disk now, submitted by
# this process), says so, then stays alive.
WRITER = ("import mmap, os, sys, time\n"
          "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)\n"
          "buf = mmap.mmap(-1, 1 << 20)\nbuf.write(b'x' * (1 << 20))\n"
          "for _ in range(int(sys.argv[2])): os.write(fd, buf)\n"
          "os.fsync(fd)\nos.close(fd)\nopen(sys.argv[3], 'w').close()\ntime.sleep(1000)\n")


@pytest.fixture
def cgroup_factory():
    made = []

    def make(name):
        cg = ScratchCgroup(f"{name}_{os.getpid()}")
        made.append(cg)
        return cg

    try:
        yield make
    finally:
        for cg in made:
            cg.cleanup()


def _kpulse(kpulse_bin, mode, extra=()):
    k = kptlib.Kpulse(interval=1.0, binary=kpulse_bin,
                      extra_args=("--cgroups", mode, "--top-k", "50", *extra))
    k.wait_started()
    return k


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_cgroup_cpu_and_runqueue_time_match_the_cgroups_accounting(kpulse_bin, cgroup_factory,
                                                                    children, mode):
    _mode_or_skip(mode)
    cg = cgroup_factory(f"kpt_cpu_{mode}")
    with tempfile.TemporaryDirectory() as tmp:
        # kpulse first: the run delay it can compare starts when it attaches
        k = _kpulse(kpulse_bin, mode)
        ticker = cg.spawn([PYTHON, "-c", TICKER])
        children.append(ticker)
        spinner = cg.spawn([PYTHON, "-c", SPINNER, os.path.join(tmp, "ready"),
                            os.path.join(tmp, "go"), os.path.join(tmp, "spun")])
        children.append(spinner)
        pids = [ticker.pid, spinner.pid]
        try:
            # Both tasks are in the cgroup before the first reading: the run
            # delay a new task waits before it could join is not the cgroup's.
            _wait_file(os.path.join(tmp, "ready"), spinner)
            s0 = _wait_snapshot_with(k, "kpulse_cgroup_cpu_seconds_total", cg.name)
            cpu0 = _cpu_usage_s(cg, mode)
            delay0 = _run_delay_s(pids)
            open(os.path.join(tmp, "go"), "w").close()
            _wait_file(os.path.join(tmp, "spun"), spinner)
            k.next_snapshot()  # the round that ends the spin
            s1 = _wait_snapshot_with(k, "kpulse_cgroup_cpu_seconds_total", cg.name)
            cpu1 = _cpu_usage_s(cg, mode)
            delay1 = _run_delay_s(pids) - delay0
            got_cpu = (value_of(s1, "kpulse_cgroup_cpu_seconds_total", cgroup=cg.name)
                       - value_of(s0, "kpulse_cgroup_cpu_seconds_total", cgroup=cg.name))
            got_runq = (value_of(s1, "kpulse_cgroup_runqueue_seconds_total", cgroup=cg.name)
                        - value_of(s0, "kpulse_cgroup_runqueue_seconds_total", cgroup=cg.name))
            execs = [e for e in k.events_since(0)
                     if e.get("type") == "exec" and e.get("pid") == spinner.pid]
        finally:
            k.stop()
    kernel_file = "v1 cpuacct.usage" if mode == "v1" else "v2 cpu.stat usage_usec"
    report(f"INFO cgroup naming mode {mode}: CPU compared with {kernel_file}")
    results = [compare(f"cgroup {mode} CPU seconds vs {kernel_file}", got_cpu, cpu1 - cpu0, 0.03)]
    # Run-queue time between the two readings: the ticker's and the
    # spinner's run delay (schedstat), read just after each snapshot.
    ok = abs(got_runq - delay1) <= 0.05 * delay1 + 0.01
    line = (f"cgroup {mode} run-queue seconds: kpulse={got_runq:.6f} schedstat run_delay of "
            f"its tasks={delay1:.6f} (tolerance 5% + 10 ms)")
    report(("PASS " if ok else "FAIL ") + line)
    results.append((ok, line))
    assert_all(results)
    assert execs and execs[0].get("cgroup") == cg.name, (
        f"the spinner's exec event should name cgroup {cg.name!r}: {execs}")


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_cgroup_memory_and_io_bytes_match_the_cgroups_accounting(kpulse_bin, cgroup_factory,
                                                                  children, mode):
    _mode_or_skip(mode)
    cg = cgroup_factory(f"kpt_mem_{mode}")
    if "io" not in V2_CTRL:
        # v1 blkio counts only while a throttle limit exists on the device:
        # set one far above what the disk does so the file has numbers.
        _disk, majmin = kptlib.whole_disk_of(os.path.abspath(__file__))
        cg.write("blkio", "blkio.throttle.write_bps_device", f"{majmin} 1000000000000")
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(__file__))) as tmp:
        children.append(cg.spawn([PYTHON, "-c", TICKER]))
        k = _kpulse(kpulse_bin, mode)
        try:
            s0 = _wait_snapshot_with(k, "kpulse_cgroup_cpu_seconds_total", cg.name)
            io0, io_file = _io_write_bytes(cg)
            holder = cg.spawn([PYTHON, "-c", HOLDER, "96", os.path.join(tmp, "held")])
            writer = cg.spawn([PYTHON, "-c", WRITER, os.path.join(tmp, "data"), "48",
                               os.path.join(tmp, "written")])
            children.extend([holder, writer])
            _wait_file(os.path.join(tmp, "held"), holder)
            _wait_file(os.path.join(tmp, "written"), writer)
            k.next_snapshot()
            s1 = _wait_snapshot_with(k, "kpulse_cgroup_memory_bytes", cg.name)
            mem, mem_file = _memory(cg)
            io1, _ = _io_write_bytes(cg)
            got_mem = value_of(s1, "kpulse_cgroup_memory_bytes", cgroup=cg.name)
            got_io = (kptlib.counter_sum(s1, "kpulse_cgroup_io_bytes_total", cgroup=cg.name, op="write")
                      - kptlib.counter_sum(s0, "kpulse_cgroup_io_bytes_total", cgroup=cg.name,
                                           op="write"))
        finally:
            k.stop()
    report(f"INFO cgroup naming mode {mode}: memory from {mem_file}, I/O compared with {io_file}")
    assert_all([
        compare(f"cgroup {mode} memory bytes vs {mem_file}", got_mem, mem, 0.05),
        compare(f"cgroup {mode} written bytes vs {io_file}", got_io, io1 - io0, 0.02),
    ])


def test_cgroup_oom_kill_is_counted_like_the_cgroup(kpulse_bin, cgroup_factory, children):
    mode = "v1" if "cpuacct" in MOUNTS else "v2"
    cg = cgroup_factory("kpt_oom")
    if "memory" in V2_CTRL:
        cg.write("v2", "memory.max", str(64 << 20))
    else:
        cg.write("memory", "memory.limit_in_bytes", str(64 << 20))
    with tempfile.TemporaryDirectory() as tmp:
        children.append(cg.spawn([PYTHON, "-c", TICKER]))
        k = _kpulse(kpulse_bin, mode)
        try:
            s0 = _wait_snapshot_with(k, "kpulse_cgroup_cpu_seconds_total", cg.name)
            hog = cg.spawn([PYTHON, "-c", HOLDER, "256", os.path.join(tmp, "never")])
            children.append(hog)
            hog.wait(timeout=60)
            k.next_snapshot()
            s1 = _wait_snapshot_with(k, "kpulse_cgroup_oom_kills_total", cg.name)
            kills, kills_file = _oom_kills(cg)
        finally:
            k.stop()
    assert hog.returncode == -signal.SIGKILL, f"the hog should be OOM-killed, exited {hog.returncode}"
    got = value_of(s1, "kpulse_cgroup_oom_kills_total", cgroup=cg.name)
    before = value_of(s0, "kpulse_cgroup_oom_kills_total", cgroup=cg.name)
    report(f"INFO cgroup OOM kills ({mode} naming): kpulse={got} (before {before}) "
           f"{kills_file}={kills}")
    assert kills >= 1 and got == kills and before == 0


# --------------------------------------------------------------------------
# cardinality under process churn

# A short process that does a little work: it shows up in one round.
CHURN_SCRIPT = "#!/bin/sh\ni=0\nwhile [ $i -lt 100 ]; do i=$((i+1)); done\n"


def _process_series(snaps):
    """Distinct label sets of the per-process series over all snapshots."""
    seen = set()
    for snap in snaps:
        for m in snap.get("metrics") or []:
            if "_process_" in m["name"] and m["name"].startswith(("kpulse_sched", "kpulse_mem",
                                                                   "kpulse_block")):
                seen.add((m["name"], tuple(sorted((m.get("labels") or {}).items()))))
    return seen


def _churn(path, n, cg):
    for _ in range(n):
        subprocess.run([path], check=True, preexec_fn=cg.join_self)


@pytest.mark.parametrize("by_pid", [False, True], ids=["by-name", "by-pid"])
def test_process_churn_grows_series_only_by_pid(kpulse_bin, cgroup_factory, by_pid):
    """2,000 short processes: per name and cgroup the distinct per-process
    series grow by a handful between the first 400 and the rest; per pid they
    grow with the processes. Top K is 1000, so no process misses a series for
    lack of rank."""
    cg = cgroup_factory("kpt_churn")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "kpchurn")
        with open(script, "w") as f:
            f.write(CHURN_SCRIPT)
        os.chmod(script, 0o755)
        extra = ["--top-k", "1000"] + (["--by-pid"] if by_pid else [])
        k = kptlib.Kpulse(interval=0.5, binary=kpulse_bin, extra_args=extra)
        try:
            k.wait_started()
            _churn(script, 400, cg)
            k.next_snapshot()
            k.next_snapshot()
            first = _process_series(list(k.snapshots))
            _churn(script, 1600, cg)
            k.next_snapshot()
            k.next_snapshot()
            every = _process_series(list(k.snapshots))
            pids = {dict(lbl).get("pid") for _, lbl in every}
            cgroups = {dict(lbl).get("cgroup") for _, lbl in every}
        finally:
            k.stop()
    if not by_pid:
        # only the churn's own cgroup: whatever else runs on the machine
        # (builds, other tests) brings names of its own
        first = {sr for sr in first if dict(sr[1]).get("cgroup") == cg.name}
        every_cg = {sr for sr in every if dict(sr[1]).get("cgroup") == cg.name}
    if by_pid:
        every_cg = every
    grown = len(every_cg) - len(first)
    report(f"INFO per-process series {'by pid' if by_pid else 'by name, in the churn cgroup'}: "
           f"{len(first)} after 400 processes, {len(every_cg)} after 2,000 (+{grown})")
    if by_pid:
        # each of the 1,600 later processes ran in some round: most get a series
        assert grown >= 800, f"by pid the series should grow with the processes: +{grown}"
    else:
        assert pids == {None}, "series by name carry no pid label"
        # short processes are gone before /proc is read: their exec and
        # exit events name the cgroup
        assert cg.name in cgroups, f"no series of the churn's cgroup {cg.name}: {cgroups}"
        assert grown <= 8, (f"by name the series should not grow with the processes: +{grown} "
                            f"({sorted(every_cg - first)[:20]})")
