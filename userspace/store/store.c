/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store.c - the store's life cycle: its options, store_open() and
 * store_close(), and the stats. The work itself lives in the other files
 * of userspace/store/ (see store_internal.h for which file owns what):
 * appends in store_ingest.c, the writer thread in store_writer.c, queries
 * in store_query.c.
 *
 * Contracts:
 *   - store_open() validates every option before touching the disk, and
 *     connects on the caller's thread, so that a refused or unopenable
 *     database fails the open with its reason; on failure nothing is left
 *     allocated or running.
 *   - store_close() closes the read connections first and the writer's
 *     last, so that the writer's close checkpoints the WAL into the
 *     database file; it frees everything through store_free(), the one
 *     path that releases a store.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

/* ------------------------------------------------------------ options */

void store_options_default(struct store_options *o)
{
	*o = (struct store_options){
	    .flush_interval_s = 1.0,
	    .max_buffered_samples = 1000000,
	    .max_buffered_events = 100000,
	    .max_series = 100000,
	    .retention_raw_s = 24 * 3600.0,
	    .retention_1m_s = 30 * 86400.0,
	    .retention_1h_s = 365 * 86400.0,
	    .retention_events_s = 7 * 86400.0,
	    .rollup_delay_s = 10.0,
	    .maintenance_interval_s = 10.0,
	    .maintenance_batch_rows = 10000,
	    .busy_timeout_ms = 2000,
	    .retry_max_s = 30.0,
	    .close_timeout_s = 10.0,
	    .max_points = 11000,
	    .max_query_series = 100,
	    .max_list = 10000,
	    .max_events = 10000,
	    .max_readers = 4,
	};
}

static bool positive(double v)
{
	return isfinite(v) && v > 0;
}

static const char *options_invalid(const struct store_options *o)
{
	if (!positive(o->flush_interval_s) || o->flush_interval_s > 3600)
		return "flush_interval_s must be in (0, 3600]";
	if (!o->max_buffered_samples || !o->max_buffered_events || !o->max_series)
		return "buffer and series limits must be > 0";
	if (!positive(o->retention_raw_s) || !positive(o->retention_1m_s) ||
	    !positive(o->retention_1h_s) || !positive(o->retention_events_s))
		return "retentions must be > 0";
	if (!isfinite(o->rollup_delay_s) || o->rollup_delay_s < 0)
		return "rollup_delay_s must be >= 0";
	if (!isfinite(o->maintenance_interval_s) || o->maintenance_interval_s < 0)
		return "maintenance_interval_s must be >= 0";
	if (!o->maintenance_batch_rows)
		return "maintenance_batch_rows must be > 0";
	if (o->busy_timeout_ms < 0)
		return "busy_timeout_ms must be >= 0";
	if (!positive(o->retry_max_s) || !isfinite(o->close_timeout_s) || o->close_timeout_s < 0)
		return "retry_max_s must be > 0 and close_timeout_s >= 0";
	if (!o->max_points || !o->max_query_series || !o->max_list || !o->max_events ||
	    !o->max_readers)
		return "query limits must be > 0";
	return NULL;
}

/* ------------------------------------------------------- open / close */

/* Releases everything of a store whose writer thread does not run. */
static void store_free(struct store *s)
{
	store_readers_close(s);
	store_writer_release(s);
	pthread_mutex_lock(&s->lock);
	store_batch_unref(&s->incoming);
	store_batch_unref(&s->pending);
	pthread_mutex_unlock(&s->lock);
	store_batch_free(&s->incoming);
	store_batch_free(&s->pending);
	store_series_free_all(s);
	pthread_cond_destroy(&s->rcond);
	pthread_mutex_destroy(&s->rlock);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->ridle);
	free(s->path);
	free(s->wal_path);
	free(s->vfs);
	free(s);
}

int store_open(const char *path, const struct store_options *opts, struct store **ret_store,
	       char *err, size_t errlen)
{
	struct store_options defaults;
	pthread_condattr_t cattr;
	const char *why;
	struct store *s;
	int ret;

	if (!opts) {
		store_options_default(&defaults);
		opts = &defaults;
	}
	if (!path || !*path || !ret_store)
		return error_set(err, errlen, -EINVAL, "store: no database path");
	why = options_invalid(opts);
	if (why)
		return error_set(err, errlen, -EINVAL, "%s", why);

	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->chunk_gen = 1; /* a new series' chunk (gen 0) is loaded first */
	s->opts = *opts;
	s->path = strdup(path);
	s->vfs = opts->vfs ? strdup(opts->vfs) : NULL;
	s->opts.vfs = s->vfs;
	s->ridle = calloc(opts->max_readers, sizeof(*s->ridle));
	if (!s->path || (opts->vfs && !s->vfs) || !s->ridle ||
	    asprintf(&s->wal_path, "%s-wal", path) < 0) {
		s->wal_path = NULL;
		free(s->ridle);
		free(s->path);
		free(s->vfs);
		free(s);
		goto nomem;
	}
	store_batch_init(&s->incoming);
	store_batch_init(&s->pending);
	s->wm_1m = s->wm_1h = WATERMARK_NONE;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_cond_init(&s->done, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rcond, NULL);

	/* connect here, not on the writer thread, so that a refused or
	 * unopenable database fails the open with its reason */
	ret = store_writer_connect(s, err, errlen);
	if (ret)
		goto fail;
	ret = store_writer_start(s);
	if (ret) {
		error_set(err, errlen, ret, "store: cannot start the writer thread");
		goto fail;
	}
	*ret_store = s;
	return 0;
nomem:
	return error_set(err, errlen, -ENOMEM, "store: out of memory");
fail:
	store_free(s);
	return ret;
}

struct store *store_close_report(struct store *s, uint64_t *ret_lost_samples,
				 uint64_t *ret_lost_events)
{
	struct store_stats before = {}, after = {};

	if (!s)
		return NULL;
	store_get_stats(s, &before);
	/* readers first: only the writer's connection, closed last,
	 * checkpoints the WAL into the database file */
	store_readers_close(s);
	store_writer_stop(s);
	store_get_stats(s, &after);
	if (ret_lost_samples)
		*ret_lost_samples = after.samples_dropped - before.samples_dropped;
	if (ret_lost_events)
		*ret_lost_events = after.events_dropped - before.events_dropped;
	store_free(s);
	return NULL;
}

struct store *store_close(struct store *s)
{
	return store_close_report(s, NULL, NULL);
}

/* -------------------------------------------------------------- stats */

void store_get_stats(struct store *s, struct store_stats *ret)
{
	if (!s || !ret)
		return;
	pthread_mutex_lock(&s->lock);
	*ret = s->stats;
	ret->samples_buffered = s->buffered_samples;
	ret->events_buffered = s->buffered_events;
	ret->series_tracked = s->hcount;
	ret->open_chunk_bytes = s->chunk_mem > 0 ? (uint64_t)s->chunk_mem : 0;
	pthread_mutex_unlock(&s->lock);
}
