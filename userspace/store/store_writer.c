/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_writer.c - the store's one writer thread: it takes the buffer
 * the appends filled, writes it in one transaction per flush, retries
 * with backoff when the database cannot be written, and between flushes
 * runs maintenance (store_maint.c) in small steps. Also the requests
 * callers wait on: store_flush_sync() and store_run_maintenance().
 *
 * Contracts:
 *   - Only this thread touches s->db, s->pending and the fields marked
 *     "writer only" in store_internal.h (open and close too, when the
 *     thread does not run).
 *   - A failed flush keeps its batch and retries it with backoff (0.1 s
 *     doubling up to retry_max_s), reconnecting when the failure may need
 *     a fresh connection (a remount, a moved file). A batch that can never
 *     be written (-EINVAL, -E2BIG) is dropped and counted instead, so it
 *     cannot block the store forever.
 *   - A flush rolled back leaves nothing behind: series ids resolved in
 *     the transaction are forgotten and resolved again.
 *   - Maintenance waits while flushes fail, and yields to a due flush or
 *     a waiting caller between its steps.
 *   - At stop the writer writes what is buffered, retrying for up to
 *     close_timeout_s; what is still unwritten then is dropped and counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_internal.h"
#include "util/error.h"

/* --------------------------------------------------------- statements */

static const struct store_stmt_sql writer_sql[] = {
#define S(field, text)                                                                             \
	{                                                                                          \
		offsetof(struct writer_stmts, field), text                                         \
	}
    S(begin, "BEGIN IMMEDIATE"),
    S(commit, "COMMIT"),
    S(rollback, "ROLLBACK"),
    S(series_upsert,
      "INSERT INTO series (name, labels, type, scale, last_seen_ts) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (name, labels) DO UPDATE SET type = excluded.type, scale = excluded.scale, "
      "last_seen_ts = max(last_seen_ts, excluded.last_seen_ts) RETURNING id"),
    S(event_insert, "INSERT INTO events (ts, type, pid, comm, fields) VALUES (?1, ?2, ?3, ?4, ?5)"),
    S(chunk_upsert, store_sql_chunk_upsert),
    S(chunk_last, store_sql_chunk_last),
    S(chunk_at, store_sql_chunk_at),
    S(chunk_move, store_sql_chunk_move),
    S(chunk_rowid_next, store_sql_chunk_rowid_next),
#undef S
};

#define NWRITER_SQL (sizeof(writer_sql) / sizeof(writer_sql[0]))
_Static_assert(NWRITER_SQL == sizeof(struct writer_stmts) / sizeof(sqlite3_stmt *),
	       "every writer statement has its SQL");

/* ---------------------------------------------------------- connection */

static void writer_disconnect(struct store *s)
{
	store_maint_finalize(s);
	store_finalize_all(writer_sql, NWRITER_SQL, &s->st);
	sqlite3_close_v2(s->db);
	s->db = NULL;
	s->writer_cache_kib = 0;
	/* the read connections too: nothing may keep the files open while
	 * the disk recovers (store_readers_pause() says why) */
	store_readers_pause(s);
	store_maint_reset(s);
	store_chunks_forget(s);
}

/*
 * Each flush appends one sample per series, at a different place of the
 * (series, time) index for each series: the pages it touches are about one
 * leaf per series. The writer's page cache follows the series count of the
 * latest snapshot (8 KiB a series, 4 to 64 MiB), so a small daemon stays
 * small and a large ingest does not thrash.
 */
static void writer_size_cache(struct store *s, uint64_t nseries)
{
	long want = (long)(nseries * 8);
	char sql[64];

	want = want < 4096 ? 4096 : want > 65536 ? 65536 : want;
	/* Only move on a real change: both directions by a quarter. */
	if (s->writer_cache_kib && want <= s->writer_cache_kib * 5 / 4 &&
	    want >= s->writer_cache_kib * 3 / 4)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%ld", want);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		s->writer_cache_kib = want;
}

int store_writer_connect(struct store *s, char *err, size_t errlen)
{
	int ret;

	ret = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, true, &s->db, err, errlen);
	if (ret)
		return ret;
	s->conn_gen++;
	store_readers_resume(s);
	ret = store_prepare_all(s->db, writer_sql, NWRITER_SQL, &s->st);
	if (!ret)
		ret = store_maint_prepare(s);
	if (!ret)
		ret = store_maint_load(s);
	if (ret) {
		error_set(err, errlen, ret, "preparing statements on %s: %s", s->path,
			  sqlite3_errmsg(s->db));
		writer_disconnect(s);
	}
	return ret;
}

/* Connects when a previous failure dropped the connection. */
static int writer_ensure_connected(struct store *s)
{
	if (s->db)
		return 0;
	return store_writer_connect(s, s->werr, sizeof(s->werr));
}

/* -------------------------------------------------------------- flush */

static int txn_refs_push(struct store *s, struct series_ref *r)
{
	if (s->ntxn_refs == s->txn_refs_cap) {
		size_t ncap = s->txn_refs_cap ? s->txn_refs_cap * 2 : 256;
		struct series_ref **n = realloc(s->txn_refs, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->txn_refs = n;
		s->txn_refs_cap = ncap;
	}
	s->txn_refs[s->ntxn_refs++] = r;
	return 0;
}

/*
 * The series id of r on this connection, inserting the series when new.
 * last_seen_ts is refreshed once per day of data per series.
 */
static int ref_resolve(struct store *s, struct series_ref *r, int64_t ts_ms, int64_t *ret_id)
{
	int64_t day = floor_div(ts_ms, 86400000);
	sqlite3_stmt *st = s->st.series_upsert;
	int rc;

	if (r->db_gen == s->conn_gen && r->seen_day == day) {
		*ret_id = r->db_id;
		return 0;
	}
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->labels_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, metric_type_name(r->type), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, r->scale);
	sqlite3_bind_int64(st, 5, floor_div(ts_ms, 1000));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int err = store_wfail(s, rc, "inserting a series");

		sqlite3_reset(st);
		return err;
	}
	r->db_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	/* undone if the transaction rolls back */
	if (txn_refs_push(s, r) < 0)
		return error_set(s->werr, sizeof(s->werr), -ENOMEM, "flush: out of memory");
	r->db_gen = s->conn_gen;
	r->seen_day = day;
	*ret_id = r->db_id;
	return 0;
}

static int insert_samples(struct store *s, const struct batch *b)
{
	struct raw_sample smp;

	for (const struct buf_block *c = b->head; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			const struct buf_sample *bs = &c->samples[i];
			int64_t id = 0;
			int err;

			err = ref_resolve(s, bs->ref, bs->ts_ms, &id);
			if (err)
				return err;
			smp.ts_ms = bs->ts_ms;
			smp.has_value = true;
			smp.value = bs->value;
			smp.has_hist = bs->blob_len != 0;
			smp.hist_count = bs->hist_count;
			/* the blob was encoded by the append: it decodes */
			if (smp.has_hist &&
			    store_blob_decode(c->arena + bs->blob_off, bs->blob_len, smp.slots) < 0)
				smp.has_hist = false;
			if (!smp.has_hist && bs->ref->type == METRIC_HISTOGRAM)
				memset(smp.slots, 0, sizeof(smp.slots));
			err = store_chunks_append(s, bs->ref, id, &smp);
			if (err)
				return err;
		}
	}
	return store_chunks_write_dirty(s);
}

static int insert_events(struct store *s, const struct batch *b)
{
	sqlite3_stmt *st = s->st.event_insert;

	for (const struct buf_event *e = b->ev_head; e; e = e->next) {
		int rc;

		sqlite3_bind_double(st, 1, e->ts);
		sqlite3_bind_text(st, 2, e->type, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, e->pid);
		sqlite3_bind_text(st, 4, e->comm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->fields, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			int err = store_wfail(s, rc, "inserting events");

			sqlite3_reset(st);
			return err;
		}
		sqlite3_reset(st);
	}
	return 0;
}

/* One transaction with the whole pending batch. */
static int flush_txn(struct store *s)
{
	int64_t wm_1m = s->wm_1m, wm_1h = s->wm_1h;
	int err;

	s->ntxn_refs = 0;
	err = store_wstep(s, s->st.begin, "flush: begin");
	if (err)
		return err;
	err = insert_samples(s, &s->pending);
	if (!err)
		err = insert_events(s, &s->pending);
	if (!err && s->pending.nsamples)
		err = store_maint_rewind(s, s->pending.min_ts_ms, &wm_1m, &wm_1h);
	if (!err)
		err = store_wstep(s, s->st.commit, "flush: commit");
	if (err) {
		if (!sqlite3_get_autocommit(s->db)) {
			sqlite3_step(s->st.rollback);
			sqlite3_reset(s->st.rollback);
		}
		for (size_t i = 0; i < s->ntxn_refs; i++)
			s->txn_refs[i]->db_gen = 0;
		s->ntxn_refs = 0;
		store_chunks_forget(s);
		return err;
	}
	s->ntxn_refs = 0;
	store_maint_flushed(s, wm_1m, wm_1h,
			    s->pending.nsamples ? s->pending.min_ts_ms : INT64_MAX);
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * The WAL back to empty once it holds more than STORE_WAL_TRUNCATE_BYTES:
 * its pages go into the database file and the file is truncated, so the
 * WAL does not sit at the size of its high-water mark (SQLite's own
 * checkpoints reuse the file from the start without shrinking it). A
 * checkpoint is as safe as a commit against a kill or a power cut. It
 * never waits: while a reader still reads from the WAL it stops with
 * SQLITE_BUSY after copying what it could, and a later flush tries again.
 */
static void wal_truncate(struct store *s)
{
	if (file_size(s->wal_path) <= STORE_WAL_TRUNCATE_BYTES)
		return;
	sqlite3_busy_timeout(s->db, 0);
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(s->db, s->opts.busy_timeout_ms);
}

/* Releases the pending batch: written, or dropped (counted). */
static void pending_release(struct store *s, bool written)
{
	size_t ns = s->pending.nsamples, ne = s->pending.nevents;

	pthread_mutex_lock(&s->lock);
	store_batch_unref(&s->pending);
	s->chunk_mem += s->chunk_mem_delta;
	s->chunk_mem_delta = 0;
	s->buffered_samples -= ns;
	s->buffered_events -= ne;
	if (written) {
		s->stats.samples_written += ns;
		s->stats.events_written += ne;
	} else {
		s->stats.samples_dropped += ns;
		s->stats.events_dropped += ne;
	}
	pthread_mutex_unlock(&s->lock);
	store_batch_free(&s->pending);
}

/* Records the last error in the stats. */
static void record_error(struct store *s, int err, const char *text)
{
	double now = store_now(s);

	pthread_mutex_lock(&s->lock);
	s->stats.last_error = err;
	s->stats.last_error_ts = now;
	error_set(s->stats.last_error_text, sizeof(s->stats.last_error_text), err, "%s", text);
	pthread_mutex_unlock(&s->lock);
}

/* A failure that retrying the same batch cannot fix. */
static bool error_is_poison(int err)
{
	return err == -EINVAL || err == -E2BIG;
}

/* A failure that may need a fresh connection (remount, moved file). */
static bool error_needs_reconnect(int err)
{
	return err != -EBUSY && err != -ENOSPC && err != -ENOMEM && !error_is_poison(err);
}

/*
 * Writes the pending batch. On failure the batch stays pending (except a
 * poisoned one, dropped so that it cannot block the store forever) and
 * the error is recorded.
 */
static int flush_pending(struct store *s)
{
	double t0 = clock_mono_s(), latency, now;
	uint64_t size, nseries;
	int err;

	if (!s->pending.nsamples && !s->pending.nevents)
		return 0;
	err = writer_ensure_connected(s);
	if (err)
		goto fail;
	pthread_mutex_lock(&s->lock);
	nseries = s->live_series;
	pthread_mutex_unlock(&s->lock);
	writer_size_cache(s, nseries);
	err = flush_txn(s);
	if (err) {
		if (error_is_poison(err))
			pending_release(s, false);
		else if (error_needs_reconnect(err))
			writer_disconnect(s);
		goto fail;
	}
	pending_release(s, true);
	wal_truncate(s);
	latency = clock_mono_s() - t0;
	size = file_size(s->path) + file_size(s->wal_path);
	now = store_now(s);
	pthread_mutex_lock(&s->lock);
	s->stats.flushes++;
	s->stats.consecutive_failures = 0;
	s->stats.last_flush_latency_s = latency;
	s->stats.last_flush_ts = now;
	s->stats.db_size_bytes = size;
	pthread_mutex_unlock(&s->lock);
	return 0;
fail:
	pthread_mutex_lock(&s->lock);
	s->stats.write_errors++;
	s->stats.consecutive_failures++;
	pthread_mutex_unlock(&s->lock);
	record_error(s, err, s->werr);
	return err;
}

static double backoff_s(const struct store *s, uint64_t failures)
{
	double b = 0.1;

	for (uint64_t i = 1; i < failures && b < s->opts.retry_max_s; i++)
		b *= 2;
	return b < s->opts.retry_max_s ? b : s->opts.retry_max_s;
}

/* -------------------------------------------------------- maintenance */

/* Counts and records a failed maintenance step. */
static int maint_failed(struct store *s, int err)
{
	pthread_mutex_lock(&s->lock);
	s->stats.maintenance_errors++;
	pthread_mutex_unlock(&s->lock);
	record_error(s, err, s->werr);
	if (s->db && error_needs_reconnect(err))
		writer_disconnect(s);
	return err;
}

static int maint_run_all(struct store *s)
{
	int r = writer_ensure_connected(s);

	if (r)
		return maint_failed(s, r);
	do {
		r = store_maint_step(s);
	} while (r > 0);
	return r < 0 ? maint_failed(s, r) : 0;
}

/* ------------------------------------------------------------- thread */

static struct timespec mono_deadline(double t)
{
	struct timespec ts;

	if (t > 1e12)
		t = 1e12;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	return ts;
}

/* True when a caller waits for the writer. */
static bool requests_pending(struct store *s, uint64_t flush_seen, uint64_t maint_seen)
{
	bool yes;

	pthread_mutex_lock(&s->lock);
	yes = s->stop || s->flush_req != flush_seen || s->maint_req != maint_seen;
	pthread_mutex_unlock(&s->lock);
	return yes;
}

/* At stop: write what is left, retrying for close_timeout_s. */
static void writer_drain(struct store *s)
{
	double deadline = clock_mono_s() + s->opts.close_timeout_s;
	uint64_t failures = 0;

	for (;;) {
		double wait;

		pthread_mutex_lock(&s->lock);
		store_batch_move(&s->pending, &s->incoming);
		pthread_mutex_unlock(&s->lock);
		if (!s->pending.nsamples && !s->pending.nevents)
			return;
		if (!flush_pending(s)) {
			failures = 0;
			continue;
		}
		wait = backoff_s(s, ++failures);
		if (clock_mono_s() + wait > deadline) {
			pending_release(s, false);
			return;
		}
		clock_sleep_s(wait);
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	bool background = s->opts.maintenance_interval_s > 0;
	double next_flush = clock_mono_s() + s->opts.flush_interval_s;
	double next_maint = clock_mono_s();
	uint64_t flush_seen = 0, maint_seen = 0, failures = 0;
	bool maint_more = false;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		double now = clock_mono_s();
		bool maint_asked = s->maint_req != maint_seen;
		bool flush_due = s->flush_req != flush_seen || maint_asked || now >= next_flush;
		bool maint_due = background && !failures && (maint_more || now >= next_maint);

		if (!flush_due && !maint_due) {
			double until = next_flush;
			struct timespec ts;

			if (background && !failures && next_maint < until)
				until = next_maint;
			ts = mono_deadline(until);
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
			continue;
		}

		if (flush_due) {
			uint64_t attempt = ++s->flush_started;
			int err;

			flush_seen = s->flush_req;
			store_batch_move(&s->pending, &s->incoming);
			pthread_mutex_unlock(&s->lock);
			err = flush_pending(s);
			pthread_mutex_lock(&s->lock);
			s->flush_done = attempt;
			s->flush_err = err;
			failures = err ? failures + 1 : 0;
			next_flush = clock_mono_s() +
				     (err ? backoff_s(s, failures) : s->opts.flush_interval_s);
			pthread_cond_broadcast(&s->done);
		}

		if (maint_asked) {
			uint64_t asked = s->maint_req;
			int err = s->flush_err;

			pthread_mutex_unlock(&s->lock);
			if (!err)
				err = maint_run_all(s);
			pthread_mutex_lock(&s->lock);
			maint_seen = asked;
			s->maint_done = asked;
			s->maint_err = err;
			maint_more = false;
			next_maint = clock_mono_s() + s->opts.maintenance_interval_s;
			pthread_cond_broadcast(&s->done);
		} else if (maint_due) {
			int r = 0;

			/* small steps until done or the next flush is due */
			pthread_mutex_unlock(&s->lock);
			if (s->db) {
				do {
					r = store_maint_step(s);
				} while (r > 0 && clock_mono_s() < next_flush &&
					 !requests_pending(s, flush_seen, maint_seen));
				if (r < 0)
					maint_failed(s, r);
			}
			pthread_mutex_lock(&s->lock);
			maint_more = r > 0;
			if (r <= 0)
				next_maint = clock_mono_s() + s->opts.maintenance_interval_s;
		}
	}
	pthread_mutex_unlock(&s->lock);
	writer_drain(s);
	return NULL;
}

int store_writer_start(struct store *s)
{
	int ret = -pthread_create(&s->writer, NULL, writer_main, s);

	if (!ret)
		s->writer_started = true;
	return ret;
}

void store_writer_stop(struct store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
}

void store_writer_release(struct store *s)
{
	if (s->db)
		writer_disconnect(s);
	free(s->txn_refs);
	s->txn_refs = NULL;
	s->ntxn_refs = s->txn_refs_cap = 0;
	store_chunks_release(s);
	store_maint_free(s);
}

/* ----------------------------------------------------------- requests */

int store_flush_sync(struct store *s)
{
	uint64_t target;
	int err;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* the next attempt to start drains everything appended so far */
	target = s->flush_started + 1;
	s->flush_req++;
	pthread_cond_signal(&s->wake);
	while (s->flush_done < target)
		pthread_cond_wait(&s->done, &s->lock);
	err = s->flush_err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

int store_run_maintenance(struct store *s)
{
	uint64_t target;
	int err;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	target = ++s->maint_req;
	pthread_cond_signal(&s->wake);
	while (s->maint_done < target)
		pthread_cond_wait(&s->done, &s->lock);
	err = s->maint_err;
	pthread_mutex_unlock(&s->lock);
	return err;
}
