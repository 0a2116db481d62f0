#!/usr/bin/env bash
# eval.sh - the models' accuracy against reference implementations
# (`make eval`; no root needed, about 10 minutes with the statsmodels
# references, under a minute with EVAL_QUICK=1).
#
#  1. Isolation Forest and LOF against scikit-learn: ROC AUC on the same
#     matrices (synthetic with planted outliers, NAB feature windows);
#     fails when they differ by more than 0.02 (tests/eval/mv_sklearn.py).
#  2. Forecasts at a 1-hour horizon (12 steps of 5 min) on the server-like
#     NAB series of forecast_files_dev.txt, rolling origin: MASE relative to
#     seasonal naive and interval coverage of `kpulse forecast`, next to the
#     naive and seasonal naive forecasts and, unless EVAL_QUICK=1, statsmodels'
#     Holt-Winters and ETS (shared/tools/forecast_eval.py).
#  3. `kpulse forecast --backtest` on each of those series (its own table).
#
# Env: KPULSE_BIN, MVSCORE_BIN (make sets both), SHARED (the shared folder
# with data/nab and tools/; default: the first of ../shared, ../../shared),
# EVAL_QUICK, EVAL_HORIZON (12). Results also go to build/eval/.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=/usr/bin/python3
out=$repo/build/eval
horizon=${EVAL_HORIZON:-12}
status=0

if [ -z "${SHARED:-}" ]; then
	for c in "$repo/../shared" "$repo/../../shared"; do
		[ -d "$c/data/nab" ] && { SHARED=$(cd "$c" && pwd); break; }
	done
fi
if [ -z "${SHARED:-}" ] || [ ! -d "$SHARED/data/nab" ]; then
	echo "eval: no shared folder with data/nab (set SHARED)" >&2
	exit 1
fi
for v in KPULSE_BIN MVSCORE_BIN; do
	if [ ! -x "${!v:-}" ]; then
		echo "eval: $v must name a binary (make eval sets it)" >&2
		exit 1
	fi
done
if ! "$python" -c 'import sklearn, statsmodels, pandas' 2>/dev/null; then
	echo "eval: $python lacks sklearn, statsmodels or pandas (make deps installs them)" >&2
	exit 1
fi
mkdir -p "$out"
nab=$SHARED/data/nab
tool=$SHARED/tools/forecast_eval.py
files=$SHARED/tools/forecast_files_dev.txt

echo "== 1. Isolation Forest and LOF vs scikit-learn (ROC AUC)"
"$python" "$here/mv_sklearn.py" --mvscore "$MVSCORE_BIN" --nab-dir "$nab" --seeds 10 \
	--json "$out/mv_sklearn.json" || status=1

echo
echo "== 2. forecasts, horizon $horizon, rolling origin ($tool)"
if [ -f "$tool" ] && [ -f "$files" ]; then
	refs="naive snaive"
	[ "${EVAL_QUICK:-0}" = 1 ] || refs="$refs hw ets"
	"$python" "$tool" --cmd "$KPULSE_BIN forecast --input {input} --horizon {horizon}" \
		--file-list "$files" --data-dir "$nab/data" --horizon "$horizon" \
		--json "$out/forecast_kpulse.json" | tee "$out/forecast_kpulse.txt" | grep -E '^(OVERALL|SKIP|FAIL)' ||
		status=1
	for r in $refs; do
		"$python" "$tool" --ref "$r" --file-list "$files" --data-dir "$nab/data" \
			--horizon "$horizon" --jobs 2 --json "$out/forecast_$r.json" \
			>"$out/forecast_$r.txt" 2>&1 || status=1
		grep '^OVERALL' "$out/forecast_$r.txt"
	done
	echo "(per-file lines: $out/forecast_*.txt)"
else
	echo "eval: $tool or $files missing: skipped"
	status=1
fi

echo
echo "== 3. kpulse forecast --backtest, horizon $horizon"
printf '%-48s %8s %8s %8s %7s %7s\n' series kpulse naive snaive cov80 cov95
while read -r f; do
	case "$f" in '' | \#*) continue ;; esac
	res=$("$KPULSE_BIN" forecast --input "$nab/data/$f" --horizon "$horizon" --backtest 2>&1)
	if [ $? != 0 ]; then
		printf '%-48s %s\n' "$(basename "$f" .csv)" "$(echo "$res" | tail -1)"
		continue
	fi
	echo "$res" | awk -F, -v name="$(basename "$f" .csv)" '
		$1 == "kpulse" { k = $2; c80 = $4; c95 = $5 }
		$1 == "naive" { n = $2 }
		$1 == "snaive" { s = $2 }
		END { printf "%-48s %8.3f %8.3f %8.3f %7.3f %7.3f\n", name, k, n, s, c80, c95 }'
done <"$files" | tee "$out/backtest.txt"
exit $status
