"""Memory accuracy: page faults vs /proc/vmstat pgfault, OOM kill events in a memcg."""

import subprocess

import kptlib
from kptlib import PYTHON, compare, counter_delta, read_vmstat, report

PF = "kpulse_mem_page_faults_total"

# Touches every page of a 32 MiB anonymous mapping (no THP), drops the pages with
# MADV_DONTNEED and starts over: one minor fault per page, ~1M faults/s per core.
FAULT_LOAD = r"""
import mmap, sys, time
size = 32 << 20
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if hasattr(mmap, "MADV_NOHUGEPAGE"):
    m.madvise(mmap.MADV_NOHUGEPAGE)
end = time.monotonic() + float(sys.argv[1])
offs = range(0, size, 4096)
n = 0
while time.monotonic() < end:
    for o in offs:
        m[o] = 1
    m.madvise(mmap.MADV_DONTNEED)
    n += len(offs)
print(n)
"""


def test_page_fault_count_matches_vmstat_pgfault_under_fault_load(kpulse, children):
    """Sum over mode of kpulse_mem_page_faults_total equals the pgfault delta of
    /proc/vmstat within 2% while two processes fault in and drop anonymous pages."""
    s0 = kpulse.next_snapshot()
    f0 = read_vmstat("pgfault")
    procs = [subprocess.Popen([PYTHON, "-c", FAULT_LOAD, "3"], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    children.extend(procs)
    touched = 0
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, "fault load failed"
        touched += int(out.strip())
    s1 = kpulse.next_snapshot()
    f1 = read_vmstat("pgfault")

    want = f1 - f0
    got = counter_delta(s0, s1, PF)
    modes = {m: counter_delta(s0, s1, PF, mode=m) for m in ("user", "kernel")}
    assert want > 500_000, f"load too small: pgfault rose by {want} (pages touched {touched})"
    ok, line = compare("page faults (sum over mode) vs /proc/vmstat pgfault", got, want, 0.02)
    assert ok, f"{line}; per mode {modes}; pages touched by the load {touched}"
    assert abs(sum(modes.values()) - got) < 1, f"modes other than user/kernel: {modes}, total {got}"


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
