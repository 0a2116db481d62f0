"""Scheduler accuracy: context switches vs /proc/stat, process lifecycle events."""

import os
import signal
import subprocess
import time

import pytest

import kptlib
from kptlib import compare, counter_delta, read_proc_stat_ctxt, remove_cgroup, report, run

CTXT = "kpulse_sched_context_switches_total"


def test_context_switch_count_matches_proc_stat_ctxt_under_switch_load(kpulse, tools):
    """Sum over kind of kpulse_sched_context_switches_total equals the ctxt delta of
    /proc/stat within 2% while stress-ng ping-pongs between tasks (millions of switches)."""
    s0 = kpulse.next_snapshot()
    c0 = read_proc_stat_ctxt()
    run(["stress-ng", "--switch", "2", "--timeout", "4s", "-q"], timeout=60)
    s1 = kpulse.next_snapshot()
    c1 = read_proc_stat_ctxt()

    want = c1 - c0
    got = counter_delta(s0, s1, CTXT)
    kinds = {kind: counter_delta(s0, s1, CTXT, kind=kind) for kind in ("voluntary", "involuntary")}
    assert want > 500_000, f"load too small: only {want} context switches in /proc/stat"
    ok, line = compare("context switches (sum over kind) vs /proc/stat ctxt", got, want, 0.02)
    assert ok, f"{line}; per kind {kinds}; interval {s1['timestamp'] - s0['timestamp']:.2f}s"
    assert abs(sum(kinds.values()) - got) < 1, \
        f"kind values other than voluntary/involuntary: per kind {kinds}, total {got}"


# --------------------------------------------------------------------------
# process lifecycle events: one short-lived `sh -c 'sleep 0.3; exit 42'`


@pytest.fixture(scope="module")
def spawned(kpulse_module):
    k = kpulse_module
    s0 = k.next_snapshot()
    idx = k.index_of(s0)
    t_start = time.time()
    p = subprocess.Popen(["sh", "-c", "sleep 0.3; exit 42"])
    try:
        rc = p.wait(timeout=10)
    finally:
        kptlib.kill_proc(p)
    t_end = time.time()
    assert rc == 42, f"the shell exited with {rc}, not 42"
    # the exit event is delivered in the snapshot of its interval: give it two
    k.wait_event(lambda e: e.get("type") == "exit" and e.get("pid") == p.pid, idx, timeout=6)
    return {"k": k, "idx": idx, "pid": p.pid, "t_start": t_start, "t_end": t_end}


def _events_of(spawned, etype):
    return [e for e in spawned["k"].events_since(spawned["idx"])
            if isinstance(e, dict) and e.get("type") == etype and e.get("pid") == spawned["pid"]]


def _types_seen(spawned):
    seen = {}
    for e in spawned["k"].events_since(spawned["idx"]):
        seen[e.get("type")] = seen.get(e.get("type"), 0) + 1
    return seen


def test_exit_event_has_pid_comm_exit_code_42_and_plausible_lifetime(spawned):
    """`sh -c 'sleep 0.3; exit 42'` appears as an exit event with its pid, comm sh,
    exit_code 42, signal 0, ppid = the test process and 0.3 <= lifetime_s < 5."""
    evs = _events_of(spawned, "exit")
    assert evs, (f"no exit event for pid {spawned['pid']}; event types seen since the spawn: "
                 f"{_types_seen(spawned)}")
    e = evs[0]
    report(f"INFO exit event for sh pid {spawned['pid']}: {e}")
    assert len(evs) == 1, f"{len(evs)} exit events for one process: {evs}"
    assert e.get("comm") == "sh", f"comm {e.get('comm')!r}, expected 'sh': {e}"
    assert e.get("exit_code") == 42, f"exit_code {e.get('exit_code')!r}, expected 42: {e}"
    assert e.get("signal", 0) == 0, f"signal {e.get('signal')!r} for a normal exit: {e}"
    assert e.get("ppid") == os.getpid(), f"ppid {e.get('ppid')!r}, expected {os.getpid()}: {e}"
    lt = e.get("lifetime_s")
    assert isinstance(lt, (int, float)) and 0.3 <= lt < 5, f"lifetime_s {lt!r} not in [0.3, 5): {e}"
    ts = e.get("timestamp")
    assert isinstance(ts, (int, float)) and spawned["t_start"] - 1 <= ts <= spawned["t_end"] + 1, \
        (f"timestamp {ts!r} is not within the spawn window "
         f"[{spawned['t_start']:.3f}, {spawned['t_end']:.3f}] (unix seconds): {e}")


def test_exec_event_names_spawned_shell(spawned):
    """The spawned process's execve of sh appears as an exec event with its pid and comm sh."""
    evs = _events_of(spawned, "exec")
    assert evs, (f"no exec event for pid {spawned['pid']}; event types seen since the spawn: "
                 f"{_types_seen(spawned)}")
    e = evs[0]
    assert e.get("comm") == "sh", f"exec comm {e.get('comm')!r}, expected 'sh': {e}"
    assert e.get("ppid") == os.getpid(), f"exec ppid {e.get('ppid')!r}, expected {os.getpid()}: {e}"


def test_fork_event_names_spawned_process_and_parent(spawned):
    """The spawned process appears as a fork event with its own pid and the test as ppid."""
    evs = _events_of(spawned, "fork")
    assert evs, (f"no fork event with pid {spawned['pid']}; event types seen since the spawn: "
                 f"{_types_seen(spawned)}")
    e = evs[0]
    assert e.get("ppid") == os.getpid(), f"fork ppid {e.get('ppid')!r}, expected {os.getpid()}: {e}"


def test_exit_event_reports_fatal_signal(kpulse_module):
    """A process killed by SIGKILL appears as an exit event with signal 9."""
    k = kpulse_module
    s0 = k.next_snapshot()
    idx = k.index_of(s0)
    p = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        kptlib.kill_proc(p)
    e = k.wait_event(lambda e: e.get("type") == "exit" and e.get("pid") == p.pid, idx, timeout=6)
    assert e is not None, f"no exit event for killed pid {p.pid}"
    assert e.get("signal") == 9, f"signal {e.get('signal')!r}, expected 9: {e}"
    assert e.get("comm") == "sleep", f"comm {e.get('comm')!r}, expected 'sleep': {e}"


def test_process_counters_count_at_least_the_spawned_processes(kpulse_module):
    """100 spawned `true` processes raise processes_forked/exec/exited_total by >= 100 each."""
    k = kpulse_module
    s0 = k.next_snapshot()
    for _ in range(100):
        subprocess.run(["true"], timeout=10)
    s1 = k.next_snapshot()
    deltas = {n: counter_delta(s0, s1, f"kpulse_sched_processes_{n}_total")
              for n in ("forked", "exec", "exited")}
    report(f"INFO process counters over 100 spawned `true`: {deltas}")
    for n, d in deltas.items():
        assert 100 <= d < 100_000, f"kpulse_sched_processes_{n}_total rose by {d}, expected >= 100: {deltas}"


# A task can rename itself to any bytes with prctl(PR_SET_NAME); it must not hide from kpulse.
RENAME_SCRIPT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
name = bytes.fromhex(sys.argv[1])
if libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:  # PR_SET_NAME
    sys.exit(99)
pid = os.fork()
if pid == 0:
    os._exit(7)
os.waitpid(pid, 0)
print(pid, flush=True)
"""


@pytest.mark.parametrize("raw,shown", [
    (b"ev\xc0\x80il", "ev\\xc0\\x80il"),        # overlong NUL: jansson refuses it raw
    (b"\xed\xa0\x80x\x1b[2J", "\\xed\\xa0\\x80x\\x1b[2J"),  # surrogate, an escape sequence
], ids=["overlong", "surrogate-and-control"])
def test_process_renamed_to_invalid_utf8_still_has_its_fork_and_exit_events(kpulse_module, raw, shown):
    """A process named with invalid UTF-8 has its fork and exit events recorded, the name made
    printable with the raw bytes escaped as \\xNN."""
    k = kpulse_module
    idx = k.index_of(k.next_snapshot())
    out = subprocess.run(["/usr/bin/python3", "-c", RENAME_SCRIPT, raw.hex()], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, f"renaming helper failed: {out.returncode} {out.stderr}"
    child = int(out.stdout.split()[0])
    ev = k.wait_event(lambda e: e.get("type") == "exit" and e.get("pid") == child, idx, timeout=6)
    assert ev.get("comm") == shown, f"exit event of the renamed child: {ev}"
    forks = [e for e in k.events_since(idx) if e.get("type") == "fork" and e.get("pid") == child]
    assert forks and forks[0].get("comm") == shown, f"fork events of the renamed child: {forks}"


# --------------------------------------------------------------------------
# the loader's fallbacks: raw_tp where tp_btf is refused, wakeup stamps where
# the kernel has no sched_info (test hooks force them on this kernel)

FALLBACKS = {
    "raw_tp": ({"KPULSE_TEST_PROBES_RAW_TP": "1"}, "raw_tp", False),
    "wakeup_stamps": ({"KPULSE_TEST_PROBES_NO_SCHED_INFO": "1"}, "tp_btf", True),
    "raw_tp_wakeup_stamps": ({"KPULSE_TEST_PROBES_RAW_TP": "1",
                              "KPULSE_TEST_PROBES_NO_SCHED_INFO": "1"}, "raw_tp", True),
}
RUNQ = "kpulse_sched_runqueue_latency_seconds"


@pytest.mark.parametrize("mode", sorted(FALLBACKS))
def test_fallback_entry_points_still_deliver_the_scheduler_metrics(kpulse_bin, tools, mode):
    """With the sched programs forced onto a fallback (raw_tp entry points, wakeup
    stamps instead of sched_info, or both), the fallback is what is attached, and under
    a switch storm the context switches still match /proc/stat ctxt within 2%, the
    run-queue histogram counts waits, and CPU busy and per-process CPU time grow."""
    env, attach, wakeups = FALLBACKS[mode]
    prefix = ["env"] + [f"{k}={v}" for k, v in env.items()]
    k = kptlib.Kpulse(interval=1.0, binary=kpulse_bin, prefix=prefix)
    try:
        k.wait_started()
        s0 = k.next_snapshot()
        up = {m["labels"]["probe"]: m for m in kptlib.series(s0, "kpulse_probe_up")}
        sw = up.get("sched:sched_switch")
        assert sw and sw["value"] == 1 and sw["labels"].get("attach") == attach, \
            f"{mode}: sched_switch should be attached through {attach}: {sw}"
        wk = up.get("sched:sched_wakeup")
        if wakeups:
            assert wk and wk["value"] == 1 and wk["labels"].get("attach") == attach, \
                f"{mode}: sched_wakeup should be attached through {attach}: {wk}"
        else:
            assert wk is None, f"{mode}: sched_wakeup attached although sched_info is used: {wk}"
        c0 = read_proc_stat_ctxt()
        run(["stress-ng", "--switch", "2", "--timeout", "3s", "-q"], timeout=60)
        s1 = k.next_snapshot()
        c1 = read_proc_stat_ctxt()
    finally:
        k.stop()

    want = c1 - c0
    got = counter_delta(s0, s1, CTXT)
    assert want > 300_000, f"load too small: only {want} context switches in /proc/stat"
    ok, line = compare(f"{mode}: context switches vs /proc/stat ctxt", got, want, 0.02)
    assert ok, line
    runq_sum = kptlib.hist_sum_count(s1, RUNQ)[0] - kptlib.hist_sum_count(s0, RUNQ)[0]
    runq_n = kptlib.hist_sum_count(s1, RUNQ)[1] - kptlib.hist_sum_count(s0, RUNQ)[1]
    report(f"INFO {mode}: {runq_n:.0f} run-queue waits ({runq_sum:.3f} s) over {want} switches")
    # Half the switches of a ping-pong storm put a woken task on a CPU.
    assert runq_n >= 0.1 * want and runq_sum > 0, \
        f"{mode}: {runq_n:.0f} run-queue waits summing {runq_sum} s over {want} switches"
    busy = counter_delta(s0, s1, "kpulse_sched_cpu_busy_seconds_total")
    proc_cpu = (counter_delta(s0, s1, "kpulse_sched_process_cpu_seconds_total")
                + counter_delta(s0, s1, "kpulse_sched_other_processes_cpu_seconds_total"))
    assert busy > 0 and proc_cpu > 0, \
        f"{mode}: CPU busy grew by {busy} s, per-process CPU time by {proc_cpu} s"


# --------------------------------------------------------------------------
# on-CPU time against the kernel's own: a process's sum_exec_runtime
# (/proc/PID/schedstat, what its utime + stime are scaled to). Both come
# from the run queue's task clock, which leaves out the time the hypervisor
# stole from the vCPU; a clock that counts it (rq->clock, ktime) reads high
# by the share of steal on a loaded VM host.

# Says it is ready, waits for the go file, spins for 1.5 s of wall time, says
# so, then wakes every 50 ms (so it stays among the busiest processes of each
# round) until killed.
SPINNER = ("import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
           "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
           "t = time.time()\nwhile time.time() - t < 1.5: pass\n"
           "open(sys.argv[3], 'w').close()\nwhile True: time.sleep(0.05)\n")

ONCPU_MODES = {"sched_info": ({}, "tp_btf"),
               **{mode: (env, attach) for mode, (env, attach, _) in FALLBACKS.items()}}
PROC_CPU = "kpulse_sched_process_cpu_seconds_total"
UNSEEN = "kpulse_sched_unseen_switches_total"


def _sum_exec_runtime_s(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _steal_s():
    with open("/proc/stat") as f:
        return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")


def _wait_file(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, f"the spinner exited with {proc.returncode} before {path}"
        assert time.monotonic() < deadline, f"the spinner did not reach {path} in {timeout}s"
        time.sleep(0.05)


def _snapshot_with_pid(k, pid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = k.next_snapshot()
        v = kptlib.value_of(snap, PROC_CPU, pid=pid)
        if v is not None:
            return snap, v
    raise AssertionError(f"no {PROC_CPU}{{pid={pid}}} row within {timeout}s")


@pytest.mark.parametrize("mode", sorted(ONCPU_MODES))
def test_process_cpu_time_matches_the_kernels_sum_exec_runtime(kpulse_bin, tmp_path, mode):
    """A process that spins for 1.5 s raises its kpulse_sched_process_cpu_seconds_total{pid}
    by its sum_exec_runtime delta (/proc/PID/schedstat) within 0.1% + 1 ms, with sched_info
    and on every fallback entry point, whatever the steal time of the interval (reported).
    Timed on a clock that counts steal, kpulse would read high by its share. The 1 ms is for
    the spinner's wakeups between kpulse's reading and the test's. Switches the kernel did
    not trace (kpulse_sched_unseen_switches_total, reported) cost the spinner nothing: before
    their runs were taken from the kernel's accounting, they made it read 0.2 to 3.8% low."""
    env, attach = ONCPU_MODES[mode]
    prefix = ["env"] + [f"{k}={v}" for k, v in env.items()]
    ready, go, spun = (str(tmp_path / n) for n in ("ready", "go", "spun"))
    k = kptlib.Kpulse(interval=1.0, binary=kpulse_bin, prefix=prefix,
                      extra_args=("--by-pid", "--top-k", "50"))
    spinner = None
    try:
        k.wait_started()
        spinner = subprocess.Popen([kptlib.PYTHON, "-c", SPINNER, ready, go, spun])
        pid = str(spinner.pid)
        _wait_file(ready, spinner)
        s0, got0 = _snapshot_with_pid(k, pid)
        want0, steal0, t0 = _sum_exec_runtime_s(pid), _steal_s(), time.monotonic()
        open(go, "w").close()
        _wait_file(spun, spinner)
        k.next_snapshot()  # the round that ends the spin
        s1, got1 = _snapshot_with_pid(k, pid)
        want1, steal1, t1 = _sum_exec_runtime_s(pid), _steal_s(), time.monotonic()
    finally:
        if spinner is not None:
            kptlib.kill_proc(spinner)
        k.stop()

    up = {m["labels"]["probe"]: m for m in kptlib.series(s0, "kpulse_probe_up")}
    sw = up.get("sched:sched_switch")
    assert sw and sw["value"] == 1 and sw["labels"].get("attach") == attach, \
        f"{mode}: sched_switch should be attached through {attach}: {sw}"
    steal = steal1 - steal0
    report(f"INFO {mode}: steal {steal:.2f} s of {os.cpu_count() * (t1 - t0):.2f} CPU-seconds "
           f"({100 * steal / (os.cpu_count() * (t1 - t0)):.2f}%) during the spin")
    got, want = got1 - got0, want1 - want0
    unseen = counter_delta(s0, s1, UNSEEN)
    report(f"INFO {mode}: {unseen:.0f} switches the kernel did not trace during the spin")
    ok = abs(got - want) <= 0.001 * want + 0.001
    line = (f"{mode}: spinner's CPU seconds kpulse={got:.6f} sum_exec_runtime={want:.6f} "
            f"diff={1e3 * (got - want):+.3f} ms (tolerance 0.1% + 1 ms)")
    report(("PASS " if ok else "FAIL ") + line)
    assert ok, line


# --------------------------------------------------------------------------
# on-CPU time under process churn: spinners in a cgroup while processes are
# forked and exec'd in it by the thousand, against the cgroup's own CPU time
# (v2 cpu.stat usage_usec, v1 cpuacct.usage) and each spinner's
# sum_exec_runtime. Each churned process takes a proc_stats entry and
# evicts the spinners' slots of the per-CPU cache; none of it may cost time.

class _ChurnCgroup:
    """One cgroup name in the v2 and v1 cpuacct hierarchies; processes join both."""

    def __init__(self, name, mounts):
        self.name, self.dirs = name, {}
        for key, root in mounts.items():
            path = os.path.join(root, name)
            remove_cgroup(path)
            os.mkdir(path)
            self.dirs[key] = path

    def join_self(self):
        for path in self.dirs.values():
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def usage_s(self, mode):
        """(seconds, file): the cgroup's own CPU time in the naming hierarchy."""
        if mode == "v1":
            with open(os.path.join(self.dirs["cpuacct"], "cpuacct.usage")) as f:
                return int(f.read()) / 1e9, "v1 cpuacct.usage"
        with open(os.path.join(self.dirs["v2"], "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1e6, "v2 cpu.stat usage_usec"
        raise AssertionError(f"{self.dirs['v2']}/cpu.stat has no usage_usec")

    def cleanup(self):
        for path in self.dirs.values():
            remove_cgroup(path)


# Says it is ready, waits for the go file, spins until the stop file, says so,
# then wakes every 50 ms (so it and its cgroup keep their series each round,
# at a few microseconds of CPU between the test's readings).
CHURN_SPINNER = ("import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
                 "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
                 "while not os.path.exists(sys.argv[3]): pass\n"
                 "open(sys.argv[4], 'w').close()\nwhile True: time.sleep(0.05)\n")

# Says it is ready, waits for the go file, then makes N processes, every
# other one exec'ing /bin/true (fork and exec storm), reaps them, says so.
CHURN_STORM = ("import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
               "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
               "for i in range(int(sys.argv[3])):\n"
               "    pid = os.fork()\n"
               "    if pid == 0:\n"
               "        if i % 2:\n"
               "            os.execv('/bin/true', ['true'])\n"
               "        os._exit(0)\n"
               "    os.waitpid(pid, 0)\n"
               "open(sys.argv[4], 'w').close()\ntime.sleep(1000)\n")
CHURN_PROCS = 2500  # per storm process; two of them
PER_PROC_S = 2e-6


def _snapshot_with_rows(k, pids, cgroup, timeout=20):
    """The next snapshot with a per-pid CPU row for each of pids and a CPU row for cgroup."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = k.next_snapshot()
        if all(kptlib.value_of(snap, PROC_CPU, pid=p) is not None for p in pids) and \
                kptlib.value_of(snap, "kpulse_cgroup_cpu_seconds_total", cgroup=cgroup) is not None:
            return snap
    raise AssertionError(f"no snapshot with {PROC_CPU} rows for pids {pids} and a "
                         f"kpulse_cgroup_cpu_seconds_total row for {cgroup!r} within {timeout}s")


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_cpu_time_stays_exact_per_cgroup_and_process_under_fork_exec_churn(kpulse_bin, tmp_path,
                                                                           children, mode):
    """Two spinners and two fork/exec storms (5,000 processes, half of them exec'ing
    /bin/true) in one cgroup: the cgroup's kpulse_cgroup_cpu_seconds_total rises by what the
    cgroup's own file says (v2 cpu.stat usage_usec, v1 cpuacct.usage, as the naming mode
    picks) within 0.1% + 2 ms + 2 us per process made (a residual of 0.5 to 1.6 us per
    process is not explained yet), and each spinner's per-pid CPU seconds by its
    sum_exec_runtime within 0.1% + 1 ms. Both readings are taken with every process of the
    cgroup asleep or gone. The storm is a count, not a duration, so a slow machine runs it
    longer; the forks kpulse counted must cover it."""
    mounts = {k: v for k, v in kptlib.cgroup_mounts().items() if k in ("v2", "cpuacct")}
    need = "cpuacct" if mode == "v1" else "v2"
    if need not in mounts:
        pytest.skip(f"no {'v1 cpuacct hierarchy' if mode == 'v1' else 'cgroup2 mount'} here")
    cg = _ChurnCgroup(f"kpt_sched_churn_{mode}_{os.getpid()}", mounts)
    f = {n: str(tmp_path / n) for n in ("go", "stop", "r0", "r1", "s0", "s1", "t0", "t1",
                                        "d0", "d1")}
    k = None
    try:
        k = kptlib.Kpulse(interval=1.0, binary=kpulse_bin,
                          extra_args=("--cgroups", mode, "--by-pid", "--top-k", "50"))
        k.wait_started()
        spinners = [subprocess.Popen([kptlib.PYTHON, "-c", CHURN_SPINNER, f[f"r{i}"], f["go"],
                                      f["stop"], f[f"s{i}"]], preexec_fn=cg.join_self,
                                     stdin=subprocess.DEVNULL)
                    for i in range(2)]
        storms = [subprocess.Popen([kptlib.PYTHON, "-c", CHURN_STORM, f[f"t{i}"], f["go"],
                                    str(CHURN_PROCS), f[f"d{i}"]], preexec_fn=cg.join_self,
                                   stdin=subprocess.DEVNULL)
                  for i in range(2)]
        children.extend(spinners + storms)
        for i in range(2):
            _wait_file(f[f"r{i}"], spinners[i])
            _wait_file(f[f"t{i}"], storms[i])
        pids = [str(p.pid) for p in spinners]
        s0 = _snapshot_with_rows(k, pids, cg.name)
        cpu0, cpu_file = cg.usage_s(mode)
        want0 = [_sum_exec_runtime_s(p) for p in pids]
        open(f["go"], "w").close()
        for i in range(2):
            _wait_file(f[f"d{i}"], storms[i], timeout=300)
        open(f["stop"], "w").close()
        for i in range(2):
            _wait_file(f[f"s{i}"], spinners[i])
        k.next_snapshot()  # the round that ends the spin
        s1 = _snapshot_with_rows(k, pids, cg.name)
        cpu1, _ = cg.usage_s(mode)
        want1 = [_sum_exec_runtime_s(p) for p in pids]
    finally:
        if k is not None:
            k.stop()
        cg.cleanup()

    path = cg.dirs[need]
    forks = counter_delta(s0, s1, "kpulse_sched_processes_forked_total")
    unseen = counter_delta(s0, s1, UNSEEN)
    report(f"INFO churn ({mode} naming): cgroup {path}, CPU compared with {cpu_file}; "
           f"{forks:.0f} forks counted, {unseen:.0f} switches the kernel did not trace")
    assert forks >= 2 * CHURN_PROCS, f"kpulse counted {forks} forks, the storms made {2 * CHURN_PROCS}"
    results = []
    got = (kptlib.value_of(s1, "kpulse_cgroup_cpu_seconds_total", cgroup=cg.name)
           - kptlib.value_of(s0, "kpulse_cgroup_cpu_seconds_total", cgroup=cg.name))
    want = cpu1 - cpu0
    # Per process made, up to PER_PROC_S of the cgroup's time is not in
    # kpulse's (measured here: 0.47 us per fork-only process, 1.6 us per
    # exec'ing one, the same with 22,000 processes; a rare child loses most
    # of a run, see docs/metrics.md).
    tol = 0.001 * want + 0.002 + PER_PROC_S * 2 * CHURN_PROCS
    ok = abs(got - want) <= tol
    results.append((ok, f"cgroup {cg.name} ({mode}) CPU seconds kpulse={got:.6f} {cpu_file}="
                        f"{want:.6f} diff={1e3 * (got - want):+.3f} ms (tolerance 0.1% + 2 ms + "
                        f"{1e6 * PER_PROC_S:g} us per process = {1e3 * tol:.3f} ms)"))
    for i, pid in enumerate(pids):
        got = kptlib.value_of(s1, PROC_CPU, pid=pid) - kptlib.value_of(s0, PROC_CPU, pid=pid)
        want = want1[i] - want0[i]
        ok = abs(got - want) <= 0.001 * want + 0.001
        results.append((ok, f"spinner {pid} CPU seconds kpulse={got:.6f} sum_exec_runtime="
                            f"{want:.6f} diff={1e3 * (got - want):+.3f} ms (tolerance 0.1% + 1 ms)"))
    for ok, line in results:
        report(("PASS " if ok else "FAIL ") + line)
    kptlib.assert_all(results)
