"""benchstat.py - the arithmetic half of bench.sh (standard library only).

bench.sh drives the load generators; this file takes the snapshots it asks
for (BPF program run-time stats and the kernel's own event counters), turns
pairs of them into a cost per kernel event, summarises the throughput runs,
prints the readable report and writes the JSON summary.

Subcommands (all output on stdout, errors on stderr with exit status 1):
  snap OUT OWNER=PID...        program stats of each owner's BPF programs
                               plus /proc counters, as one JSON file
  event-cost ...               cost per event of one phase -> fragment JSON
  fio-iops FILE                read IOPS of a fio --output-format=json run
  perf-pipe-ops FILE           ops/sec of a `perf bench sched pipe` run
  throughput ...               off/on medians and loss -> fragment JSON
  summary OUT FRAGMENT...      merge fragments into the bench.json summary

Times are only compared within one run: the kpulse figures for context
switches and block I/O are shown next to empty programs on the same hooks
(the floor) and a single-purpose peer tool (runqlat-style, biolatency-style)
measured in the same windows, and each throughput "on" run is interleaved
with an "off" run.
"""

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

# A hot program (one that runs at least HOT_RUNS_PER_EVENT times per event of
# its phase) is flagged when its ns/run is COSTLY_VS_FLOOR times an empty
# program's. Rare programs (fork, exec, retransmit...) are only listed when a
# single run takes SLOW_RUN_NS or more.
COSTLY_VS_FLOOR = 4.0
HOT_RUNS_PER_EVENT = 0.1
SLOW_RUN_NS = 2000.0
# Reference numbers of this machine class (empty tp_btf programs on
# sched_switch + sched_wakeup, the floor_peer set), used only to put a
# floor-relative figure next to the absolute one.
REFERENCE_FLOOR_NS_PER_SWITCH = 70.0


def die(msg):
    print(f"benchstat: {msg}", file=sys.stderr)
    sys.exit(1)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die(f"cannot read {path}: {e}")


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def spread(values):
    """Median, min and max of a non-empty list, or None for an empty one."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt_spread(s, unit="", prec=1):
    if s is None:
        return "n/a"
    return (f"{s['median']:.{prec}f}{unit} (min {s['min']:.{prec}f}, max {s['max']:.{prec}f}, "
            f"n={s['n']})")


# ------------------------------------------------------------------ snapshots


def owned_prog_ids(pid):
    """Program ids a process holds: (all programs, programs behind a link).

    libbpf keeps a program fd per loaded program and a link fd per attached
    one; both show `prog_id` in fdinfo, link fds also show `link_type`.
    """
    progs, linked = set(), set()
    for fdinfo in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            with open(fdinfo) as f:
                text = f.read()
        except OSError:
            continue  # fd closed meanwhile
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if "prog_id" not in fields:
            continue
        prog_id = int(fields["prog_id"])
        progs.add(prog_id)
        if "link_type" in fields:
            linked.add(prog_id)
    return sorted(progs), sorted(linked)


def read_counters():
    c = {"mono_ns": time.monotonic_ns()}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                c["ctxt"] = int(line.split()[1])
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            if k == "pgfault":
                c["pgfault"] = int(v)
    # Completed requests: reads, writes, discards (4.18+), flushes (5.5+).
    disks = {}
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            done = int(p[3]) + int(p[7])
            if len(p) > 14:
                done += int(p[14])
            if len(p) > 18:
                done += int(p[18])
            disks[p[2]] = done
    c["disk_ios_completed"] = disks
    net = {}
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            name, rest = line.split(":", 1)
            p = rest.split()
            net[name.strip()] = {"rx_packets": int(p[1]), "tx_packets": int(p[9])}
    c["net_packets"] = net
    return c


def bpftool_progs():
    try:
        out = subprocess.run(["bpftool", "prog", "show", "--json"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die(f"`bpftool prog show --json` failed: {e}")
    return json.loads(out)


def cmd_snap(args):
    owners = {}
    for spec in args.owners:
        name, _, pid = spec.partition("=")
        progs, linked = owned_prog_ids(int(pid))
        if not progs:
            die(f"{name} (pid {pid}) holds no BPF programs: not running or not loaded")
        owners[name] = {"pid": int(pid), "prog_ids": progs, "attached_ids": linked}
    wanted = {i for o in owners.values() for i in o["prog_ids"]}
    # Program stats first and counters second before a load, the reverse
    # after it, so the counter window lies inside the program window; the
    # difference is the few milliseconds bpftool takes.
    if args.when == "before":
        progs = bpftool_progs()
        counters = read_counters()
    else:
        counters = read_counters()
        progs = bpftool_progs()
    stats = {}
    for p in progs:
        if p["id"] in wanted:
            stats[str(p["id"])] = {
                "name": p.get("name", "?"),
                "run_time_ns": p.get("run_time_ns", 0),
                "run_cnt": p.get("run_cnt", 0),
                "recursion_misses": p.get("recursion_misses", 0),
            }
    write_json(args.out, {"owners": owners, "progs": stats, "counters": counters})


# ------------------------------------------------------------ cost per event


def probe_table(probes_path):
    """Tracepoint name -> its entry in `kpulse probes --json`."""
    data = load_json(probes_path)
    return {p["probe"].split(":", 1)[-1]: p for p in data.get("probes", [])}


def prog_tracepoint(name, tracepoints):
    """kpulse programs are named btf_<tracepoint>[suffix] or raw_<...>."""
    stem = name.split("_", 1)[-1] if name.startswith(("btf_", "raw_")) else name
    best = None
    for tp in tracepoints:
        if stem.startswith(tp) and (best is None or len(tp) > len(best)):
            best = tp
    if best is None and len(name) == 15:  # kernel name without BTF: truncated
        best = next((tp for tp in tracepoints if tp.startswith(stem)), None)
    return best


def prog_subsystem(name, probes):
    tp = prog_tracepoint(name, probes)
    return probes[tp]["subsystem"] if tp else "other"


# The tracepoint that fires about once per event of each kind: if kpulse
# has it attached but it did not run, the measurement is void.
HOT_TRACEPOINT = {"switch": "sched_switch", "io": "block_rq_issue",
                  "fault": "page_fault_user", "packet": "net_dev_xmit"}

EVENT_KINDS = {
    "switch": "context switch (/proc/stat ctxt)",
    "io": "completed I/O (/proc/diskstats, device {device})",
    "fault": "page fault (/proc/vmstat pgfault)",
    "packet": "packet on {device} (/proc/net/dev tx packets; each one passes xmit and receive)",
}


def event_delta(kind, before, after, device):
    b, a = before["counters"], after["counters"]
    if kind == "switch":
        return a["ctxt"] - b["ctxt"]
    if kind == "fault":
        return a["pgfault"] - b["pgfault"]
    if kind == "io":
        if device not in a["disk_ios_completed"]:
            die(f"device {device} not in /proc/diskstats")
        return a["disk_ios_completed"][device] - b["disk_ios_completed"][device]
    if kind == "packet":
        if device not in a["net_packets"]:
            die(f"interface {device} not in /proc/net/dev")
        return a["net_packets"][device]["tx_packets"] - b["net_packets"][device]["tx_packets"]
    die(f"unknown event kind {kind}")


def prog_deltas(owner, before, after):
    """Per-program run-time and run-count deltas of one owner's programs."""
    out = {}
    ids = set(before["owners"][owner]["prog_ids"]) & set(after["owners"][owner]["prog_ids"])
    attached = set(after["owners"][owner]["attached_ids"])
    for i in sorted(ids):
        b, a = before["progs"].get(str(i)), after["progs"].get(str(i))
        if b is None or a is None:
            continue
        out[i] = {
            "name": a["name"],
            "attached": i in attached,
            "run_time_ns": a["run_time_ns"] - b["run_time_ns"],
            "run_cnt": a["run_cnt"] - b["run_cnt"],
            "recursion_misses": a["recursion_misses"] - b["recursion_misses"],
        }
    return out


def cmd_event_cost(args):
    probes = probe_table(args.probes)
    reps = []
    per_prog = {}  # name -> summed deltas over all repetitions
    floor_per_prog = {}
    peer_per_prog = {}
    warnings = []
    for pair in args.reps:
        bpath, apath = pair.split(":")
        before, after = load_json(bpath), load_json(apath)
        events = event_delta(args.kind, before, after, args.device)
        window_s = (after["counters"]["mono_ns"] - before["counters"]["mono_ns"]) / 1e9
        if events <= 0:
            die(f"{args.phase}: no {args.kind} events counted in a {window_s:.1f} s window")
        kp = prog_deltas("kpulse", before, after)
        rep = {"events": events, "window_s": round(window_s, 3),
               "events_per_s": round(events / window_s)}

        all_ns = sum(p["run_time_ns"] for p in kp.values())
        sub = {i: p for i, p in kp.items()
               if args.subsystem == "all" or prog_subsystem(p["name"], probes) == args.subsystem}
        sub_ns = sum(p["run_time_ns"] for p in sub.values())
        rep["kpulse_ns_per_event"] = sub_ns / events
        if args.subsystem != "all":
            rep["kpulse_all_programs_ns_per_event"] = all_ns / events
        for p in sub.values():
            acc = per_prog.setdefault(p["name"], {"run_time_ns": 0, "run_cnt": 0,
                                                   "recursion_misses": 0,
                                                   "attached": p["attached"]})
            for k in ("run_time_ns", "run_cnt", "recursion_misses"):
                acc[k] += p[k]

        for owner in ("floor", "floor_peer"):
            if owner not in before["owners"]:
                continue
            fl = prog_deltas(owner, before, after)
            floor_ns = sum(p["run_time_ns"] for p in fl.values())
            if floor_ns <= 0:
                die(f"{args.phase}: the empty {owner} programs recorded no run time")
            rep[f"{owner}_ns_per_event"] = floor_ns / events
            rep[f"kpulse_over_{owner}"] = rep["kpulse_ns_per_event"] / rep[f"{owner}_ns_per_event"]
            acc_progs = floor_per_prog.setdefault(owner, {})
            for p in fl.values():
                acc = acc_progs.setdefault(p["name"], {"run_time_ns": 0, "run_cnt": 0,
                                                       "recursion_misses": 0, "attached": True})
                for k in ("run_time_ns", "run_cnt", "recursion_misses"):
                    acc[k] += p[k]
                # The empty sched_switch program runs once per switch: if
                # it ran much less, the stats were off for part of the window.
                if p["name"].endswith("sched_switch") and args.kind == "switch":
                    seen = p["run_cnt"] / events
                    rep[f"{owner}_switch_runs_per_switch"] = seen
                    if seen < 0.95:
                        warnings.append(
                            f"{args.phase}: the empty sched_switch program counted only "
                            f"{seen:.2f} runs per /proc/stat switch; BPF run-time stats were "
                            "probably switched off during the window (kernel.bpf_stats_enabled "
                            "toggled by someone else?)")
        if "peer" in before["owners"]:
            pe = prog_deltas("peer", before, after)
            peer_ns = sum(p["run_time_ns"] for p in pe.values())
            if peer_ns <= 0:
                die(f"{args.phase}: the peer's programs recorded no run time")
            rep["peer_ns_per_event"] = peer_ns / events
            rep["kpulse_over_peer"] = rep["kpulse_ns_per_event"] / rep["peer_ns_per_event"]
            if "floor_peer_ns_per_event" in rep:
                rep["peer_over_floor_peer"] = (rep["peer_ns_per_event"] /
                                               rep["floor_peer_ns_per_event"])
            for p in pe.values():
                acc = peer_per_prog.setdefault(p["name"], {"run_time_ns": 0, "run_cnt": 0,
                                                            "recursion_misses": 0,
                                                            "attached": True})
                for k in ("run_time_ns", "run_cnt", "recursion_misses"):
                    acc[k] += p[k]
        reps.append(rep)

    total_events = sum(r["events"] for r in reps)

    hot_tp = HOT_TRACEPOINT[args.kind]
    hot = probes.get(hot_tp, {})
    hot_runs = sum(p["run_cnt"] for n, p in per_prog.items()
                   if prog_tracepoint(n, probes) == hot_tp)
    if hot.get("state") == "attached":
        if hot_runs < 0.5 * total_events:
            die(f"{args.phase}: kpulse's {hot_tp} program ran {hot_runs / total_events:.2f} "
                f"times per {args.kind}, yet `kpulse probes` reports it attached: the running "
                "kpulse did not attach it (was KPULSE_BIN rebuilt meanwhile? see its stderr)")
    else:
        warnings.append(f"{args.phase}: kpulse probe {hot_tp} is "
                        f"{hot.get('state', 'absent')} ({hot.get('error', '')}); the figure "
                        "covers the programs that are attached")

    def prog_rows(progs):
        rows = []
        for name, p in progs.items():
            if p["run_cnt"] == 0:
                continue
            rows.append({"name": name, "runs": p["run_cnt"], "run_time_ns": p["run_time_ns"],
                         "ns_per_run": p["run_time_ns"] / p["run_cnt"],
                         "runs_per_event": p["run_cnt"] / total_events,
                         "ns_per_event": p["run_time_ns"] / total_events,
                         "recursion_misses": p["recursion_misses"]})
        rows.sort(key=lambda r: r["ns_per_event"], reverse=True)
        return rows

    result = {
        "phase": args.phase,
        "event": args.kind,
        "event_source": EVENT_KINDS[args.kind].format(device=args.device),
        "device": args.device,
        "load": args.load,
        "kpulse_programs": args.subsystem,
        "repetitions": reps,
        "kpulse_ns_per_event": spread([r["kpulse_ns_per_event"] for r in reps]),
        "programs": prog_rows(per_prog),
        "warnings": warnings,
    }
    if args.subsystem != "all":
        result["kpulse_all_programs_ns_per_event"] = spread(
            [r["kpulse_all_programs_ns_per_event"] for r in reps])
    for owner, progs in floor_per_prog.items():
        result[f"{owner}_ns_per_event"] = spread([r[f"{owner}_ns_per_event"] for r in reps])
        result[f"kpulse_over_{owner}"] = spread([r[f"kpulse_over_{owner}"] for r in reps])
        result[f"{owner}_programs"] = prog_rows(progs)
    if "floor" in floor_per_prog:
        runs = sum(p["run_cnt"] for p in floor_per_prog["floor"].values())
        result["floor_ns_per_run"] = (sum(p["run_time_ns"] for p in
                                          floor_per_prog["floor"].values()) / runs
                                      if runs else None)
    if peer_per_prog:
        result["peer"] = args.peer_name
        result["peer_ns_per_event"] = spread([r["peer_ns_per_event"] for r in reps])
        result["kpulse_over_peer"] = spread([r["kpulse_over_peer"] for r in reps])
        if "floor_peer" in floor_per_prog:
            result["peer_over_floor_peer"] = spread([r["peer_over_floor_peer"] for r in reps])
        result["peer_programs"] = prog_rows(peer_per_prog)
    if args.attach_order:
        result["attach_order"] = args.attach_order
    if args.floor_ns_per_run is not None:
        result["floor_ns_per_run"] = args.floor_ns_per_run
    fnr = result.get("floor_ns_per_run")
    result["slow_rare_programs"] = []
    for row in result["programs"]:
        hot = row["runs_per_event"] >= HOT_RUNS_PER_EVENT
        row["costly"] = bool(fnr) and hot and row["ns_per_run"] > COSTLY_VS_FLOOR * fnr
        if row["costly"]:
            warnings.append(f"{args.phase}: {row['name']} costs {row['ns_per_run']:.0f} "
                            f"ns/run on the hot path ({row['runs_per_event']:.2f} runs/"
                            f"{args.kind}), {row['ns_per_run'] / fnr:.1f}x an empty program "
                            f"({fnr:.0f} ns/run)")
        elif not hot and row["ns_per_run"] >= SLOW_RUN_NS:
            result["slow_rare_programs"].append(
                f"{row['name']} {row['ns_per_run']:.0f} ns/run over {row['runs']} runs")
    if args.target_ns is not None:
        med = result["kpulse_ns_per_event"]["median"]
        result["target_ns_per_event"] = args.target_ns
        result["verdict"] = "PASS" if med <= args.target_ns else "FAIL"
        if "floor_peer" in floor_per_prog:
            # kpulse's ratio to empty programs on the reference's hooks, on
            # the reference machine's floor: less sensitive to how fast
            # this machine is today.
            ratio = result["kpulse_over_floor_peer"]["median"]
            result["kpulse_ns_scaled_to_reference_floor"] = ratio * REFERENCE_FLOOR_NS_PER_SWITCH
    write_json(args.out, result)
    print_event_cost(result)


def print_event_cost(r):
    print(f"== {r['phase']}: {r['load']}")
    print(f"   per {r['event_source']}")
    for i, rep in enumerate(r["repetitions"], 1):
        line = (f"   rep {i}: {rep['events']} events in {rep['window_s']:.1f} s "
                f"({rep['events_per_s']}/s), kpulse {rep['kpulse_ns_per_event']:.1f} ns/event")
        if "floor_ns_per_event" in rep:
            line += (f", floor {rep['floor_ns_per_event']:.1f} ns/event, "
                     f"ratio {rep['kpulse_over_floor']:.2f}")
        if "floor_peer_ns_per_event" in rep:
            line += f", floor on the peer's hooks {rep['floor_peer_ns_per_event']:.1f}"
        if "peer_ns_per_event" in rep:
            line += f", peer {rep['peer_ns_per_event']:.1f} ns/event"
        print(line)
    if r.get("attach_order"):
        print(f"   attach order per rep (first attached runs first): "
              + "; ".join(r["attach_order"]))
    label = "all kpulse programs" if r["kpulse_programs"] == "all" else \
        f"kpulse {r['kpulse_programs']} programs"
    print(f"   {label}: {fmt_spread(r['kpulse_ns_per_event'], ' ns/event')}")
    if "kpulse_all_programs_ns_per_event" in r:
        print(f"   (all kpulse programs: "
              f"{fmt_spread(r['kpulse_all_programs_ns_per_event'], ' ns/event')})")
    if "floor_ns_per_event" in r:
        hooks = " + ".join(x["name"] for x in r.get("floor_programs", []))
        print(f"   floor, empty tp_btf programs on kpulse's hooks ({hooks}): "
              f"{fmt_spread(r['floor_ns_per_event'], ' ns/event')}")
        print(f"   kpulse / floor: {fmt_spread(r['kpulse_over_floor'], 'x', 2)}")
    if "floor_peer_ns_per_event" in r:
        hooks = " + ".join(x["name"] for x in r.get("floor_peer_programs", []))
        print(f"   floor on the peer's hooks ({hooks}): "
              f"{fmt_spread(r['floor_peer_ns_per_event'], ' ns/event')}")
        print(f"   kpulse / floor on the peer's hooks: "
              f"{fmt_spread(r['kpulse_over_floor_peer'], 'x', 2)}")
    if "peer_ns_per_event" in r:
        print(f"   peer, {r['peer']}: {fmt_spread(r['peer_ns_per_event'], ' ns/event')}")
        if "peer_over_floor_peer" in r:
            print(f"   peer / floor on its hooks: "
                  f"{fmt_spread(r['peer_over_floor_peer'], 'x', 2)}")
        print(f"   kpulse / peer: {fmt_spread(r['kpulse_over_peer'], 'x', 2)}")
    for owner, what in (("floor", "kpulse's own hooks"), ("floor_peer", "the peer's hooks")):
        if f"kpulse_over_{owner}" in r:
            ratio = r[f"kpulse_over_{owner}"]["median"]
            print(f"   at or below empty programs on {what}: "
                  f"{'yes' if ratio <= 1.0 else 'no'} (median ratio {ratio:.2f})")
    if "verdict" in r:
        extra = ""
        if "kpulse_ns_scaled_to_reference_floor" in r:
            extra = (f"; scaled to the reference floor (switch + wakeup) of "
                     f"{REFERENCE_FLOOR_NS_PER_SWITCH:.0f} ns: "
                     f"{r['kpulse_ns_scaled_to_reference_floor']:.0f} ns")
        print(f"   target <= {r['target_ns_per_event']} ns/event: {r['verdict']} "
              f"(median {r['kpulse_ns_per_event']['median']:.1f} ns{extra})")
    rows = r["programs"] + [dict(x, name=x["name"] + " [floor]")
                            for x in r.get("floor_programs", [])] + \
        [dict(x, name=x["name"] + " [floor, peer's hooks]")
         for x in r.get("floor_peer_programs", [])] + \
        [dict(x, name=x["name"] + " [peer]") for x in r.get("peer_programs", [])]
    if rows:
        print(f"   {'program':<40} {'ns/run':>8} {'runs/event':>10} {'ns/event':>9} "
              f"{'runs':>10} {'rec.miss':>8}")
        for row in rows:
            mark = "  <- costly" if row.get("costly") else ""
            print(f"   {row['name']:<40} {row['ns_per_run']:>8.1f} {row['runs_per_event']:>10.3f} "
                  f"{row['ns_per_event']:>9.1f} {row['runs']:>10} {row['recursion_misses']:>8}"
                  f"{mark}")
    for w in r["warnings"]:
        print(f"   WARNING: {w}")
    if r["slow_rare_programs"]:
        print(f"   rare but slow (>= {SLOW_RUN_NS:.0f} ns/run): "
              + "; ".join(r["slow_rare_programs"]))
    print()


# ----------------------------------------------------------------- throughput


def cmd_fio_iops(args):
    data = load_json(args.file)
    try:
        print(f"{sum(j['read']['iops'] for j in data['jobs']):.1f}")
    except (KeyError, TypeError) as e:
        die(f"{args.file}: no read IOPS in fio output ({e})")


def cmd_perf_pipe_ops(args):
    with open(args.file) as f:
        for line in f:
            p = line.split()
            if len(p) == 2 and p[1] == "ops/sec":
                print(p[0])
                return
    die(f"{args.file}: no 'ops/sec' line in perf bench output")


def cmd_throughput(args):
    off = [float(v) for v in args.off.split()]
    on = [float(v) for v in args.on.split()]
    if not off or not on:
        die(f"{args.name}: no runs to compare")
    s_off, s_on = spread(off), spread(on)
    loss = (s_off["median"] - s_on["median"]) / s_off["median"] * 100.0
    # Each "on" run against the "off" run just before it.
    pair_loss = [(a - b) / a * 100.0 for a, b in zip(off, on)]
    # How far apart the "off" runs alone are: a loss smaller than this is
    # not told apart from the machine's own noise.
    noise = (s_off["max"] - s_off["min"]) / s_off["median"] * 100.0
    result = {"name": args.name, "workload": args.workload, "unit": args.unit,
              "off_spread_percent": noise, "loss_within_noise": abs(loss) < noise,
              "order": "interleaved off,on pairs", "off_runs": off, "on_runs": on,
              "off": s_off, "on": s_on, "loss_percent": loss,
              "pair_loss_percent": spread(pair_loss), "notes": args.note or []}
    write_json(args.out, result)
    print(f"== throughput: {args.name}: {args.workload}")
    print(f"   off (no kpulse): {fmt_spread(s_off, ' ' + args.unit)}")
    print(f"   on  (kpulse)   : {fmt_spread(s_on, ' ' + args.unit)}")
    print(f"   runs off: {' '.join(f'{v:.0f}' for v in off)}")
    print(f"   runs on : {' '.join(f'{v:.0f}' for v in on)}")
    print(f"   loss from medians: {loss:.2f} %   "
          f"(per pair: {fmt_spread(spread(pair_loss), ' %', 2)})")
    print(f"   'off' runs alone spread over {noise:.1f} % of their median"
          + (": the loss is within the noise" if abs(loss) < noise else ""))
    for n in args.note or []:
        print(f"   note: {n}")
    print()


# -------------------------------------------------------------------- summary


def cmd_summary(args):
    phases = [load_json(p) for p in args.fragments]
    summary = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "kpulse_bin": args.kpulse_bin,
        "event_cost": [p for p in phases if "event" in p],
        "throughput": [p for p in phases if "loss_percent" in p],
        "failures": args.failure or [],
        "notes": args.note or [],
    }
    warnings = [w for p in phases for w in p.get("warnings", [])] + (args.warning or [])
    summary["warnings"] = warnings
    if args.probes:
        states = {}
        for tp, p in probe_table(args.probes).items():
            states.setdefault(p["state"], []).append(tp)
        summary["kpulse_probe_states"] = states
    verdicts = [p for p in phases if "verdict" in p]
    if verdicts:
        summary["verdict"] = verdicts[0]["verdict"]
        summary["kpulse_ns_per_switch"] = verdicts[0]["kpulse_ns_per_event"]["median"]
        summary["target_ns_per_switch"] = verdicts[0]["target_ns_per_event"]
    write_json(args.out, summary)

    print("== summary")
    for state, tps in summary.get("kpulse_probe_states", {}).items():
        shown = f": {', '.join(tps)}" if state != "attached" else ""
        print(f"   kpulse probes {state}: {len(tps)}{shown}")
    for p in summary["event_cost"]:
        line = f"   {p['phase']:<16} kpulse {p['kpulse_ns_per_event']['median']:8.1f} ns/{p['event']}"
        if "floor_ns_per_event" in p:
            line += (f"   floor {p['floor_ns_per_event']['median']:.1f} ns"
                     f"   kpulse/floor {p['kpulse_over_floor']['median']:.2f}x")
        if "floor_peer_ns_per_event" in p:
            line += (f"   floor on peer's hooks {p['floor_peer_ns_per_event']['median']:.1f} ns"
                     f"   kpulse/it {p['kpulse_over_floor_peer']['median']:.2f}x")
        if "peer_ns_per_event" in p:
            line += (f"   peer {p['peer_ns_per_event']['median']:.1f} ns"
                     f"   kpulse/peer {p['kpulse_over_peer']['median']:.2f}x")
        if "verdict" in p:
            line += f"   {p['verdict']} (target <= {p['target_ns_per_event']} ns)"
        print(line)
        top = p["programs"][0] if p["programs"] else None
        if top:
            print(f"   {'':<16} costliest per event: {top['name']} {top['ns_per_run']:.1f} ns/run, "
                  f"{top['ns_per_event']:.1f} ns/{p['event']}")
        if p.get("slow_rare_programs"):
            print(f"   {'':<16} rare but slow: " + "; ".join(p["slow_rare_programs"]))
    for t in summary["throughput"]:
        print(f"   {t['name']:<16} loss {t['loss_percent']:6.2f} %  (medians "
              f"{t['off']['median']:.0f} -> {t['on']['median']:.0f} {t['unit']}; off runs spread "
              f"{t['off_spread_percent']:.1f} %"
              + (", within noise)" if t["loss_within_noise"] else ")"))
    for w in warnings:
        print(f"   WARNING: {w}")
    for n in summary["notes"]:
        print(f"   note: {n}")
    for f in summary["failures"]:
        print(f"   FAILED: {f}")
    print(f"   JSON summary: {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("snap")
    s.add_argument("when", choices=("before", "after"))
    s.add_argument("out")
    s.add_argument("owners", nargs="+", metavar="OWNER=PID")
    s.set_defaults(func=cmd_snap)

    s = sub.add_parser("event-cost")
    s.add_argument("--phase", required=True)
    s.add_argument("--load", required=True, help="what generated the events")
    s.add_argument("--kind", required=True, choices=sorted(EVENT_KINDS))
    s.add_argument("--device", default="")
    s.add_argument("--subsystem", default="all", help="kpulse subsystem whose programs count")
    s.add_argument("--probes", required=True, help="output of `kpulse probes --json`")
    s.add_argument("--target-ns", type=float)
    s.add_argument("--floor-ns-per-run", type=float)
    s.add_argument("--peer-name", default="peer", help="what the peer programs are")
    s.add_argument("--attach-order", action="append",
                   help="who attached first .. last in a repetition (one per repetition)")
    s.add_argument("--out", required=True)
    s.add_argument("reps", nargs="+", metavar="BEFORE:AFTER")
    s.set_defaults(func=cmd_event_cost)

    s = sub.add_parser("fio-iops")
    s.add_argument("file")
    s.set_defaults(func=cmd_fio_iops)

    s = sub.add_parser("perf-pipe-ops")
    s.add_argument("file")
    s.set_defaults(func=cmd_perf_pipe_ops)

    s = sub.add_parser("throughput")
    s.add_argument("--name", required=True)
    s.add_argument("--workload", required=True)
    s.add_argument("--unit", required=True)
    s.add_argument("--off", required=True, help="space-separated values")
    s.add_argument("--on", required=True, help="space-separated values")
    s.add_argument("--note", action="append")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_throughput)

    s = sub.add_parser("summary")
    s.add_argument("--kpulse-bin", default="")
    s.add_argument("--probes", help="output of `kpulse probes --json`")
    s.add_argument("--failure", action="append")
    s.add_argument("--warning", action="append")
    s.add_argument("--note", action="append")
    s.add_argument("out")
    s.add_argument("fragments", nargs="*")
    s.set_defaults(func=cmd_summary)

    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
