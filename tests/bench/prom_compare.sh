#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# prom_compare.sh - bytes per sample on disk: kpulse's store against a real
# Prometheus (Debian's `prometheus`) scraping the same daemon's /metrics at
# the daemon's interval, over the same window (PROM_COMPARE_S, default
# 600 s; the issue asks for an hour: PROM_COMPARE_S=3600). Not part of make
# test or make bench (it takes the window's length): `make bench-prometheus`.
#
# kpulse:     (db + WAL at the end) - (db + WAL after the first minute), over
#             the samples written in between (kpulse_store_samples_written_total).
# Prometheus: its TSDB holds the window in its head (memory, the WAL and
#             the full head chunks mapped to disk) until a 2-hour block is
#             cut, so two figures: its data dir's growth over the samples it
#             appended, and the block a head snapshot writes (the compressed
#             chunks Prometheus keeps for good) over the samples in it.
# kpulse's database growth is also split by part (events, raw chunks,
# rollups, the other tables; dbstat through the sqlite3 shell), with the
# figure without events, which Prometheus does not keep, and the pages'
# growth without events and without the WAL (whose size at the two ends
# moves a short window's figure by up to 1 MiB).
# Everything listens on 127.0.0.1 only.
set -u

kpulse_bin=${KPULSE_BIN:-build/kpulse}
window_s=${PROM_COMPARE_S:-600}
interval_s=${PROM_COMPARE_INTERVAL:-1}
warmup_s=60
tmp=$(mktemp -d /var/tmp/kpulse-prom-XXXXXX)
kpulse_pid="" prom_pid=""

cleanup() {
	[ -n "$kpulse_pid" ] && kill "$kpulse_pid" 2>/dev/null && wait "$kpulse_pid" 2>/dev/null
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

log() { echo "prom_compare: $*" >&2; }

command -v prometheus >/dev/null || { log "prometheus not installed (make deps)"; exit 1; }

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

kport=$(free_port)
pport=$(free_port)
: >"$tmp/empty.env"
env -u KPULSE_METRICS_AUTH "$kpulse_bin" run --env-file "$tmp/empty.env" --data-dir "$tmp/kpulse" \
	--listen "127.0.0.1:$kport" --interval "$interval_s" >"$tmp/kpulse.log" 2>&1 &
kpulse_pid=$!
for _ in $(seq 100); do
	curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$kport/metrics" 2>/dev/null && break
	sleep 0.2
done
curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$kport/metrics" ||
	{ log "kpulse does not serve /metrics:"; tail -20 "$tmp/kpulse.log" >&2; exit 1; }

cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: ${interval_s}s
  scrape_timeout: ${interval_s}s
scrape_configs:
  - job_name: kpulse
    static_configs:
      - targets: ["127.0.0.1:$kport"]
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
	--web.listen-address="127.0.0.1:$pport" --web.enable-admin-api \
	>"$tmp/prom.log" 2>&1 &
prom_pid=$!

sizes() { # bytes of the files under $1
	du -sb "$1" 2>/dev/null | cut -f1
}
kpulse_written() {
	curl -fsS --max-time 5 "http://127.0.0.1:$kport/metrics" |
		awk '$1 == "kpulse_store_samples_written_total" { printf "%d\n", $2 }'
}
prom_query() { # a counter of Prometheus's own /metrics (it does not scrape itself here)
	curl -fsS --max-time 10 "http://127.0.0.1:$pport/metrics" |
		awk -v n="$1" 'index($1, n) == 1 && substr($1, length(n) + 1, 1) ~ /^[{]?$/ { s += $2 }
			END { printf "%d\n", s }'
}

# bytes of the store's pages by part (dbstat, read-only beside the
# writer): "events raw rollups model_state series other freelist"
store_parts() {
	sqlite3 -readonly "$tmp/kpulse/kpulse.db" "SELECT
		sum(CASE WHEN name LIKE 'event%' THEN pgsize ELSE 0 END),
		sum(CASE WHEN name LIKE '%chunks_raw%' THEN pgsize ELSE 0 END),
		sum(CASE WHEN name LIKE 'samples_1%' OR name LIKE '%chunks_1m%' THEN pgsize ELSE 0 END),
		sum(CASE WHEN name LIKE 'model_state%' THEN pgsize ELSE 0 END),
		sum(CASE WHEN name = 'series' OR name LIKE 'series_%'
			OR name = 'sqlite_autoindex_series_1' THEN pgsize ELSE 0 END),
		sum(CASE WHEN name NOT LIKE 'event%' AND name NOT LIKE '%chunks_raw%'
			AND name NOT LIKE 'samples_1%' AND name NOT LIKE '%chunks_1m%'
			AND name NOT LIKE 'model_state%'
			AND name <> 'series' AND name NOT LIKE 'series_%'
			AND name <> 'sqlite_autoindex_series_1' THEN pgsize ELSE 0 END),
		(SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size)
		FROM dbstat" 2>/dev/null | tr '|' ' '
}
wal_size() {
	stat -c %s "$tmp/kpulse/kpulse.db-wal" 2>/dev/null || echo 0
}
store_events() {
	sqlite3 -readonly "$tmp/kpulse/kpulse.db" "SELECT (SELECT count(*) FROM events) +
		(SELECT coalesce(sum(n), 0) FROM event_blocks)" 2>/dev/null
}

sleep "$warmup_s"
parts0=$(store_parts)
ev0=$(store_events)
wal0=$(wal_size)
k0=$(sizes "$tmp/kpulse")
kw0=$(kpulse_written)
p0=$(sizes "$tmp/prom")
pa0=$(prom_query prometheus_tsdb_head_samples_appended_total)
log "window of ${window_s}s starts ($kw0 samples in kpulse, $pa0 in Prometheus)"
sleep "$window_s"
k1=$(sizes "$tmp/kpulse")
parts1=$(store_parts)
ev1=$(store_events)
wal1=$(wal_size)
kw1=$(kpulse_written)
p1=$(sizes "$tmp/prom")
pa1=$(prom_query prometheus_tsdb_head_samples_appended_total)
series=$(prom_query prometheus_tsdb_head_series)

# the head as a block: what Prometheus keeps once it compacts
snap=$(curl -fsS --max-time 120 -X POST "http://127.0.0.1:$pport/api/v1/admin/tsdb/snapshot" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["name"])')
block_bytes=0 block_samples=0
for meta in "$tmp/prom/snapshots/$snap"/*/meta.json; do
	[ -f "$meta" ] || continue
	d=$(dirname "$meta")
	block_bytes=$((block_bytes + $(du -sb "$d/chunks" | cut -f1) + $(stat -c %s "$d/index")))
	block_samples=$((block_samples + $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["numSamples"])' "$meta")))
done

/usr/bin/python3 - "$window_s" "$interval_s" "$k0" "$k1" "$kw0" "$kw1" "$p0" "$p1" "$pa0" "$pa1" \
	"$series" "$block_bytes" "$block_samples" "${parts0:-}" "${parts1:-}" "${ev0:-0}" "${ev1:-0}" \
	"$wal0" "$wal1" <<'EOF'
import sys
(w, iv, k0, k1, kw0, kw1, p0, p1, pa0, pa1, series, bb, bs, parts0, parts1, ev0, ev1, wal0,
 wal1) = sys.argv[1:]
k = (int(k1) - int(k0)) / max(1, int(kw1) - int(kw0))
p = (int(p1) - int(p0)) / max(1, int(pa1) - int(pa0))
b = int(bb) / max(1, int(bs))
print(f"window {w} s at a {iv} s interval after a minute's warm-up; kpulse wrote "
      f"{int(kw1) - int(kw0)} samples, Prometheus appended {int(pa1) - int(pa0)} "
      f"({series} series)")
print(f"kpulse store (db + WAL growth): {k:.2f} bytes/sample")
print(f"Prometheus data dir growth:     {p:.2f} bytes/sample (WAL + head chunks)")
print(f"Prometheus head as a block:     {b:.2f} bytes/sample ({bs} samples, chunks + index)")
print(f"kpulse / Prometheus block:      {k / b if b else float('nan'):.2f} per sample")
# A kpulse histogram sample holds all its slots, which Prometheus keeps as
# one series per bucket: the same information's bytes, over the window
kb = int(k1) - int(k0)
pb = int(bb) * (int(pa1) - int(pa0)) / max(1, int(bs))
print(f"same window, same information: kpulse {kb} bytes, Prometheus about {pb:.0f} bytes "
      f"as blocks (ratio {kb / pb if pb else float('nan'):.2f})")
# where kpulse's growth went: the database's pages by part (the WAL and
# the other files are the rest of the data dir's growth)
try:
    part0 = [int(x or 0) for x in parts0.split()]
    part1 = [int(x or 0) for x in parts1.split()]
    if len(part0) != 7 or len(part1) != 7:
        raise ValueError
    ns = max(1, int(kw1) - int(kw0))
    names = ("events", "raw chunks", "rollups", "model_state", "series", "other tables",
             "free pages")
    d = [y - x for x, y in zip(part0, part1)]
    print("kpulse database growth by part: " + ", ".join(
        f"{n} {v} bytes ({v / ns:.2f}/sample)" for n, v in zip(names, d)) +
        f"; {int(ev1) - int(ev0)} events stored; WAL {wal0} bytes at the start, "
        f"{wal1} at the end")
    ke = (kb - d[0]) / ns
    print(f"kpulse store without events:    {ke:.2f} bytes/sample "
          f"(kpulse / Prometheus block {ke / b if b else float('nan'):.2f})")
    # the WAL's size at the two ends (0 to past 1 MiB, truncated after a
    # flush leaves it there) moves the figures above by up to 1 MiB over
    # the window; the database's pages alone do not depend on it
    kp = (sum(d) - d[0]) / ns
    print(f"kpulse pages without events:    {kp:.2f} bytes/sample, no WAL "
          f"(kpulse / Prometheus block {kp / b if b else float('nan'):.2f})")
except ValueError:
    print("kpulse database growth by part: unknown (no sqlite3 shell with dbstat)")
EOF
