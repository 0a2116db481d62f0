/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_encode.c - store_encode.c and store_aggregate.c, the bottom
 * of the store, through store_internal.h: the histogram blob (exact round
 * trip, damaged blobs refused), the raw reader (time order, a damaged row
 * skipped but counted), and the span aggregate (resets, and merging two
 * halves giving the aggregate of the whole, which is what lets rollups
 * and queries agree). Expected values are computed here, by hand.
 *
 * Each test that needs a database runs in its own mkdtemp directory,
 * removed afterwards even when a CHECK fails.
 */
#include <stdint.h>

#include "store/store_internal.h"
#include "test_store_fixture.h"

/* ------------------------------------------------------------ blobs */

TEST(histogram_blob_round_trips_exactly)
{
	uint64_t slots[REGISTRY_HIST_SLOTS] = {
	    [0] = 0, [1] = 1, [2] = 127, [3] = 128, [7] = 16384, [20] = UINT64_MAX};
	uint64_t back[REGISTRY_HIST_SLOTS];
	unsigned char blob[STORE_BLOB_MAX];
	size_t len = store_blob_encode(slots, blob);

	/* format, count up to the last non-zero slot, then the varints:
	 * 0, 1, 127 take a byte, 128 two, 16384 three, UINT64_MAX ten, and
	 * the 15 empty slots between 3 and 20 one each */
	CHECK_EQ_INT(blob[0], 1);
	CHECK_EQ_INT(blob[1], 21);
	CHECK_EQ_INT(len, 2 + 3 + 2 + 3 + 10 + 3 + 12);
	CHECK_EQ_INT(store_blob_decode(blob, len, back), 0);
	CHECK(memcmp(back, slots, sizeof(slots)) == 0);

	/* all empty: no slots at all */
	memset(slots, 0, sizeof(slots));
	len = store_blob_encode(slots, blob);
	CHECK_EQ_INT(len, 2);
	CHECK_EQ_INT(blob[1], 0);
	back[5] = 99;
	CHECK_EQ_INT(store_blob_decode(blob, len, back), 0);
	CHECK(memcmp(back, slots, sizeof(slots)) == 0);

	/* every slot used */
	for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
		slots[i] = (uint64_t)1 << (i % 64);
	len = store_blob_encode(slots, blob);
	CHECK(len <= STORE_BLOB_MAX);
	CHECK_EQ_INT(blob[1], REGISTRY_HIST_SLOTS);
	CHECK_EQ_INT(store_blob_decode(blob, len, back), 0);
	CHECK(memcmp(back, slots, sizeof(slots)) == 0);
}

TEST(damaged_histogram_blobs_are_refused)
{
	static const struct {
		const char *why;
		unsigned char bytes[16];
		size_t len;
	} cases[] = {
	    {"empty", {0}, 0},
	    {"no slot count", {1}, 1},
	    {"unknown format", {2, 1, 5}, 3},
	    {"more slots than a histogram has", {1, REGISTRY_HIST_SLOTS + 1}, 2},
	    {"varint cut short", {1, 1, 0x80}, 3},
	    {"fewer varints than slots", {1, 2, 5}, 3},
	    {"bytes after the last slot", {1, 1, 5, 6}, 4},
	    {"varint longer than 64 bits",
	     {1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	     13},
	};
	uint64_t slots[REGISTRY_HIST_SLOTS];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		memset(slots, 0xab, sizeof(slots));
		ret = store_blob_decode(cases[i].bytes, cases[i].len, slots);
		if (ret != -EBADMSG)
			fprintf(stderr, "  case \"%s\": %d\n", cases[i].why, ret);
		CHECK_EQ_INT(ret, -EBADMSG);
		/* the output is cleared first, never left with old counts
		 * (the callers ignore it after an error) */
		for (size_t k = 2; k < REGISTRY_HIST_SLOTS; k++)
			CHECK_EQ_INT(slots[k], 0);
	}
	CHECK_EQ_INT(store_blob_decode(NULL, 4, slots), -EBADMSG);
}

TEST(timestamps_are_kept_in_milliseconds)
{
	int64_t ms = 0;

	CHECK_EQ_INT(store_ts_to_ms(T0 + 0.0015, &ms), 0);
	CHECK_EQ_INT(ms, (int64_t)T0 * 1000 + 2); /* rounded to the nearest */
	CHECK_EQ_INT(store_ts_to_ms(8.6e12, &ms), 0);
	CHECK_EQ_INT(ms, 8600000000000000LL);
	ms = 7;
	CHECK_EQ_INT(store_ts_to_ms(0, &ms), -EINVAL);
	CHECK_EQ_INT(store_ts_to_ms(-1, &ms), -EINVAL);
	CHECK_EQ_INT(store_ts_to_ms(8.7e12, &ms), -EINVAL);
	CHECK_EQ_INT(store_ts_to_ms(NAN, &ms), -EINVAL);
	CHECK_EQ_INT(store_ts_to_ms(INFINITY, &ms), -EINVAL);
	CHECK_EQ_INT(ms, 7); /* untouched on failure */
}

/* ------------------------------------------------------- raw reader */

/* Ten histogram samples of one series in two chunks, T0 .. T0 + 4 and
 * T0 + 600 .. T0 + 604 (a chunk spans less than 8 minutes), written and closed; then the first
 * chunk's header is damaged through the test's connection. */
static int two_chunks_one_damaged(struct fixture *f)
{
	static const struct metric_label dev[] = {{"device", "sda"}};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {0};
	int err = fx_open(f);

	for (int i = 0; i < 10 && !err; i++) {
		slots[3] += 10;
		registry_begin(f->reg, T0 + (i < 5 ? i : 595 + i), 1.0);
		err = registry_set_histogram(f->reg, "kpulse_h_seconds", dev, 1, slots,
					     10 * (uint64_t)(i + 1), 100.0 * (i + 1), 1e-9);
		registry_end(f->reg);
		if (!err)
			err = store_append_snapshot(f->s, f->reg);
	}
	f->s = store_close(f->s);
	if (!err)
		err = sql_open(f);
	if (!err && sql_int(f->db, "SELECT count(*) FROM chunks_raw") != 2)
		err = -EDOM;
	if (!err)
		err = sql_exec(f->db, "UPDATE chunks_raw SET data = x'09' || substr(data, 2) "
				      "WHERE start_ms = 1699999200000");
	return err;
}

static size_t read_all(sqlite3 *db, int64_t id, int64_t from_ms, int64_t end_ms,
		       struct raw_sample *out, size_t max, struct raw_reader *rd)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (sqlite3_prepare_v2(db, store_sql_raw_rows, -1, &st, NULL) != SQLITE_OK)
		return SIZE_MAX;
	store_raw_reader_start(rd, st, id, from_ms, end_ms);
	while (n < max && store_raw_reader_next(rd, &out[n]))
		n++;
	/* ended: asking again is still the end */
	if (store_raw_reader_next(rd, &out[0]))
		n = SIZE_MAX;
	sqlite3_finalize(st);
	return n;
}

STORE_TEST(raw_reader_reads_in_time_order_and_skips_a_damaged_chunk)
{
	static struct raw_sample got[16];
	struct raw_sample prev;
	struct raw_reader rd;
	sqlite3_stmt *st = NULL;
	int64_t id;
	bool found = true;
	size_t n;
	int rc;

	CHECK_EQ_INT(two_chunks_one_damaged(f), 0);
	id = sql_int(f->db, "SELECT id FROM series");
	CHECK(id > 0);

	/* the first chunk is skipped, the second read whole, in order */
	n = read_all(f->db, id, (int64_t)T0 * 1000, (int64_t)(T0 + 700) * 1000, got, 16, &rd);
	CHECK_EQ_INT(n, 5);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(got[i].ts_ms, ((int64_t)T0 + 600 + (int64_t)i) * 1000);
		CHECK(got[i].has_hist);
		CHECK_EQ_INT(got[i].hist_count, 10 * (i + 6));
		CHECK_EQ_INT(got[i].slots[3], 10 * (i + 6));
		CHECK_NEAR(got[i].value, 100e-9 * (double)(i + 6), 1e-15);
	}
	CHECK_EQ_INT(rd.chunks, 2); /* the damaged chunk was read, and skipped */
	CHECK_EQ_INT(rd.rc, SQLITE_DONE);

	/* the end is exclusive, the start inclusive */
	n = read_all(f->db, id, (int64_t)(T0 + 601) * 1000, (int64_t)(T0 + 603) * 1000, got, 16,
		     &rd);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(got[0].ts_ms, ((int64_t)T0 + 601) * 1000);

	/* the sample before: found, or none when its chunk is the damaged one */
	CHECK_EQ_INT(sqlite3_prepare_v2(f->db, store_sql_raw_prev, -1, &st, NULL), SQLITE_OK);
	rc = store_raw_prev(st, id, (int64_t)(T0 + 602) * 1000, &prev, &found);
	sqlite3_reset(st);
	CHECK_EQ_INT(rc, SQLITE_ROW);
	CHECK(found);
	CHECK_EQ_INT(prev.ts_ms, ((int64_t)T0 + 601) * 1000);
	rc = store_raw_prev(st, id, (int64_t)(T0 + 100) * 1000, &prev, &found);
	sqlite3_reset(st);
	CHECK_EQ_INT(rc, SQLITE_ROW);
	CHECK(!found);
	rc = store_raw_prev(st, id, (int64_t)T0 * 1000, &prev, &found);
	sqlite3_finalize(st);
	CHECK_EQ_INT(rc, SQLITE_DONE);
	CHECK(!found);

	/* a truncated chunk gives the samples before the damage, in order */
	CHECK_EQ_INT(sql_exec(f->db, "UPDATE chunks_raw SET data = substr(data, 1, "
				     "length(data) - 3) WHERE start_ms = 1699999800000"),
		     0);
	n = read_all(f->db, id, (int64_t)T0 * 1000, (int64_t)(T0 + 700) * 1000, got, 16, &rd);
	CHECK(n >= 1 && n < 5);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(got[i].ts_ms, ((int64_t)T0 + 600 + (int64_t)i) * 1000);
}

/* ---------------------------------------------------- span aggregate */

static struct raw_sample value_sample(double v)
{
	return (struct raw_sample){.has_value = true, .value = v};
}

TEST(counter_span_treats_a_decrease_as_a_reset)
{
	const double v[] = {10, 15, 3, 7};
	struct raw_sample smp[4];
	struct span_agg a = {0};

	for (int i = 0; i < 4; i++) {
		smp[i] = value_sample(v[i]);
		store_span_add_raw(&a, METRIC_COUNTER, i ? &smp[i - 1] : NULL, &smp[i]);
	}
	CHECK_EQ_INT(a.n, 4);
	CHECK(a.has_values && a.has_inc && !a.has_hist);
	CHECK_NEAR(a.inc, 5 + 3 + 4, 0); /* the first sample adds no increase */
	CHECK_NEAR(a.min, 3, 0);
	CHECK_NEAR(a.max, 15, 0);
	CHECK_NEAR(a.sum, 35, 0);
	CHECK_NEAR(a.last, 7, 0);

	/* a gauge has no increase */
	memset(&a, 0, sizeof(a));
	for (int i = 0; i < 4; i++)
		store_span_add_raw(&a, METRIC_GAUGE, i ? &smp[i - 1] : NULL, &smp[i]);
	CHECK(!a.has_inc);
	CHECK_EQ_INT(a.n, 4);
}

TEST(histogram_span_counts_observations_across_a_reset)
{
	struct raw_sample h[3] = {0};
	struct span_agg a = {0};

	for (int i = 0; i < 3; i++)
		h[i].has_hist = true;
	h[0].slots[4] = 5, h[0].hist_count = 5, h[0].value = 50;
	h[1].slots[4] = 8, h[1].slots[6] = 2, h[1].hist_count = 10, h[1].value = 90;
	/* the daemon restarted: counts start again from zero */
	h[2].slots[4] = 1, h[2].hist_count = 1, h[2].value = 4;
	for (int i = 0; i < 3; i++)
		store_span_add_raw(&a, METRIC_HISTOGRAM, i ? &h[i - 1] : NULL, &h[i]);
	CHECK_EQ_INT(a.n, 3);
	CHECK(a.has_hist && !a.has_values);
	CHECK_EQ_INT(a.slots[4], 3 + 1);
	CHECK_EQ_INT(a.slots[6], 2);
	CHECK_EQ_INT(a.hist_count, 5 + 1);
	CHECK_NEAR(a.hist_sum, 40 + 4, 0);

	/* one sample alone says nothing about when its counts happened */
	memset(&a, 0, sizeof(a));
	store_span_add_raw(&a, METRIC_HISTOGRAM, NULL, &h[1]);
	CHECK_EQ_INT(a.n, 1);
	CHECK(!a.has_hist);
}

TEST(merged_halves_equal_the_whole_span)
{
	enum metric_type types[] = {METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM};
	struct raw_sample smp[40];
	uint64_t rng = 7;

	for (int i = 0; i < 40; i++) {
		smp[i] = value_sample((double)(lcg(&rng) % 1000));
		smp[i].has_hist = true;
		for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
			smp[i].slots[k] = (i ? smp[i - 1].slots[k] : 0) + lcg(&rng) % 3;
		smp[i].hist_count = (i ? smp[i - 1].hist_count : 0) + 1 + lcg(&rng) % 9;
		if (i == 25) /* a reset in the second half */
			memset(smp[i].slots, 0, sizeof(smp[i].slots));
	}
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int cut = 1; cut < 40; cut += 13) {
			struct span_agg whole = {0}, first = {0}, second = {0};

			for (int i = 0; i < 40; i++)
				store_span_add_raw(&whole, types[t], i ? &smp[i - 1] : NULL,
						   &smp[i]);
			for (int i = 0; i < cut; i++)
				store_span_add_raw(&first, types[t], i ? &smp[i - 1] : NULL,
						   &smp[i]);
			/* the second half knows the sample before it, as a rollup
			 * of the next bucket does */
			for (int i = cut; i < 40; i++)
				store_span_add_raw(&second, types[t], &smp[i - 1], &smp[i]);
			store_span_merge(&first, &second);
			CHECK_EQ_INT(first.n, whole.n);
			CHECK(first.has_values == whole.has_values);
			CHECK(first.has_inc == whole.has_inc);
			CHECK(first.has_hist == whole.has_hist);
			/* integer values: sums are exact */
			CHECK(first.min == whole.min && first.max == whole.max);
			CHECK(first.sum == whole.sum && first.last == whole.last);
			CHECK(first.inc == whole.inc);
			CHECK_EQ_INT(first.hist_count, whole.hist_count);
			CHECK(first.hist_sum == whole.hist_sum);
			CHECK(memcmp(first.slots, whole.slots, sizeof(whole.slots)) == 0);
		}
	}
}

/* ------------------------------------------------------- rollup rows */

STORE_TEST(rollup_row_reads_back_what_was_bound)
{
	struct span_agg a = {.n = 12,
			     .has_values = true,
			     .min = -1.5,
			     .max = 1e300,
			     .sum = 0.1 + 0.2,
			     .last = 3,
			     .has_inc = true,
			     .inc = 42.25,
			     .has_hist = true,
			     .hist_count = 77,
			     .hist_sum = 1e-9};
	struct span_agg b;
	unsigned char blob[STORE_BLOB_MAX];
	sqlite3_stmt *st = NULL;

	a.slots[0] = 70, a.slots[39] = 7;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(
	    sqlite3_prepare_v2(f->db,
			       "INSERT INTO samples_1h (series_id, bucket_ts, " STORE_ROLLUP_COLS
			       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &st, NULL),
	    SQLITE_OK);
	store_span_bind(st, 9, 60, &a, blob);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	st = NULL;

	CHECK_EQ_INT(sqlite3_prepare_v2(f->db, "SELECT " STORE_ROLLUP_COLS " FROM samples_1h", -1,
					&st, NULL),
		     SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_EQ_INT(store_span_from_row(st, 0, &b), 0);
	sqlite3_finalize(st);
	CHECK_EQ_INT(b.n, 12);
	CHECK(b.has_values && b.has_inc && b.has_hist);
	CHECK(b.min == a.min && b.max == a.max && b.sum == a.sum && b.last == a.last);
	CHECK(b.inc == a.inc && b.hist_sum == a.hist_sum);
	CHECK_EQ_INT(b.hist_count, 77);
	CHECK(memcmp(b.slots, a.slots, sizeof(a.slots)) == 0);

	/* a row without values, increase or histogram reads back as such */
	b = (struct span_agg){.n = 1};
	st = NULL;
	CHECK_EQ_INT(sqlite3_prepare_v2(f->db,
					"SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
					-1, &st, NULL),
		     SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_EQ_INT(store_span_from_row(st, 0, &b), 0);
	sqlite3_finalize(st);
	CHECK_EQ_INT(b.n, 3);
	CHECK(!b.has_values && !b.has_inc && !b.has_hist);
}

/* min, max and sum that last gives are left out of the row (NULL) and
 * read back bit for bit; a row of before, with all four, reads as it did */
STORE_TEST(rollup_row_leaves_out_what_last_gives)
{
	static const struct {
		double min, max, sum, last;
		int nulls; /* of min, max, sum */
	} rows[] = {
	    {7, 7, 7 * 60.0, 7, 3},		    /* a gauge that did not move */
	    {1000, 1060, 61830, 1060, 1},	    /* a counter: max is last */
	    {0.1, 0.30000000000000004, 12, 0.3, 0}, /* nothing follows */
	    {0.1, 0.1, 0.1 * 60, 0.1, 3},	    /* a fraction: sum as last * count */
	};
	unsigned char blob[STORE_BLOB_MAX];
	sqlite3_stmt *ins = NULL, *sel = NULL;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(
	    sqlite3_prepare_v2(f->db,
			       "INSERT INTO samples_1h (series_id, bucket_ts, " STORE_ROLLUP_COLS
			       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &ins, NULL),
	    SQLITE_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct span_agg a = {.n = 60,
				     .has_values = true,
				     .min = rows[i].min,
				     .max = rows[i].max,
				     .sum = rows[i].sum,
				     .last = rows[i].last};

		store_span_bind(ins, 1, 60 * (int64_t)i, &a, blob);
		CHECK_EQ_INT(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	/* a row as kpulse wrote them before, all four values there */
	CHECK_EQ_INT(sql_exec(f->db, "INSERT INTO samples_1h (series_id, bucket_ts, "
				     "count, min, max, sum, last) VALUES (1, 600, 2, 5, 5, 10, 5)"),
		     0);
	CHECK_EQ_INT(sqlite3_prepare_v2(f->db,
					"SELECT (min IS NULL) + (max IS NULL) + (sum IS NULL), "
					"bucket_ts, " STORE_ROLLUP_COLS
					" FROM samples_1h ORDER BY bucket_ts",
					-1, &sel, NULL),
		     SQLITE_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct span_agg b;

		CHECK_EQ_INT(sqlite3_step(sel), SQLITE_ROW);
		CHECK_EQ_INT(sqlite3_column_int(sel, 0), rows[i].nulls);
		CHECK_EQ_INT(store_span_from_row(sel, 2, &b), 0);
		CHECK(b.has_values);
		CHECK_EQ_INT(b.n, 60);
		CHECK(memcmp(&b.min, &rows[i].min, sizeof(double)) == 0);
		CHECK(memcmp(&b.max, &rows[i].max, sizeof(double)) == 0);
		CHECK(memcmp(&b.sum, &rows[i].sum, sizeof(double)) == 0);
		CHECK(memcmp(&b.last, &rows[i].last, sizeof(double)) == 0);
	}
	CHECK_EQ_INT(sqlite3_step(sel), SQLITE_ROW);
	{
		struct span_agg b;

		CHECK_EQ_INT(store_span_from_row(sel, 2, &b), 0);
		CHECK(b.has_values && b.n == 2 && b.min == 5 && b.max == 5 && b.sum == 10 &&
		      b.last == 5);
	}
	sqlite3_finalize(sel);
}

TEST_MAIN()
