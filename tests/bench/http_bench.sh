#!/usr/bin/env bash
# http_bench.sh - what the REST API serves under load, and whether serving it
# delays collection (called by bench.sh; runs on its own too, as root).
#
# One `kpulse run` (interval 1 s) on a temporary data dir and a free port on
# 127.0.0.1; wrk on this machine, 64 connections, 2 threads, 10 s a run,
# --latency, against:
#   1. GET /healthz                                 (target >= 20,000 req/s)
#   2. GET /api/v1/live                             (bearer token; no target)
#   3. GET /api/v1/query_range of the last hour of kpulse_mem_available_bytes,
#      step=10, agg=avg: 360 steps read from the raw tier (step < 60 s)
#                                                   (target p99 < 10 ms)
# After all runs the daemon is stopped (so every round is written) and the
# timestamps of kpulse_mem_total_bytes, present in every round, are read
# from the store: the gaps between consecutive rounds during each wrk run,
# next to an idle window before the first run, show whether serving delays
# collection.
#
# The daemon's per-client rate limit cannot be turned off; it is raised to
# its maximum (--api-rate-limit 100000 a second, burst twice that) and the
# connection limit to 512 (256 per address) so that neither caps the runs.
# Replies other than 2xx are counted apart; req/s is of 2xx replies only.
#
# A fresh store holds seconds of history, so by default (HTTP_BENCH_PREFILL=1)
# the daemon is started once, stopped, and the hour before its first round
# is back-filled with one synthetic kpulse_mem_available_bytes sample a second
# (the values themselves do not matter to the query's cost), then started
# again: the query reads ~3600 raw samples as it would on a machine that ran
# kpulse for an hour. Only that one series is back-filled.
#
# wrk and the daemon share this machine's CPUs, so the figures are what one
# box serving itself sustains, not the daemon's ceiling on a free machine.
#
# Report to stdout, progress to stderr, a summary to build/bench/http.json,
# wrk's reports to build/bench/http_bench.*.wrk.
# Exit status: 0 when every measurement was made (whatever the PASS/FAIL
# verdict), 1 when one could not be made.
#
# Env: KPULSE_BIN (default build/kpulse), HTTP_BENCH_SECONDS (10),
# HTTP_BENCH_CONNECTIONS (64), HTTP_BENCH_THREADS (2), HTTP_BENCH_IDLE_S (5),
# HTTP_BENCH_PREFILL (1).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out_dir=$repo/build/bench
summary_json=$out_dir/http.json
python=/usr/bin/python3

kpulse_bin=${KPULSE_BIN:-$repo/build/kpulse}
run_s=${HTTP_BENCH_SECONDS:-10}
conns=${HTTP_BENCH_CONNECTIONS:-64}
threads=${HTTP_BENCH_THREADS:-2}
idle_s=${HTTP_BENCH_IDLE_S:-5}
prefill=${HTTP_BENCH_PREFILL:-1}
interval_s=1
rate_limit=100000 # the most --api-rate-limit accepts; it cannot be disabled
max_conns=512     # per-address limit is half of it: 256 >= $conns
query_series=kpulse_mem_available_bytes
query_step_s=10
clock_series=kpulse_mem_total_bytes
target_healthz_rps=20000
target_query_p99_ms=10
ready_timeout_s=45
pause_s=2 # between runs, so their windows do not share a round
serial_s=5 # the one-connection query_range run

tmp=""
kpulse_pid=""
wrk_pid=""
port=""
starts=0
kpulse_log=/dev/null
failures=()

log() { echo "http_bench: $*" >&2; }

fail() {
	log "FAILED: $*"
	failures+=("$*")
}

show_tail() {
	[ -s "$1" ] && tail -n 5 "$1" | sed 's/^/http_bench:   | /' >&2
	return 0
}

now_ms() { date +%s%3N; }

stop_pid() { # pid signal: signal, wait up to 10 s, then SIGKILL
	local pid=$1 sig=$2
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	trap - EXIT INT TERM
	stop_pid "$wrk_pid" TERM
	stop_pid "$kpulse_pid" INT
	wrk_pid="" kpulse_pid=""
	[ -n "$tmp" ] && rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT TERM

# ------------------------------------------------------------------ checks

if [ "$(id -u)" != 0 ]; then
	log "needs root (the daemon loads BPF programs)"
	exit 1
fi
if [ ! -x "$kpulse_bin" ]; then
	log "no kpulse binary at '$kpulse_bin' (set KPULSE_BIN)"
	exit 1
fi
missing=""
for tool in wrk curl sqlite3 ss timeout; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -x "$python" ] || missing="$missing $python"
if [ -n "$missing" ]; then
	log "missing tools:$missing"
	exit 1
fi

tmp=$(mktemp -d /tmp/kpulse-http-bench.XXXXXX) || exit 1
mkdir -p "$out_dir" || exit 1
data_dir=$tmp/data
db=$data_dir/kpulse.db
: >"$tmp/empty.env"
admin_password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
[ ${#admin_password} = 32 ] || { log "cannot read /dev/urandom"; exit 1; }

# wrk script: the bearer token from a file (not on a command line that ps
# shows), and one JSON line of figures, so nothing parses wrk's text.
cat >"$tmp/wrk.lua" <<'EOF'
local token_file = os.getenv("HTTP_BENCH_TOKEN_FILE")
if token_file and token_file ~= "" then
	local f = assert(io.open(token_file))
	wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
	f:close()
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'HTTPBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,' ..
		'"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
		'"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
		summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
		e.status, e.timeout, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max, latency.mean))
end
EOF

# ---------------------------------------------------------- process control

pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

# The daemon reads only its flags, the password and an empty env file: the
# caller's KPULSE_* settings and ./.env must not change what is measured.
start_kpulse() {
	local unset_env=() v
	for v in $(compgen -e); do
		[[ $v == KPULSE_* ]] && unset_env+=(-u "$v")
	done
	port=$(pick_port) || { log "no free port found"; return 1; }
	starts=$((starts + 1))
	kpulse_log=$tmp/kpulse.$starts.log
	: >"$kpulse_log"
	env "${unset_env[@]}" KPULSE_ADMIN_PASSWORD="$admin_password" \
		"$kpulse_bin" run --env-file "$tmp/empty.env" --data-dir "$data_dir" \
		--listen "127.0.0.1:$port" --interval "$interval_s" --flush-interval 1 \
		--api-rate-limit "$rate_limit" --api-max-connections "$max_conns" \
		>"$kpulse_log" 2>&1 &
	kpulse_pid=$!
	for _ in $(seq $((ready_timeout_s * 5))); do
		if ! kill -0 "$kpulse_pid" 2>/dev/null; then
			wait "$kpulse_pid" 2>/dev/null
			kpulse_pid=""
			log "kpulse exited before serving:"
			show_tail "$kpulse_log"
			return 1
		fi
		# Our daemon's log line too: another server may have taken the port.
		grep -qF "API listening on http://127.0.0.1:$port" "$kpulse_log" &&
			curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$port/healthz" \
				2>/dev/null && return 0
		sleep 0.2
	done
	log "kpulse did not answer /healthz within ${ready_timeout_s}s:"
	show_tail "$kpulse_log"
	stop_kpulse
	return 1
}

# SIGINT: the daemon writes every round it collected before it exits.
stop_kpulse() {
	stop_pid "$kpulse_pid" INT
	kpulse_pid=""
	return 0
}

# The password and the token go through files, never on a command line.
login() {
	(umask 077 && printf '{"username":"admin","password":"%s"}' "$admin_password" \
		>"$tmp/login.body")
	curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' \
		-d @"$tmp/login.body" "http://127.0.0.1:$port/api/v1/auth/login" \
		>"$tmp/login.json" 2>"$tmp/login.err" || { show_tail "$tmp/login.err"; return 1; }
	(umask 077 && "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
		"$tmp/login.json" >"$tmp/token" &&
		echo "Authorization: Bearer $(cat "$tmp/token")" >"$tmp/auth.header") \
		2>"$tmp/login.err" || { show_tail "$tmp/login.err"; return 1; }
}

# rounds_of NAME: the number of raw samples the store holds for NAME{}.
rounds_of() {
	timeout 30 "$python" "$here/store_raw.py" "$db" count "$1" 2>/dev/null
}

# The daemon is stopped: one synthetic sample a second for the hour before
# the series' first real one, around its first real value.
backfill() {
	timeout 60 "$python" "$here/store_raw.py" "$db" backfill "$query_series" 3600 \
		>/dev/null 2>"$tmp/backfill.err" || { show_tail "$tmp/backfill.err"; return 1; }
}

# run_wrk NAME URL WITH-TOKEN [CONNECTIONS THREADS SECONDS]: one wrk run;
# figures in $tmp/NAME.wrk, its wall-clock window in $tmp/NAME.window.
run_wrk() {
	local name=$1 url=$2 with_token=$3 c=${4:-$conns} t=${5:-$threads} d=${6:-$run_s}
	local t0 t1 rc
	local token_file="" header=()
	[ "$with_token" = 1 ] && token_file=$tmp/token header=(-H @"$tmp/auth.header")
	if ! kill -0 "$kpulse_pid" 2>/dev/null; then
		fail "$name: the daemon is not running"
		return 1
	fi
	# One request first: a run of 401s or 404s would measure nothing.
	if ! curl -fsS --max-time 10 -o "$tmp/$name.first" "${header[@]}" "$url" \
		2>"$tmp/$name.curl"; then
		show_tail "$tmp/$name.curl"
		fail "$name: a single request failed"
		return 1
	fi
	log "wrk ${d}s, $c connections, $t threads: $url"
	t0=$(now_ms)
	HTTP_BENCH_TOKEN_FILE=$token_file timeout -s INT $((d + 30)) \
		wrk -t "$t" -c "$c" -d "${d}s" --timeout 2s --latency \
		-s "$tmp/wrk.lua" "$url" >"$tmp/$name.wrk" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid"
	rc=$?
	wrk_pid=""
	t1=$(now_ms)
	echo "$t0 $t1" >"$tmp/$name.window"
	if [ $rc != 0 ] || ! grep -q '^HTTPBENCH ' "$tmp/$name.wrk"; then
		show_tail "$tmp/$name.wrk"
		fail "$name: wrk failed (exit $rc)"
		rm -f "$tmp/$name.window"
		return 1
	fi
	if ! kill -0 "$kpulse_pid" 2>/dev/null; then
		show_tail "$kpulse_log"
		fail "$name: the daemon died during the run"
		return 1
	fi
	sleep "$pause_s"
}

# ------------------------------------------------------------------- main

start_s=$SECONDS
others=$(pgrep -x kpulse | wc -l)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if ! start_kpulse; then
	log "could not start the daemon: no measurement"
	exit 1
fi

prefilled=0
if [ "$prefill" = 1 ]; then
	# Two rounds written, so the series exists with a first value.
	for _ in $(seq 100); do
		[ "$(rounds_of "$query_series")" -ge 2 ] 2>/dev/null && break
		sleep 0.2
	done
	stop_kpulse
	if backfill; then
		prefilled=1
	else
		log "could not back-fill the hour; the query reads a fresh store"
	fi
	start_kpulse || { log "could not restart the daemon: no measurement"; exit 1; }
fi

if ! login; then
	log "login as admin failed: no authenticated measurement"
	exit 1
fi

# The idle window opens after the restarted daemon's first round, so its
# intervals do not span the restart.
sleep $((interval_s + 1))
log "letting the daemon collect for ${idle_s}s (idle window)"
idle_t0=$(now_ms)
sleep "$idle_s"
echo "$idle_t0 $(now_ms)" >"$tmp/idle.window"

base=http://127.0.0.1:$port
run_wrk healthz "$base/healthz" 0
run_wrk live "$base/api/v1/live" 1
q_to=$(date +%s)
q_from=$((q_to - 3600))
raw_in_range=$(timeout 30 "$python" "$here/store_raw.py" "$db" count "$query_series" \
	$((q_from * 1000)) $((q_to * 1000)) 2>/dev/null)
# The URL is fixed for the run: the same hour is asked for every time.
query_url="$base/api/v1/query_range?series=$query_series&from=$q_from&to=$q_to&step=$query_step_s&agg=avg"
run_wrk query_range "$query_url" 1
# Not a target: one connection, no queueing behind 63 others, to tell the
# query's own cost from the wait in line that the 64-connection p99 holds.
run_wrk query_range_1conn "$query_url" 1 1 1 "$serial_s"

stop_kpulse
if ! timeout 60 "$python" "$here/store_raw.py" "$db" times "$clock_series" \
	>"$tmp/rounds.txt" 2>"$tmp/rounds.err"; then
	show_tail "$tmp/rounds.err"
	fail "collection timing: cannot read $clock_series from $db"
fi
# The daemon's output and wrk's own reports stay in build/bench for a look.
cat "$tmp"/kpulse.*.log >"$out_dir/http_bench.kpulse.log" 2>/dev/null
for f in "$tmp"/*.wrk; do
	[ -f "$f" ] && cp "$f" "$out_dir/http_bench.$(basename "$f")"
done

failure_args=()
for v in "${failures[@]}"; do failure_args+=("$v"); done
"$python" - "$tmp" "$summary_json" "$kpulse_bin" "$run_s" "$conns" "$threads" "$interval_s" \
	"$rate_limit" "$max_conns" "$query_series" "$query_step_s" "$clock_series" \
	"$target_healthz_rps" "$target_query_p99_ms" "$prefilled" "${raw_in_range:-?}" "$others" \
	"$load_before" "$((SECONDS - start_s))" "${failure_args[@]}" <<'EOF'
# Report: wrk figures and round gaps per window; exit 1 when a figure is missing.
import json, os, sys

(tmp, summary_path, kpulse_bin, run_s, conns, threads, interval_s, rate_limit, max_conns,
 query_series, query_step_s, clock_series, target_rps, target_p99_ms, prefilled,
 raw_in_range, others, load_before, took_s) = sys.argv[1:20]
failures = list(sys.argv[20:])
interval = float(interval_s)
runs = [("healthz", "/healthz"),
        ("live", "/api/v1/live"),
        ("query_range", "/api/v1/query_range"),
        ("query_range_1conn", "/api/v1/query_range, 1 connection")]


def read_wrk(name):
    try:
        with open(os.path.join(tmp, name + ".wrk")) as f:
            for line in f:
                if line.startswith("HTTPBENCH "):
                    return json.loads(line[len("HTTPBENCH "):])
    except OSError:
        pass
    return None


def window(name):
    try:
        with open(os.path.join(tmp, name + ".window")) as f:
            a, b = f.read().split()
            return int(a), int(b)
    except (OSError, ValueError):
        return None


rounds = []
try:
    with open(os.path.join(tmp, "rounds.txt")) as f:
        rounds = [int(x) for x in f.read().split()]
except (OSError, ValueError):
    pass


def gaps(w):
    """Intervals between the rounds in the window, with the last round
    before it and the first after it, so a round the load held back across
    an edge still shows."""
    if not w or len(rounds) < 2:
        return None
    a, b = w
    inside = [t for t in rounds if a <= t <= b]
    before = [t for t in rounds if t < a]
    after = [t for t in rounds if t > b]
    ts = before[-1:] + inside + after[:1]
    d = [(y - x) / 1000.0 for x, y in zip(ts, ts[1:])]
    if not d:
        return None
    return {"rounds_in_window": len(inside), "intervals": len(d),
            "mean_interval_s": sum(d) / len(d), "max_gap_s": max(d), "min_gap_s": min(d),
            "late_over_100ms": sum(1 for x in d if x > interval + 0.1)}


print()
print(f"kpulse HTTP API bench: {os.uname().release}, {os.cpu_count()} CPUs, "
      f"load {load_before} before")
print(f"kpulse: {kpulse_bin}")
print(f"wrk from this machine to 127.0.0.1: {threads} threads, {conns} connections, "
      f"{run_s} s a run, --latency; then query_range again over 1 connection, 1 thread "
      f"(wrk and the daemon share the CPUs)")
print(f"daemon: --interval {interval_s} --api-rate-limit {rate_limit} (the maximum; it cannot "
      f"be disabled) --api-max-connections {max_conns} (raised so neither caps the runs)")
if prefilled == "1":
    print(f"query_range data: the hour before the first round back-filled with one synthetic "
          f"{query_series} sample a second; {raw_in_range} raw samples in the queried hour")
else:
    print(f"query_range data: a fresh store, only {raw_in_range} raw samples in the queried "
          f"hour (a 1-hour range on a fresh store has few points)")
print()

summary = {"kpulse_bin": kpulse_bin, "wrk": {"threads": int(threads), "connections": int(conns),
           "duration_s": int(run_s)}, "daemon": {"interval_s": interval,
           "api_rate_limit": int(rate_limit), "api_max_connections": int(max_conns)},
           "query": {"series": query_series, "range_s": 3600, "step_s": int(query_step_s),
                     "tier": "raw", "prefilled": prefilled == "1",
                     "raw_samples_in_range": int(raw_in_range) if raw_in_range.isdigit()
                     else None},
           "runs": {}, "collection": {}, "failures": failures,
           "notes": []}

print(f"query_range: {query_series}, from=now-3600 to=now (fixed for the run), "
      f"step={query_step_s} (raw tier, 360 steps), agg=avg; /live and query_range with "
      "Authorization: Bearer")
print()
print(f"{'endpoint':<34} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
      f"{'max ms':>8} {'bytes/req':>9} {'non-2xx':>8} {'sock err':>8}")
for name, label in runs:
    r = read_wrk(name)
    if not r:
        print(f"{label:<34} (no measurement)")
        continue
    dur = r["duration_us"] / 1e6
    non2xx = r["err_status"]
    sock = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    ok_rps = (r["requests"] - non2xx) / dur if dur > 0 else 0.0
    p = {k: r[k + "_us"] / 1000.0 for k in ("p50", "p90", "p99", "max")}
    per_req = r["bytes"] / r["requests"] if r["requests"] else 0
    print(f"{label:<34} {ok_rps:>8.0f} {p['p50']:>8.2f} {p['p90']:>8.2f} {p['p99']:>8.2f} "
          f"{p['max']:>8.2f} {per_req:>9.0f} {non2xx:>8} {sock:>8}")
    entry = {"requests": r["requests"], "duration_s": dur, "ok_req_per_s": ok_rps,
             "bytes_per_request": per_req,
             "p50_ms": p["p50"], "p90_ms": p["p90"], "p99_ms": p["p99"], "max_ms": p["max"],
             "non_2xx": non2xx, "socket_errors": sock}
    # Error replies are cheap and fast: more than 1% of them and the figure
    # is not the endpoint's.
    if r["requests"] == 0 or non2xx > 0.01 * r["requests"]:
        failures.append(f"{name}: {non2xx} of {r['requests']} replies were not 2xx")
    summary["runs"][name] = entry
    if r["requests"] / dur > 0.9 * float(rate_limit) if dur > 0 else False:
        summary["notes"].append(f"{name}: {r['requests'] / dur:.0f} req/s is within 10% of "
                                f"the rate limit ({rate_limit}/s, burst {2 * int(rate_limit)}, "
                                "the most it can be raised); it refused "
                                f"{non2xx} requests here, but a faster run would meet it")

print()
hz = summary["runs"].get("healthz")
qr = summary["runs"].get("query_range")
verdicts = []
if hz:
    ok = hz["ok_req_per_s"] >= float(target_rps)
    verdicts.append(("healthz_rps", ok))
    print(f"  {'PASS' if ok else 'FAIL'}  /healthz {hz['ok_req_per_s']:.0f} req/s "
          f"(target >= {int(target_rps)})")
if qr:
    ok = qr["p99_ms"] < float(target_p99_ms)
    verdicts.append(("query_range_p99", ok))
    print(f"  {'PASS' if ok else 'FAIL'}  query_range p99 {qr['p99_ms']:.2f} ms "
          f"(target < {target_p99_ms} ms)")
summary["verdicts"] = {k: ("PASS" if v else "FAIL") for k, v in verdicts}

print()
print(f"collection rounds ({clock_series} timestamps in the store; interval {interval:g} s):")
print(f"  {'window':<18} {'rounds':>6} {'mean interval s':>16} {'max gap s':>10} "
      f"{'min gap s':>10} {'late >100 ms':>13}")
for name in ["idle"] + [n for n, _ in runs]:
    g = gaps(window(name))
    if not g:
        if name in summary["runs"]:
            failures.append(f"collection timing: no rounds found for the {name} window")
        print(f"  {name:<18} (no rounds)")
        continue
    print(f"  {name:<18} {g['rounds_in_window']:>6} {g['mean_interval_s']:>16.3f} "
          f"{g['max_gap_s']:>10.3f} {g['min_gap_s']:>10.3f} {g['late_over_100ms']:>13}")
    summary["collection"][name] = g
print("  (each window's intervals include the round just before and just after it)")

notes = summary["notes"]
if int(others) > 0:
    notes.append(f"{others} other kpulse process(es) were running; their probes and API "
                 "add to the load")
notes.append(f"took {took_s} s")
print()
for n in notes:
    print(f"note: {n}")
for f in failures:
    print(f"FAILED: {f}")
summary["failures"] = failures
try:
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
except OSError as e:
    print(f"http_bench: cannot write {summary_path}: {e}", file=sys.stderr)
    sys.exit(1)
sys.exit(1 if failures or len(summary["runs"]) < len(runs) else 0)
EOF
