/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_encode.c - how the store's data sits in SQLite rows: the raw
 * tier's statements and its sample codec, the rollup rows, and the
 * histogram blob. The bottom of the store: it calls nothing else of it.
 *
 * Contracts:
 *   - The raw tier's columns are known here and in the schema only. The
 *     rollups, the queries and the writer read and write raw samples
 *     through store_sql_raw_*, store_raw_bind(), store_raw_prev() and the
 *     raw_reader, so a new layout (say, compressed chunks of samples per
 *     series) is a change of this file, the schema and the writer.
 *   - Readers return samples in time order and skip a sample whose blob
 *     does not decode: a corrupt row costs that sample, never the scan.
 *   - A histogram blob is format byte 1, the slot count, then one LEB128
 *     varint per slot up to the last non-zero one. Decoding refuses
 *     anything else (-EBADMSG), so a foreign or damaged blob never reads
 *     as counts.
 *   - Nothing here resets or finalizes a statement it did not prepare: the
 *     caller does, after reading the error of the step that failed.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* ---------------------------------------------------- histogram blobs */

#define HIST_BLOB_FORMAT 1

size_t store_blob_encode(const uint64_t *slots, unsigned char out[STORE_BLOB_MAX])
{
	size_t n = REGISTRY_HIST_SLOTS, len = 0;

	while (n > 0 && slots[n - 1] == 0)
		n--;
	out[len++] = HIST_BLOB_FORMAT;
	out[len++] = (unsigned char)n;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = slots[i];

		do {
			unsigned char byte = v & 0x7f;

			v >>= 7;
			out[len++] = byte | (v ? 0x80 : 0);
		} while (v);
	}
	return len;
}

int store_blob_decode(const void *blob, size_t len, uint64_t *slots)
{
	const unsigned char *p = blob;
	size_t pos = 2;

	memset(slots, 0, REGISTRY_HIST_SLOTS * sizeof(*slots));
	if (!p || len < 2 || p[0] != HIST_BLOB_FORMAT || p[1] > REGISTRY_HIST_SLOTS)
		return -EBADMSG;
	for (size_t i = 0; i < p[1]; i++) {
		uint64_t v = 0;

		for (unsigned shift = 0;; shift += 7) {
			unsigned char byte;

			if (pos >= len || shift > 63)
				return -EBADMSG;
			byte = p[pos++];
			v |= (uint64_t)(byte & 0x7f) << shift;
			if (!(byte & 0x80))
				break;
		}
		slots[i] = v;
	}
	return pos == len ? 0 : -EBADMSG;
}

/* ----------------------------------------------------------- raw tier */

int store_ts_to_ms(double ts, int64_t *ret_ms)
{
	if (!isfinite(ts) || ts <= 0 || ts > 8.6e12)
		return -EINVAL;
	*ret_ms = llround(ts * 1000.0);
	return 0;
}

/*
 * Raw samples sit in chunks, one row per series and chunk start:
 * chunks_raw (series_id, start_ms, end_ms, n, data), data encoded by
 * store_chunk.c. A series' chunks do not overlap, and every sample of a
 * chunk lies in [start_ms, start_ms + STORE_CHUNK_SPAN_MS), so the chunks
 * holding samples from t on are those with start_ms > t - SPAN: the
 * primary key and the start_ms index answer every question below, and
 * end_ms (which changes at each rewrite of an open chunk) is not indexed.
 * Without chunks_raw_start (EXPLAIN QUERY PLAN), the questions across
 * series (raw_next_ts, raw_series_in for each minute's rollup, the oldest
 * chunk, delete_oldest) scan the whole primary key; the index costs about
 * 11 bytes a chunk (3 pages for a real daemon's 750 chunks, 118,644
 * samples, 5 minutes in), so it stays.
 *
 * Where rows sit: a series' open chunk, rewritten and growing at each
 * flush, has rowid -(series id), at the start of the table; a closed one
 * is appended at its end (the next positive rowid), moved there when the
 * series' next chunk is first written. So closed chunks fill their pages
 * (SQLite splits a table's last page leaving the full one as it is), and
 * the page splits that growing rows cause stay among the open ones: when
 * both shared pages, a fifth to a quarter of the pages' bytes was unused.
 */
#define SPAN_SQL "480000"
_Static_assert(STORE_CHUNK_SPAN_MS == 480000, "SPAN_SQL is the span");

const char store_sql_chunk_upsert[] =
    "INSERT INTO chunks_raw (rowid, series_id, start_ms, end_ms, n, data) "
    "VALUES (?6, ?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (series_id, start_ms) DO UPDATE SET end_ms = excluded.end_ms, n = excluded.n, "
    "data = excluded.data";
const char store_sql_chunk_move[] =
    "UPDATE chunks_raw SET rowid = ?2 WHERE rowid = ?1 AND start_ms <> ?3";
const char store_sql_chunk_rowid_next[] =
    "SELECT max(coalesce(max(rowid), 0), 0) + 1 FROM chunks_raw";
const char store_sql_chunk_last[] = "SELECT start_ms, end_ms, data FROM chunks_raw "
				    "WHERE series_id = ?1 ORDER BY start_ms DESC LIMIT 1";
const char store_sql_chunk_at[] = "SELECT start_ms, end_ms, data FROM chunks_raw "
				  "WHERE series_id = ?1 AND start_ms <= ?2 "
				  "ORDER BY start_ms DESC LIMIT 1";
const char store_sql_raw_rows[] = "SELECT data FROM chunks_raw WHERE series_id = ?1 "
				  "AND start_ms > ?2 - " SPAN_SQL " AND start_ms < ?3 "
				  "ORDER BY start_ms";
const char store_sql_raw_prev[] = "SELECT data FROM chunks_raw WHERE series_id = ?1 "
				  "AND start_ms < ?2 ORDER BY start_ms DESC LIMIT 1";
/* a lower bound of the first sample time >= ?1 (never below ?1); NULL
 * when there is none */
const char store_sql_raw_next_ts[] =
    "SELECT max(min(start_ms), ?1) FROM chunks_raw WHERE start_ms > ?1 - " SPAN_SQL;
const char store_sql_raw_series_in[] =
    "SELECT id, type FROM series WHERE id IN (SELECT "
    "series_id FROM chunks_raw WHERE start_ms > ?1 - " SPAN_SQL " AND start_ms < ?2) ORDER BY id";
/* chunks wholly before ?1 (they start a span earlier) */
const char store_sql_raw_delete_oldest[] =
    "DELETE FROM chunks_raw WHERE start_ms < ?1 - " SPAN_SQL " AND start_ms <= coalesce("
    "(SELECT start_ms FROM chunks_raw WHERE start_ms < ?1 - " SPAN_SQL
    " ORDER BY start_ms LIMIT 1 OFFSET ?2), ?1 - " SPAN_SQL ")";
/* every series' chunks of the last span before the newest chunk start */
const char store_sql_raw_latest[] =
    "SELECT s.id, s.name, s.labels, s.type, s.scale, c.data FROM chunks_raw AS c "
    "JOIN series AS s ON s.id = c.series_id "
    "WHERE c.start_ms > (SELECT max(start_ms) FROM chunks_raw) - " SPAN_SQL " "
    "ORDER BY s.name, s.labels, c.start_ms";

int store_chunk_last_sample(const void *data, size_t len, struct raw_sample *out)
{
	struct store_chunk_dec d;
	struct raw_sample tmp;
	bool any = false;
	int rc;

	if (store_chunk_dec_init(&d, data, len) < 0)
		return -EBADMSG;
	while ((rc = store_chunk_dec_next(&d, &tmp)) == 1) {
		*out = tmp;
		any = true;
	}
	return any ? 0 : -EBADMSG;
}

/* A sample's copy without the slots a counter or gauge does not use. */
static void sample_copy(struct raw_sample *dst, const struct raw_sample *src)
{
	if (src->has_hist) {
		*dst = *src;
		return;
	}
	dst->ts_ms = src->ts_ms;
	dst->has_value = src->has_value;
	dst->value = src->value;
	dst->has_hist = false;
	dst->hist_count = 0;
}

int store_raw_prev(sqlite3_stmt *st, int64_t id, int64_t before_ms, struct raw_sample *out,
		   bool *ret_found)
{
	struct store_chunk_dec d;
	struct raw_sample tmp;
	int rc;

	*ret_found = false;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, before_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc;
	if (store_chunk_dec_init(&d, sqlite3_column_blob(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0)) < 0)
		return rc;
	/* a damaged tail costs only the samples it held */
	while (store_chunk_dec_next(&d, &tmp) == 1 && tmp.ts_ms < before_ms) {
		sample_copy(out, &tmp);
		*ret_found = true;
	}
	return rc;
}

void store_raw_reader_start(struct raw_reader *r, sqlite3_stmt *st, int64_t id, int64_t from_ms,
			    int64_t end_ms)
{
	*r = (struct raw_reader){.st = st, .rc = SQLITE_OK, .from_ms = from_ms, .end_ms = end_ms};
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, end_ms);
}

bool store_raw_reader_next(struct raw_reader *r, struct raw_sample *out)
{
	for (;;) {
		int rc;

		while (r->in_chunk) {
			rc = store_chunk_dec_next(&r->dec, out);
			if (rc != 1) {
				r->in_chunk = false; /* the end, or a damaged rest */
				break;
			}
			if (out->ts_ms >= r->end_ms) {
				r->in_chunk = false; /* times increase: the rest is later */
				break;
			}
			if (out->ts_ms < r->from_ms) {
				sample_copy(&r->before, out);
				r->has_before = true;
				continue;
			}
			r->rows++;
			return true;
		}
		if (r->rc != SQLITE_OK)
			return false; /* ended: a statement must not be stepped past DONE */
		rc = sqlite3_step(r->st);
		if (rc != SQLITE_ROW) {
			r->rc = rc;
			return false;
		}
		r->chunks++;
		/* the blob stays valid until the next step: the chunk is read
		 * whole before that */
		r->in_chunk = store_chunk_dec_init(&r->dec, sqlite3_column_blob(r->st, 0),
						   (size_t)sqlite3_column_bytes(r->st, 0)) == 0;
	}
}

/* ---------------------------------------------------- 1-minute chunks */

const char store_sql_m1_chunk_get[] = "SELECT data FROM chunks_1m WHERE series_id = ?1 "
				      "AND start_ts = ?2";
const char store_sql_m1_chunk_put[] =
    "INSERT INTO chunks_1m (series_id, start_ts, n, data) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (series_id, start_ts) DO UPDATE SET n = excluded.n, data = excluded.data";

int store_m1_chunk_merge(sqlite3_stmt *get, sqlite3_stmt *put, int64_t id, int64_t start,
			 const struct rollup_row *rows, size_t n, struct rollup_row *scratch)
{
	size_t m = 0;
	void *data = NULL;
	size_t len = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (rows[i].bucket < start || rows[i].bucket >= start + STORE_M1_CHUNK_S ||
		    (i && rows[i].bucket <= rows[i - 1].bucket))
			return SQLITE_MISUSE;
	sqlite3_bind_int64(get, 1, id);
	sqlite3_bind_int64(get, 2, start);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		/* a chunk that does not decode, or holds rows of another
		 * span, is replaced */
		if (store_rollup_decode(sqlite3_column_blob(get, 0),
					(size_t)sqlite3_column_bytes(get, 0), scratch,
					STORE_M1_CHUNK_ROWS, &m) < 0 ||
		    (m && (scratch[0].bucket < start ||
			   scratch[m - 1].bucket >= start + STORE_M1_CHUNK_S)))
			m = 0;
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(get);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0, k = 0; i < n; i++) {
		while (k < m && scratch[k].bucket < rows[i].bucket)
			k++;
		if (k == m || scratch[k].bucket != rows[i].bucket) {
			if (m == STORE_M1_CHUNK_ROWS)
				return SQLITE_MISUSE;
			memmove(&scratch[k + 1], &scratch[k], (m - k) * sizeof(*scratch));
			m++;
		}
		scratch[k] = rows[i];
	}
	if (!m)
		return SQLITE_OK;
	rc = store_rollup_encode(scratch, m, &data, &len);
	if (rc)
		return rc == -ENOMEM ? SQLITE_NOMEM : SQLITE_MISUSE;
	sqlite3_bind_int64(put, 1, id);
	sqlite3_bind_int64(put, 2, start);
	sqlite3_bind_int64(put, 3, (int64_t)m);
	sqlite3_bind_blob(put, 4, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(put);
	sqlite3_reset(put);
	/* the blob is bound only while the statement runs */
	sqlite3_clear_bindings(put);
	free(data);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* -------------------------------------------------------- rollup rows */

/*
 * A rollup row leaves out min, max and sum (NULL) when they are what last
 * gives: min or max the same double as last, sum last * count. Most rows
 * are of a counter (max is its last value) or of a gauge that did not move
 * in the bucket (all three), and each value left out saves up to 8 bytes
 * of a row of about 35. Bits are compared, so a value left out reads
 * back as the very double it was.
 */
static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static double column_or(sqlite3_stmt *st, int col, double implied)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? implied
							   : sqlite3_column_double(st, col);
}

static void bind_unless(sqlite3_stmt *st, int i, double v, double implied)
{
	if (same_bits(v, implied))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

/* count, min, max, sum, last, inc, hist_count, hist_sum, hist_slots */
int store_span_from_row(sqlite3_stmt *st, int first, struct span_agg *out)
{
	memset(out, 0, sizeof(*out));
	out->n = sqlite3_column_int64(st, first);
	/* last is there whenever the values are, unless it is a NaN (which
	 * SQLite stores as NULL, as before); min, max and sum are left out
	 * when they follow from it (rows written before have all four) */
	for (int i = 1; i <= 4; i++)
		out->has_values |= sqlite3_column_type(st, first + i) != SQLITE_NULL;
	if (out->has_values) {
		out->last = sqlite3_column_double(st, first + 4);
		out->min = column_or(st, first + 1, out->last);
		out->max = column_or(st, first + 2, out->last);
		out->sum = column_or(st, first + 3, out->last * (double)out->n);
	}
	out->has_inc = sqlite3_column_type(st, first + 5) != SQLITE_NULL;
	out->inc = sqlite3_column_double(st, first + 5);
	out->has_hist = sqlite3_column_type(st, first + 8) == SQLITE_BLOB;
	if (!out->has_hist)
		return 0;
	out->hist_count = (uint64_t)sqlite3_column_int64(st, first + 6);
	out->hist_sum = sqlite3_column_double(st, first + 7);
	return store_blob_decode(sqlite3_column_blob(st, first + 8),
				 (size_t)sqlite3_column_bytes(st, first + 8), out->slots);
}

void store_span_bind(sqlite3_stmt *st, int64_t id, int64_t bucket, const struct span_agg *a,
		     unsigned char blob[STORE_BLOB_MAX])
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bucket);
	sqlite3_bind_int64(st, 3, a->n);
	if (a->has_values) {
		bind_unless(st, 4, a->min, a->last);
		bind_unless(st, 5, a->max, a->last);
		bind_unless(st, 6, a->sum, a->last * (double)a->n);
		sqlite3_bind_double(st, 7, a->last);
	} else {
		for (int i = 4; i <= 7; i++)
			sqlite3_bind_null(st, i);
	}
	if (a->has_inc)
		sqlite3_bind_double(st, 8, a->inc);
	else
		sqlite3_bind_null(st, 8);
	if (a->has_hist) {
		size_t len = store_blob_encode(a->slots, blob);

		sqlite3_bind_int64(st, 9, (int64_t)a->hist_count);
		sqlite3_bind_double(st, 10, a->hist_sum);
		sqlite3_bind_blob(st, 11, blob, (int)len, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, 9);
		sqlite3_bind_null(st, 10);
		sqlite3_bind_null(st, 11);
	}
}
