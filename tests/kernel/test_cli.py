"""Command line: bad input, --help, `kpulse probes`, `dump --count`, clean stop on signals."""

import json
import os
import signal
import subprocess
import time

import pytest

import kptlib
from kptlib import series

SUBCOMMANDS = ["dump", "probes", "top", "version"]
PROBE_STATES = ("attached", "failed", "unsupported", "not_needed", "not-needed", "not needed")
ATTACH_TYPES = ("tp_btf", "raw_tp", "none", "-")


def _run(kpulse_bin, *args, timeout=30):
    return subprocess.run([kpulse_bin, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


BAD_INPUT = [
    pytest.param(["dump", "--no-such-flag"], id="unknown-flag"),
    pytest.param(["dump", "--interval", "abc"], id="interval-not-a-number"),
    pytest.param(["dump", "--interval", "-1"], id="interval-negative"),
    pytest.param(["dump", "--interval"], id="interval-missing-value"),
    pytest.param(["dump", "--count", "x"], id="count-not-a-number"),
    pytest.param(["dump", "--count", "-3"], id="count-negative"),
    pytest.param(["dump", "--json", "extra-positional"], id="stray-argument"),
    pytest.param(["no-such-subcommand"], id="unknown-subcommand"),
    pytest.param(["probes", "--no-such-flag"], id="probes-unknown-flag"),
]


@pytest.mark.parametrize("args", BAD_INPUT)
def test_bad_input_exits_2_with_one_line_error(kpulse_bin, args):
    """Invalid command lines exit with status 2 and a single line on stderr, attaching nothing."""
    r = _run(kpulse_bin, *args, timeout=20)
    err = r.stderr.strip()
    assert r.returncode == 2, f"kpulse {' '.join(args)}: exit status {r.returncode}, expected 2; stderr {err!r}"
    assert err, f"kpulse {' '.join(args)}: no error message on stderr"
    assert len(err.splitlines()) == 1, f"kpulse {' '.join(args)}: stderr is not one line:\n{err}"
    assert not r.stdout.strip(), f"kpulse {' '.join(args)}: unexpected stdout {r.stdout[:300]!r}"


@pytest.mark.parametrize("sub", [None] + SUBCOMMANDS)
def test_help_exits_0_and_prints_usage(kpulse_bin, sub):
    """`kpulse --help` and `kpulse SUB --help` print usage to stdout and exit 0."""
    args = ["--help"] if sub is None else [sub, "--help"]
    r = _run(kpulse_bin, *args, timeout=20)
    assert r.returncode == 0, f"kpulse {' '.join(args)}: exit status {r.returncode}; stderr {r.stderr.strip()!r}"
    assert r.stdout.strip(), f"kpulse {' '.join(args)}: nothing on stdout"
    if sub not in (None, "version"):
        assert sub in r.stdout, f"kpulse {sub} --help does not mention {sub!r}:\n{r.stdout}"
    if sub == "dump":
        for flag in ("--json", "--interval", "--count"):
            assert flag in r.stdout, f"kpulse dump --help does not document {flag}:\n{r.stdout}"


def test_probes_lists_every_probe_with_state_and_attach_type(kpulse_bin):
    """`kpulse probes` exits 0 and lists each probe that dump reports in kpulse_probe_up,
    on a line with its state and its attach type."""
    r = _run(kpulse_bin, "probes", timeout=60)
    assert r.returncode == 0, f"kpulse probes: exit status {r.returncode}; stderr {r.stderr.strip()!r}"
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert lines, "kpulse probes printed nothing"

    d = _run(kpulse_bin, "dump", "--json", "--interval", "0.5", "--count", "1", timeout=60)
    assert d.returncode == 0, f"kpulse dump --count 1: exit status {d.returncode}; {d.stderr.strip()!r}"
    snap = json.loads(d.stdout.splitlines()[0])
    up = series(snap, "kpulse_probe_up")
    assert up, "no kpulse_probe_up series in the dump snapshot"
    kptlib.report("INFO kpulse probes:\n    " + "\n    ".join(lines))
    problems = []
    for m in up:
        probe = m["labels"].get("probe")
        attach = m["labels"].get("attach")
        # the probe's own line: its name is the first column (a reason on
        # another probe's line may name it too)
        mine = [l for l in lines if probe and l.split()[0] in (probe, probe.split(":")[-1])]
        if not mine:
            problems.append(f"probe {probe!r} (attach {attach!r}) not listed")
            continue
        line = mine[0].lower()
        if not any(s in line for s in PROBE_STATES):
            problems.append(f"no state {PROBE_STATES} on line {mine[0]!r}")
        if attach and attach.lower() not in line:
            problems.append(f"attach type {attach!r} missing on line {mine[0]!r}")
        if m.get("value") == 1 and "attached" not in line:
            problems.append(f"probe_up=1 but line does not say attached: {mine[0]!r}")
    assert not problems, "\n".join(problems) + "\n--- kpulse probes ---\n" + r.stdout


def test_dump_count_prints_n_snapshot_lines_then_exits_0(kpulse_bin):
    """`dump --json --interval 0.5 --count 3` prints exactly 3 JSON lines with the
    documented shape, about 0.5 s apart, then exits 0."""
    t0 = time.time()
    r = _run(kpulse_bin, "dump", "--json", "--interval", "0.5", "--count", "3", timeout=90)
    t1 = time.time()
    assert r.returncode == 0, f"exit status {r.returncode}; stderr {r.stderr.strip()!r}"
    lines = r.stdout.splitlines()
    assert len(lines) == 3, f"{len(lines)} lines, expected 3:\n{r.stdout[:2000]}"
    snaps = [json.loads(l) for l in lines]
    for s in snaps:
        assert isinstance(s.get("timestamp"), (int, float)) and t0 - 1 <= s["timestamp"] <= t1 + 1, \
            f"timestamp {s.get('timestamp')!r} not within the run [{t0:.3f}, {t1:.3f}]"
        assert isinstance(s.get("interval_s"), (int, float)) and 0.25 <= s["interval_s"] <= 1.5, \
            f"interval_s {s.get('interval_s')!r} for --interval 0.5"
        assert isinstance(s.get("events"), list), "events is not a list"
        assert isinstance(s.get("metrics"), list) and s["metrics"], "metrics missing or empty"
        for m in s["metrics"]:
            assert isinstance(m.get("name"), str) and m["name"].startswith("kpulse_"), m
            assert isinstance(m.get("labels", {}), dict), m
            assert m.get("type") in ("counter", "gauge", "histogram"), m
            if m["type"] == "histogram":
                assert isinstance(m.get("count"), (int, float)) and isinstance(m.get("sum"), (int, float)), m
                cum = [b[1] for b in m.get("buckets", [])]
                assert cum == sorted(cum), f"buckets not cumulative: {m}"
                assert not cum or cum[-1] <= m["count"], f"bucket count above total: {m}"
            else:
                assert isinstance(m.get("value"), (int, float)), m
    gaps = [b["timestamp"] - a["timestamp"] for a, b in zip(snaps, snaps[1:])]
    assert all(0.3 <= g <= 1.0 for g in gaps), f"snapshots {gaps} s apart for --interval 0.5"
    # counters are cumulative: never decrease between snapshots
    for name in ("kpulse_sched_context_switches_total", "kpulse_mem_page_faults_total"):
        vals = [kptlib.counter_sum(s, name) for s in snaps]
        assert vals == sorted(vals) and vals[-1] > 0, f"{name} not cumulative: {vals}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_dump_without_count_runs_until_signal_then_exits_0(kpulse_bin, sig):
    """Without --count, dump keeps printing snapshots and stops promptly with status 0 on SIGINT/SIGTERM."""
    k = kptlib.Kpulse(interval=0.5, binary=kpulse_bin)
    try:
        k.wait_started()
        k.next_snapshot()
        k.proc.send_signal(sig)
        try:
            rc = k.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc == 0, f"after {sig.name}: exit status {rc} (None = still running after 5 s); " \
                        f"stderr {k.stderr_text()!r}"
    finally:
        k.stop()


def test_probes_json_lists_each_probe_with_state_and_attach_type(kpulse_bin):
    """`kpulse probes --json` is valid JSON listing every probe of the text listing
    with a known state and attach type."""
    r = _run(kpulse_bin, "probes", "--json", timeout=60)
    assert r.returncode == 0, f"kpulse probes --json: exit status {r.returncode}; stderr {r.stderr.strip()!r}"
    doc = json.loads(r.stdout)
    probes = doc.get("probes") if isinstance(doc, dict) else doc
    assert isinstance(probes, list) and probes, f"no probe list in: {r.stdout[:500]}"
    text = _run(kpulse_bin, "probes", timeout=60).stdout
    for p in probes:
        assert p.get("state") in PROBE_STATES, p
        assert p.get("attach") in ATTACH_TYPES, p
        assert p.get("probe") and p["probe"] in text, f"{p} missing from the text listing"
        if p["state"] == "attached":
            assert p["attach"] not in ("none", "-"), f"attached without an attach type: {p}"
        if p["state"] != "attached":
            assert p.get("error"), f"probe not attached and no reason given: {p}"


def test_only_the_chosen_entry_point_of_each_hook_is_loaded(kpulse_bin, kpulse):
    """Each attached hook has exactly one program in the kernel: the entry point the loader chose
    (tp_btf or raw_tp), never both, and hooks that are not needed load nothing."""
    probes = json.loads(_run(kpulse_bin, "probes", "--json", timeout=60).stdout)
    probes = probes.get("probes") if isinstance(probes, dict) else probes
    want = sorted(("btf_" if p["attach"] == "tp_btf" else "raw_") + p["probe"].split(":", 1)[1]
                  for p in probes if p["state"] == "attached")
    prog_ids = set()  # every BPF program the process holds an fd of
    for fd in os.listdir(f"/proc/{kpulse.proc.pid}/fdinfo"):
        try:
            with open(f"/proc/{kpulse.proc.pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        prog_ids.add(int(line.split()[1]))
        except OSError:
            continue
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    mine = sorted(p["name"] for p in json.loads(out.stdout) if p["id"] in prog_ids)
    # Without BTF for program names, the kernel keeps only the first 15 characters.
    assert mine in (want, sorted(n[:15] for n in want)), (
        f"programs loaded by kpulse (pid {kpulse.proc.pid}): {mine}\nexpected one per attached hook: {want}")


def test_dump_text_is_one_vmstat_like_row_per_interval(kpulse_bin):
    """Text dump: one header, then one row per snapshot starting with its local
    date and time, rates over the interval (context switches > 0 every
    interval), percentages of CPU that add up to about 100."""
    r = _run(kpulse_bin, "dump", "--interval", "0.5", "--count", "3", timeout=90)
    assert r.returncode == 0, f"exit status {r.returncode}; stderr {r.stderr.strip()!r}"
    lines = r.stdout.splitlines()
    assert len(lines) == 4, f"expected a header and 3 rows:\n{r.stdout}"
    header = lines[0].split()
    assert header[0] == "time" and "cs/s" in header and "us" in header, lines[0]
    stamps = []
    for line in lines[1:]:
        cols = line.split()
        # date and time are two columns; the header names them as one
        assert len(cols) == len(header) + 1, f"{line!r} does not match {lines[0]!r}"
        stamps.append(time.mktime(time.strptime(f"{cols[0]} {cols[1]}", "%Y-%m-%d %H:%M:%S")))
        row = dict(zip(header[1:], cols[2:]))
        assert float(row["cs/s"]) > 0, line
        cpu = sum(float(row[m]) for m in ("us", "sy", "id", "wa", "st"))
        assert 95 <= cpu <= 105, f"CPU modes add up to {cpu}: {line!r}"
        assert float(row["avail"]) > 0, line
    assert stamps == sorted(stamps) and abs(stamps[-1] - time.time()) < 120
    # --all keeps the table of every series, stamped
    r = _run(kpulse_bin, "dump", "--all", "--interval", "0.5", "--count", "1", timeout=90)
    assert r.returncode == 0
    assert r.stdout.startswith("# snapshot ") and "kpulse_sched_context_switches_total" in r.stdout
    r = _run(kpulse_bin, "dump", "--all", "--json", "--count", "1", timeout=30)
    assert r.returncode == 2 and "pick one" in r.stderr


def test_top_without_a_terminal_prints_plain_frames(kpulse_bin):
    """`kpulse top` into a pipe is batch mode, like `top -b`: no escape
    sequences, one frame per interval each starting with its header, and no
    process above what all CPUs give."""
    r = _run(kpulse_bin, "top", "--count", "3", "--interval", "0.5", timeout=90)
    assert r.returncode == 0, r.stderr
    assert "\033" not in r.stdout
    frames = [f for f in r.stdout.split("kpulse top - ") if f.strip()]
    assert len(frames) == 3, r.stdout
    ncpu = os.cpu_count()
    for f in frames[1:]:
        assert "q to quit" not in f
        for line in f.splitlines():
            cols = line.split()
            if len(cols) >= 3 and cols[0].isdigit() and cols[-2].endswith("%"):
                assert float(cols[-2].rstrip("%")) <= 100 * ncpu, line


def test_top_on_a_small_terminal_keeps_its_header(kpulse_bin):
    """On a 12-row, 60-column terminal every frame starts with the header and
    fits the window: no frame scrolls it away, no line wraps."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 12, 60, 0, 0))
    p = subprocess.Popen([kpulse_bin, "top", "--count", "3", "--interval", "0.5"],
                         stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        rc = p.wait(timeout=60)
    assert rc == 0, p.stderr.read()
    text = out.decode(errors="replace")
    frames = text.split("\033[H\033[2J")[1:]
    assert len(frames) == 3, repr(text[:2000])
    for f in frames:
        body = f.split("\033[?25h")[0]  # the last frame ends with the restore
        lines = body.replace("\r\n", "\n").split("\n")
        assert lines[0].startswith("kpulse top - "), repr(body)
        assert len([l for l in lines if l]) <= 11, repr(body)
        assert all(len(l) <= 60 for l in lines), repr(body)
