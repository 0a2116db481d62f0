"""Block I/O accuracy: completed I/Os and time per I/O (iostat's r_await / w_await) vs
/proc/diskstats, and read latency against fio's own view of the same reads."""

import json

import pytest

from kptlib import (compare, counter_delta, hist_sum_count, label_values, report, run,
                    wait_disk_idle)

IOS = "kpulse_block_ios_completed_total"
LAT = "kpulse_block_io_latency_seconds"
QUEUE = "kpulse_block_queue_time_seconds"


def read_diskstats(disk):
    """(reads, ms reading, writes, ms writing, discards) of one disk in /proc/diskstats."""
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if len(p) >= 14 and p[2] == disk:
                discards = int(p[14]) if len(p) >= 18 else 0
                return int(p[3]), int(p[6]), int(p[7]), int(p[10]), discards
    raise AssertionError(f"disk {disk} not in /proc/diskstats")


@pytest.fixture(scope="module")
def fio_run(kpulse_module, fio_file, tools):
    """One O_DIRECT 4 KiB mixed random read/write fio job (70% reads, libaio, queue
    depth 1, a fixed number of I/Os) on the test file, bracketed by two kpulse
    snapshots and two /proc/diskstats reads.

    Everything compared with /proc/diskstats is per device on both sides, so
    the I/O of others on the disk (journal commits, a build next door) is in
    both and needs no quiet machine. Depth 1: each I/O is submitted and reaped
    alone, so fio's total latency (lat: before io_submit to the reaped
    completion) encloses kpulse's issue -> done of the same request."""
    k = kpulse_module
    disk = fio_file["disk"]
    argv = ["fio", "--name=kpt-randrw", f"--filename={fio_file['path']}", f"--size={fio_file['size']}",
            "--direct=1", "--rw=randrw", "--rwmixread=70", "--bs=4k", "--ioengine=libaio",
            "--iodepth=1", "--number_ios=60000", "--randrepeat=0", "--norandommap",
            "--output-format=json"]
    wait_disk_idle(disk, quiet_s=1.0, timeout=10)
    s0 = k.next_snapshot()
    d0 = read_diskstats(disk)
    r = run(argv, timeout=600)
    s1 = k.next_snapshot()
    d1 = read_diskstats(disk)
    out = r.stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    labels = label_values(s1, IOS, "device")
    device = next((c for c in (disk, fio_file["majmin"]) if c in labels), None)
    d = [b - a for a, b in zip(d0, d1)]
    report(f"INFO fio: {job['read']['total_ios']} reads, {job['write']['total_ios']} writes; "
           f"/proc/diskstats on {disk}: {d[0]} reads {d[1]} ms, {d[2]} writes {d[3]} ms, "
           f"{d[4]} discards")
    return {"s0": s0, "s1": s1, "disk": disk, "majmin": fio_file["majmin"], "device": device,
            "labels": labels, "d": d, "fio": job}


def _device(fio_run):
    assert fio_run["device"] is not None, (
        f"no {IOS} series with device={fio_run['disk']!r} (or {fio_run['majmin']!r}); "
        f"device labels present: {fio_run['labels']}")
    return fio_run["device"]


def _delta_hist(fio_run, name, **labels):
    sum0, cnt0 = hist_sum_count(fio_run["s0"], name, **labels)
    sum1, cnt1 = hist_sum_count(fio_run["s1"], name, **labels)
    return sum1 - sum0, cnt1 - cnt0


def test_completed_ios_on_disk_match_diskstats(fio_run):
    """Sum over op of kpulse_block_ios_completed_total for the disk holding the test file
    equals reads + writes + discards completed in /proc/diskstats within 1%."""
    dev = _device(fio_run)
    got = counter_delta(fio_run["s0"], fio_run["s1"], IOS, device=dev)
    ops = {op: counter_delta(fio_run["s0"], fio_run["s1"], IOS, device=dev, op=op)
           for op in ("read", "write", "discard")}
    d = fio_run["d"]
    want = d[0] + d[2] + d[4]
    assert want > 10_000, f"load too small: {want} I/Os on {fio_run['disk']}"
    ok, line = compare(f"completed I/Os on {fio_run['disk']} vs /proc/diskstats", got, want, 0.01)
    assert ok, f"{line}; per op {ops}"


@pytest.mark.parametrize("op", ["read", "write"])
def test_time_per_io_matches_diskstats_await(fio_run, op):
    """Per op, (queue time + latency) summed over the I/Os of the disk, divided by their
    count, equals what iostat's r_await / w_await compute from /proc/diskstats (ms
    spent by the op's completed I/Os / their number) within 1%."""
    dev = _device(fio_run)
    q_sum, q_cnt = _delta_hist(fio_run, QUEUE, device=dev, op=op)
    l_sum, l_cnt = _delta_hist(fio_run, LAT, device=dev, op=op)
    d = fio_run["d"]
    ios, ms = (d[0], d[1]) if op == "read" else (d[2], d[3])
    assert ios > 3_000, f"load too small: {ios} {op}s on {fio_run['disk']}"
    assert l_cnt > 0.95 * ios, f"latency histogram counted {l_cnt} {op}s, diskstats {ios}"
    got = (q_sum + l_sum) / l_cnt * 1e3
    want = ms / ios
    report(f"INFO {op}: queue {q_sum / max(q_cnt, 1) * 1e6:.1f} us + latency "
           f"{l_sum / l_cnt * 1e6:.1f} us per I/O over {l_cnt:.0f} I/Os; diskstats {ms} ms / {ios}")
    ok, line = compare(f"{op} time per I/O on {fio_run['disk']} (ms) vs /proc/diskstats "
                       f"{'r' if op == 'read' else 'w'}_await", got, want, 0.01)
    assert ok, f"{line}; {hook_programs('block_io_done')}"


def hook_programs(tp):
    """How many BPF programs are attached to tracepoint tp (bpftool), for
    a failure message: the kernel takes its `now` for /proc/diskstats just
    before block_io_done, and every program attached there before kpulse's
    (another kpulse, a biolatency) delays kpulse's clock read by its run
    time, which at a 30 us I/O is a percent in a few hundred ns."""
    r = run(["bpftool", "-j", "link", "list"], check=False)
    try:
        links = json.loads(r.stdout or "[]")
    except ValueError:
        return "bpftool link list unreadable"
    n = sum(1 for link in links if link.get("tp_name") == tp)
    return f"{n} BPF programs on {tp} (one is kpulse's)"


@pytest.fixture(scope="module")
def loop_fio_run(kpulse_module, fio_file, tools):
    """fio's O_DIRECT 4 KiB random reads (libaio, queue depth 1, a fixed number) on a
    loop device over the test file (direct I/O to its backing file): a disk that
    nobody else uses, so every read kpulse times on it is one of fio's."""
    k = kpulse_module
    loop = run(["losetup", "--find", "--show", "--direct-io=on", "--read-only", fio_file["path"]],
               timeout=30).stdout.strip()
    try:
        name = loop.rsplit("/", 1)[-1]
        k.next_snapshot()  # a round that lists the new device
        argv = ["fio", "--name=kpt-loopread", f"--filename={loop}", "--direct=1", "--rw=randread",
                "--bs=4k", "--ioengine=libaio", "--iodepth=1", "--number_ios=20000",
                "--randrepeat=0", "--norandommap", "--readonly", "--output-format=json"]
        s0 = k.next_snapshot()
        r = run(argv, timeout=600)
        s1 = k.next_snapshot()
    finally:
        run(["losetup", "-d", loop], timeout=30, check=False)
    out = r.stdout
    rd = json.loads(out[out.index("{"):])["jobs"][0]["read"]
    return {"s0": s0, "s1": s1, "device": name, "read": rd,
            "labels": label_values(s1, IOS, "device")}


def test_read_latency_lies_within_fio_total_latency(loop_fio_run):
    """At queue depth 1 each read's issue -> done lies inside fio's lat (from before
    io_submit to the reaped completion) of the same read: on a disk only fio uses,
    kpulse's mean read latency is at most fio's mean lat, and more than half of it
    (the device's time dominates both; a probe that lost it would not be)."""
    r = loop_fio_run
    assert r["device"] in r["labels"], f"no {IOS} series for {r['device']}: {r['labels']}"
    l_sum, l_cnt = _delta_hist(r, LAT, device=r["device"], op="read")
    rd = r["read"]
    assert rd["total_ios"] >= 20_000, f"fio did {rd['total_ios']} reads"
    assert abs(l_cnt - rd["total_ios"]) <= 0.01 * rd["total_ios"], (
        f"kpulse timed {l_cnt} reads on {r['device']}, fio did {rd['total_ios']}")
    got = l_sum / l_cnt
    fio_lat = rd["lat_ns"]["mean"] / 1e9
    report(f"INFO mean read latency on {r['device']}: kpulse {got * 1e6:.1f} us, fio lat "
           f"{fio_lat * 1e6:.1f} us (slat {rd['slat_ns']['mean'] / 1e3:.1f} us, "
           f"clat {rd['clat_ns']['mean'] / 1e3:.1f} us)")
    assert got <= fio_lat, f"kpulse read latency {got * 1e6:.1f} us > fio lat {fio_lat * 1e6:.1f} us"
    assert got > 0.5 * fio_lat, f"kpulse read latency {got * 1e6:.1f} us < half fio lat {fio_lat * 1e6:.1f} us"
