/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store.h - the time-series store: keeps the registry's snapshots and the
 * events in one SQLite database so that history survives restarts and can
 * be queried (REST API, CLI).
 *
 * Data flow: the collector calls store_append_snapshot() once per round; it
 * copies the series into a bounded in-memory buffer and returns at once.
 * One writer thread drains the buffer into the database, one transaction
 * per flush, and between flushes rolls raw samples up into 1-minute and
 * 1-hour tiers and deletes what is past retention, in small transactions.
 * When the database cannot be written (disk full, read-only, locked by
 * another process), the writer keeps the batch and retries with backoff;
 * appends keep filling the buffer and only samples beyond its bound are
 * dropped (and counted). Queries run on their own read connections and may
 * be called from any thread.
 *
 * What is stored:
 *   counters and gauges: every sample's value; rollups keep count, min,
 *     max, sum and last of the values and, for counters, the increase
 *     (reset-aware, so rates survive daemon restarts).
 *   histograms: every sample's cumulative count, sum and log2 slots; rollups
 *     keep the observations made during the bucket (the increase of count,
 *     sum and each slot), which merge by addition, so percentiles can be
 *     computed at every tier.
 *   A sample with no earlier sample of its series contributes no increase
 *   (as in Prometheus): its cumulative value says nothing about when the
 *   counts happened.
 *
 * The rollup tiers hold complete buckets only: a minute is rolled up
 * rollup_delay_s after it ends, an hour once its minutes are.
 *
 * Time is unix seconds (double). Raw timestamps are kept at millisecond
 * resolution; two samples of a series in the same millisecond keep the
 * later one.
 *
 * Thread safety: every function may be called from any thread, except
 * store_close(), which must not run concurrently with any other call on
 * the same store.
 */
#ifndef KPULSE_STORE_H
#define KPULSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/registry.h"

/* The schema this code writes; older databases are migrated at open. */
#define STORE_SCHEMA_VERSION 9
/* The file name the daemon uses inside its data directory. */
#define STORE_DB_FILENAME "kpulse.db"

/* Event type names are [a-z0-9_]{1,31}; comm as the kernel's task comm. */
#define STORE_EVENT_TYPE_MAX 32
#define STORE_COMM_LEN	     16
/* Largest serialized fields object of one event. */
#define STORE_EVENT_FIELDS_MAX 8192
#define STORE_ERROR_MAX	       256

struct store;

#define STORE_NTIERS	   3
#define STORE_TIER_STATS_S 60.0

struct store_options {
	double flush_interval_s;     /* how often the writer commits; default 1 */
	size_t max_buffered_samples; /* samples held while unwritten; 1,000,000 */
	size_t max_buffered_events;  /* events held while unwritten; 100,000 */
	/* distinct series tracked in memory; 100,000. Samples of further
	 * series are dropped until tracked ones go idle (nothing buffered,
	 * absent from the latest append). */
	size_t max_series;
	double retention_raw_s;	   /* 24 h */
	double retention_1m_s;	   /* 30 days */
	double retention_1h_s;	   /* 365 days */
	double retention_events_s; /* 7 days */
	double rollup_delay_s;	   /* a minute is rolled up this long after it ends; 10 */
	/* how often the writer looks for rollup and retention work between
	 * flushes; default 10; 0 = only in store_run_maintenance() */
	double maintenance_interval_s;
	size_t maintenance_batch_rows; /* rows per maintenance transaction; 10,000 */
	/* disk budget of the database's pages (its WAL, bounded by its
	 * checkpoints, comes on top); 0 = none. Past 90% of it, maintenance
	 * drops the oldest raw chunks already rolled up, then the oldest
	 * 1-minute rows already in the hours, then the oldest hours. */
	uint64_t max_bytes;
	int busy_timeout_ms;	 /* wait for another process's lock; 2000 */
	double retry_max_s;	 /* longest backoff after a write error; 30 */
	double close_timeout_s;	 /* how long store_close() retries; 10 */
	size_t max_points;	 /* per series in a range query; 11,000 */
	size_t max_query_series; /* series in a range query; 100 */
	size_t max_list;	 /* series from store_list_series/store_latest; 10,000 */
	size_t max_events;	 /* events from one store_query_events; 10,000 */
	unsigned max_readers;	 /* concurrent read connections; 4 */
	/* Wall clock in unix seconds, used for retention, rollup readiness and
	 * tier choice (sample timestamps come from the caller). NULL: the
	 * real clock. Tests set it to drive rollups deterministically. */
	double (*clock)(void *ctx);
	void *clock_ctx;
	/* SQLite VFS name; NULL for the default. Tests register a VFS that
	 * injects I/O faults. */
	const char *vfs;
};

/* Every field at its default. */
void store_options_default(struct store_options *o);

/*
 * Opens (creating if needed) the database at path, migrates an older
 * schema forward, and starts the writer thread. opts may be NULL for the
 * defaults; the store keeps copies of the strings. Returns 0 and
 * *ret_store, or a negative errno with a one-line reason in err (when err
 * is not NULL): -EINVAL (bad options), -EPROTO (the database was written
 * by a newer kpulse, or is not a kpulse database; it is left untouched),
 * -EACCES / -ENOENT / -EROFS / -EBUSY / -EIO (the file cannot be opened,
 * created or migrated), -ENOMEM.
 */
int store_open(const char *path, const struct store_options *opts, struct store **ret_store,
	       char *err, size_t errlen);

/*
 * Stops the writer after it wrote everything buffered, retrying failed
 * writes for up to close_timeout_s; what is still unwritten then is lost.
 * Call store_flush_sync() first to learn whether everything was written.
 * Accepts NULL; returns NULL.
 */
struct store *store_close(struct store *s);
/* store_close() that also tells how many samples and events it had to
 * give up (0 and 0 when everything was written). */
struct store *store_close_report(struct store *s, uint64_t *ret_lost_samples,
				 uint64_t *ret_lost_events);

/*
 * Copies every series of the registry's current round, stamped with
 * registry_timestamp(), into the buffer. Never blocks on the database.
 * Samples with a value that is not finite (NaN, +-Inf: SQLite would store
 * NaN as NULL) are not stored and are counted in samples_rejected.
 * Returns 0; -ENOBUFS when the buffer (or the series limit) was full and
 * some samples were dropped (counted in samples_dropped, the rest were
 * kept); -EINVAL for a timestamp that is not finite and > 0.
 */
int store_append_snapshot(struct store *s, const struct registry *r);
/* The same for n series given directly, all stamped ts. */
int store_append_series(struct store *s, double ts, const struct metric_series *series, size_t n);

/*
 * Buffers one event. type is [a-z0-9_]{1,31}; comm is truncated to
 * STORE_COMM_LEN - 1 bytes; fields is a JSON object or NULL, borrowed (the
 * store keeps its serialization, without the keys "type", "timestamp",
 * "pid" and "comm" where they equal the event's own). Returns 0, -EINVAL (bad ts, type or
 * fields), -E2BIG (fields longer than STORE_EVENT_FIELDS_MAX serialized),
 * -ENOBUFS (buffer full: dropped and counted) or -ENOMEM.
 */
int store_append_event(struct store *s, double ts, const char *type, int32_t pid, const char *comm,
		       json_t *fields);

/*
 * Asks the writer to write everything appended before the call and waits
 * for that attempt. Returns 0 when it is committed, otherwise the attempt's
 * error (-EBUSY locked by another process, -ENOSPC disk full, -EROFS,
 * -EIO, ...): the data stays buffered and the writer keeps retrying.
 */
int store_flush_sync(struct store *s);

/*
 * Flushes, then runs rollups and retention on the writer thread until
 * nothing is left to do, and waits. The writer does the same work in the
 * background; this is for tests and for tools that want it done now.
 * Returns 0 or the first error.
 */
int store_run_maintenance(struct store *s);

/* ------------------------------------------------------------ health */

struct store_stats {
	uint64_t samples_written;  /* committed to the raw tier */
	uint64_t samples_dropped;  /* buffer or series limit full, or lost at close */
	uint64_t samples_rejected; /* not finite */
	uint64_t samples_buffered; /* appended, not yet committed */
	uint64_t events_written;
	uint64_t events_dropped;
	uint64_t events_buffered;
	uint64_t events_compacted;     /* moved from rows into blocks */
	uint64_t flushes;	       /* committed flush transactions */
	uint64_t write_errors;	       /* failed flush attempts */
	uint64_t maintenance_errors;   /* failed rollup/retention transactions */
	uint64_t consecutive_failures; /* failed flush attempts since the last success */
	uint64_t rollup_rows_written;  /* 1-minute and 1-hour rows written */
	uint64_t rows_deleted;	       /* by retention, all tables */
	uint64_t series_tracked;       /* distinct series in memory */
	uint64_t db_size_bytes;	       /* database file plus its WAL */
	uint64_t open_chunk_bytes;     /* memory of the series' open raw chunks */
	/* per tier (raw, 1m, 1h: enum store_tier): bytes of its table and
	 * index pages, and its oldest time (0 = empty); refreshed by
	 * maintenance at most every STORE_TIER_STATS_S */
	uint64_t tier_bytes[STORE_NTIERS];
	double tier_oldest_ts[STORE_NTIERS];
	uint64_t budget_rows_deleted; /* rows dropped to keep max_bytes */
	double last_flush_latency_s;  /* duration of the last committed flush */
	double last_flush_ts;	      /* wall clock of the last committed flush, 0 = none */
	int last_error;		      /* negative errno of the last write error, 0 = none */
	double last_error_ts;
	char last_error_text[STORE_ERROR_MAX];
};

/* A consistent copy of the counters. */
void store_get_stats(struct store *s, struct store_stats *ret);

/* ------------------------------------------------------------ queries */

enum store_tier {
	STORE_TIER_RAW,
	STORE_TIER_1M,
	STORE_TIER_1H,
};

/* "raw", "1m", "1h" */
const char *store_tier_name(enum store_tier tier);

/* A metric name and exact label matchers. */
struct store_selector {
	const char *name; /* NULL lists every name (list and latest only) */
	struct metric_label matchers[REGISTRY_MAX_LABELS];
	size_t nmatchers;
};

enum store_agg {
	STORE_AGG_AVG,	    /* histograms: mean observation (sum / count) */
	STORE_AGG_MIN,	    /* counters and gauges */
	STORE_AGG_MAX,	    /* counters and gauges */
	STORE_AGG_SUM,	    /* counters and gauges: sum of the samples */
	STORE_AGG_LAST,	    /* counters and gauges */
	STORE_AGG_RATE,	    /* counters: increase per second; histograms: observations per second */
	STORE_AGG_QUANTILE, /* histograms: the quantile of the observations in the step */
};

/* Parses "avg", "min", "max", "sum", "last", "rate" and "p<N>" (p50, p99,
 * p99.9: quantile N / 100). Returns 0 or -EINVAL. */
int store_agg_parse(const char *text, enum store_agg *ret_agg, double *ret_quantile);

struct store_range_query {
	struct store_selector selector; /* name required */
	double from, to;		/* inclusive, from <= to */
	double step;			/* > 0 */
	enum store_agg agg;
	double quantile; /* in [0, 1], for STORE_AGG_QUANTILE */
};

/* Identity of one stored series. */
struct store_series_info {
	int64_t id;
	char name[REGISTRY_NAME_MAX];
	char label_keys[REGISTRY_MAX_LABELS][REGISTRY_LABEL_KEY_MAX];
	char label_values[REGISTRY_MAX_LABELS][REGISTRY_LABEL_VALUE_MAX];
	size_t nlabels;
	enum metric_type type;
	double scale; /* histograms: base unit to the series' unit */
};

struct store_point {
	double ts; /* start of the step */
	double value;
};

struct store_range_series {
	struct store_series_info info;
	struct store_point *points; /* steps with data only, in time order */
	size_t npoints;
};

struct store_range_result {
	enum store_tier tier; /* where the points came from */
	double step;
	struct store_range_series *series;
	size_t nseries;
};

struct store_range_result *store_range_result_free(struct store_range_result *r);

/*
 * Aggregates each matching series over steps: point k covers samples with
 * from + k*step <= ts < from + (k+1)*step and ts <= to. The tier follows
 * the step (< 60 s raw, < 3600 s 1-minute, else 1-hour), moving to a
 * coarser one when retention has removed `from` from the finer one; a
 * rollup row counts in the step holding its bucket start. Steps without
 * data have no point. Returns 0 and *ret_result (possibly with no series);
 * -EINVAL (bad selector, from > to, step <= 0, an aggregation that does not
 * fit the series type, quantile outside [0, 1]); -E2BIG (more than
 * max_query_series series match, or more than max_points steps); -ENOMEM;
 * -EBUSY / -EIO from the database.
 */
int store_query_range(struct store *s, const struct store_range_query *q,
		      struct store_range_result **ret_result);

struct store_latest_sample {
	double ts;
	struct metric_series series; /* identity and value / histogram */
};

struct store_latest_result {
	struct store_latest_sample *samples;
	size_t n;
};

struct store_latest_result *store_latest_result_free(struct store_latest_result *r);

/*
 * The most recent snapshot written: the samples sharing the newest raw
 * timestamp, of the series matching sel (NULL: all), by name then labels.
 * Returns 0 and *ret_result (empty when nothing is stored), -EINVAL,
 * -E2BIG (more than max_list samples), -ENOMEM or a database error.
 */
int store_latest(struct store *s, const struct store_selector *sel,
		 struct store_latest_result **ret_result);

struct store_series_list {
	struct store_series_info *series;
	size_t n;
};

struct store_series_list *store_series_list_free(struct store_series_list *l);

/* Stored series matching sel (NULL: all), by name then labels. Returns 0,
 * -EINVAL, -E2BIG (more than max_list), -ENOMEM or a database error. */
int store_list_series(struct store *s, const struct store_selector *sel,
		      struct store_series_list **ret_list);

struct store_event_query {
	const char *type; /* NULL: every type */
	double from, to;  /* inclusive */
	size_t limit;	  /* 1 .. max_events */
	bool newest_first;
};

struct store_event {
	int64_t id;
	double ts;
	char type[STORE_EVENT_TYPE_MAX];
	int32_t pid;
	char comm[STORE_COMM_LEN];
	json_t *fields; /* owned by the list */
};

struct store_event_list {
	struct store_event *events;
	size_t n;
};

struct store_event_list *store_event_list_free(struct store_event_list *l);

/* Events with from <= ts <= to, oldest first (or newest first), at most
 * limit. Returns 0, -EINVAL (from > to, bad type, limit 0), -E2BIG (limit
 * above max_events), -ENOMEM or a database error. */
int store_query_events(struct store *s, const struct store_event_query *q,
		       struct store_event_list **ret_list);

/* ------------------------------------------------------------ models */

/*
 * Anomalies and detector state (store_models.c). The models sink writes
 * through connections of its own (struct store_models), on its own
 * thread, so it never waits on the sample writer. A connection lives for
 * one transaction (store_models_begin() .. commit or rollback) or one
 * call, never between rounds: after a disk fault nothing of the models
 * keeps the database files open.
 */

/* One anomaly record. Strings are owned by the record (or the list). */
struct store_anomaly {
	int64_t id;
	char *series;
	double start_ts, end_ts; /* unix seconds */
	bool open;
	char *severity;	    /* "info", "warning", "critical" */
	double peak_score;  /* [0, 1] */
	char *detectors;    /* "stream,iforest" */
	char *contributors; /* JSON array: [{"series": KEY, "weight": W}, ...] */
};

struct store_models;

/* Makes the models' handle, checking that a connection can be opened.
 * Returns 0 and *ret, or a negative errno with a message in err. */
int store_models_open(struct store *s, struct store_models **ret, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
struct store_models *store_models_close(struct store_models *m);

/* Inserts or replaces the record with a->id, inside a transaction.
 * Returns 0 or a negative errno (-EINVAL for NULL strings, a score out of
 * [0, 1], an end before the start, or no transaction). */
int store_models_put_anomaly(struct store_models *m, const struct store_anomaly *a);
/* Marks every open anomaly ended (at start: the previous daemon stopped).
 * Returns 0 or a negative errno. */
int store_models_end_open(struct store_models *m);
/* The highest anomaly id so far (0 when none). */
int store_models_max_id(struct store_models *m, int64_t *ret_id);

/* Saves one series' detector state (replacing the previous), inside a
 * transaction. Returns 0 or a negative errno. */
int store_models_put_state(struct store_models *m, const char *series, const char *kind, double ts,
			   const void *blob, size_t len);
/* A write transaction on a new connection; commit or rollback closes it.
 * Returns 0, -EBUSY (one is open) or a database error. */
int store_models_begin(struct store_models *m);
int store_models_commit(struct store_models *m);
void store_models_rollback(struct store_models *m);
/* Calls fn for each saved state, stopping at the first non-zero return
 * (which it returns). Returns 0 or a negative errno. */
int store_models_load_states(struct store_models *m,
			     int (*fn)(void *ctx, const char *series, const char *kind, double ts,
				       const void *blob, size_t len),
			     void *ctx);
/* Deletes anomalies that ended before `before` and states not updated
 * since `state_before`. Returns 0 or a negative errno. */
int store_models_prune(struct store_models *m, double before, double state_before);

/* The anomalies of a query, newest first. */
struct store_anomaly_query {
	double from, to;      /* those overlapping [from, to] */
	const char *severity; /* at least this severity; NULL: all */
	const char *series;   /* whose series or a contributor is this key; NULL: all */
	size_t limit;	      /* 1..10000 */
};

struct store_anomaly_list {
	struct store_anomaly *items;
	size_t n;
};

struct store_anomaly_list *store_anomaly_list_free(struct store_anomaly_list *l);

/* Returns 0 and *ret, -EINVAL (from > to, unknown severity, limit out of
 * range), -ENOMEM or a database error. */
int store_query_anomalies(struct store *s, const struct store_anomaly_query *q,
			  struct store_anomaly_list **ret);

/* ------------------------------------------------------------ LLM cache */

/*
 * Answers of LLM providers (store_llm.c), keyed by the SHA-256 of the
 * provider, the model and the prompt (llm/ computes it), each with an
 * expiry. Every call opens a connection of its own for its duration: the
 * calls are rare (one per explained incident), so the cache never keeps
 * the database open and never waits on the sample writer beyond SQLite's
 * busy timeout. The table holds at most STORE_LLM_MAX_ENTRIES rows.
 */
#define STORE_LLM_KEY_BYTES   32
#define STORE_LLM_MAX_ENTRIES 10000

struct store_llm_entry {
	char *provider; /* owned, like every string here */
	char *model;
	char *prompt; /* the prompt as sent (keys travel in headers, never here) */
	char *answer;
	int64_t prompt_tokens; /* -1: not reported */
	int64_t completion_tokens;
	double latency_s;  /* of the call that produced the answer */
	double created_ts; /* unix seconds */
	double expires_ts;
};

/* Frees the strings and zeroes *e; accepts NULL. */
void store_llm_entry_clear(struct store_llm_entry *e);

/* The entry under key unless it expired by now. Returns 0 and *ret (the
 * caller clears it), -ENOENT when there is none or it expired, -ENOMEM or
 * a database error. */
int store_llm_cache_get(struct store *s, const unsigned char key[STORE_LLM_KEY_BYTES], double now,
			struct store_llm_entry *ret);

/* Stores e under key, replacing, and deletes the entries expired at
 * e->created_ts and the oldest beyond STORE_LLM_MAX_ENTRIES. Returns 0,
 * -EINVAL (a NULL string, times not finite, expiry before creation), or a
 * database error. */
int store_llm_cache_put(struct store *s, const unsigned char key[STORE_LLM_KEY_BYTES],
			const struct store_llm_entry *e);

/* ------------------------------------------------------------ incidents */

/*
 * Incidents, their timelines and analyses, and the audit log
 * (store_incidents.c). Like the LLM cache, every call opens a connection
 * of its own for its duration: incidents change a few times a minute at
 * most. Documents go in and out as JSON (jansson), the shape the API
 * serves; the store checks only what it indexes.
 */
#define STORE_INCIDENT_STATE_MAX 16
/* Rows kept per incident (further timeline entries and analyses are refused
 * with -ENOSPC) and in the audit log (the oldest go). */
#define STORE_INCIDENT_TIMELINE_MAX 1000
#define STORE_INCIDENT_ANALYSES_MAX 200
#define STORE_AUDIT_MAX		    100000

struct store_incident {
	int64_t id; /* > 0 */
	double opened_ts, updated_ts;
	double resolved_ts; /* 0: not resolved */
	const char *state;  /* "open", "acknowledged", "resolved" */
	const char *severity;
	const char *summary;
	json_t *doc; /* an object: parts, subsystems, evidence, reading, ... */
};

/* Inserts or replaces the row of inc->id. Returns 0, -EINVAL or a database
 * error. */
int store_incident_save(struct store *s, const struct store_incident *inc);
/* Appends a timeline entry. Returns 0, -EINVAL, -ENOSPC (the incident has
 * STORE_INCIDENT_TIMELINE_MAX) or a database error. */
int store_incident_timeline_add(struct store *s, int64_t id, double ts, const char *kind,
				const char *who, const char *detail);
/* Appends an analysis (an object). Returns 0, -EINVAL, -ENOSPC or a
 * database error. */
int store_incident_analysis_add(struct store *s, int64_t id, double ts, json_t *doc);
/* The highest incident id (0: none). */
int store_incident_max_id(struct store *s, int64_t *ret_id);

/* The incident as the API serves it: the row's columns and document
 * members, "timeline" [{id, ts, kind, who, detail}] and "analyses" (each
 * document with its ts). Returns 0 and *ret, -ENOENT, -ENOMEM or a
 * database error. */
int store_incident_get(struct store *s, int64_t id, json_t **ret);

struct store_incident_query {
	const char *state;    /* "open", "acknowledged", "resolved", "active" (not
				 resolved) or NULL: all */
	const char *severity; /* at least this; NULL: all */
	double from, to;      /* opened within; to 0: no bound */
	size_t limit;	      /* 1..1000 */
	size_t offset;
};

/* Incidents newest first without timeline and analyses (and with the
 * evidence left out of the document), and how many match in all. Returns
 * 0, -EINVAL, -ENOMEM or a database error. */
int store_incident_list(struct store *s, const struct store_incident_query *q, json_t **ret_items,
			int64_t *ret_total);

/* Appends to the audit log. Returns 0, -EINVAL or a database error. */
int store_audit_add(struct store *s, double ts, const char *who, const char *role,
		    const char *action, const char *target, const char *detail);
/* Audit entries with from <= ts <= to, newest first: [{id, ts, who, role,
 * action, target, detail}]. limit 1..1000. Returns 0, -EINVAL, -ENOMEM or
 * a database error. */
int store_audit_list(struct store *s, double from, double to, size_t limit, size_t offset,
		     json_t **ret_items, int64_t *ret_total);

#endif /* KPULSE_STORE_H */
