/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_internal.h - what the files of the store module share and nothing
 * outside userspace/store/ may include (but the store's own tests): the
 * store's state, and the functions each file offers the others.
 *
 * Which file owns what:
 *
 *   store.c           the life cycle: options, open, close, stats
 *   store_ingest.c    the bounded buffer: appends of samples and events,
 *                     from any thread, never waiting for the database
 *   store_series.c    the interned series the buffered samples point to
 *   store_writer.c    the writer thread: flushes, retries with backoff,
 *                     the flush and maintenance requests callers wait on
 *   store_maint.c     rollups, retention and their watermarks (writer)
 *   store_query.c     the query API
 *   store_encode.c    how data sits in rows: the raw tier's SQL and
 *                     sample codec, rollup rows, histogram blobs
 *   store_aggregate.c the span aggregate rollups and queries both build
 *   store_event_block.c the codec of event blocks (store_event_block.h):
 *                     pure code, like store_chunk.c
 *   store_schema.c    connections (the read pool too), pragmas, schema
 *                     versions, migrations, SQLite errors as errno
 *   store_llm.c       the cache of LLM answers, on short connections of its
 *                     own; it calls store_schema.c only and nothing calls it
 *
 * Who calls whom. Each file calls only files on layers below its own,
 * so the files have no cycle (checked with nm on the objects):
 *
 *   top      store.c
 *                |
 *   upper    store_query.c            store_writer.c
 *                |                     |          |
 *   middle       |               store_maint.c  store_ingest.c
 *                |                     |          |
 *   bottom   store_aggregate.c  store_encode.c  store_schema.c  store_series.c
 *
 *   store.c        -> writer, ingest, series, query
 *   store_writer.c -> ingest, maint, encode, schema
 *   store_query.c  -> encode, aggregate, schema, event_block
 *   store_maint.c  -> encode, aggregate, schema, event_block
 *   store_ingest.c -> series, encode
 *   store_aggregate.c, store_encode.c, store_schema.c, store_series.c,
 *   store_event_block.c: nothing else of the store
 *
 * The raw tier's layout (compressed chunks of samples per series,
 * store_chunk.c) is known to store_encode.c, the schema and the writer's
 * chunk code (store_chunks.c) only: rollups and queries read samples
 * through a raw_reader and the statements declared here.
 *
 * Locking: fields marked "under lock" need s->lock; "writer only" ones are
 * touched by the writer thread alone (and by open and close, when no
 * writer runs); the read pool has its own s->rlock.
 */
#ifndef KPULSE_STORE_INTERNAL_H
#define KPULSE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_chunk.h"
#include "util/clock.h"

/* ------------------------------------------------------------ helpers */

/* The writer truncates the WAL after a flush that left it larger than
 * this (store_writer.c); SQLite truncates it to this size after a
 * checkpoint of its own (journal_size_limit, store_schema.c). Below what
 * one flush of a daemon's open chunks writes (their pages, 400 KB to
 * 1 MB with 1,000 series), so the WAL is empty between flushes rather
 * than anywhere from 0 to past 1 MiB. */
#define STORE_WAL_TRUNCATE_BYTES 262144 /* 256 KiB */

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

/* Event type names: [a-z0-9_]{1,31}. */
static inline bool store_event_type_valid(const char *type)
{
	size_t n = 0;

	if (!type)
		return false;
	for (; type[n]; n++) {
		char c = type[n];

		if (n >= STORE_EVENT_TYPE_MAX - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

/* ---------------------------------------------- store_schema.c: schema */

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
/* A connection of its own for one call of a module beside the layers
 * (store_llm.c, store_incidents.c), closed by the caller: one held open
 * would keep the files busy after the writer closed its own on a disk
 * fault. write: query_only off and synchronous NORMAL. 0 or -errno. */
int store_short_conn_open(struct store *s, bool write, sqlite3 **ret);

int store_db_open(const char *path, const char *vfs, int busy_timeout_ms, bool writer,
		  sqlite3 **ret_db, char *err, size_t errlen);

/* The pool of read connections the queries use (store_query.c): one
 * from the pool, else a new one while under max_readers, else waits for
 * one. 0 or -errno. */
int store_reader_get(struct store *s, sqlite3 **ret_db);
/* Back to the pool, or closed after an error that may have left it
 * unusable, or while the pool is paused. */
void store_reader_release(struct store *s, sqlite3 *db, int err);
/* Closes the idle read connections (at close, before the writer's). */
void store_readers_close(struct store *s);
/* The writer lost its connection to a fault: closes the idle read
 * connections, and those in use at their release, until resumed, so
 * that nothing keeps the files open while the disk recovers. */
void store_readers_pause(struct store *s);
/* The writer connected again: the pool keeps connections again. */
void store_readers_resume(struct store *s);

/* Raw samples converted per transaction by the migration to schema 5
 * (tests make it small). */
extern size_t store_migrate_batch_samples;

/* Prepares a statement that lives as long as the connection. */
int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt);

/* A table of statements kept in a struct of sqlite3_stmt pointers. */
struct store_stmt_sql {
	size_t offset; /* of the statement's field in the struct */
	const char *sql;
};

/* Prepares n statements into the struct at base; on failure some may be
 * prepared: store_finalize_all() releases them. Returns 0 or -errno. */
int store_prepare_all(sqlite3 *db, const struct store_stmt_sql *table, size_t n, void *base);
/* Finalizes them and sets the fields to NULL (which may already be). */
void store_finalize_all(const struct store_stmt_sql *table, size_t n, void *base);

struct store;

/* Writer connection: the errno of a failed SQLite call on s->db, with the
 * message ("what: sqlite message (code)") left in s->werr. Call it before
 * resetting the statement, which forgets the system errno. */
int store_wfail(struct store *s, int rc, const char *what);
/* Writer connection: steps a statement that returns no rows and resets
 * it. Returns 0 or store_wfail()'s errno. */
int store_wstep(struct store *s, sqlite3_stmt *st, const char *what);

/* ----------------------------------------- store_encode.c: row layout */

/* Format byte, slot count, then one LEB128 varint per slot. */
#define STORE_BLOB_MAX (2 + REGISTRY_HIST_SLOTS * 10)

/* Encodes slots up to the last non-zero one; returns the length. */
size_t store_blob_encode(const uint64_t *slots, unsigned char out[STORE_BLOB_MAX]);
/* Decodes into slots[REGISTRY_HIST_SLOTS]; returns 0 or -EBADMSG. */
int store_blob_decode(const void *blob, size_t len, uint64_t *slots);

/* Unix seconds to the stored milliseconds: 0, or -EINVAL unless ts is
 * finite, > 0 and below year 275,000 (where doubles stop holding
 * milliseconds exactly). */
int store_ts_to_ms(double ts, int64_t *ret_ms);

/*
 * The raw tier: compressed chunks (store_chunk.h), one row per series and
 * chunk start. Parameters: ?1 is a series id where there is one; times
 * are milliseconds.
 */
/* writes a chunk: ?1 series, ?2 start, ?3 end (its last sample), ?4
 * samples, ?5 the encoded chunk, ?6 the rowid of a new row; an existing
 * chunk is rewritten in place (keeping its rowid) */
extern const char store_sql_chunk_upsert[];
/* A series' open chunk has rowid -(series id), closed ones positive
 * rowids in the order they closed (store_encode.c says why). */
#define STORE_CHUNK_OPEN_ROWID(id) (-(id))
/* moves the row at rowid ?1 to rowid ?2 unless it starts at ?3 */
extern const char store_sql_chunk_move[];
/* the next rowid for a closed chunk: past every row */
extern const char store_sql_chunk_rowid_next[];
/* (start_ms, end_ms, data) of the last chunk of series ?1 */
extern const char store_sql_chunk_last[];
/* (start_ms, end_ms, data) of series ?1's last chunk starting at or
 * before ?2 */
extern const char store_sql_chunk_at[];
/* the chunks of series ?1 that may hold samples in [?2, ?3), in order */
extern const char store_sql_raw_rows[];
/* the chunk of series ?1 holding its last sample before ?2 */
extern const char store_sql_raw_prev[];
/* a lower bound (>= ?1) of the first sample time >= ?1 of any series; one
 * column, NULL when there is none */
extern const char store_sql_raw_next_ts[];
/* (id, type) of the series that may have samples in [?1, ?2), by id */
extern const char store_sql_raw_series_in[];
/* deletes the oldest chunks wholly before ?1: at least ?2 + 1 of them
 * (or all), plus those sharing the last one's start */
extern const char store_sql_raw_delete_oldest[];
/* (id, name, labels, type, scale, data) of each series' chunks of the
 * last span, by name, labels, then start */
extern const char store_sql_raw_latest[];

/* The last sample of an encoded chunk: 0, or -EBADMSG when none decodes. */
int store_chunk_last_sample(const void *data, size_t len, struct raw_sample *out);

/*
 * The last sample of series id before before_ms, on st prepared from
 * store_sql_raw_prev. Returns the SQLite code of the step (SQLITE_ROW,
 * SQLITE_DONE or an error, before any reset: the caller resets or
 * finalizes st); *ret_found tells whether *out holds a sample (a chunk
 * that does not decode counts as none).
 */
int store_raw_prev(sqlite3_stmt *st, int64_t id, int64_t before_ms, struct raw_sample *out,
		   bool *ret_found);

/* Reads one series' samples in time order, chunk by chunk, decoding each
 * chunk in place; holds no resources of its own. */
struct raw_reader {
	sqlite3_stmt *st; /* borrowed; the caller resets or finalizes it */
	int rc;		  /* the step that ended the scan: SQLITE_DONE when all was read */
	size_t rows;	  /* samples returned */
	size_t chunks;	  /* chunks read, those that did not decode included */
	int64_t from_ms, end_ms;
	bool in_chunk;
	struct store_chunk_dec dec;
	/* the latest sample before from_ms in the chunks read, which is the
	 * sample before the first one returned when has_before is set (a
	 * rollup's previous sample, without decoding its chunk twice) */
	bool has_before;
	struct raw_sample before;
};

/* Starts reading the samples of series id with from_ms <= ts < end_ms on
 * st, prepared from store_sql_raw_rows. */
void store_raw_reader_start(struct raw_reader *r, sqlite3_stmt *st, int64_t id, int64_t from_ms,
			    int64_t end_ms);
/* The next sample into out: true, or false at the end or on an error
 * (r->rc). A chunk that does not decode costs the samples from the
 * damage on, never the scan. */
bool store_raw_reader_next(struct raw_reader *r, struct raw_sample *out);

/* ------------------------------------- store_aggregate.c: span aggregate */

/* struct span_agg, one aggregate of a span of samples, is in store_chunk.h
 * (the rollup chunks encode it). */

/*
 * Adds sample cur to agg: the value to count/min/max/sum/last, and the
 * increase since prev (NULL: none known) for counters and histograms,
 * treating any decrease as a reset to zero.
 */
void store_span_add_raw(struct span_agg *agg, enum metric_type type, const struct raw_sample *prev,
			const struct raw_sample *cur);
/* Merges a later span b into a. */
void store_span_merge(struct span_agg *a, const struct span_agg *b);

/*
 * The 1-minute tier in rollup chunks (chunks_1m, store_encode.c): one
 * chunk per series and hour of minutes, keyed by the hour's start.
 */
#define STORE_M1_CHUNK_S    TIER_1H_S
#define STORE_M1_CHUNK_ROWS (TIER_1H_S / TIER_1M_S)

extern const char store_sql_m1_chunk_get[];
extern const char store_sql_m1_chunk_put[];

/*
 * Merges rows (buckets strictly increasing, all within the chunk that
 * starts at start) into series id's chunk at start: reads it with get
 * (store_sql_m1_chunk_get), writes the merged one with put
 * (store_sql_m1_chunk_put). A row replaces the chunk's row of the same
 * bucket; a stored chunk that does not decode is replaced (its rows are
 * lost, as a damaged row would be). scratch holds STORE_M1_CHUNK_ROWS
 * rows. Returns SQLITE_OK, the SQLite code of a failed step, SQLITE_NOMEM
 * or SQLITE_MISUSE (rows outside the chunk or more than it can hold).
 * Both statements are reset.
 */
int store_m1_chunk_merge(sqlite3_stmt *get, sqlite3_stmt *put, int64_t id, int64_t start,
			 const struct rollup_row *rows, size_t n, struct rollup_row *scratch);

/* Rollup rows (samples_1h), store_encode.c: the columns after
 * (series_id, bucket_ts), as store_span_from_row() and store_span_bind()
 * use them. */
#define STORE_ROLLUP_COLS "count, min, max, sum, last, inc, hist_count, hist_sum, hist_slots"

/* Reads the 9 rollup columns from column first on into out. Returns 0 or
 * -EBADMSG (a histogram blob that does not decode). */
int store_span_from_row(sqlite3_stmt *st, int first, struct span_agg *out);
/* Binds a rollup row to an insert: ?1 series, ?2 bucket, ?3.. the agg;
 * blob holds the encoded slots until the statement is reset. */
void store_span_bind(sqlite3_stmt *st, int64_t id, int64_t bucket, const struct span_agg *a,
		     unsigned char blob[STORE_BLOB_MAX]);

/* ------------------------------------------------------------ state */

/* An interned series (store_series.c). A buffered sample holds a counted
 * reference (pending), so only series nothing buffered points to are
 * evicted. */
struct series_ref {
	struct series_ref *hnext;
	uint64_t hash;
	enum metric_type type;
	double scale;
	uint64_t pending;    /* buffered samples pointing here; under lock */
	uint64_t last_round; /* the last append that used it; under lock */
	/* writer only: the id on the writer's connection */
	int64_t db_id;
	uint64_t db_gen; /* s->conn_gen db_id was resolved on; 0 = never */
	int64_t seen_day;
	/* writer only (store_open_chunks.c): the series' open chunk, valid
	 * while chunk_gen == s->chunk_gen; dirty: changed since written */
	struct store_chunk_enc *chunk;
	uint64_t chunk_gen;
	bool chunk_dirty;
	char *name;
	char *labels_json; /* canonical: compact, keys sorted */
	size_t keylen;
	char key[];
};

/* One buffered sample (store_ingest.c). */
struct buf_sample {
	struct series_ref *ref;
	int64_t ts_ms;
	double value; /* counter/gauge value, histogram sum */
	uint64_t hist_count;
	uint32_t blob_off; /* histogram slots in the block's arena */
	uint16_t blob_len; /* 0: not a histogram */
};

#define BUF_BLOCK_SAMPLES 4096

/* A block of buffered samples and the arena holding their histogram
 * blobs. */
struct buf_block {
	struct buf_block *next;
	size_t n;
	unsigned char *arena;
	size_t arena_len, arena_cap;
	struct buf_sample samples[BUF_BLOCK_SAMPLES];
};

struct buf_event {
	struct buf_event *next;
	double ts;
	int32_t pid;
	char type[STORE_EVENT_TYPE_MAX];
	char comm[STORE_COMM_LEN];
	char *fields; /* JSON text */
};

/* Samples and events in arrival order; owned by whoever holds the batch. */
struct batch {
	struct buf_block *head, *tail;
	size_t nsamples;
	struct buf_event *ev_head, *ev_tail;
	size_t nevents;
	int64_t min_ts_ms; /* INT64_MAX when empty */
};

/* The writer's own statements (store_writer.c), on s->db. Maintenance
 * runs its transactions with begin, commit and rollback too. */
struct writer_stmts {
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *series_upsert, *event_insert;
	sqlite3_stmt *chunk_upsert, *chunk_last, *chunk_at;
	sqlite3_stmt *chunk_move, *chunk_rowid_next;
};

/* Maintenance's statements (store_maint.c), on s->db. */
struct maint_stmts {
	sqlite3_stmt *meta_get, *meta_set;
	/* rollups */
	sqlite3_stmt *raw_next, *raw_series_in, *raw_rows, *raw_prev, *m1_get, *m1_put;
	sqlite3_stmt *m1_next, *m1_series_in, *m1_rows, *h1_insert;
	/* retention */
	sqlite3_stmt *del_raw, *del_1m, *del_1h, *del_events, *del_series;
	/* the disk budget and the tiers' figures */
	sqlite3_stmt *used_bytes, *oldest_raw, *oldest_1m, *oldest_1h, *oldest_event;
	/* events into blocks (store_event_block.h), their retention */
	sqlite3_stmt *ev_first, *ev_rows, *ev_delete, *evb_insert, *del_evb;
	sqlite3_stmt *oldest_ev_row, *oldest_evb;
	/* free pages handed back to the file system (auto_vacuum databases) */
	sqlite3_stmt *auto_vacuum, *free_pages, *vacuum;
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

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer waits on it */
	pthread_cond_t done; /* flush and maintenance waiters */
	pthread_t writer;
	bool writer_started;

	/* --- under lock --- */
	struct batch incoming;	 /* store_ingest.c */
	size_t buffered_samples; /* incoming + the writer's pending */
	size_t buffered_events;
	size_t live_series;	  /* series in the latest snapshot */
	struct series_ref **htab; /* store_series.c */
	size_t hcap, hcount;
	uint64_t round;
	uint64_t evict_round; /* the last round that scanned for idle series */
	bool stop;	      /* store_writer.c: requests and their outcomes */
	uint64_t flush_req, flush_started, flush_done;
	int flush_err;
	uint64_t maint_req, maint_done;
	int maint_err;
	struct store_stats stats;
	int64_t chunk_mem; /* bytes of the open chunks (stats.open_chunk_bytes) */

	/* --- writer only --- */
	sqlite3 *db;
	long writer_cache_kib; /* page cache the connection has now; 0 = default */
	uint64_t conn_gen;     /* bumped at each (re)connect; refs cache ids per gen */
	struct writer_stmts st;
	struct maint_stmts mst;
	struct batch pending;
	struct series_ref **txn_refs; /* refs resolved in the open transaction */
	size_t ntxn_refs, txn_refs_cap;
	uint64_t chunk_gen;	   /* open chunks of other gens are reloaded */
	int64_t chunk_rowid_next;  /* for the next closed chunk; 0: to be read */
	struct series_ref **dirty; /* refs whose open chunk changed in the txn */
	size_t ndirty, dirty_cap;
	int64_t chunk_mem_delta;     /* open chunks' memory change, not yet in stats */
	int64_t wm_1m, wm_1h;	     /* rollups are complete below these (seconds) */
	double tier_stats_next;	     /* when maintenance refreshes the tiers' figures */
	sqlite3_stmt *tier_bytes_st; /* store_maint.c; NULL without SQLite's dbstat */
	int auto_vacuum;	     /* the file's auto_vacuum is INCREMENTAL; -1: unread */
	struct rollup_cursor cur_1m, cur_1h;
	struct rollup_row *m1_rows; /* STORE_M1_CHUNK_ROWS: a chunk decoded */
	char werr[STORE_ERROR_MAX]; /* the last failure, for stats */

	/* --- read connections, under rlock (store_schema.c) --- */
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	sqlite3 **ridle;
	unsigned nridle, nropen;
	bool readers_paused; /* store_readers_pause(): none kept idle */
};

/* Wall clock in unix seconds: the options' clock, else the real one. */
static inline double store_now(const struct store *s)
{
	return s->opts.clock ? s->opts.clock(s->opts.clock_ctx) : clock_wall_s();
}

/* --------------------------------------------- store_series.c: series */

/*
 * Finds or interns the series of m and marks it used in round. Under
 * lock. Returns 0 and *ret_ref, -ENOSPC (max_series reached and nothing
 * idle to evict), -EINVAL (a label that is not valid UTF-8) or -ENOMEM.
 */
int store_series_get(struct store *s, const struct metric_series *m, uint64_t round,
		     struct series_ref **ret_ref);
/* Under lock: forgets series idle for a long while (checked now and then). */
void store_series_evict_stale(struct store *s, uint64_t round);
/* Frees every interned series (at close). */
void store_series_free_all(struct store *s);

/* --------------------------------------------- store_ingest.c: buffer */

void store_batch_init(struct batch *b);
/* Appends src to dst and empties src. */
void store_batch_move(struct batch *dst, struct batch *src);
/* Under lock: forgets the batch's references to its series. */
void store_batch_unref(struct batch *b);
/* Frees a batch's memory once its references are released. */
void store_batch_free(struct batch *b);

/* ----------------------------------------------- store_maint.c: maint */

/* Prepares maintenance's statements on s->db; store_maint_finalize()
 * releases them, also after a failure. */
int store_maint_prepare(struct store *s);
void store_maint_finalize(struct store *s);
/* Loads the rollup watermarks from the meta table into s. */
int store_maint_load(struct store *s);
/*
 * Inside a flush transaction that writes samples from min_ts_ms on:
 * moves the persisted watermarks back so that the buckets of samples that
 * arrived late are rolled up again. Returns 0 with the watermarks to
 * adopt once the transaction commits, or an errno (s->werr says why).
 */
int store_maint_rewind(struct store *s, int64_t min_ts_ms, int64_t *ret_wm_1m, int64_t *ret_wm_1h);
/* After the flush committed: adopts those watermarks and restarts a
 * rollup that the flushed samples (from min_ts_ms on; INT64_MAX for
 * none) fall into. */
void store_maint_flushed(struct store *s, int64_t wm_1m, int64_t wm_1h, int64_t min_ts_ms);
/* One bounded maintenance transaction. Returns 1 when it did work (more
 * may remain), 0 when there is nothing to do, or a negative errno. */
int store_maint_step(struct store *s);
/* Forgets rollups in progress (they start over); at reconnect. */
void store_maint_reset(struct store *s);
void store_maint_free(struct store *s);

/* ---------------------------------------------- store_writer.c: writer */

/* Connects the writer's connection and prepares its statements; on
 * failure err says why and nothing is left open. */
int store_writer_connect(struct store *s, char *err, size_t errlen);
/* Starts the writer thread on a connected store. 0 or -errno. */
int store_writer_start(struct store *s);
/* Stops the writer thread after it wrote what it could (close_timeout_s). */
void store_writer_stop(struct store *s);
/* Closes the writer's connection and frees its state (at close). */
void store_writer_release(struct store *s);

/* ---------------------------------- store_open_chunks.c: open chunks */

/*
 * Inside a flush transaction: adds sample smp of series r (id on this
 * connection) to its open chunk, closing and writing the chunk when full,
 * loading the series' last chunk from the database first when the open
 * one is not known (a start, a reconnect, a rolled back flush). A sample
 * at or before the open chunk's last is merged into the chunk that holds
 * its time (the same time replaces), rewriting that chunk. Returns 0 or
 * an errno with s->werr set.
 */
int store_chunks_append(struct store *s, struct series_ref *r, int64_t id,
			const struct raw_sample *smp);
/* Inside the flush transaction, after the samples: rewrites each open
 * chunk that changed. 0 or an errno with s->werr set. */
int store_chunks_write_dirty(struct store *s);
/* After a rollback or a disconnect: every open chunk is reloaded from the
 * database before its next use. */
void store_chunks_forget(struct store *s);
/* Frees r's open chunk (under lock, or at close); returns its bytes. */
size_t store_chunks_ref_free(struct series_ref *r);
/* Frees the writer's list (at close). */
void store_chunks_release(struct store *s);

#endif /* KPULSE_STORE_INTERNAL_H */
