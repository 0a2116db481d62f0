#!/bin/sh
# Runs kpulse's start and stop under valgrind: load every probe, take two
# snapshots, unload. Fails on any memory error or definite leak.
set -eu
bin=${1:-build/kpulse}
exec valgrind --quiet --suppressions="$(dirname "$0")/valgrind.supp" --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite "$bin" dump --json --interval 0.5 --count 2 >/dev/null
