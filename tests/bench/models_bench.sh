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
#     dozen series, so a third run models every series of the round
#     (KPULSE_MODELS_INCLUDE='*', per-process rows too) and the figure is the
#     RSS difference between the two runs with models over the difference in
#     modelled series (target < 4 KB); the RSS difference with models off is
#     shown too.
#   - where the bytes go: BENCH_MODELS_MEM_BIN (tests/unit/bench_models_mem.c)
#     replays the daemon's round in-process and splits the heap a modelled
#     series adds into detector state, its exported score series (live
#     registry and the round the API keeps) and the rest, then again with a
#     real store (SQLite's part apart). The daemon's RSS figure is larger
#     than that heap: RSS also counts what malloc keeps after frees (the
#     warm-ups' query results, per-thread arenas) and grows with time at a
#     constant series count (a daemon modelling 47 series went from 23.7 to
#     25.0 MB between 20 s and 110 s), so two runs' difference carries
#     their different activity, not only their series. The difference is
#     split by mapping (/proc/PID/smaps): malloc's main arena ([heap]: with
#     M_ARENA_MAX 2, most threads' small allocations), the anonymous
#     mappings (blocks of 64 KiB and more, such as tables sized for
#     KPULSE_MODELS_MAX_SERIES, and the second arena) and the rest, so a
#     change shows which side it moved. Measured by hand
#     the same way (60 s runs, seccomp and the privilege drop off, one run
#     each, noisy): before the models' tables grew with their series,
#     '*' vs defaults was 10.9 KB of RSS per series (main arena 5.3 KB,
#     anonymous maps 5.2 KB: the 2 MiB selection table touched a page per
#     series); after, 6.9 KB (main arena 5.4 KB, anonymous 0.7 KB). The
#     main arena's part (M_ARENA_MAX is 2, so every thread's small
#     allocations share it) is the detector (2 KB; 1.4 KB since the daily
#     bins are 30 minutes and a bin's count is a byte), the score series in the live registry and in
#     each round alive, its store state and SQLite. This script, one run
#     each: the build before the 30-minute bins 5,320 bytes per series,
#     with them 4,918, with the byte counts too 7,299 (main arena 5,790):
#     the split by mapping and the total move by whole kilobytes from run
#     to run, more than the detector's 600 bytes saved; bench_models_mem's
#     heap figure (4,330 -> 3,723) is the one that shows such a change.
# Env: KPULSE_BIN (required), BENCH_MODELS_S (seconds per run, default 60),
# BENCH_MODELS_MEM_BIN (optional).
set -uo pipefail

secs=${BENCH_MODELS_S:-60}
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
read -r cpu_on rss_on busy series wall heap_on anon_on < <(run on @default @default)
read -r _ rss_all busy_all series_all wall_all heap_all anon_all < <(run on '*' 'kpulse_anomaly_*')
read -r cpu_off rss_off _ _ wall_off _ _ < <(run off @default @default)
[ -n "${series:-}" ] && [ "${series%.*}" -gt 0 ] 2>/dev/null || {
	echo "models bench: no modelled series reported"
	exit 1
}
MV_SERIES=$MV_SERIES /usr/bin/python3 - "$cpu_on" "$rss_on" "$busy" "$series" "$wall" "$cpu_off" "$rss_off" "$wall_off" \
	"$rss_all" "$busy_all" "$series_all" "$wall_all" "$heap_on" "$anon_on" "$heap_all" "$anon_all" <<'PY'
import os
import sys
(cpu_on, rss_on, busy, series, wall, cpu_off, rss_off, wall_off, rss_all, busy_all, series_all,
 wall_all, heap_on, anon_on, heap_all, anon_all) = map(float, sys.argv[1:])
sink_pct = 100 * busy / wall
per_series = ((rss_all - rss_on) * 1024 / (series_all - series)
              if series_all > series else float("nan"))
print(f"daemon with models on for every default series ({series:.0f} series, 1 s interval, "
      f"{wall:.0f} s per run, on then off; multivariate detectors on "
      f"{os.environ.get('MV_SERIES', '32')} series in both runs):")
print(f"  models sink CPU   {sink_pct:6.3f} % of one core (busy {busy:.3f} s)   "
      f"target < 2%: {'PASS' if sink_pct < 2 else 'FAIL'}")
print(f"  daemon CPU        on {100 * cpu_on / wall:6.3f} %, off {100 * cpu_off / wall_off:6.3f} % "
      f"of one core (whole process, noisy)")
print(f"  every series      {series_all:.0f} series: models sink CPU "
      f"{100 * busy_all / wall_all:.3f} % of one core")
print(f"  daemon RSS        off {rss_off:.0f} KiB, on {rss_on:.0f} KiB, every series "
      f"{rss_all:.0f} KiB: {per_series:.0f} bytes of RSS per added modelled series "
      f"(includes malloc's kept pages and the store's caches; the heap figure is "
      f"bench_models_mem's)   target < 4096: "
      f"{'PASS' if per_series < 4096 else 'FAIL'}")
if series_all > series:
    added = series_all - series
    print(f"    of which        main arena {(heap_all - heap_on) * 1024 / added:.0f} bytes "
          f"(small allocations), anonymous maps "
          f"{(anon_all - anon_on) * 1024 / added:.0f} bytes (large blocks, second arena), "
          f"the rest {((rss_all - heap_all - anon_all) - (rss_on - heap_on - anon_on)) * 1024 / added:.0f} bytes")
PY
