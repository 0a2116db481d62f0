/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * registry.h - the one metric registry. Every collector writes its series
 * here once per interval; every consumer (dump, top, store, REST API,
 * Prometheus export, models) reads from here. Series are named
 * Prometheus-style (kpulse_<subsystem>_<what>_<unit>, counters end in
 * _total) and carry at most REGISTRY_MAX_LABELS bounded labels.
 *
 * One collection round is registry_begin() .. registry_end(): series that
 * were not set during the round (a process that left the top-K, an
 * interface that went away) are dropped at registry_end(), so a snapshot
 * holds exactly what the last round saw.
 *
 * Ownership: the registry owns every string and buffer it holds; callers
 * pass borrowed pointers that are copied. Not thread-safe: the collector
 * owns it, and consumers on other threads read a copy (registry_copy).
 */
#ifndef KPULSE_REGISTRY_H
#define KPULSE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define REGISTRY_NAME_MAX	 96
#define REGISTRY_LABEL_KEY_MAX	 32
#define REGISTRY_LABEL_VALUE_MAX 64
#define REGISTRY_MAX_LABELS	 4
/* Bounds memory when a label goes unbounded by mistake; ~5,000 is normal. */
#define REGISTRY_MAX_SERIES 16384
/* Log2 histograms: slot i holds values in [2^i, 2^(i+1)) of the base unit. */
#define REGISTRY_HIST_SLOTS 40

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* "counter", "gauge", "histogram"; "unknown" for a value out of range. */
const char *metric_type_name(enum metric_type type);
/* The reverse; returns 0 and *ret_type, or -EINVAL for any other text. */
int metric_type_parse(const char *text, enum metric_type *ret_type);

/* Prometheus metric names, [a-zA-Z_:][a-zA-Z0-9_:]*, shorter than
 * REGISTRY_NAME_MAX; and label keys, [a-zA-Z_][a-zA-Z0-9_]*, shorter than
 * REGISTRY_LABEL_KEY_MAX. NULL is not valid. */
bool metric_name_valid(const char *name);
bool metric_label_key_valid(const char *key);

struct metric_label {
	const char *key;
	const char *value;
};

/*
 * A series as the registry hands it out. slots is the last member: the
 * registry keeps it only for histograms (320 of a series' 856 bytes; most
 * series are counters and gauges), so a series of another type ends where
 * slots begins. Read slots only when type is METRIC_HISTOGRAM, and copy a
 * series the registry handed out with metric_series_copy(), never whole
 * (*dst = *s reads past the end of a counter or a gauge).
 */
struct metric_series {
	char name[REGISTRY_NAME_MAX];
	char label_keys[REGISTRY_MAX_LABELS][REGISTRY_LABEL_KEY_MAX];
	char label_values[REGISTRY_MAX_LABELS][REGISTRY_LABEL_VALUE_MAX];
	size_t nlabels;
	enum metric_type type;
	double value; /* counters and gauges */
	uint64_t generation;
	/* histograms: the count, the sum, the scale that turns the base unit
	 * into the series' unit (1e-9: ns -> s), and the raw log2 slot counts
	 * in the base unit (last: see above) */
	uint64_t hist_count;
	double hist_sum; /* already scaled */
	double scale;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

/* Copies the fields src's type has into a whole struct: for a counter or a
 * gauge dst's slots are zeroed, not read from src. */
void metric_series_copy(struct metric_series *dst, const struct metric_series *src);

struct registry;

struct registry *registry_new(void);
/* Frees everything; accepts NULL; returns NULL. */
struct registry *registry_free(struct registry *r);

/* Starts a collection round stamped with wall-clock time and the interval
 * it covers. */
void registry_begin(struct registry *r, double timestamp, double interval_s);
/* Ends a round: drops the series that were not set during it. */
void registry_end(struct registry *r);

/*
 * Set one series' value for this round, creating it when new. Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]*, label keys [a-zA-Z_][a-zA-Z0-9_]*, values
 * are truncated to REGISTRY_LABEL_VALUE_MAX - 1 bytes without splitting a
 * UTF-8 character; invalid UTF-8 bytes and control characters are escaped
 * as \xNN (util/utf8.h).
 * Labels are stored sorted by key so that the same set in any order is the
 * same series. Returns 0, -EINVAL (bad name, label, duplicate label key,
 * type clash with an existing series of that name; for histograms NULL
 * slots or a scale that is not finite and > 0), -ENOSPC (a new series
 * beyond REGISTRY_MAX_SERIES) or -ENOMEM. On failure nothing changes.
 */
int registry_set_counter(struct registry *r, const char *name, const struct metric_label *labels,
			 size_t nlabels, double value);
int registry_set_gauge(struct registry *r, const char *name, const struct metric_label *labels,
		       size_t nlabels, double value);
/* slots has REGISTRY_HIST_SLOTS entries; sum is in the base unit; scale
 * converts base unit to the exported unit (bounds and sum). */
int registry_set_histogram(struct registry *r, const char *name, const struct metric_label *labels,
			   size_t nlabels, const uint64_t *slots, uint64_t count, double sum,
			   double scale);

/* Attach a help text to a metric name (shown by text and Prometheus
 * output). Copies the string; kept across rounds. Returns 0, -EINVAL (bad
 * name, NULL help) or -ENOMEM. */
int registry_describe(struct registry *r, const char *name, const char *help);
const char *registry_help(const struct registry *r, const char *name);

size_t registry_size(const struct registry *r);
/* Series in a stable order: by name, then label values in natural order
 * (cpu="2" before cpu="10"). Valid until the next set/begin/end. NULL when
 * i is out of range. The first read after new series were added sorts the
 * registry (a cache, no visible change); a copy is born sorted, so readers
 * that share a copy never write to it. */
const struct metric_series *registry_at(const struct registry *r, size_t i);
/* Exact lookup; NULL when absent. */
const struct metric_series *registry_find(const struct registry *r, const char *name,
					  const struct metric_label *labels, size_t nlabels);
const char *metric_series_label(const struct metric_series *s, const char *key);

double registry_timestamp(const struct registry *r);
double registry_interval(const struct registry *r);

/* A deep copy for readers on other threads; NULL on ENOMEM. */
struct registry *registry_copy(const struct registry *r);

/*
 * The `kpulse dump --json` line: {"timestamp", "interval_s", "metrics":
 * [{"name", "labels", "type", "value"} | histogram: "count", "sum",
 * "buckets": [[upper_bound, cumulative_count], ...]]}. Buckets list the
 * finite upper bounds up to the highest non-empty slot, scaled to the
 * series unit. JSON has no NaN or infinity: such values are written as
 * null. NULL on ENOMEM.
 */
json_t *registry_to_json(const struct registry *r);
/* A readable table, one series per line: name{labels} padded to one
 * column, then the value, or for histograms count, mean, p50 and p99 in the
 * series unit ("-" when there is no value). A "# name: help" line heads each
 * described metric. Returns 0, -EINVAL or the write error (-errno). */
int registry_write_text(const struct registry *r, FILE *out);

#endif /* KPULSE_REGISTRY_H */
