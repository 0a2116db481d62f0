/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * series_select.h - which series the models look at, and their values:
 * host-level series only (no per-process rows), each turned into one
 * number per round:
 *   - counters: the rate per second since the previous round, reset-aware
 *     (a counter that went down restarted from 0, as Prometheus' rate()
 *     assumes);
 *   - histograms: the 0.99 quantile of what arrived since the previous
 *     round (slot deltas), in the series' unit; no value for a round with
 *     nothing new;
 *   - gauges: the value.
 * A counter or histogram has its first value in the second round it is seen.
 *
 * Series are chosen by comma-separated glob patterns (fnmatch) on the
 * metric name: included when a pattern of `include` matches and no
 * pattern of `exclude` does. The word "@custom" stands for every metric
 * whose name does not start with "kpulse_" (what applications push), and
 * "@default" for the default list of its side (so "@default,myapp_*" adds
 * to the defaults). At most max_series are tracked; series beyond
 * are not modelled (counted in skipped).
 *
 * Each modelled series has a stable key, "name{k=v,k=v}:stat" (labels in
 * the registry's sorted order), which the models, the store and the API
 * use to name it.
 *
 * Not thread-safe: one owner (the models sink's thread).
 */
#ifndef KPULSE_MODELS_SERIES_SELECT_H
#define KPULSE_MODELS_SERIES_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* name + "{" + 4 labels + "}:" + stat */
#define SERIES_KEY_MAX	    512
#define SERIES_PATTERNS_MAX 1024

/* The default patterns: host-level kernel series and custom metrics; not
 * per-process rows, kpulse's own health, or the anomaly scores. */
#define SERIES_DEFAULT_INCLUDE                                                                     \
	"kpulse_sched_context_switches_total,kpulse_sched_cpu_busy_seconds_total,"                 \
	"kpulse_sched_runqueue_latency_seconds,kpulse_sched_processes_forked_total,"               \
	"kpulse_mem_page_faults_total,kpulse_mem_direct_reclaim_total,"                            \
	"kpulse_mem_kswapd_wakeups_total,kpulse_mem_oom_kills_total,kpulse_mem_available_bytes,"   \
	"kpulse_mem_swap_free_bytes,kpulse_block_ios_completed_total,kpulse_block_bytes_total,"    \
	"kpulse_block_io_errors_total,kpulse_block_io_latency_seconds,kpulse_net_rx_bytes_total,"  \
	"kpulse_net_tx_bytes_total,kpulse_net_tcp_retransmitted_segments_total,"                   \
	"kpulse_net_packet_drops_total,kpulse_net_tcp_resets_*,kpulse_filesystem_avail_bytes,"     \
	"kpulse_pressure_*,kpulse_mem_major_page_faults_total,@custom"
#define SERIES_DEFAULT_EXCLUDE "*_process_*,*_other_processes_*,kpulse_anomaly_*"

enum series_stat {
	SERIES_STAT_RATE,  /* counter: per second */
	SERIES_STAT_P99,   /* histogram: 0.99 quantile of the round's arrivals */
	SERIES_STAT_VALUE, /* gauge */
};

/* "rate", "p99", "value" */
const char *series_stat_name(enum series_stat stat);

struct series_select_options {
	const char *include; /* comma-separated globs; NULL: "@default" */
	const char *exclude; /* NULL: "@default"; "" excludes nothing */
	size_t max_series;   /* 0: 1000 */
};

/* One modelled series in one round. key and labels live in the selector
 * and stay valid until the next series_select_round() or the free; name is
 * the registry row's, valid as long as series. */
struct series_value {
	const char *key;    /* "name{k=v,...}:stat" */
	const char *name;   /* the metric name (series->name) */
	const char *labels; /* "k=v,k=v" or "" */
	enum series_stat stat;
	double value;
	const struct metric_series *series; /* the registry's row, valid as long as it */
};

struct series_select;

/*
 * Checks the patterns (each non-empty, shorter than SERIES_PATTERNS_MAX in
 * all) and makes a selector. Returns 0 and *ret, -EINVAL (err says which
 * pattern) or -ENOMEM.
 */
int series_select_new(const struct series_select_options *opts, struct series_select **ret,
		      char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
struct series_select *series_select_free(struct series_select *s);

/* True when the name is modelled by the patterns. */
int series_select_match(const struct series_select *s, const char *name);

/*
 * Reads one round (a frozen registry stamped with its timestamp) and fills
 * out[] with up to cap values of the modelled series, in the registry's
 * order. Returns the number filled (0..cap) or -ENOMEM.
 */
long series_select_round(struct series_select *s, const struct registry *reg,
			 struct series_value *out, size_t cap);
/*
 * The same for a second registry of the same round (the custom series
 * clients push, which keep their own timestamps), read as of the round's
 * time ts, after series_select_round(). reg may be NULL (0 filled).
 */
long series_select_more(struct series_select *s, const struct registry *reg, double ts,
			struct series_value *out, size_t cap);

/* Series tracked now, and series seen that did not fit under max_series. */
size_t series_select_tracked(const struct series_select *s);
uint64_t series_select_skipped(const struct series_select *s);

#endif /* KPULSE_MODELS_SERIES_SELECT_H */
