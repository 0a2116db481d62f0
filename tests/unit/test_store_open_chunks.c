/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_open_chunks.c - store_open_chunks.c, the writer's open chunk
 * per series, through the store's API and the database file: chunks close
 * at their sample count and span, a restart resumes the last chunk, a
 * sample in a millisecond already stored replaces it, a clock stepped back
 * across a restart merges into the chunks it falls in (never overlapping
 * chunks, nothing lost), and the open chunks' memory is reported.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails.
 */
#include "test_store_fixture.h"

/* n samples of one gauge, a step apart from t0, value base + i. */
static int append_run(struct fixture *f, double t0, double step, int n, double base)
{
	struct metric_series m = gauge_series("kpulse_oc", "k", "v", 0);
	int err = 0;

	for (int i = 0; i < n && !err; i++) {
		m.value = base + i;
		err = store_append_series(f->s, t0 + step * i, &m, 1);
	}
	return err ? err : store_flush_sync(f->s);
}

/* Every chunk in start order, decoded: the samples strictly increase
 * across chunks (so no two overlap); returns the sample count or -1. */
static int64_t ordered_samples(sqlite3 *db, int64_t *ret_first, double *ret_sum)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0, last = INT64_MIN;
	double sum = 0;

	if (sqlite3_prepare_v2(db, "SELECT data FROM chunks_raw ORDER BY start_ms", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_chunk_dec d;
		struct raw_sample smp;
		int rc;

		if (store_chunk_dec_init(&d, sqlite3_column_blob(st, 0),
					 (size_t)sqlite3_column_bytes(st, 0)) < 0) {
			n = -1;
			break;
		}
		while ((rc = store_chunk_dec_next(&d, &smp)) == 1) {
			if (smp.ts_ms <= last) {
				rc = -1;
				break;
			}
			if (!n && ret_first)
				*ret_first = smp.ts_ms;
			last = smp.ts_ms;
			sum += smp.value;
			n++;
		}
		if (rc < 0) {
			n = -1;
			break;
		}
	}
	sqlite3_finalize(st);
	if (ret_sum)
		*ret_sum = sum;
	return n;
}

STORE_TEST(chunks_close_at_their_count_and_span)
{
	CHECK_EQ_INT(fx_open(f), 0);
	/* 1,000 samples a second apart: STORE_CHUNK_MAX_SAMPLES a chunk */
	CHECK_EQ_INT(append_run(f, T0, 1, 1000, 0), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw"),
		     (1000 + STORE_CHUNK_MAX_SAMPLES - 1) / STORE_CHUNK_MAX_SAMPLES);
	CHECK_EQ_INT(sql_int(f->db, "SELECT max(n) FROM chunks_raw"), STORE_CHUNK_MAX_SAMPLES);
	CHECK_EQ_INT(ordered_samples(f->db, NULL, NULL), 1000);
	/* a steady step and values that grow by one: a few bytes a sample */
	CHECK(sql_int(f->db, "SELECT sum(length(data)) FROM chunks_raw") < 1000 * 4);

	/* then a sample every 50 s: 10 a chunk (8 minutes) */
	_Static_assert(STORE_CHUNK_SPAN_MS == 480000, "10 samples of 50 s a chunk");
	CHECK_EQ_INT(append_run(f, T0 + 2000, 50, 30, 0), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw WHERE start_ms >= "
				    "1699999200000 + 2000000"),
		     3);
	CHECK_EQ_INT(sql_int(f->db, "SELECT max(end_ms - start_ms) FROM chunks_raw"),
		     STORE_CHUNK_SPAN_MS - 1000);
}

STORE_TEST(a_restart_resumes_the_last_chunk)
{
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(append_run(f, T0, 1, 50, 0), 0);
	f->s = store_close(f->s);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(append_run(f, T0 + 50, 1, 50, 50), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT n FROM chunks_raw"), 100);
	CHECK_EQ_INT(ordered_samples(f->db, NULL, NULL), 100);
}

STORE_TEST(the_same_millisecond_again_replaces_the_sample)
{
	struct metric_series m = gauge_series("kpulse_oc", "k", "v", 0);
	double sum = 0;

	CHECK_EQ_INT(fx_open(f), 0);
	/* three chunks: T0 .. T0 + 299 */
	CHECK_EQ_INT(append_run(f, T0, 1, 300, 0), 0);
	/* again in the open chunk, and in a closed one */
	m.value = 1000;
	CHECK_EQ_INT(store_append_series(f->s, T0 + 299, &m, 1), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 10, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(ordered_samples(f->db, NULL, &sum), 300);
	CHECK_NEAR(sum, 299.0 * 300 / 2 - 299 - 10 + 2000, 0);
}

STORE_TEST(a_clock_stepped_back_merges_without_overlap_or_loss)
{
	int64_t first = 0;
	double sum = 0;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(append_run(f, T0 + 100, 1, 300, 0), 0);
	f->s = store_close(f->s);
	/* the next start's clock is 100 s behind, and its step a little
	 * longer: the samples fall before, between and after the stored ones */
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(append_run(f, T0, 1.001, 400, 1000), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	/* every sample kept once (none shares a millisecond), in order */
	CHECK_EQ_INT(ordered_samples(f->db, &first, &sum), 700);
	CHECK_EQ_INT(first, (int64_t)T0 * 1000);
	CHECK_NEAR(sum, 299.0 * 300 / 2 + 1000.0 * 400 + 399.0 * 400 / 2, 0);
	/* and a query reads them all */
	{
		struct store_range_query q = {
		    .selector = {.name = "kpulse_oc"},
		    .from = T0,
		    .to = T0 + 700,
		    .step = 50,
		    .agg = STORE_AGG_SUM,
		};
		struct store_range_result *res = NULL;
		double total = 0;

		set_now(f, T0 + 700);
		CHECK_EQ_INT(store_query_range(f->s, &q, &res), 0);
		CHECK_EQ_INT(res->tier, STORE_TIER_RAW);
		for (size_t i = 0; res->nseries == 1 && i < res->series[0].npoints; i++)
			total += res->series[0].points[i].value;
		store_range_result_free(res);
		CHECK_NEAR(total, sum, 0);
	}
}

STORE_TEST(whole_numbers_and_fractions_mixed_lose_nothing)
{
	struct metric_series m[2] = {gauge_series("kpulse_oc", "k", "v", 0),
				     gauge_series("kpulse_whole", "k", "v", 0)};
	double want = 0;

	CHECK_EQ_INT(fx_open(f), 0);
	/* whole numbers, then fractions, then whole numbers again, across
	 * flushes and chunk spans; beside it a series of whole numbers */
	for (int i = 0; i < 400; i++) {
		m[0].value = (i / 7) % 3 == 1 ? i + 0.125 : i;
		m[1].value = 1000 * i;
		want += m[0].value + m[1].value;
		CHECK_EQ_INT(store_append_series(f->s, T0 + 10 * i, m, 2), 0);
		if (i % 13 == 12)
			CHECK_EQ_INT(store_flush_sync(f->s), 0);
	}
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(chunk_totals(f->db, "SELECT data FROM chunks_raw").n, 800);
	CHECK_NEAR(chunk_totals(f->db, "SELECT data FROM chunks_raw").sum, want, 0);
	/* no more chunks than the span needs: 4,000 s in 9 of 8 minutes */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw"),
		     2 * ((4000000 + STORE_CHUNK_SPAN_MS - 1) / STORE_CHUNK_SPAN_MS));
}

STORE_TEST(open_chunks_memory_is_reported_and_bounded)
{
	struct metric_series m[50];
	struct store_stats st;

	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 50; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		m[i] = gauge_series("kpulse_mem", "i", v, i);
	}
	for (int r = 0; r < 60; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 50), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	/* an encoder and its bits for each series, no more than a full chunk */
	CHECK(st.open_chunk_bytes >= 50 * sizeof(struct store_chunk_enc));
	CHECK(st.open_chunk_bytes <= 50 * (sizeof(struct store_chunk_enc) + 1024));
}

TEST_MAIN()
