/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store.c - store.c, the store's life cycle: options checked before
 * anything is opened, and a graceful close that writes everything
 * buffered and checkpoints the WAL away. The other files of the store
 * have their own test files, test_store_<file>.c (see
 * test_store_fixture.h for what they share).
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "test_store_fixture.h"

STORE_TEST(graceful_close_loses_nothing)
{
	struct metric_series m[100];
	char wal[160];
	json_t *fields;

	/* the writer would not flush on its own during the test */
	f->opts.flush_interval_s = 3600;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_g%d", i);
		m[i] = gauge_series(name, "k", "v", i);
	}
	for (int round = 0; round < 50; round++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + round, m, 100), 0);
	fields = json_pack("{s:i}", "ppid", 1);
	CHECK(fields);
	for (int i = 0; i < 30; i++)
		CHECK_EQ_INT(store_append_event(f->s, T0 + i, "exec", 100 + i, "sh", fields), 0);
	json_decref(fields);
	f->s = store_close(f->s);
	/* the writer's connection closed last and checkpointed the WAL away */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	CHECK(!file_exists(wal));

	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 5000);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 30);
	CHECK_EQ_INT(chunk_totals(f->db, "SELECT data FROM chunks_raw").n, 5000);
	CHECK_EQ_INT(chunk_totals(f->db, "SELECT data FROM chunks_raw").sum, 50 * 4950);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 100);
}

STORE_TEST(bad_options_are_refused_with_reason)
{
	struct store_options o;
	char err[128] = "";

	/* options */
	store_options_default(&o);
	o.flush_interval_s = 0;
	CHECK_EQ_INT(store_open(f->path, &o, &f->s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "flush_interval_s") != NULL);
	store_options_default(&o);
	o.retention_raw_s = NAN;
	CHECK_EQ_INT(store_open(f->path, &o, &f->s, err, sizeof(err)), -EINVAL);
	CHECK(f->s == NULL);
	/* refused before the disk is touched */
	CHECK(!file_exists(f->path));
	CHECK_EQ_INT(store_open(NULL, NULL, &f->s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "no database path") != NULL);
	CHECK(store_close(NULL) == NULL);
}

TEST_MAIN()
