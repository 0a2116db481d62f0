/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_open_chunks.c - the writer's open chunk per series: samples are
 * appended to it in memory (store_chunk.c encodes them), and each flush
 * rewrites the chunk's row in place, so a crash loses at most the last
 * flush; a full chunk (STORE_CHUNK_MAX_SAMPLES samples, a span of
 * STORE_CHUNK_SPAN_MS or STORE_CHUNK_MAX_BYTES) is written a last time and
 * a new one starts. Runs on the writer thread only.
 *
 * Contracts:
 *   - A series' chunks never overlap: a sample at or before the open
 *     chunk's last (a clock stepped back, a flush retried) is merged into
 *     the chunk that covers its time, or gets a chunk of its own between
 *     the others. Two samples in one millisecond keep the later one.
 *   - The open chunk in memory is trusted only in the generation it was
 *     built in: a rolled back flush or a reconnect bumps s->chunk_gen, and
 *     the next sample of each series reloads the series' last chunk from
 *     the database (resuming it when it has room), so memory never holds
 *     what the database lost.
 *   - Memory: one encoder per series that was written since it was
 *     interned, at most STORE_CHUNK_MAX_BYTES of bits plus, for
 *     histograms, their last slots; freed with the series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

static bool chunk_valid(const struct store *s, const struct series_ref *r)
{
	return r->chunk && r->chunk_gen == s->chunk_gen;
}

static int oom(struct store *s)
{
	return error_set(s->werr, sizeof(s->werr), -ENOMEM, "flush: out of memory");
}

/* An empty encoder of r's kind in r->chunk. */
static int enc_ready(struct store *s, struct series_ref *r)
{
	bool hist = r->type == METRIC_HISTOGRAM;

	if (r->chunk && r->chunk->hist == hist) {
		store_chunk_enc_reset(r->chunk);
		return 0;
	}
	if (r->chunk) {
		s->chunk_mem_delta -= (int64_t)store_chunks_ref_free(r);
	}
	r->chunk = calloc(1, sizeof(*r->chunk));
	if (!r->chunk || store_chunk_enc_init(r->chunk, hist) < 0) {
		free(r->chunk);
		r->chunk = NULL;
		return oom(s);
	}
	s->chunk_mem_delta += (int64_t)(sizeof(*r->chunk) + store_chunk_enc_mem(r->chunk));
	return 0;
}

/* Adds smp to e, counting the memory it grows by. */
static int enc_add(struct store *s, struct store_chunk_enc *e, const struct raw_sample *smp)
{
	size_t before = store_chunk_enc_mem(e);
	int err = store_chunk_enc_add(e, smp);

	s->chunk_mem_delta += (int64_t)store_chunk_enc_mem(e) - (int64_t)before;
	if (err == -ENOMEM)
		return oom(s);
	if (err)
		return error_set(s->werr, sizeof(s->werr), err,
				 "flush: a sample does not fit its chunk (%d)", err);
	return 0;
}

/*
 * Makes e the chunk data (len bytes) with smp put in time order (replacing
 * a sample of the same time). A chunk that does not decode keeps what
 * decodes. e must not point into data.
 */
static int rebuild(struct store *s, struct store_chunk_enc *e, const void *data, size_t len,
		   const struct raw_sample *smp)
{
	struct store_chunk_dec d;
	struct raw_sample cur;
	bool placed = false;
	int err = 0;

	store_chunk_enc_reset(e);
	if (data && store_chunk_dec_init(&d, data, len) == 0) {
		while (!err && store_chunk_dec_next(&d, &cur) == 1) {
			if (!placed && smp && smp->ts_ms <= cur.ts_ms) {
				placed = true;
				err = enc_add(s, e, smp);
				if (err || cur.ts_ms == smp->ts_ms)
					continue;
			}
			err = enc_add(s, e, &cur);
		}
	}
	if (!err && smp && !placed)
		err = enc_add(s, e, smp);
	return err;
}

/* The rowid the next closed chunk gets (read once per generation). */
static int rowid_next(struct store *s, int64_t *ret)
{
	sqlite3_stmt *st = s->st.chunk_rowid_next;
	int rc;

	if (!s->chunk_rowid_next) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			s->chunk_rowid_next = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return store_wfail(s, rc, "reading a chunk's rowid");
	}
	*ret = s->chunk_rowid_next;
	return 0;
}

/*
 * Writes e as series id's chunk: its open one (at the open rowid, moving
 * the series' previous chunk, if it is still there, to the closed ones)
 * or, open false, a full one or an older one merged into (a new row is
 * appended as closed, an existing one rewritten where it is).
 */
static int chunk_write(struct store *s, int64_t id, struct store_chunk_enc *e, bool open)
{
	sqlite3_stmt *st = s->st.chunk_upsert;
	const void *bytes;
	int64_t rowid = 0;
	size_t len;
	int err;

	bytes = store_chunk_enc_bytes(e, &len);
	if (!bytes)
		return oom(s);
	err = rowid_next(s, &rowid);
	if (err)
		return err;
	if (open) {
		sqlite3_stmt *mv = s->st.chunk_move;

		sqlite3_bind_int64(mv, 1, STORE_CHUNK_OPEN_ROWID(id));
		sqlite3_bind_int64(mv, 2, rowid);
		sqlite3_bind_int64(mv, 3, e->t_first);
		err = store_wstep(s, mv, "moving a closed chunk");
		if (err)
			return err;
		if (sqlite3_changes(s->db) > 0)
			s->chunk_rowid_next++;
		rowid = STORE_CHUNK_OPEN_ROWID(id);
	} else {
		s->chunk_rowid_next++;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, e->t_first);
	sqlite3_bind_int64(st, 3, e->t_last);
	sqlite3_bind_int64(st, 4, e->n);
	sqlite3_bind_blob(st, 5, bytes, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, rowid);
	return store_wstep(s, st, "writing a chunk");
}

/*
 * A sample that goes before the open chunk: merged into the stored chunk
 * that covers its time, else written as a chunk of its own (which fits
 * between the chunks around it: none covers its time).
 */
static int merge_stored(struct store *s, struct series_ref *r, int64_t id,
			const struct raw_sample *smp)
{
	struct store_chunk_enc tmp;
	sqlite3_stmt *st = s->st.chunk_at;
	int rc, err;

	if (store_chunk_enc_init(&tmp, r->type == METRIC_HISTOGRAM) < 0)
		return oom(s);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, smp->ts_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 1) >= smp->ts_ms)
		err = rebuild(s, &tmp, sqlite3_column_blob(st, 2),
			      (size_t)sqlite3_column_bytes(st, 2), smp);
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		err = enc_add(s, &tmp, smp);
	else
		err = store_wfail(s, rc, "reading a chunk");
	sqlite3_reset(st);
	if (!err)
		err = chunk_write(s, id, &tmp, false);
	/* tmp's growth is not the open chunks' */
	s->chunk_mem_delta -=
	    (int64_t)store_chunk_enc_mem(&tmp) - (int64_t)(tmp.h ? sizeof(*tmp.h) : 0);
	store_chunk_enc_free(&tmp);
	return err;
}

/*
 * Loads r's open chunk: the series' last stored chunk when it ends before
 * ts and has room for it, else an empty one. *ret_behind tells that the
 * last stored chunk reaches ts (a clock stepped back): the sample is
 * merged instead, and the open chunk stays unknown.
 */
static int load(struct store *s, struct series_ref *r, int64_t id, int64_t ts, bool *ret_behind)
{
	sqlite3_stmt *st = s->st.chunk_last;
	int rc, err;

	*ret_behind = false;
	err = enc_ready(s, r);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 1) >= ts) {
		*ret_behind = true;
	} else if (rc == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		const unsigned char *p = data;

		/* resume it when it is of the same kind and decodes whole */
		if (p && len > 1 && (p[1] & 1) == (r->chunk->hist ? 1 : 0))
			err = rebuild(s, r->chunk, data, len, NULL);
		if (!err && (r->chunk->n != store_chunk_count(data, len) ||
			     store_chunk_enc_full(r->chunk, ts)))
			store_chunk_enc_reset(r->chunk);
	} else if (rc != SQLITE_DONE) {
		err = store_wfail(s, rc, "reading a chunk");
	}
	sqlite3_reset(st);
	if (err || *ret_behind)
		return err;
	r->chunk_gen = s->chunk_gen;
	r->chunk_dirty = false;
	return 0;
}

static int mark_dirty(struct store *s, struct series_ref *r)
{
	if (r->chunk_dirty)
		return 0;
	if (s->ndirty == s->dirty_cap) {
		size_t ncap = s->dirty_cap ? s->dirty_cap * 2 : 256;
		struct series_ref **n = realloc(s->dirty, ncap * sizeof(*n));

		if (!n)
			return oom(s);
		s->dirty = n;
		s->dirty_cap = ncap;
	}
	s->dirty[s->ndirty++] = r;
	r->chunk_dirty = true;
	return 0;
}

int store_chunks_append(struct store *s, struct series_ref *r, int64_t id,
			const struct raw_sample *smp)
{
	struct store_chunk_enc *e;
	int err;

	if (!chunk_valid(s, r)) {
		bool behind;

		err = load(s, r, id, smp->ts_ms, &behind);
		if (err)
			return err;
		if (behind)
			return merge_stored(s, r, id, smp);
	}
	e = r->chunk;
	if (e->n && smp->ts_ms <= e->t_last) {
		const void *bytes;
		void *copy;
		size_t len;

		if (smp->ts_ms < e->t_first)
			return merge_stored(s, r, id, smp);
		/* into the open chunk: rebuilt from a copy of itself */
		bytes = store_chunk_enc_bytes(e, &len);
		copy = bytes ? malloc(len) : NULL;
		if (!copy)
			return oom(s);
		memcpy(copy, bytes, len);
		err = rebuild(s, e, copy, len, smp);
		free(copy);
		return err ? err : mark_dirty(s, r);
	}
	if (store_chunk_enc_full(e, smp->ts_ms)) {
		if (r->chunk_dirty) {
			err = chunk_write(s, id, e, false);
			if (err)
				return err;
		}
		/* still listed as dirty: written again at the end only if
		 * the new chunk gets samples, which it does right below */
		store_chunk_enc_reset(e);
	}
	err = enc_add(s, e, smp);
	return err ? err : mark_dirty(s, r);
}

int store_chunks_write_dirty(struct store *s)
{
	int err = 0;

	for (size_t i = 0; i < s->ndirty && !err; i++) {
		struct series_ref *r = s->dirty[i];

		if (r->chunk_dirty && chunk_valid(s, r) && r->chunk->n)
			err = chunk_write(s, r->db_id, r->chunk, true);
		r->chunk_dirty = false;
	}
	if (!err)
		s->ndirty = 0;
	return err;
}

void store_chunks_forget(struct store *s)
{
	for (size_t i = 0; i < s->ndirty; i++)
		s->dirty[i]->chunk_dirty = false;
	s->ndirty = 0;
	s->chunk_gen++;
	s->chunk_rowid_next = 0;
}

size_t store_chunks_ref_free(struct series_ref *r)
{
	size_t mem = 0;

	if (r->chunk) {
		mem = sizeof(*r->chunk) + store_chunk_enc_mem(r->chunk);
		store_chunk_enc_free(r->chunk);
		free(r->chunk);
		r->chunk = NULL;
	}
	return mem;
}

void store_chunks_release(struct store *s)
{
	free(s->dirty);
	s->dirty = NULL;
	s->ndirty = s->dirty_cap = 0;
}
