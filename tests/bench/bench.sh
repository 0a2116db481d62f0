#!/usr/bin/env bash
# bench.sh - what kpulse costs the machine it watches (`make bench`, root).
#
#  1. BPF run time per context switch under a switch storm, with kpulse's
#     cgroup accounting off, on v1 and on v2, each next to empty tp_btf
#     programs (floor.bpf.c) on the hooks kpulse attached (the floor) and on
#     the hooks a runqlat-style tool needs (switch and wakeups), and that
#     runqlat-style peer (peer_runqlat.bpf.c), all in the same storm. Each
#     repetition starts the four afresh in an order rotated by one (the
#     first program on a hook pays the cache misses the others then find
#     warm), so each takes each place equally often.
#  2. BPF run time per completed block I/O (fio), next to empty programs on
#     the block hooks kpulse attached (floor_block.bpf.c) and a
#     biolatency-style peer (peer_biolat.bpf.c) in the same fio jobs, each
#     job starting the three afresh in an order rotated by one; per page
#     fault (stress-ng --fault), next to empty programs on the fault hooks
#     (floor_fault.bpf.c); per loopback packet (iperf3 on 127.0.0.1).
#  3. Throughput of `perf bench sched pipe` and of an fio random-read job,
#     without and with kpulse, in interleaved off/on pairs.
#  4. The store (bench_store), the /proc pass (bench_procpass: CPU per round
#     against a trivial reader of the same files; TCP state counts with up
#     to 9,000 connections in a private network namespace), the HTTP API.
#     The anomaly detector's update time per series against an EWMA
#     reference (bench_models); the daemon's added CPU and memory with the
#     models on (models_bench.sh).
#
# Machines are shared and noisy, so every figure is a median with its
# min/max, and the per-event costs are read next to the floor measured in
# the same window. The readable report goes to stdout, the summary to
# build/bench.json. Exit status: 0 when every measurement ran (whatever the
# PASS/FAIL verdict), 1 when a measurement could not be made.
#
# Env: KPULSE_BIN (required), BENCH_REPS, BENCH_SWITCH_REPS, BENCH_STORM_S, BENCH_LOAD_S,
# BENCH_PAIRS, BENCH_PIPE_LOOPS, BENCH_FIO_S (defaults below);
# BENCH_EVENTS_ONLY=1 runs phases 1 and 2 only; BENCH_PHASES picks among
# them (default "switch block fault net cgroups": cgroups is the switch
# storm again with kpulse's cgroup accounting off, v1 and v2).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
out_dir=$build/bench
summary_json=$build/bench.json
python=/usr/bin/python3
benchstat=$here/benchstat.py

reps=${BENCH_REPS:-3}             # repetitions of each per-event measurement
switch_reps=${BENCH_SWITCH_REPS:-8} # switch storms with the default cgroups (half with the others)
storm_s=${BENCH_STORM_S:-4}       # seconds per context-switch storm
load_s=${BENCH_LOAD_S:-3}         # seconds per fio / fault / iperf3 window
pairs=${BENCH_PAIRS:-5}           # off/on pairs per throughput workload
pipe_loops=${BENCH_PIPE_LOOPS:-500000}
fio_s=${BENCH_FIO_S:-5}
events_only=${BENCH_EVENTS_ONLY:-0}
phases=" ${BENCH_PHASES:-switch block fault net cgroups} "
target_ns_per_switch=150
fio_size=256M
kpulse_ready_timeout_s=45

# ------------------------------------------------------------ state, cleanup

tmp=""
kpulse_pid=""
floor_pid=""
floor_peer_pid=""
peer_pid=""
iperf_pid=""
kpulse_args=()""
fio_file=""
stats_old=""
failures=()
notes=()

log() { echo "bench: $*" >&2; }

# One failed measurement: say what and why, keep going with the others.
fail() {
	log "FAILED: $*"
	failures+=("$*")
}

# Show the last lines of a tool's output after it failed.
show_tail() {
	[ -s "$1" ] && tail -n 5 "$1" | sed 's/^/bench:   | /' >&2
	return 0
}

stop_pid() { # pid signal
	local pid=$1 sig=$2 i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	trap - EXIT INT TERM
	stop_pid "$kpulse_pid" INT
	stop_pid "$floor_pid" TERM
	stop_pid "$floor_peer_pid" TERM
	stop_pid "$peer_pid" TERM
	stop_pid "$iperf_pid" TERM
	kpulse_pid="" floor_pid="" floor_peer_pid="" peer_pid="" iperf_pid=""
	[ -n "$stats_old" ] && sysctl -q -w kernel.bpf_stats_enabled="$stats_old" >/dev/null
	[ -n "$fio_file" ] && rm -f "$fio_file"
	[ -n "$tmp" ] && rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT TERM

# ------------------------------------------------------------------ checks

if [ "$(id -u)" != 0 ]; then
	log "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN for the probes and bpf stats)"
	exit 1
fi
if [ -z "${KPULSE_BIN:-}" ] || [ ! -x "$KPULSE_BIN" ]; then
	log "KPULSE_BIN must name the kpulse binary (got '${KPULSE_BIN:-}'); run 'make bench'"
	exit 1
fi
missing=""
for tool in stress-ng fio iperf3 perf bpftool clang gcc pkg-config sysctl ss; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -x "$python" ] || missing="$missing $python"
if [ -n "$missing" ]; then
	log "missing tools:$missing (make deps installs them)"
	exit 1
fi
if [ ! -r /proc/sys/kernel/bpf_stats_enabled ]; then
	log "this kernel has no kernel.bpf_stats_enabled: no BPF run-time stats to read"
	exit 1
fi

mkdir -p "$out_dir" || exit 1
tmp=$(mktemp -d /tmp/kpulse-bench.XXXXXX) || exit 1
fragments=()

# ------------------------------------------- floor and peer programs build

# The empty floors and the single-purpose peers, each a BPF object that
# bench_loader loads and attaches.
bench_objs=(floor floor_block floor_fault peer_runqlat peer_biolat)

build_bench_progs() {
	local arch libs o
	arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
	read -r -a libs <<<"$(pkg-config --libs libbpf 2>/dev/null || echo -lbpf)"
	for o in "${bench_objs[@]}"; do
		clang -g -O2 -target bpf -D__TARGET_ARCH_"$arch" -Wall -Werror \
			-I"$repo/vmlinux/$arch" -c "$here/$o.bpf.c" -o "$out_dir/$o.bpf.o" \
			2>>"$tmp/build.err" || return 1
	done
	gcc -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		"$here/bench_loader.c" -o "$out_dir/bench_loader" "${libs[@]}" -lelf -lz \
		2>>"$tmp/build.err"
}

# ---------------------------------------------------------- process control

# The first snapshot line says every probe is loaded and attached, so the
# output goes to a file (not /dev/null) just to see that line arrive.
start_kpulse() {
	local i
	: >"$tmp/kpulse.out"
	"$KPULSE_BIN" dump --json --interval 1 "${kpulse_args[@]}" >"$tmp/kpulse.out" \
		2>"$tmp/kpulse.err" &
	kpulse_pid=$!
	for i in $(seq $((kpulse_ready_timeout_s * 10))); do
		[ -s "$tmp/kpulse.out" ] && return 0
		if ! kill -0 "$kpulse_pid" 2>/dev/null; then
			wait "$kpulse_pid" 2>/dev/null
			kpulse_pid=""
			log "kpulse exited before its first snapshot:"
			show_tail "$tmp/kpulse.err"
			return 1
		fi
		sleep 0.1
	done
	log "kpulse printed no snapshot within ${kpulse_ready_timeout_s}s"
	show_tail "$tmp/kpulse.err"
	stop_kpulse
	return 1
}

# Its stderr stays in build/bench/kpulse.stderr (the last run's) for a look
# after a failed measurement.
stop_kpulse() {
	stop_pid "$kpulse_pid" INT
	kpulse_pid=""
	cp "$tmp/kpulse.err" "$out_dir/kpulse.stderr" 2>/dev/null
	return 0
}

# start_helper VAR OBJECT [PROGRAM...]: bench_loader with OBJECT's programs
# (or the named ones), its pid in the variable VAR once they are attached.
start_helper() {
	local var=$1 obj=$2 pid i
	shift 2
	"$out_dir/bench_loader" "$out_dir/$obj.bpf.o" "$@" >"$tmp/$var.out" 2>"$tmp/$var.err" &
	pid=$!
	printf -v "$var" '%s' "$pid"
	for i in $(seq 100); do
		grep -q '^ready' "$tmp/$var.out" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			printf -v "$var" '%s' ""
			log "bench_loader $obj exited before attaching:"
			show_tail "$tmp/$var.err"
			return 1
		fi
		sleep 0.1
	done
	log "bench_loader $obj did not attach within 10s"
	stop_pid "$pid" TERM
	printf -v "$var" '%s' ""
	return 1
}

stop_helpers() {
	stop_pid "$floor_pid" TERM
	stop_pid "$floor_peer_pid" TERM
	stop_pid "$peer_pid" TERM
	floor_pid="" floor_peer_pid="" peer_pid=""
}

# snap before|after NAME: program stats of kpulse (and the floor, if up).
snap() {
	local owners=("kpulse=$kpulse_pid")
	[ -n "$floor_pid" ] && owners+=("floor=$floor_pid")
	[ -n "$floor_peer_pid" ] && owners+=("floor_peer=$floor_peer_pid")
	[ -n "$peer_pid" ] && owners+=("peer=$peer_pid")
	"$python" "$benchstat" snap "$1" "$tmp/$2.$1.json" "${owners[@]}" 2>"$tmp/snap.err" ||
		{ show_tail "$tmp/snap.err"; return 1; }
}

# run_logged LOGNAME CMD...: run a load generator, its output in a log file.
run_logged() {
	local name=$1 rc
	shift
	"$@" >"$tmp/$name.log" 2>&1
	rc=$?
	if [ $rc != 0 ]; then
		log "'$*' failed (exit $rc):"
		show_tail "$tmp/$name.log"
	fi
	return $rc
}

# ------------------------------------------------------------ measurements

# measure NAME LOAD-CMD...: REPS windows of before-snap, load, after-snap.
# Leaves "before:after" pairs in $pairs_out.
measure() {
	local name=$1 r
	shift
	pairs_out=()
	for r in $(seq "$reps"); do
		snap before "$name.$r" || return 1
		run_logged "$name.$r" "$@" || return 1
		snap after "$name.$r" || return 1
		pairs_out+=("$tmp/$name.$r.before.json:$tmp/$name.$r.after.json")
	done
}

event_cost() { # fragment-name event-cost-args...
	local frag="$tmp/frag-$1.json"
	shift
	if "$python" "$benchstat" event-cost --probes "$tmp/probes.json" --out "$frag" "$@" \
		2>"$tmp/event-cost.err"; then
		fragments+=("$frag")
	else
		show_tail "$tmp/event-cost.err"
		[ -n "$kpulse_pid" ] && cp "$tmp/kpulse.err" "$out_dir/kpulse.stderr" 2>/dev/null &&
			log "kpulse's stderr so far: $out_dir/kpulse.stderr"
		return 1
	fi
}

fio_randread() { # seconds iodepth json-out
	fio --name=kpulse-bench --filename="$fio_file" --size="$fio_size" --rw=randread --bs=4k \
		--direct=1 --ioengine=libaio --iodepth="$2" --runtime="$1" --time_based \
		--randrepeat=0 --norandommap --output-format=json --output="$3"
}

# The hooks a runqlat-style tool attaches: empty programs on them are the
# peer's floor (and what kpulse would need without sched_info).
peer_floor_progs=(floor_sched_switch floor_sched_wakeup floor_sched_wakeup_new)

# start_participant NAME: one of the switch phase's four.
start_participant() {
	case $1 in
	kpulse) start_kpulse ;;
	floor) start_helper floor_pid floor "${kpulse_floor_progs[@]}" ;;
	floor_peer) start_helper floor_peer_pid floor "${peer_floor_progs[@]}" ;;
	peer) start_helper peer_pid peer_runqlat ;;
	esac
}

# phase_switch MODE: kpulse (with --cgroups MODE), the empty programs on
# kpulse's hooks and on the peer's, and the runqlat-style peer in the same
# storms; each repetition starts them afresh in an order rotated by one.
phase_switch() {
	local mode=$1 frag=switch-$1 target=() n=$switch_reps r k who rc=0
	local parts=(kpulse floor floor_peer peer) order orders=()
	[ "$mode" = auto ] || n=$(((switch_reps + 1) / 2))
	[ "$n" -ge 1 ] || n=1
	mapfile -t kpulse_floor_progs < <(floor_progs sched)
	if [ ${#kpulse_floor_progs[@]} = 0 ]; then
		fail "floor: kpulse attached no sched hook (see 'kpulse probes')"
		return
	fi
	log "phase 1 (cgroups $mode): context-switch storm x $n, kpulse, empty programs on its hooks (${kpulse_floor_progs[*]}) and on a runqlat-style tool's, and that tool, attach order rotated"
	pairs_out=()
	for r in $(seq "$n"); do
		k=$(((r - 1) % ${#parts[@]}))
		order=("${parts[@]:k}" "${parts[@]:0:k}")
		for who in "${order[@]}"; do
			start_participant "$who" || { fail "switch storm: $who did not start"; rc=1; break; }
		done
		if [ $rc = 0 ]; then
			orders+=(--attach-order "${order[*]}")
			snap before "$frag.$r" &&
				run_logged "$frag.$r" stress-ng --switch 2 --timeout "${storm_s}s" --quiet &&
				snap after "$frag.$r" ||
				{ fail "context-switch storm (stress-ng --switch), cgroups $mode"; rc=1; }
			pairs_out+=("$tmp/$frag.$r.before.json:$tmp/$frag.$r.after.json")
		fi
		stop_helpers
		stop_kpulse
		[ $rc = 0 ] || return
	done
	# The verdict is on the default configuration's figure.
	[ "$mode" = auto ] && target=(--target-ns "$target_ns_per_switch")
	event_cost "$frag" --phase "context_switch (cgroups $mode)" --kind switch --subsystem all \
		"${target[@]}" "${orders[@]}" --peer-name "runqlat-style (hash by pid)" \
		--load "stress-ng --switch 2, ${storm_s} s x $n, every kpulse program counted" \
		"${pairs_out[@]}" || fail "context-switch cost computation (cgroups $mode)"
	[ "$mode" = auto ] && floor_ns_per_run=$("$python" -c 'import json,sys; v=json.load(open(sys.argv[1])).get("floor_ns_per_run"); print(v if v else "")' \
		"$tmp/frag-$frag.json" 2>/dev/null)
	return 0
}

# floor_progs SUBSYSTEM: the floor programs for the hooks of a subsystem
# kpulse attached on this kernel.
floor_progs() {
	"$python" -c '
import json, sys
for p in json.load(open(sys.argv[1]))["probes"]:
    if p["subsystem"] == sys.argv[2] and p["state"] == "attached":
        print("floor_" + p["probe"].split(":", 1)[-1])' "$tmp/probes.json" "$1"
}

# start_block_participant NAME: one of the block phase's three.
start_block_participant() {
	case $1 in
	kpulse) start_kpulse ;;
	floor) start_helper floor_pid floor_block "${block_floor_progs[@]}" ;;
	peer) start_helper peer_pid peer_biolat ;;
	esac
}

# phase_block: kpulse, the empty programs on the block hooks it attached and
# the biolatency-style peer on the same fio job; as in the switch phase,
# each repetition starts the three afresh in an order rotated by one (the
# first program on a hook runs first and pays the cache misses on the
# request the others then find warm).
phase_block() {
	local dev devno r k who rc=0 parts=(kpulse floor peer) order orders=() block_floor_progs
	log "phase 2a: fio random reads, O_DIRECT, on /var/tmp, kpulse, empty programs on its block hooks and a biolatency-style tool, attach order rotated"
	fio_file=$(mktemp /var/tmp/kpulse-bench.XXXXXX) || { fail "block: mktemp in /var/tmp"; return; }
	devno=$(stat -c '%d' "$fio_file")
	dev=$(basename "$(readlink -f "/sys/dev/block/$((devno >> 8)):$((devno & 255))")" 2>/dev/null)
	if [ -z "$dev" ] || ! grep -q " $dev " /proc/diskstats; then
		fail "block: /var/tmp is not on a block device listed in /proc/diskstats"
		return
	fi
	# Laid out with real writes: reads of unwritten extents never reach the disk.
	run_logged fio-layout fio --name=layout --filename="$fio_file" --size="$fio_size" \
		--rw=randread --bs=4k --create_only=1 ||
		{ fail "block: fio could not lay out $fio_file"; return; }
	sync
	# floor_block.bpf.c has no program for a rare hook (block_rq_error):
	# the loader loads only the names it finds.
	mapfile -t block_floor_progs < <(floor_progs block)
	if [ ${#block_floor_progs[@]} = 0 ]; then
		fail "block floor: kpulse attached no block hook (see 'kpulse probes')"
		return
	fi
	pairs_out=()
	for r in $(seq "$reps"); do
		k=$(((r - 1) % ${#parts[@]}))
		order=("${parts[@]:k}" "${parts[@]:0:k}")
		for who in "${order[@]}"; do
			start_block_participant "$who" || { fail "block: $who did not start"; rc=1; break; }
		done
		if [ $rc = 0 ]; then
			orders+=(--attach-order "${order[*]}")
			snap before "block.$r" &&
				run_logged "block.$r" fio_randread "$load_s" 16 /dev/null &&
				snap after "block.$r" ||
				{ fail "block: fio random-read job"; rc=1; }
			pairs_out+=("$tmp/block.$r.before.json:$tmp/block.$r.after.json")
		fi
		stop_helpers
		stop_kpulse
		[ $rc = 0 ] || return
	done
	event_cost block --phase block_io --kind io --device "$dev" --subsystem block \
		"${orders[@]}" --peer-name "biolatency-style (hash by request, per-disk histogram)" \
		--load "fio randread 4k O_DIRECT libaio iodepth 16 on $dev, ${load_s} s x $reps" \
		"${pairs_out[@]}" || fail "block cost computation"
}

phase_fault() {
	local floor_progs rc
	log "phase 2b: page-fault storm, kpulse and empty programs on its fault hooks"
	mapfile -t floor_progs < <(floor_progs mem)
	# Only the fault hooks have floor programs: the loader loads those.
	start_helper floor_pid floor_fault "${floor_progs[@]}" ||
		{ fail "fault floor: could not attach the empty programs"; return; }
	measure fault stress-ng --fault 2 --timeout "${load_s}s" --quiet
	rc=$?
	stop_helpers
	[ $rc = 0 ] || { fail "page faults: stress-ng --fault"; return; }
	event_cost fault --phase page_fault --kind fault --subsystem mem \
		--load "stress-ng --fault 2, ${load_s} s x $reps" \
		"${pairs_out[@]}" || fail "page-fault cost computation"
}

phase_net() {
	local port i
	log "phase 2c: iperf3 over loopback"
	port=$((20000 + RANDOM % 20000))
	iperf3 -s -B 127.0.0.1 -p "$port" >"$tmp/iperf3-server.log" 2>&1 &
	iperf_pid=$!
	for i in $(seq 50); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
		show_tail "$tmp/iperf3-server.log"
		fail "network: iperf3 server did not listen on 127.0.0.1:$port"
		stop_pid "$iperf_pid" TERM
		iperf_pid=""
		return
	fi
	measure net timeout $((load_s + 15)) iperf3 -c 127.0.0.1 -p "$port" -t "$load_s" \
		--connect-timeout 3000
	local rc=$?
	stop_pid "$iperf_pid" TERM
	iperf_pid=""
	[ $rc = 0 ] || { fail "network: iperf3 client"; return; }
	event_cost net --phase network --kind packet --device lo --subsystem net \
		${floor_ns_per_run:+--floor-ns-per-run "$floor_ns_per_run"} \
		--load "iperf3 TCP over 127.0.0.1, ${load_s} s x $reps" \
		"${pairs_out[@]}" || fail "network cost computation"
}

# throughput NAME UNIT WORKLOAD RUN-FUNCTION: interleaved off/on pairs; the
# run function prints one number (higher is better).
throughput() {
	local name=$1 unit=$2 workload=$3 run=$4 i v off="" on=""
	log "phase 3: $name, $pairs interleaved off/on pairs"
	for i in $(seq "$pairs"); do
		v=$($run "$name.$i.off") || { fail "$name: run $i without kpulse"; return; }
		off="$off $v"
		start_kpulse || { fail "$name: kpulse did not start"; return; }
		v=$($run "$name.$i.on")
		local rc=$?
		stop_kpulse
		[ $rc = 0 ] || { fail "$name: run $i with kpulse"; return; }
		on="$on $v"
	done
	local frag="$tmp/frag-tp-$name.json"
	local note_args=()
	for v in "${tp_notes[@]}"; do note_args+=(--note "$v"); done
	if "$python" "$benchstat" throughput --name "$name" --unit "$unit" --workload "$workload" \
		--off "$off" --on "$on" --out "$frag" "${note_args[@]}" 2>"$tmp/tp.err"; then
		fragments+=("$frag")
	else
		show_tail "$tmp/tp.err"
		fail "$name: throughput computation"
	fi
}

run_pipe() {
	run_logged "$1" perf bench sched pipe -l "$pipe_loops" || return 1
	"$python" "$benchstat" perf-pipe-ops "$tmp/$1.log"
}

run_fio() {
	run_logged "$1" fio_randread "$fio_s" 16 "$tmp/$1.json" || return 1
	"$python" "$benchstat" fio-iops "$tmp/$1.json"
}

# ------------------------------------------------------------------- main

start_s=$SECONDS
# The binary may be rebuilt by someone else while the bench runs.
kpulse_id_start=$(stat -c '%Y %s %i' "$KPULSE_BIN")
log "building the floor and peer programs into $out_dir"
if ! build_bench_progs; then
	log "could not build the floor and peer programs:"
	show_tail "$tmp/build.err"
	exit 1
fi

if ! "$KPULSE_BIN" probes --json >"$tmp/probes.json" 2>"$tmp/probes.err"; then
	log "'$KPULSE_BIN probes --json' failed:"
	show_tail "$tmp/probes.err"
	exit 1
fi

others=$(pgrep -x kpulse | wc -l)
if [ "$others" -gt 0 ]; then
	notes+=("$others other kpulse process(es) were running during the bench; their probes add to the load of every run, 'off' ones included")
fi

stats_old=$(sysctl -n kernel.bpf_stats_enabled) || exit 1
sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null ||
	{ log "cannot set kernel.bpf_stats_enabled=1"; stats_old=""; exit 1; }

echo "kpulse bench: $(uname -r), $(nproc) CPUs, $(date '+%F %T')"
echo "kpulse: $KPULSE_BIN"
echo

# The scheduler path with each cgroup mode: the default (auto) first, the
# others after; phase_switch starts a kpulse for each storm, phase_block
# one for each fio job. The fault and network phases share one kpulse.
floor_ns_per_run=""
kpulse_args=()
cgroup_modes=(off v1 v2)
[[ $phases == *" switch "* ]] && phase_switch auto
[[ $phases == *" block "* ]] && phase_block
if [[ $phases == *" fault "* || $phases == *" net "* ]]; then
	if start_kpulse; then
		[[ $phases == *" fault "* ]] && phase_fault
		[[ $phases == *" net "* ]] && phase_net
		stop_kpulse
	else
		fail "kpulse did not start: no fault or network figures"
	fi
fi
[[ $phases == *" cgroups "* ]] || cgroup_modes=()
for mode in "${cgroup_modes[@]}"; do
	kpulse_args=(--cgroups "$mode")
	phase_switch "$mode"
done
kpulse_args=()

if [ "$events_only" = 1 ]; then
	notes+=("BENCH_EVENTS_ONLY=1: throughput, store, /proc pass, models and HTTP benches skipped")
	sysctl -q -w kernel.bpf_stats_enabled="$stats_old" >/dev/null
	summary_args=(--kpulse-bin "$KPULSE_BIN" --probes "$tmp/probes.json")
	for v in "${failures[@]}"; do summary_args+=(--failure "$v"); done
	for v in "${notes[@]}"; do summary_args+=(--note "$v"); done
	"$python" "$benchstat" summary "${summary_args[@]}" "$summary_json" "${fragments[@]}" ||
		{ log "could not write $summary_json"; exit 1; }
	[ ${#failures[@]} = 0 ]
	exit
fi

# Stats cost two clock reads per program run: off again for the throughput
# runs, unless they were on before the bench.
sysctl -q -w kernel.bpf_stats_enabled="$stats_old" >/dev/null
tp_notes=()
[ "$stats_old" = 1 ] && tp_notes+=("kernel.bpf_stats_enabled was 1 before the bench and stayed on, which adds the stats' own cost to every 'on' run")

throughput sched_pipe ops/s "perf bench sched pipe -l $pipe_loops" run_pipe
if [ -n "$fio_file" ] && [ -f "$fio_file" ]; then
	throughput fio_randread IOPS "fio randread 4k O_DIRECT libaio iodepth 16, ${fio_s} s" run_fio
else
	fail "fio_randread: no laid-out fio file (the block phase failed)"
fi

# Store: ingest through the real writer thread into a file on disk, bytes
# per sample, a 24-hour range query at a 1-minute step and a 1-hour raw one,
# and the open chunks' memory; then the same bench on the store before
# compressed chunks, when make bench could build it (targets: >= 1,000,000
# samples/s, <= 2 bytes/sample, queries no slower than before).
if [ -n "${BENCH_STORE_BIN:-}" ] && [ -x "$BENCH_STORE_BIN" ]; then
	echo
	echo "store (targets: ingest >= 1000000 samples/s, <= 2 bytes/sample, queries no slower than the store before chunks):"
	if "$BENCH_STORE_BIN" /var/tmp > "$tmp/store.txt" 2>&1; then
		sed 's/^/  /' "$tmp/store.txt"
	else
		show_tail "$tmp/store.txt"
		fail "store: bench_store failed"
	fi
	if [ -n "${BENCH_STORE_BASELINE_BIN:-}" ] && [ -x "$BENCH_STORE_BASELINE_BIN" ]; then
		echo "  the store before compressed chunks (one row per sample), same bench:"
		if "$BENCH_STORE_BASELINE_BIN" /var/tmp > "$tmp/store_base.txt" 2>&1; then
			sed 's/^/    /' "$tmp/store_base.txt"
		else
			show_tail "$tmp/store_base.txt"
		fi
	else
		notes+=("store baseline skipped: the store before chunks could not be built from git")
	fi
else
	notes+=("store bench skipped: BENCH_STORE_BIN not set (make bench sets it)")
fi

# The /proc pass: CPU per round against a trivial reader of the same kernel
# files (target: at most 1.5 times), and counting TCP sockets by state.
if [ -n "${BENCH_PROCPASS_BIN:-}" ] && [ -x "$BENCH_PROCPASS_BIN" ]; then
	echo
	echo "/proc pass (target: at most 1.5 times the CPU of a trivial reader of the same files):"
	if "$BENCH_PROCPASS_BIN" > "$tmp/procpass.txt" 2>&1; then
		sed 's/^/  /' "$tmp/procpass.txt"
	else
		show_tail "$tmp/procpass.txt"
		fail "procpass: bench_procpass failed"
	fi
else
	notes+=("/proc pass bench skipped: BENCH_PROCPASS_BIN not set (make bench sets it)")
fi

# Models: training and scoring of the multivariate detectors next to a
# brute-force scan, forecast update next to a naive forecaster's.
if [ -n "${BENCH_MODELS_BIN:-}" ] && [ -x "$BENCH_MODELS_BIN" ]; then
	echo
	echo "models (no targets; references measured in the same run):"
	if "$BENCH_MODELS_BIN" > "$tmp/models.txt" 2>&1; then
		sed 's/^/  /' "$tmp/models.txt"
	else
		show_tail "$tmp/models.txt"
		fail "models: bench_models failed"
	fi
else
	notes+=("models bench skipped: BENCH_MODELS_BIN not set (make bench sets it)")
fi
# The streaming anomaly detector: update time per series next to an
# EWMA-only reference in the same run (target < 1 us median) and its state
# size (target < 4 KB per series); then what the models add to a daemon.
if [ -n "${BENCH_DETECTOR_BIN:-}" ] && [ -x "$BENCH_DETECTOR_BIN" ]; then
	echo
	echo "streaming detector:"
	if "$BENCH_DETECTOR_BIN" > "$tmp/detector.txt" 2>&1; then
		sed 's/^/  /' "$tmp/detector.txt"
	else
		show_tail "$tmp/detector.txt"
		fail "detector: bench failed"
	fi
else
	notes+=("detector bench skipped: BENCH_DETECTOR_BIN not set (make bench sets it)")
fi
if [ -x "$here/models_bench.sh" ]; then
	if KPULSE_BIN="$KPULSE_BIN" "$here/models_bench.sh" > "$tmp/models_daemon.txt" 2>&1; then
		sed 's/^/  /' "$tmp/models_daemon.txt"
	else
		show_tail "$tmp/models_daemon.txt"
		fail "models: the daemon's added CPU and memory could not be measured"
	fi
fi

if [ -x "$here/http_bench.sh" ]; then "$here/http_bench.sh" || fail "http: bench failed"; fi
notes+=("bench took $((SECONDS - start_s)) s")
summary_args=(--kpulse-bin "$KPULSE_BIN" --probes "$tmp/probes.json")
if [ "$(stat -c '%Y %s %i' "$KPULSE_BIN" 2>/dev/null)" != "$kpulse_id_start" ]; then
	summary_args+=(--warning "$KPULSE_BIN was replaced while the bench ran: runs may mix two builds")
fi
for v in "${failures[@]}"; do summary_args+=(--failure "$v"); done
for v in "${notes[@]}"; do summary_args+=(--note "$v"); done
"$python" "$benchstat" summary "${summary_args[@]}" "$summary_json" "${fragments[@]}" ||
	{ log "could not write $summary_json"; exit 1; }

[ ${#failures[@]} = 0 ]
