#!/usr/bin/env bash
# nab_eval.sh - `make eval`: replays every CSV of the NAB subset in
# ../shared/data/nab through `kpulse replay` (the daemon's detector, no
# look-ahead) and scores the outputs with ../shared/tools/nabscore.py
# (normalised NAB score per cost profile, threshold chosen as NAB does).
# Skips with a message when ../shared is absent.
#
# Env: KPULSE_BIN (required), EVAL_DETECTOR (default stream),
# EVAL_SHARED (default: ../shared beside the checkout), EVAL_ARGS (extra
# nabscore.py arguments, such as --per-file).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${EVAL_SHARED:-${SHARED:-}}
if [ -z "$shared" ]; then
	# beside the checkout, or beside the folder of worktrees
	for c in "$repo/../shared" "$repo/../../shared"; do
		[ -d "$c/data/nab" ] && { shared=$c; break; }
	done
	shared=${shared:-$repo/../shared}
fi
detector=${EVAL_DETECTOR:-stream}
nab=$shared/data/nab
scorer=$shared/tools/nabscore.py
python=/usr/bin/python3

if [ ! -d "$nab/data" ] || [ ! -f "$scorer" ]; then
	echo "eval: skipped: no NAB data at $nab (needs ../shared beside the checkout)"
	exit 0
fi
if [ -z "${KPULSE_BIN:-}" ] || [ ! -x "$KPULSE_BIN" ]; then
	echo "eval: KPULSE_BIN must name the kpulse binary; run 'make eval'" >&2
	exit 1
fi
out=$repo/build/eval/$detector
rm -rf "$out"
mkdir -p "$out"
n=0
while IFS= read -r -d '' f; do
	rel=${f#"$nab/data/"}
	mkdir -p "$out/$(dirname "$rel")"
	if ! "$KPULSE_BIN" replay --detector "$detector" --input "$f" --output "$out/$rel"; then
		echo "eval: replay failed on $rel" >&2
		exit 1
	fi
	n=$((n + 1))
done < <(find "$nab/data" -name '*.csv' -print0 | sort -z)
echo "eval: detector $detector, $n files replayed into $out"
# shellcheck disable=SC2086
"$python" "$scorer" --data "$nab/data" --labels "$nab/labels/combined_windows.json" \
	--results "$out" ${EVAL_ARGS:-}
