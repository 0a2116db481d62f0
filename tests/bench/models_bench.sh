#!/usr/bin/env bash
# models_bench.sh - what the anomaly models add to the daemon (part of
# `make bench`, root): the daemon runs with every default series modelled,
# then with KPULSE_MODELS=off, side by side in one window, at the default
# 1 s interval. Figures:
#   - CPU: the models sink's own busy time (kpulse_sink_busy_seconds_total
#     {sink="models"}) over the wall time, in % of one core (target < 2%),
#     and the whole daemon's CPU time with models on and off;
#   - memory per series: the models' fixed part (buffers sized for
#     KPULSE_MODELS_MAX_SERIES, episodes) would swamp a difference of a few
#     dozen series, so a second run models every series of the round
#     (KPULSE_MODELS_INCLUDE='*', per-process rows too) and the figure is the
#     RSS difference between the two runs over the difference in modelled
#     series (target < 4 KB). One pair of runs is not enough: RSS also
#     counts what malloc keeps after frees (the warm-ups' query results,
#     per-thread arenas) and grows with time at a constant series count,
#     so one pair's difference carries the two runs' different activity
#     (single pairs of three builds a few hundred bytes apart gave 5.3, 4.9
#     and 7.3 KB, the smallest build the largest figure). The
#     pair is run BENCH_MODELS_PAIRS times (default 3), alternating, and the
#     median is the figure, each pair's shown beside it. Each difference is
#     split by mapping (/proc/PID/smaps): malloc's main arena ([heap]: with
#     M_ARENA_MAX 2, most threads' small allocations), the anonymous
#     mappings (blocks of 64 KiB and more, the second arena) and the rest,
#     so a change shows which side it moved. A run with models off shows
#     the daemon's CPU and RSS without them.
#   - where the bytes go: BENCH_MODELS_MEM_BIN (tests/unit/bench_models_mem.c)
#     replays the daemon's round in-process and splits the heap a modelled
#     series adds into detector state, its exported score series (live
#     registry and the round the API keeps) and the rest, then again with a
#     real store (SQLite's part apart): the figure that shows a change of a
#     few hundred bytes, which the RSS pairs do not resolve.
# Env: KPULSE_BIN (required), BENCH_MODELS_S (seconds per run, default 60),
# BENCH_MODELS_PAIRS (pairs of runs for the memory figure, default 3),
# BENCH_MODELS_MEM_BIN (optional).
set -uo pipefail

secs=${BENCH_MODELS_S:-60}
pairs=${BENCH_MODELS_PAIRS:-3}
tmp=$(mktemp -d /tmp/kpulse-models-bench.XXXXXX) || exit 1
pid=""
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run MODELS(on|off) INCLUDE EXCLUDE -> prints "cpu_s rss_kib busy_s series wall_s"
run() {
	local p out
	p=$(port)
	rm -rf "$tmp/data"
	KPULSE_LISTEN=127.0.0.1:$p KPULSE_MODELS=$1 KPULSE_MODELS_INCLUDE=$2 \
		KPULSE_MODELS_EXCLUDE=$3 KPULSE_MODELS_MAX_SERIES=10000 \
		KPULSE_MULTIVAR_MAX_SERIES=$MV_SERIES KPULSE_MULTIVAR_WINDOW=1s \
		KPULSE_MULTIVAR_HISTORY=24m \
		"$KPULSE_BIN" run --data-dir "$tmp/data" --interval 1 >"$tmp/log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		grep -q "kpulse running" "$tmp/log" && break
		sleep 0.1
	done
	# CPU from the end of start-up (probe loading is not the models' cost)
	sleep 5
	local t0 c0
	t0=$(date +%s.%N)
	c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep "$secs"
	out=$(curl -s "127.0.0.1:$p/metrics")
	local c1 t1 rss busy series hz
	c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	t1=$(date +%s.%N)
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	# where the RSS is: malloc's main arena ([heap]; the API sets
	# M_ARENA_MAX to 2, so it holds most threads' small allocations) and the
	# anonymous mappings (blocks of 64 KiB and more, the second arena)
	read -r heap anon < <(awk '/^[0-9a-f]+-[0-9a-f]+ / { k = NF == 5 ? "anon" : $6 == "[heap]" ? "heap" : "" }
		/^Rss:/ && k != "" { s[k] += $2 } END { print s["heap"] + 0, s["anon"] + 0 }' "/proc/$pid/smaps")
	hz=$(getconf CLK_TCK)
	busy=$(printf '%s\n' "$out" | awk '/^kpulse_sink_busy_seconds_total\{sink="models"\}/ {print $2}')
	series=$(printf '%s\n' "$out" | awk '/^kpulse_models_series / {print $2}')
	kill -INT "$pid"
	wait "$pid" 2>/dev/null
	pid=""
	echo "$(echo "($c1 - $c0) / $hz" | bc -l) $rss ${busy:-0} ${series:-0} $(echo "$t1 - $t0" | bc -l) $heap $anon"
}

if [ -n "${BENCH_MODELS_MEM_BIN:-}" ] && [ -x "$BENCH_MODELS_MEM_BIN" ]; then
	"$BENCH_MODELS_MEM_BIN" 2>/dev/null | grep -v ' info ' || echo "models memory: bench_models_mem failed"
fi
# The multivariate detectors run in these short runs with 1 s windows (a
# series joins after 33 windows; 24 min of history is 1,440 windows, the
# rows of the default 24 h of minutes once full). Their memory is fixed by
# their series cap, not by the series modelled: the same cap in both runs,
# below the default list's size, keeps it out of the per-series difference
# (bench_models_mem prints its bound).
MV_SERIES=${BENCH_MV_SERIES:-32}
# Each pair: models on for the default series, then for every series; one
# line per run in $tmp/runs: "kind cpu_s rss_kib busy_s series wall_s heap anon".
for _ in $(seq "$pairs"); do
	echo "default $(run on @default @default)" >>"$tmp/runs"
	echo "all $(run on '*' 'kpulse_anomaly_*')" >>"$tmp/runs"
done
echo "off $(run off @default @default)" >>"$tmp/runs"
awk '$1 == "default" && $5 > 0 { ok = 1 } END { exit !ok }' "$tmp/runs" || {
	echo "models bench: no modelled series reported"
	exit 1
}
MV_SERIES=$MV_SERIES /usr/bin/python3 - "$tmp/runs" <<'PY'
import os
import statistics
import sys

runs = {"default": [], "all": [], "off": []}
for line in open(sys.argv[1]):
    kind, *v = line.split()
    runs[kind].append(dict(zip(("cpu", "rss", "busy", "series", "wall", "heap", "anon"),
                               map(float, v))))
on, every, off = runs["default"], runs["all"], runs["off"][0]
sink = [100 * r["busy"] / r["wall"] for r in on]
sink_pct = statistics.median(sink)
print(f"daemon with models on for every default series ({on[0]['series']:.0f} series, 1 s "
      f"interval, {on[0]['wall']:.0f} s per run, {len(on)} pairs of runs (defaults, every "
      f"series) then one with models off; multivariate detectors on "
      f"{os.environ.get('MV_SERIES', '32')} series in every run):")
print(f"  models sink CPU   {sink_pct:6.3f} % of one core, median of "
      f"{', '.join(f'{p:.3f}' for p in sink)}   target < 2%: "
      f"{'PASS' if sink_pct < 2 else 'FAIL'}")
print(f"  daemon CPU        on {statistics.median(100 * r['cpu'] / r['wall'] for r in on):6.3f} %, "
      f"off {100 * off['cpu'] / off['wall']:6.3f} % of one core (whole process, noisy)")
print(f"  every series      {statistics.median(r['series'] for r in every):.0f} series: models "
      f"sink CPU {statistics.median(100 * r['busy'] / r['wall'] for r in every):.3f} % of one core")
per, heap, anon, rest = [], [], [], []
for a, b in zip(on, every):
    added = b["series"] - a["series"]
    if added <= 0:
        continue
    per.append((b["rss"] - a["rss"]) * 1024 / added)
    heap.append((b["heap"] - a["heap"]) * 1024 / added)
    anon.append((b["anon"] - a["anon"]) * 1024 / added)
    rest.append(((b["rss"] - b["heap"] - b["anon"]) - (a["rss"] - a["heap"] - a["anon"])) *
                1024 / added)
per_series = statistics.median(per) if per else float("nan")
print(f"  daemon RSS        off {off['rss']:.0f} KiB, on {statistics.median(r['rss'] for r in on):.0f} "
      f"KiB, every series {statistics.median(r['rss'] for r in every):.0f} KiB (medians): "
      f"{per_series:.0f} bytes of RSS per added modelled series, median of "
      f"{', '.join(f'{p:.0f}' for p in per)} (includes malloc's kept pages and the store's "
      f"caches; the heap figure is bench_models_mem's)   target < 4096: "
      f"{'PASS' if per_series < 4096 else 'FAIL'}")
if per:
    print(f"    of which        main arena {statistics.median(heap):.0f} bytes (small "
          f"allocations), anonymous maps {statistics.median(anon):.0f} bytes (large blocks, "
          f"second arena), the rest {statistics.median(rest):.0f} bytes (medians)")
PY
