#!/usr/bin/python3
"""side_by_side.py - BPF ns per event of several objects under the same load.

Usage (root, after `make bench` built build/bench/bench_loader):
  tests/bench/side_by_side.py [--block FILE] ROUNDS SECONDS SPEC ...
  SPEC: LABEL=OBJECT.bpf.o[:PROG,PROG]   a BPF object through bench_loader
        LABEL=kpulse:BINARY[:ARG,ARG]    a kpulse daemon (`BINARY dump --json
                                         --interval 1 ARG...`), e.g. two builds

Each round starts the objects and daemons in an order rotated by one each
round (the first program on a hook pays the cache misses on the task
fields the others then find warm), runs `stress-ng --switch 2`, and reads
each one's BPF run time per /proc/stat context switch. The summary gives
medians and each label's median ratio to the first label's (put the empty
floor first). For measuring what a piece of a handler costs: build the
variants with clang as bench.sh builds the floors, and run them here; for
a change to kpulse's own programs, run the build before it next to the
build after it.

With --block FILE the load is fio's 4 KiB O_DIRECT random reads at depth 16
on FILE (laid out first, left in place) instead of the switch storm, the
event a completed I/O of FILE's disk in /proc/diskstats, and a kpulse
daemon's figure its block programs only (its others run for the fio
process too, as they would for any).
"""
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

LOADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bench",
                      "bench_loader")


def prog_ids(pid):
    out = set()
    for f in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            text = open(f).read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("prog_id:"):
                out.add(int(line.split()[1]))
    return out


def prog_stats():
    """{id: (name, run_time_ns)} of every loaded program."""
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: (p.get("name", ""), p.get("run_time_ns", 0)) for p in json.loads(out)}


def ctxt():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    raise RuntimeError("no ctxt line in /proc/stat")


def disk_of(path):
    """The /proc/diskstats name of the disk holding path."""
    dev = os.stat(path).st_dev
    name = os.path.basename(os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"))
    if disk_ios(name) is None:
        raise RuntimeError(f"{path}: its device {name} is not in /proc/diskstats")
    return name


def disk_ios(name):
    """Completed reads + writes of a /proc/diskstats device, None if absent."""
    with open("/proc/diskstats") as f:
        for line in f:
            v = line.split()
            if len(v) > 7 and v[2] == name:
                return int(v[3]) + int(v[7])
    return None


class SwitchLoad:
    """stress-ng's switch storm, per /proc/stat context switch."""
    kpulse_prog = None  # every program of a kpulse daemon

    def count(self):
        return ctxt()

    def run(self, seconds):
        subprocess.run(["stress-ng", "--switch", "2", "--timeout", f"{seconds}s", "--quiet"],
                       check=True)


class BlockLoad:
    """fio random reads on a file, per completed I/O of its disk."""
    kpulse_prog = "block"  # a kpulse daemon's block programs only

    def __init__(self, path):
        self.path = path
        # Laid out with real writes: reads of unwritten extents never reach the disk.
        subprocess.run(["fio", "--name=layout", f"--filename={path}", "--size=256M",
                        "--rw=randread", "--bs=4k", "--create_only=1"], check=True,
                       stdout=subprocess.DEVNULL)
        os.sync()
        self.disk = disk_of(path)

    def count(self):
        return disk_ios(self.disk)

    def run(self, seconds):
        subprocess.run(["fio", "--name=side-by-side", f"--filename={self.path}", "--size=256M",
                        "--rw=randread", "--bs=4k", "--direct=1", "--ioengine=libaio",
                        "--iodepth=16", f"--runtime={seconds}", "--time_based",
                        "--randrepeat=0", "--norandommap"], check=True,
                       stdout=subprocess.DEVNULL)


def start(spec, tmp):
    """Starts what a SPEC names; returns its Popen once its programs are attached."""
    label, rest = spec.split("=", 1)
    if rest.startswith("kpulse:"):
        binary, _, args = rest[len("kpulse:"):].partition(":")
        # The first snapshot line says every probe is attached; stdout goes
        # to a file, as the JSON lines would fill a pipe no one reads.
        out = os.path.join(tmp, label + ".out")
        with open(out, "w") as f:
            p = subprocess.Popen([binary, "dump", "--json", "--interval", "1"]
                                 + (args.split(",") if args else []),
                                 stdout=f, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 45
        while os.path.getsize(out) == 0:
            if p.poll() is not None or time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise RuntimeError(f"kpulse {binary} printed no snapshot")
            time.sleep(0.1)
        return p
    obj, _, progs = rest.partition(":")
    p = subprocess.Popen([LOADER, obj] + (progs.split(",") if progs else []),
                         stdout=subprocess.PIPE, text=True)
    if not p.stdout.readline().startswith("ready"):
        p.wait()
        raise RuntimeError(f"bench_loader {obj} did not attach")
    return p


def one_round(order, seconds, load):
    procs = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kpulse-sbs.") as tmp:
            for spec in order:
                procs[spec.split("=", 1)[0]] = start(spec, tmp)
            ids = {label: prog_ids(p.pid) for label, p in procs.items()}
            daemons = {spec.split("=", 1)[0] for spec in order
                       if spec.split("=", 1)[1].startswith("kpulse:")}
            before, c0 = prog_stats(), load.count()
            load.run(seconds)
            c1, after = load.count(), prog_stats()
        out = {}
        for label in procs:
            counted = [i for i in ids[label] if i in after and i in before and
                       (label not in daemons or not load.kpulse_prog
                        or load.kpulse_prog in after[i][0])]
            out[label] = sum(after[i][1] - before[i][1] for i in counted) / (c1 - c0)
        return out
    finally:
        for p in procs.values():
            p.send_signal(2)  # SIGINT: kpulse's clean stop; bench_loader's too
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    argv, block_file = sys.argv[1:], None
    if argv[:1] == ["--block"] and len(argv) > 1:
        block_file, argv = argv[1], argv[2:]
    if len(argv) < 3:
        sys.exit(__doc__)
    rounds, seconds, specs = int(argv[0]), argv[1], argv[2:]
    load, unit = (BlockLoad(block_file), "I/O") if block_file else (SwitchLoad(), "switch")
    old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    res = {s.split("=", 1)[0]: [] for s in specs}
    try:
        for r in range(rounds):
            k = r % len(specs)
            got = one_round(specs[k:] + specs[:k], seconds, load)
            for label, v in got.items():
                res[label].append(v)
            print(f"round {r + 1}: " + "  ".join(f"{l} {got[l]:.1f}" for l in res), flush=True)
    finally:
        subprocess.run(["sysctl", "-qw", f"kernel.bpf_stats_enabled={old}"])
    first = next(iter(res))
    for label, v in res.items():
        ratios = [x / y for x, y in zip(v, res[first])]
        print(f"{label:14s} median {statistics.median(v):6.1f} ns/{unit} (min {min(v):.1f}, "
              f"max {max(v):.1f})  / {first}: median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
