#!/bin/sh
# The daemon's start and stop under valgrind: load every probe, collect and
# store a few rounds, stop on SIGTERM (flush, close). Fails on any memory
# error or definite leak; also runs `kpulse dump` the same way.
set -u
bin=${1:-build/kpulse}
here=$(dirname "$0")
dir=$(mktemp -d /tmp/kpulse-valgrind.XXXXXX)
trap 'rm -rf "$dir"' EXIT
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --suppressions=$here/valgrind.supp"

# show LOG without valgrind's notes that it does not model some bpf(2)
# commands (`unhandled eBPF command`): those are not errors.
show() { grep -v 'unhandled eBPF' "$1" || true; }

if ! $vg "$bin" dump --json --interval 0.5 --count 2 >/dev/null 2>"$dir/dump.log"; then
	show "$dir/dump.log"
	echo "valgrind: kpulse dump failed"
	exit 1
fi

# valgrind cannot run the seccomp(2) call libseccomp makes (it reports the
# syscall as unhandled), so the filter is off here; capabilities and
# no_new_privs are still dropped. tests/daemon/test_privileges.py checks the
# filter without valgrind.
KPULSE_SECCOMP=off $vg "$bin" run --data-dir "$dir/data" --interval 0.5 --flush-interval 0.5 \
	2>"$dir/run.log" &
pid=$!
# Loading under valgrind is slow; wait for the daemon to say it runs.
i=0
while ! grep -q "kpulse running" "$dir/run.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 240 ] || ! kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		show "$dir/run.log"
		echo "valgrind: kpulse run did not start"
		exit 1
	fi
	sleep 0.5
done
sleep 3
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" != 0 ] || ! grep -q "stopped cleanly" "$dir/run.log"; then
	show "$dir/run.log"
	echo "valgrind: kpulse run exited $status"
	exit 1
fi
echo "valgrind: kpulse dump and kpulse run start/stop clean"
