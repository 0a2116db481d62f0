"""Memory accuracy: page faults vs /proc/vmstat pgfault, OOM kill events in a memcg."""

import subprocess

import pytest

from conftest import _start
from kptlib import PYTHON, compare, counter_delta, read_vmstat, report, series

PF = "kpulse_mem_page_faults_total"
MAJ = "kpulse_mem_major_page_faults_total"
EXC = "kpulse_mem_exception_page_faults_total"
PROC_PF = "kpulse_mem_process_page_faults_total"

# Takes page faults by one path, a fixed amount of work (never a duration:
# a slow machine does the same work, only later), then prints its own
# minflt + majflt (/proc/self/stat) and waits for a line on stdin so that
# its row is read from /proc while it is alive. argv: path [file].
FAULT_LOAD = r"""
import ctypes, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PROT_RW, PRIV_ANON, MAP_POPULATE = 3, 0x22, 0x8000
MADV_NOHUGEPAGE, MADV_RANDOM, MADV_POPULATE_WRITE = 15, 1, 23
MB = 1 << 20

def anon(size, extra=0):
    a = libc.mmap(None, size, PROT_RW, PRIV_ANON | extra, -1, 0)
    assert a not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
    return a

def check(rc, what):
    assert rc == 0, f"{what}: {os.strerror(ctypes.get_errno())}"

def faults():
    f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    return int(f[7]) + int(f[9])

path = sys.argv[1]
if path == "touch":          # the CPU exception path
    size = 64 * MB
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(MADV_NOHUGEPAGE)
    for _ in range(24):
        for o in range(0, size, 4096):
            m[o] = 1
        m.madvise(mmap.MADV_DONTNEED)
elif path in ("populate", "mlock", "madv_populate"):   # prefaulting, no exception
    size = 64 * MB
    for _ in range(64):
        if path == "populate":
            a = anon(size, MAP_POPULATE)
        else:
            a = anon(size)
            check(libc.madvise(a, size, MADV_NOHUGEPAGE), "madvise")
            if path == "mlock":
                check(libc.mlock(a, size), "mlock")
            else:
                check(libc.madvise(a, size, MADV_POPULATE_WRITE), "MADV_POPULATE_WRITE")
        check(libc.munmap(a, size), "munmap")
elif path == "odirect":      # get_user_pages on the buffer of an O_DIRECT read
    fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECT)
    n = os.fstat(fd).st_size // MB
    for i in list(range(n)) * 4:
        a = anon(MB)
        check(libc.madvise(a, MB, MADV_NOHUGEPAGE), "madvise")
        got = os.preadv(fd, [(ctypes.c_char * MB).from_address(a)], i * MB)
        assert got == MB, got
        check(libc.munmap(a, MB), "munmap")
    os.close(fd)
elif path == "major":        # file pages read from disk: one major fault per page
    fd = os.open(sys.argv[2], os.O_RDONLY)
    size = 64 * MB
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    m.madvise(MADV_RANDOM)
    s = 0
    for o in range(0, size, 4096):
        s += m[o]
    os.close(fd)
print(faults(), flush=True)
sys.stdin.readline()
"""


def _run_fault_load(kpulse, children, path, arg=None):
    """Runs one fault load between two snapshots; returns the deltas."""
    s0 = kpulse.next_snapshot()
    f0, j0 = read_vmstat("pgfault"), read_vmstat("pgmajfault")
    idx = kpulse.index_of(s0)
    p = subprocess.Popen([PYTHON, "-c", FAULT_LOAD, path] + ([arg] if arg else []),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    children.append(p)
    own = int(p.stdout.readline().strip() or -1)
    assert own > 0, f"fault load {path} failed (exit status {p.poll()})"
    kpulse.next_snapshot()  # a round that sees it alive, after its work
    p.stdin.write("\n")
    p.stdin.flush()
    assert p.wait(timeout=60) == 0, f"fault load {path} failed"
    s1 = kpulse.next_snapshot()
    f1, j1 = read_vmstat("pgfault"), read_vmstat("pgmajfault")
    # The process's row: the last value any snapshot since s0 labelled it with.
    per_proc = None
    for snap in kpulse.snapshots[idx:]:
        for m in series(snap, PROC_PF, pid=p.pid):
            per_proc = float(m["value"])
    return {"pid": p.pid, "own": own, "want": f1 - f0, "want_major": j1 - j0,
            "got": counter_delta(s0, s1, PF), "got_major": counter_delta(s0, s1, MAJ),
            "exception": counter_delta(s0, s1, EXC), "per_proc": per_proc}


@pytest.fixture
def kpulse_by_pid(kpulse_bin):
    """kpulse dump with per-pid process series (--by-pid)."""
    k = _start(kpulse_bin, extra=("--by-pid",))
    try:
        yield k
    finally:
        k.stop()


@pytest.mark.parametrize("path", ["touch", "populate", "mlock", "madv_populate", "odirect", "major"])
def test_page_faults_match_vmstat_and_the_process_own_count(kpulse_by_pid, children, fio_file, path):
    """For each fault path (CPU exceptions; MAP_POPULATE, mlock, MADV_POPULATE_WRITE
    prefaulting; get_user_pages of an O_DIRECT read; file pages read from disk):
    kpulse_mem_page_faults_total rises as pgfault in /proc/vmstat and
    kpulse_mem_major_page_faults_total as pgmajfault, within 1%; the load's own
    row of kpulse_mem_process_page_faults_total equals its minflt + majflt
    (/proc/PID/stat) within 1%."""
    r = _run_fault_load(kpulse_by_pid, children, path,
                        fio_file["path"] if path in ("odirect", "major") else None)
    report(f"INFO fault path {path}: pgfault +{r['want']}, kpulse +{r['got']:.0f}, "
           f"exception path +{r['exception']:.0f}, pgmajfault +{r['want_major']}, "
           f"kpulse major +{r['got_major']:.0f}; load pid {r['pid']} own {r['own']}, "
           f"its row {r['per_proc']}")
    assert r["own"] >= 15_000, f"load too small: the process took {r['own']} faults"
    # The machine's other faults between kpulse's read of /proc/vmstat and
    # ours differ at each end by a few thousand at most: the loads take
    # hundreds of thousands. Reading 64 MiB from disk a page at a time takes
    # too few for that, so that path checks the major count only.
    if path != "major":
        ok, line = compare(f"page faults ({path}) vs /proc/vmstat pgfault", r["got"], r["want"],
                           0.01)
        assert ok, line
    else:
        assert r["want_major"] >= 10_000, f"load too small: pgmajfault rose by {r['want_major']}"
        ok, line = compare("major page faults vs /proc/vmstat pgmajfault", r["got_major"],
                           r["want_major"], 0.01)
        assert ok, line
    assert r["per_proc"] is not None, f"no {PROC_PF} row for the load (pid {r['pid']})"
    ok, line = compare(f"page faults of the load process ({path}) vs its /proc/PID/stat",
                       r["per_proc"], r["own"], 0.01)
    assert ok, line


# Allocates and fills 1 MiB blocks, up to 1 GiB, after a line on stdin.
OOM_LOAD = r"""
import sys, time
sys.stdin.readline()
blocks = []
for i in range(1024):
    blocks.append(b"\x01" * (1 << 20))
time.sleep(30)
"""


def test_oom_kill_in_memcg_reported_with_victim_pid_and_comm(kpulse, oom_cgroup, children):
    """A process moved into a 64 MiB memory cgroup and allocating 1 GiB is OOM-killed;
    kpulse reports an oom_kill event with the victim's pid and comm (memcg names
    kpt-oom when given) and kpulse_mem_oom_kills_total rises."""
    cg = oom_cgroup
    p = subprocess.Popen([PYTHON, "-c", OOM_LOAD], stdin=subprocess.PIPE)
    children.append(p)
    cg.add(p.pid)
    assert p.pid in cg.pids(), f"pid {p.pid} not in {cg.procs_file}"
    with open(f"/proc/{p.pid}/comm") as f:
        comm = f.read().strip()

    s0 = kpulse.next_snapshot()
    idx = kpulse.index_of(s0)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc == -9, (f"the allocating process (pid {p.pid}) was not OOM-killed: returncode {rc} "
                      f"(cgroup v{cg.version} {cg.path})")

    ev = kpulse.wait_event(lambda e: e.get("type") == "oom_kill" and e.get("pid") == p.pid, idx, timeout=6)
    s1 = kpulse.next_snapshot()
    ooms = [e for e in kpulse.events_since(idx) if e.get("type") == "oom_kill"]
    report(f"INFO oom_kill events (cgroup v{cg.version}, victim pid {p.pid} comm {comm}): {ooms}")
    assert ev is not None, f"no oom_kill event for pid {p.pid}; oom_kill events seen: {ooms}"
    assert ev.get("comm") == comm, f"comm {ev.get('comm')!r}, expected {comm!r}: {ev}"
    memcg = ev.get("memcg")
    if memcg:
        assert "kpt-oom" in str(memcg), f"memcg {memcg!r} does not name kpt-oom: {ev}"
    for k in ("total_vm_pages", "rss_pages"):
        if k in ev:
            assert isinstance(ev[k], (int, float)) and ev[k] >= 0, f"{k} {ev[k]!r}: {ev}"
    # the victim had filled close to 64 MiB: rss_pages must be in the right range
    if isinstance(ev.get("rss_pages"), (int, float)):
        assert 4096 <= ev["rss_pages"] <= 2 * 16384 + 8192, \
            f"rss_pages {ev['rss_pages']} implausible for a 64 MiB limit: {ev}"
    # s1 was emitted after the event was delivered, so its counter includes it
    d = counter_delta(s0, s1, "kpulse_mem_oom_kills_total")
    assert d >= 1, f"kpulse_mem_oom_kills_total rose by {d}, expected >= 1"
