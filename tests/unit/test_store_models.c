/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_models.c - the models' tables in the store: anomalies
 * written, replaced, ended and queried (time, severity, series or
 * contributor, limit), detector state saved and loaded, pruning, and bad
 * records refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "test.h"

struct fx {
	char dir[64], path[128];
	struct store *s;
	struct store_models *m;
};

static int fx_open(struct fx *f)
{
	struct store_options o;
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/kpulse-test-models.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->path, sizeof(f->path), "%s/kpulse.db", f->dir);
	store_options_default(&o);
	if (store_open(f->path, &o, &f->s, err, sizeof(err)))
		return -EIO;
	return store_models_open(f->s, &f->m, err, sizeof(err));
}

static void fx_close(struct fx *f)
{
	char p[160];

	store_models_close(f->m);
	store_close(f->s);
	snprintf(p, sizeof(p), "rm -rf '%s'", f->dir);
	if (system(p))
		fprintf(stderr, "  could not remove %s\n", f->dir);
}

static struct store_anomaly rec(int64_t id, const char *series, double start, double end,
				const char *severity, const char *contrib)
{
	return (struct store_anomaly){id,  (char *)series,   start,
				      end, end == start,     (char *)severity,
				      0.8, (char *)"stream", (char *)contrib};
}

TEST(anomalies_are_written_replaced_and_queried)
{
	struct store_anomaly_query q = {.from = 0, .to = 1e10, .limit = 100};
	struct store_anomaly_list *l = NULL;
	struct store_anomaly a;
	struct fx f = {0};
	int64_t id = -1;

	CHECK_EQ_INT(fx_open(&f), 0);
	CHECK_EQ_INT(store_models_max_id(f.m, &id), 0);
	CHECK_EQ_INT(id, 0);
	a = rec(1, "cs{}:rate", 100, 100, "info", "[{\"series\":\"cs{}:rate\",\"weight\":1}]");
	/* writes need a transaction */
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), -EINVAL);
	CHECK_EQ_INT(store_models_begin(f.m), 0);
	CHECK_EQ_INT(store_models_begin(f.m), -EBUSY);
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), 0);
	/* the same id again: the record moves on (end, severity) */
	a = rec(1, "cs{}:rate", 100, 160, "critical", "[{\"series\":\"cs{}:rate\",\"weight\":1}]");
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), 0);
	a = rec(
	    2, "pf{}:rate", 500, 500, "warning",
	    "[{\"series\":\"pf{}:rate\",\"weight\":2},{\"series\":\"cs{}:rate\",\"weight\":1}]");
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), 0);
	CHECK_EQ_INT(store_models_commit(f.m), 0);
	CHECK_EQ_INT(store_models_max_id(f.m, &id), 0);
	CHECK_EQ_INT(id, 2);

	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 2);
	CHECK_EQ_INT(l->items[0].id, 2); /* newest first */
	CHECK_EQ_INT(l->items[1].id, 1);
	CHECK_NEAR(l->items[1].end_ts, 160, 0);
	CHECK_STR(l->items[1].severity, "critical");
	CHECK(l->items[0].open);
	l = store_anomaly_list_free(l);

	q.severity = "critical";
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 1);
	CHECK_EQ_INT(l->items[0].id, 1);
	l = store_anomaly_list_free(l);

	/* a series matches its own anomalies and those it contributed to */
	q.severity = NULL;
	q.series = "cs{}:rate";
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 2);
	l = store_anomaly_list_free(l);
	q.series = "pf{}:rate";
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 1);
	l = store_anomaly_list_free(l);

	/* time: overlapping [from, to] */
	q.series = NULL;
	q.from = 150;
	q.to = 400;
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 1);
	CHECK_EQ_INT(l->items[0].id, 1);
	l = store_anomaly_list_free(l);

	q.from = 0;
	q.to = 1e10;
	q.limit = 1;
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 1);
	l = store_anomaly_list_free(l);

	CHECK_EQ_INT(store_models_end_open(f.m), 0);
	q.limit = 10;
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK(!l->items[0].open);
	l = store_anomaly_list_free(l);

	CHECK_EQ_INT(store_models_prune(f.m, 200, 0), 0);
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_EQ_INT(l->n, 1);
	CHECK_EQ_INT(l->items[0].id, 2);
	store_anomaly_list_free(l);
	fx_close(&f);
}

TEST(bad_records_and_queries_are_refused)
{
	struct store_anomaly_query q = {.from = 10, .to = 5, .limit = 10};
	struct store_anomaly_list *l = NULL;
	struct store_anomaly a;
	struct fx f = {0};

	CHECK_EQ_INT(fx_open(&f), 0);
	CHECK_EQ_INT(store_models_begin(f.m), 0);
	a = rec(1, "x", 10, 5, "info", "[]"); /* ends before it starts */
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), -EINVAL);
	a = rec(1, "x", 1, 5, "severe", "[]");
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), -EINVAL);
	a = rec(1, "x", 1, 5, "info", "[]");
	a.peak_score = 1.5;
	CHECK_EQ_INT(store_models_put_anomaly(f.m, &a), -EINVAL);
	store_models_rollback(f.m);
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), -EINVAL);
	q.to = 20;
	q.severity = "severe";
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), -EINVAL);
	q.severity = NULL;
	q.limit = 0;
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), -EINVAL);
	CHECK(!l);
	fx_close(&f);
}

struct loaded {
	int n;
	char series[64];
	unsigned char blob[8];
	size_t len;
};

static int on_state(void *ctx, const char *series, const char *kind, double ts, const void *blob,
		    size_t len)
{
	struct loaded *l = ctx;

	l->n++;
	snprintf(l->series, sizeof(l->series), "%s", series);
	l->len = len < sizeof(l->blob) ? len : sizeof(l->blob);
	memcpy(l->blob, blob, l->len);
	return 0;
}

TEST(states_are_saved_replaced_loaded_and_pruned)
{
	static const unsigned char b1[] = {1, 2, 3}, b2[] = {4, 5, 6, 7};
	struct loaded l = {0};
	struct fx f = {0};

	CHECK_EQ_INT(fx_open(&f), 0);
	CHECK_EQ_INT(store_models_begin(f.m), 0);
	CHECK_EQ_INT(store_models_put_state(f.m, "a{}:rate", "stream", 100, b1, sizeof(b1)), 0);
	CHECK_EQ_INT(store_models_put_state(f.m, "a{}:rate", "stream", 200, b2, sizeof(b2)), 0);
	CHECK_EQ_INT(store_models_commit(f.m), 0);
	CHECK_EQ_INT(store_models_put_state(f.m, "a{}:rate", "stream", 200, b2, sizeof(b2)),
		     -EINVAL); /* no transaction */
	CHECK_EQ_INT(store_models_load_states(f.m, on_state, &l), 0);
	CHECK_EQ_INT(l.n, 1);
	CHECK_STR(l.series, "a{}:rate");
	CHECK_EQ_INT(l.len, 4);
	CHECK_EQ_INT(l.blob[3], 7);
	CHECK_EQ_INT(store_models_prune(f.m, 0, 300), 0);
	l.n = 0;
	CHECK_EQ_INT(store_models_load_states(f.m, on_state, &l), 0);
	CHECK_EQ_INT(l.n, 0);
	fx_close(&f);
}

/* Detector states of about 2 KB sit three or four to a page, without an
 * overflow page each (schema 7), and a state saved again is updated in
 * place: the table does not grow. */
TEST(states_of_2_kb_fill_pages_without_overflow)
{
	unsigned char blob[2000];
	char series[32], sql[160];
	sqlite3 *db = NULL;
	int64_t pages[2] = {-1, -1}, overflow = -1;
	struct fx f = {0};

	memset(blob, 0x5a, sizeof(blob));
	CHECK_EQ_INT(fx_open(&f), 0);
	for (int round = 0; round < 2; round++) {
		CHECK_EQ_INT(store_models_begin(f.m), 0);
		for (int i = 0; i < 60; i++) {
			snprintf(series, sizeof(series), "s%d{}:rate", i);
			blob[0] = (unsigned char)round;
			CHECK_EQ_INT(store_models_put_state(f.m, series, "stream", 100 + round,
							    blob, sizeof(blob)),
				     0);
		}
		CHECK_EQ_INT(store_models_commit(f.m), 0);
		CHECK_EQ_INT(sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*), sum(pagetype = 'overflow') FROM dbstat WHERE name = "
			 "'model_state'");
		{
			sqlite3_stmt *st = NULL;

			CHECK_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
			CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
			pages[round] = sqlite3_column_int64(st, 0);
			overflow = sqlite3_column_int64(st, 1);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
		db = NULL;
		CHECK_EQ_INT(overflow, 0);
	}
	/* 60 states of 2 KB: 120 KB in 8 KiB pages (15 full ones), against
	 * 60 leaf and 60 overflow pages before */
	CHECK(pages[0] > 0 && pages[0] <= 24);
	CHECK_EQ_INT(pages[1], pages[0]);
	fx_close(&f);
}

TEST_MAIN()
