"""The /proc pass against the kernel's own files: CPU seconds, load, pressure,
memory, swap and major faults, block device time counters, kpulse's own
process and its BPF programs' run time.

Most of these are cumulative counters the kernel keeps exactly, so each test
reads the kernel's file, lets kpulse run a round, and reads the file again:
kpulse's value must lie between the two reads (a "bracket"), which holds for
any load the machine is under.
"""

import json
import mmap
import os
import subprocess
import tempfile

import pytest

from kptlib import report, run, series, value_of

HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]


def bracket(k, read):
    """(kernel before, snapshot, kernel after). The round behind the snapshot
    started after `before`: the first snapshot to arrive may come from a round
    already under way, so the second one is taken."""
    before = read()
    k.next_snapshot()
    snap = k.next_snapshot()
    after = read()
    return before, snap, after


def check_between(what, got, lo, hi, slack=0.0):
    ok = got is not None and lo - slack <= got <= hi + slack
    line = f"{what}: kpulse={got} kernel before={lo} after={hi}" + (f" (slack {slack})" if slack else "")
    report(("PASS " if ok else "FAIL ") + line)
    return ok, line


def assert_ok(results):
    bad = [line for ok, line in results if not ok]
    assert not bad, "\n  ".join(["kpulse outside the kernel's bracket:"] + bad)


def proc_stat_cpus():
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            p = line.split()
            if p[0].startswith("cpu") and p[0] != "cpu":
                out[p[0][3:]] = [int(x) for x in p[1:9]]
    return out


def key_values(path, sep=None):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, rest = line.partition(":") if sep == ":" else line.partition(" ")
            v = rest.split()
            if v and v[0].lstrip("-").isdigit():
                out[k.strip()] = int(v[0]) * (1024 if len(v) > 1 and v[1] == "kB" else 1)
    return out


def test_cpu_seconds_per_cpu_and_mode_match_proc_stat(kpulse_module):
    """kpulse_cpu_seconds_total{cpu,mode} lies between two reads of /proc/stat
    around its round, for every CPU and the eight modes (idle and iowait may
    step back a tick on NO_HZ kernels: one tick of slack)."""
    before, snap, after = bracket(kpulse_module, proc_stat_cpus)
    results = []
    for cpu in sorted(after, key=int):
        for i, mode in enumerate(MODES):
            got = value_of(snap, "kpulse_cpu_seconds_total", cpu=cpu, mode=mode)
            results.append(check_between(f"cpu{cpu} {mode} seconds vs /proc/stat", got,
                                         before[cpu][i] / HZ, after[cpu][i] / HZ, slack=1.0 / HZ))
    assert len(series(snap, "kpulse_cpu_seconds_total")) == len(after) * 8
    assert_ok(results)


def test_load_averages_and_process_counts_match_proc(kpulse_module):
    """kpulse_load1/5/15 equal /proc/loadavg read before or after the round (it moves
    every 5 s); procs_running counts at least kpulse itself."""
    def read():
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]

    before, snap, after = bracket(kpulse_module, read)
    results = []
    for i, name in enumerate(["kpulse_load1", "kpulse_load5", "kpulse_load15"]):
        results.append(check_between(f"{name} vs /proc/loadavg", value_of(snap, name),
                                     min(before[i], after[i]), max(before[i], after[i]), 0.005))
    assert value_of(snap, "kpulse_procs_running") >= 1
    assert value_of(snap, "kpulse_procs_blocked") >= 0
    with open("/proc/stat") as f:
        btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
    assert value_of(snap, "kpulse_boot_time_seconds") == btime
    assert_ok(results)


def test_pressure_totals_match_proc_pressure(kpulse_module):
    """kpulse_pressure_*_{waiting,stalled}_seconds_total lie between two reads of
    /proc/pressure/{cpu,memory,io} (and irq where the kernel has it)."""
    if not os.path.isdir("/proc/pressure"):
        pytest.skip("this kernel has no /proc/pressure (PSI)")

    def read():
        out = {}
        for res in ("cpu", "memory", "io", "irq"):
            try:
                with open(f"/proc/pressure/{res}") as f:
                    for line in f:
                        kind, *fields = line.split()
                        out[(res, kind)] = int(dict(x.split("=") for x in fields)["total"]) / 1e6
            except (FileNotFoundError, OSError):
                continue
        return out

    before, snap, after = bracket(kpulse_module, read)
    results = []
    for (res, kind), hi in sorted(after.items()):
        name = f"kpulse_pressure_{res}_{'waiting' if kind == 'some' else 'stalled'}_seconds_total"
        results.append(check_between(f"{name} vs /proc/pressure/{res} {kind}", value_of(snap, name),
                                     before[(res, kind)], hi))
    assert results
    assert_ok(results)


MEMINFO = {
    "MemTotal": "kpulse_mem_total_bytes", "MemFree": "kpulse_mem_free_bytes",
    "MemAvailable": "kpulse_mem_available_bytes", "Buffers": "kpulse_mem_buffers_bytes",
    "Cached": "kpulse_mem_cached_bytes", "SwapCached": "kpulse_mem_swap_cached_bytes",
    "Dirty": "kpulse_mem_dirty_bytes", "Writeback": "kpulse_mem_writeback_bytes",
    "AnonPages": "kpulse_mem_anon_bytes", "Shmem": "kpulse_mem_shmem_bytes",
    "Slab": "kpulse_mem_slab_bytes", "SReclaimable": "kpulse_mem_slab_reclaimable_bytes",
    "SUnreclaim": "kpulse_mem_slab_unreclaimable_bytes", "SwapTotal": "kpulse_mem_swap_total_bytes",
    "SwapFree": "kpulse_mem_swap_free_bytes",
}


def test_meminfo_gauges_match_proc_meminfo(kpulse_module):
    """Every kpulse_mem_*_bytes gauge of /proc/meminfo lies between the smallest and
    largest value of two reads around the round, with 8 MiB of slack for what moves
    in between (allocations of other processes); MemTotal and SwapTotal exactly."""
    before, snap, after = bracket(kpulse_module, lambda: key_values("/proc/meminfo", ":"))
    results = []
    for key, name in MEMINFO.items():
        lo, hi = min(before[key], after[key]), max(before[key], after[key])
        slack = 0 if key in ("MemTotal", "SwapTotal") else 8 << 20
        results.append(check_between(f"{name} vs {key}", value_of(snap, name), lo, hi, slack))
    assert_ok(results)


def test_shmem_grows_by_a_64_mib_tmpfs_file(kpulse_module):
    """A 64 MiB file written to /dev/shm raises kpulse_mem_shmem_bytes by what
    /proc/meminfo's Shmem rose over the same two rounds (within 4 MiB), about 64 MiB."""
    k = kpulse_module
    fd, path = tempfile.mkstemp(prefix="kpt-shmem-", dir="/dev/shm")
    try:
        k.next_snapshot()
        s0 = k.next_snapshot()
        m0 = key_values("/proc/meminfo", ":")["Shmem"]
        chunk = b"\x5a" * (1 << 20)
        for _ in range(64):
            os.write(fd, chunk)
        s1 = k.next_snapshot()
        s1 = k.next_snapshot()
        m1 = key_values("/proc/meminfo", ":")["Shmem"]
    finally:
        os.close(fd)
        os.unlink(path)
    got = value_of(s1, "kpulse_mem_shmem_bytes") - value_of(s0, "kpulse_mem_shmem_bytes")
    report(f"INFO Shmem rose by {got / 2**20:.1f} MiB in kpulse, {(m1 - m0) / 2**20:.1f} MiB in "
           f"/proc/meminfo")
    assert abs(got - (m1 - m0)) <= 4 << 20
    assert got >= 60 << 20


def test_vmstat_counters_match_proc_vmstat_while_faulting_pages_in(kpulse_module):
    """kpulse_mem_major_page_faults_total (pgmajfault) and the swap counters
    (pswpin, pswpout times the page size) lie between two reads of /proc/vmstat
    while a 32 MiB file dropped from the page cache is read through mmap."""
    k = kpulse_module
    fd, path = tempfile.mkstemp(prefix="kpt-majflt-", dir="/var/tmp")
    try:
        os.write(fd, os.urandom(32 << 20))
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        before = key_values("/proc/vmstat")
        m = mmap.mmap(fd, 32 << 20, prot=mmap.PROT_READ)
        m.madvise(mmap.MADV_RANDOM)  # one fault per page, no read-around
        total = sum(m[i] for i in range(0, 32 << 20, PAGE))
        m.close()
        k.next_snapshot()
        snap = k.next_snapshot()
        after = key_values("/proc/vmstat")
    finally:
        os.close(fd)
        os.unlink(path)
    assert total >= 0
    results = [
        check_between("kpulse_mem_major_page_faults_total vs pgmajfault",
                      value_of(snap, "kpulse_mem_major_page_faults_total"),
                      before["pgmajfault"], after["pgmajfault"]),
        check_between("kpulse_mem_swap_in_bytes_total vs pswpin",
                      value_of(snap, "kpulse_mem_swap_in_bytes_total"),
                      before["pswpin"] * PAGE, after["pswpin"] * PAGE),
        check_between("kpulse_mem_swap_out_bytes_total vs pswpout",
                      value_of(snap, "kpulse_mem_swap_out_bytes_total"),
                      before["pswpout"] * PAGE, after["pswpout"] * PAGE),
    ]
    report(f"INFO pgmajfault rose by {after['pgmajfault'] - before['pgmajfault']} while reading "
           f"{32 << 20 // PAGE} pages")
    assert after["pgmajfault"] - before["pgmajfault"] >= 1000, "the file was not faulted in from disk"
    assert_ok(results)


def read_diskstats():
    out = {}
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            out[p[2]] = [int(x) for x in p[3:]]
    return out


def test_block_time_counters_match_proc_diskstats(kpulse_module):
    """kpulse_block_{read,write,io,io_weighted}_time_seconds_total of every listed
    device lie between two reads of /proc/diskstats (milliseconds there)."""
    before, snap, after = bracket(kpulse_module, read_diskstats)
    cols = {"kpulse_block_read_time_seconds_total": 3, "kpulse_block_write_time_seconds_total": 7,
            "kpulse_block_io_time_seconds_total": 9, "kpulse_block_io_time_weighted_seconds_total": 10}
    devices = sorted({m["labels"]["device"] for m in series(snap, "kpulse_block_io_time_seconds_total")})
    results = []
    for dev in devices:
        for name, col in cols.items():
            results.append(check_between(f"{dev} {name} vs /proc/diskstats", value_of(snap, name, device=dev),
                                         before[dev][col] / 1e3, after[dev][col] / 1e3))
    assert devices
    assert_ok(results)


def whole_disks_expected():
    """The block devices kpulse must list: /sys/block entries, loop devices only
    while bound, ram disks only once used."""
    stats = read_diskstats()
    out = []
    for name in sorted(os.listdir("/sys/block")):
        dev = name.replace("!", "/")
        if dev not in stats:
            continue
        if dev.startswith("loop") and dev[4:].isdigit() and not os.path.exists(f"/sys/block/{name}/loop"):
            continue
        if dev.startswith("ram") and dev[3:].isdigit() and not any(stats[dev]):
            continue
        out.append(dev)
    return out


def test_first_snapshot_has_every_block_device_and_interface(kpulse):
    """The very first snapshot of a fresh kpulse has the BPF-side series of every
    block device (zero until it does I/O) and of every interface of /proc/net/dev,
    with their /proc counters; unbound loop devices are not listed."""
    first = kpulse.snapshots[0]
    disks = whole_disks_expected()
    with open("/proc/net/dev") as f:
        ifaces = [l.split(":")[0].strip() for l in f.readlines()[2:]]
    missing = []
    for dev in disks:
        for name in ("kpulse_block_ios_completed_total", "kpulse_block_io_latency_seconds",
                     "kpulse_block_utilization_ratio", "kpulse_block_read_time_seconds_total"):
            if not series(first, name, device=dev):
                missing.append(f"{name}{{device={dev}}}")
    for iface in ifaces:
        for name in ("kpulse_net_rx_bytes_total", "kpulse_net_tx_packets_total", "kpulse_net_rx_dropped_total",
                     "kpulse_net_tx_errors_total"):
            if not series(first, name, interface=iface):
                missing.append(f"{name}{{interface={iface}}}")
    listed = sorted({m["labels"]["device"] for m in series(first, "kpulse_block_io_latency_seconds")})
    report(f"INFO first snapshot: devices {listed}, expected {disks}; interfaces {ifaces}")
    assert not missing, f"missing from the first snapshot: {missing}"
    unbound = [d for d in listed if d.startswith("loop") and d not in disks]
    assert not unbound, f"unbound loop devices listed: {unbound}"


def pid_stat_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[19])  # utime + stime, starttime


def pid_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def test_own_process_figures_match_proc_pid(kpulse_module):
    """kpulse_process_*: CPU seconds between two reads of /proc/PID/stat (ticks,
    two of slack), resident memory within 5% of VmRSS, open descriptors as
    /proc/PID/fd lists them, the limit of /proc/PID/limits, the start time from
    btime and starttime; kpulse_build_info is 1."""
    k = kpulse_module
    pid = k.proc.pid
    k.next_snapshot()  # every file kpulse keeps open is open after its first rounds
    before, snap, after = bracket(k, lambda: pid_stat_ticks(pid)[0])
    rss = pid_status(pid, "VmRSS")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/limits") as f:
        soft = next(int(l.split()[3]) for l in f if l.startswith("Max open files"))
    with open("/proc/stat") as f:
        btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
    start = btime + pid_stat_ticks(pid)[1] / HZ
    # /proc/PID/stat truncates utime and stime to ticks each: up to two lost.
    results = [check_between("kpulse_process_cpu_seconds_total vs utime+stime",
                             value_of(snap, "kpulse_process_cpu_seconds_total"), before / HZ, after / HZ,
                             slack=2.0 / HZ)]
    got_rss = value_of(snap, "kpulse_process_resident_memory_bytes")
    results.append(check_between("kpulse_process_resident_memory_bytes vs VmRSS", got_rss, rss, rss,
                                 slack=0.05 * rss))
    results.append(check_between("kpulse_process_open_fds vs /proc/PID/fd",
                                 value_of(snap, "kpulse_process_open_fds"), fds, fds))
    results.append(check_between("kpulse_process_max_fds vs Max open files",
                                 value_of(snap, "kpulse_process_max_fds"), soft, soft))
    results.append(check_between("kpulse_process_start_time_seconds vs btime + starttime",
                                 value_of(snap, "kpulse_process_start_time_seconds"), start, start, 1e-6))
    bi = series(snap, "kpulse_build_info")
    assert len(bi) == 1 and bi[0]["value"] == 1 and bi[0]["labels"].get("version")
    assert_ok(results)


@pytest.fixture
def bpf_stats_on():
    """kernel.bpf_stats_enabled=1 for the test, restored after."""
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)


def test_bpf_program_run_time_matches_bpftool_when_stats_are_on(bpf_stats_on, kpulse):
    """With kernel.bpf_stats_enabled=1, kpulse_bpf_program_runs_total and
    _run_seconds_total summed over kpulse's programs lie between two reads of
    `bpftool prog show` (run_cnt, run_time_ns) of the programs kpulse attached
    (the prog_id of its link descriptors in /proc/PID/fdinfo)."""
    pid = kpulse.proc.pid

    def attached_ids():
        """Programs kpulse attached: the prog_id of its BPF link descriptors."""
        ids = set()
        for name in os.listdir(f"/proc/{pid}/fdinfo"):
            try:
                with open(f"/proc/{pid}/fdinfo/{name}") as f:
                    fields = dict(l.split(":", 1) for l in f if ":" in l)
            except OSError:
                continue
            if "link_type" in fields and "prog_id" in fields:
                ids.add(int(fields["prog_id"]))
        return ids

    def read():
        ids = attached_ids()
        out = json.loads(run(["bpftool", "--json", "prog", "show"], timeout=30).stdout)
        mine = [p for p in out if p.get("id") in ids]
        return (sum(p.get("run_cnt", 0) for p in mine), sum(p.get("run_time_ns", 0) for p in mine) / 1e9,
                len(mine))

    before, snap, after = bracket(kpulse, read)
    runs = sum(float(m["value"]) for m in series(snap, "kpulse_bpf_program_runs_total"))
    secs = sum(float(m["value"]) for m in series(snap, "kpulse_bpf_program_run_seconds_total"))
    probes = len(series(snap, "kpulse_bpf_program_runs_total"))
    attached = len([m for m in series(snap, "kpulse_probe_up") if m["value"] == 1])
    report(f"INFO {probes} programs reported, {attached} probes attached, bpftool lists {after[2]} "
           f"programs attached by kpulse")
    assert value_of(snap, "kpulse_bpf_stats_enabled") == 1
    assert probes == attached == after[2]
    assert_ok([check_between("kpulse_bpf_program_runs_total (sum) vs bpftool run_cnt", runs, before[0], after[0]),
               check_between("kpulse_bpf_program_run_seconds_total (sum) vs run_time_ns", secs, before[1],
                             after[1])])
    assert runs > 0
