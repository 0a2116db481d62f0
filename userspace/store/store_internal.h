/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_internal.h - what the files of the store module share and nothing
 * outside userspace/store/ may include: the store's state, the schema and
 * connection helpers, the histogram blob codec and the maintenance steps.
 *
 *   store.c        options, open/close, the ingest buffer, the writer thread
 *   store_schema.c connections, pragmas, schema versions and migrations
 *   store_maint.c  rollups and retention (writer thread)
 *   store_query.c  read connections and the query API
 */
#ifndef KPULSE_STORE_INTERNAL_H
#define KPULSE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* ------------------------------------------------------------ schema */

/* PRAGMA application_id of kpulse databases: "kpul". */
#define STORE_APPLICATION_ID 0x6b70756c

/* Maps a SQLite result code to a negative errno. */
int store_sqlite_errno(int rc);
/* The same, preferring the system errno (EROFS, ENOSPC, ENOENT) that
 * caused an I/O or open failure on db (which may be NULL). */
int store_db_errno(sqlite3 *db, int rc);

/*
 * Opens a connection. The writer's connection (writer = true) checks the
 * schema version, switches to WAL, and migrates; a reader's only checks
 * that the schema is the current one. Returns 0 and *ret_db, or a negative
 * errno with a message in err. A refused database is closed without a
 * checkpoint, so its file is not touched.
 */
int store_db_open(const char *path, const char *vfs, int busy_timeout_ms, bool writer,
		  sqlite3 **ret_db, char *err, size_t errlen);

/* Prepares a statement that lives as long as the connection. */
int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt);

/* ------------------------------------------------- histogram blobs */

/* Format byte, slot count, then one LEB128 varint per slot. */
#define STORE_BLOB_MAX (2 + REGISTRY_HIST_SLOTS * 10)

/* Encodes slots up to the last non-zero one; returns the length. */
size_t store_blob_encode(const uint64_t *slots, unsigned char out[STORE_BLOB_MAX]);
/* Decodes into slots[REGISTRY_HIST_SLOTS]; returns 0 or -EBADMSG. */
int store_blob_decode(const void *blob, size_t len, uint64_t *slots);

/* ------------------------------------------------------------ tiers */

/* Seconds per bucket of each rollup tier. */
#define TIER_1M_S 60
#define TIER_1H_S 3600
/* A watermark before any data was written. */
#define WATERMARK_NONE INT64_MAX

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * One aggregate of a span of samples, as a rollup row holds it. Merging
 * two adjacent spans (in time order) gives the aggregate of both.
 */
struct span_agg {
	int64_t n;	 /* samples */
	bool has_values; /* min..last: counters and gauges */
	double min, max, sum, last;
	bool has_inc;
	double inc; /* counters: increase */
	bool has_hist;
	uint64_t hist_count; /* histograms: observations in the span */
	double hist_sum;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

/* One raw sample as read back. */
struct raw_sample {
	int64_t ts_ms;
	bool has_value;
	double value; /* counters, gauges; histograms: the cumulative sum */
	bool has_hist;
	uint64_t hist_count;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

/* Reads the 3 columns from first on (value, hist_count, hist_slots) of a
 * samples_raw row into out (ts_ms is set by the caller). */
int store_raw_from_row(sqlite3_stmt *st, int first, struct raw_sample *out);
/*
 * Adds sample cur to agg: the value to count/min/max/sum/last, and the
 * increase since prev (NULL: none known) for counters and histograms,
 * treating any decrease as a reset to zero.
 */
void store_span_add_raw(struct span_agg *agg, enum metric_type type, const struct raw_sample *prev,
			const struct raw_sample *cur);
/* Merges a later span b into a. */
void store_span_merge(struct span_agg *a, const struct span_agg *b);
/* Reads the 9 columns from first on of a rollup row (count .. hist_slots). */
int store_span_from_row(sqlite3_stmt *st, int first, struct span_agg *out);

/* ------------------------------------------------------------ state */

struct series_ref;
struct chunk;
struct buf_event;

/* Samples and events in arrival order; owned by whoever holds the batch. */
struct batch {
	struct chunk *head, *tail;
	size_t nsamples;
	struct buf_event *ev_head, *ev_tail;
	size_t nevents;
	int64_t min_ts_ms; /* INT64_MAX when empty */
};

/* The writer's prepared statements (all on s->db). */
struct writer_stmts {
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *series_upsert, *raw_insert, *event_insert;
	sqlite3_stmt *meta_get, *meta_set;
	/* rollups */
	sqlite3_stmt *raw_next, *raw_series_in, *raw_rows, *raw_prev, *m1_insert;
	sqlite3_stmt *m1_next, *m1_series_in, *m1_rows, *h1_insert;
	/* retention */
	sqlite3_stmt *del_raw, *del_1m, *del_1h, *del_events, *del_series;
};

/* A rollup in progress: one bucket, its series, how far we got. */
struct rollup_cursor {
	bool active;
	int64_t bucket;
	int64_t *ids;
	enum metric_type *types;
	size_t n, pos, cap;
};

struct store {
	char *path;
	char *wal_path;
	char *vfs;
	struct store_options opts;
	long writer_cache_kib; /* page cache the writer connection has now; 0 = default */
	size_t live_series;    /* series in the latest snapshot (under lock) */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer waits on it */
	pthread_cond_t done; /* flush and maintenance waiters */
	pthread_t writer;
	bool writer_started;

	/* --- under lock --- */
	struct batch incoming;
	size_t buffered_samples; /* incoming + the writer's pending */
	size_t buffered_events;
	struct series_ref **htab;
	size_t hcap, hcount;
	uint64_t round;
	uint64_t evict_round; /* the last round that scanned for idle series */
	bool stop;
	uint64_t flush_req, flush_started, flush_done;
	int flush_err;
	uint64_t maint_req, maint_done;
	int maint_err;
	struct store_stats stats;

	/* --- writer thread only --- */
	sqlite3 *db;
	uint64_t conn_gen; /* bumped at each (re)connect; refs cache ids per gen */
	struct writer_stmts st;
	struct batch pending;
	struct series_ref **txn_refs; /* refs resolved in the open transaction */
	size_t ntxn_refs, txn_refs_cap;
	int64_t wm_1m, wm_1h; /* rollups are complete below these (seconds) */
	struct rollup_cursor cur_1m, cur_1h;
	char werr[STORE_ERROR_MAX]; /* the last failure, for stats */

	/* --- read connections --- */
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	sqlite3 **ridle;
	unsigned nridle, nropen;
};

double store_now(const struct store *s);
double store_mono(void);

/* Prepares the writer's statements on s->db. */
int store_writer_prepare(struct store *s);
void store_writer_finalize(struct store *s);

/* Loads the rollup watermarks from the meta table into s. */
int store_maint_load(struct store *s);
/* Persists a watermark inside the caller's transaction. */
int store_meta_set(struct store *s, const char *key, int64_t value);
/* One bounded maintenance transaction. Returns 1 when it did work (more
 * may remain), 0 when there is nothing to do, or a negative errno. */
int store_maint_step(struct store *s);
void store_maint_reset(struct store *s);
void store_maint_free(struct store *s);

/* Closes the idle read connections (at close, before the writer's). */
void store_readers_close(struct store *s);

/* Writer: the errno of a failed SQLite call on s->db, with the message
 * ("what: sqlite message (code)") left in s->werr. */
int store_wfail(struct store *s, int rc, const char *what);
/* Writer: steps a statement that returns no rows and resets it. Returns 0
 * or store_wfail()'s errno. */
int store_wstep(struct store *s, sqlite3_stmt *st, const char *what);

#endif /* KPULSE_STORE_INTERNAL_H */
