/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_series.c - store_series.c: one series per name and label set
 * whatever the label order, the series limit (new series dropped and
 * counted until old ones go idle), forgetting series that stop appearing
 * and finding them again under their old id, and labels that are not
 * UTF-8.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "test_store_fixture.h"

STORE_TEST(label_order_does_not_make_a_new_series)
{
	struct metric_series a = gauge_series("kpulse_x", "b", "2", 1);
	struct metric_series b = a;

	snprintf(a.label_keys[1], sizeof(a.label_keys[1]), "a");
	snprintf(a.label_values[1], sizeof(a.label_values[1]), "1");
	a.nlabels = 2;
	/* the same labels, the other way round */
	snprintf(b.label_keys[0], sizeof(b.label_keys[0]), "a");
	snprintf(b.label_values[0], sizeof(b.label_values[0]), "1");
	snprintf(b.label_keys[1], sizeof(b.label_keys[1]), "b");
	snprintf(b.label_values[1], sizeof(b.label_values[1]), "2");
	b.nlabels = 2;
	b.value = 2;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &a, 1), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, &b, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series WHERE labels = "
				    "'{\"a\":\"1\",\"b\":\"2\"}'"),
		     1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 2);
}

STORE_TEST(series_limit_drops_new_series_until_old_ones_are_idle)
{
	struct metric_series m[10];
	struct store_stats st;

	f->opts.max_series = 5;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 10; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_s%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 10), -ENOBUFS);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_dropped, 5);
	CHECK_EQ_INT(st.series_tracked, 5);
	/* once written, the first five are idle and make room */
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, m + 5, 5), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 10);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 10);
}

/* Memory follows the live series: one that stopped appearing (a process
 * that left the top K) is forgotten after a while, and comes back with
 * its old id when it reappears. */
STORE_TEST(series_that_stop_appearing_are_forgotten_and_found_again)
{
	struct metric_series gone = gauge_series("kpulse_gone", NULL, NULL, 1);
	struct metric_series live = gauge_series("kpulse_live", NULL, NULL, 2);
	struct store_stats st;
	int round;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &gone, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	for (round = 1; round <= 1400; round++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + round, &live, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.series_tracked, 1);
	CHECK_EQ_INT(store_append_series(f->s, T0 + round, &gone, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 2);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_raw WHERE series_id = "
				    "(SELECT id FROM series WHERE name = 'kpulse_gone')"),
		     2);
}

STORE_TEST(labels_that_are_not_utf8_are_rejected_and_counted)
{
	struct metric_series m[4] = {
	    gauge_series("kpulse_u", "k", "caf\xc3\xa9", 1),
	    gauge_series("kpulse_u", "k", "bad\xff", 2),      /* not a character */
	    gauge_series("kpulse_u", "k", "\xed\xa0\x80", 3), /* UTF-16 surrogate */
	    gauge_series("kpulse_u", "k\xc3", "x", 4),	      /* the key, cut short */
	};
	struct store_stats st;

	CHECK_EQ_INT(fx_open(f), 0);
	/* valid series otherwise: the batch is taken, the bad ones counted */
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 4), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 1);
	CHECK_EQ_INT(st.samples_rejected, 3);
	CHECK_EQ_INT(st.samples_dropped, 0);
	CHECK_EQ_INT(st.series_tracked, 1);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series WHERE labels = "
				    "'{\"k\":\"caf\xc3\xa9\"}'"),
		     1);
}

TEST_MAIN()
