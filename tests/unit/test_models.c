/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_models.c - the models sink end to end on real rounds and a real
 * store: a burst after a quiet warm-up becomes a stored anomaly and a
 * high exported score; the state survives a restart (restored, ids go on);
 * a new daemon warms up from stored history; bad thresholds are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/round.h"
#include "models/models.h"
#include "store/store.h"
#include "test.h"
#include "util/clock.h"

struct fx {
	char dir[64], path[128];
	struct store *s;
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
	return store_open(f->path, &o, &f->s, err, sizeof(err)) ? -EIO : 0;
}

static void fx_close(struct fx *f)
{
	char p[160];

	store_close(f->s);
	snprintf(p, sizeof(p), "rm -rf '%s'", f->dir);
	if (system(p))
		fprintf(stderr, "  could not remove %s\n", f->dir);
}

/* A deterministic small noise in [-1, 1). */
static double wiggle(unsigned i)
{
	return (double)((i * 2654435761u) % 1000) / 500.0 - 1;
}

static struct registry *reg;
static double counter;

/* One round at ts: the context-switch counter grows by rate per second. */
static void feed(struct models *m, double ts, double rate, uint64_t seq)
{
	struct round *rd;

	counter += rate;
	registry_begin(reg, ts, 1);
	registry_set_counter(reg, "kpulse_sched_context_switches_total", NULL, 0, counter);
	registry_end(reg);
	rd = round_freeze(reg, NULL, seq);
	if (rd) {
		models_sink_ops.on_round(m, rd);
		round_unref(rd);
	}
}

/* The value of a series of a registry holding models_add_scores(). */
static double exported(struct models *m, const char *name)
{
	struct registry *out = registry_new();
	double v = NAN;

	if (!out)
		return NAN;
	registry_begin(out, 0, 1);
	if (models_add_scores(m, out) == 0) {
		for (size_t i = 0; i < registry_size(out); i++) {
			const struct metric_series *s = registry_at(out, i);

			if (!strcmp(s->name, name))
				v = s->value;
		}
	}
	registry_end(out);
	registry_free(out);
	return v;
}

static struct models *start(struct store *s)
{
	struct models_options o;
	struct models *m = NULL;
	char err[256] = "";

	models_options_default(&o);
	if (models_new(&o, s, &m, err, sizeof(err)))
		fprintf(stderr, "  models_new: %s\n", err);
	return m;
}

static size_t anomalies(struct store *s, int64_t *ret_first_id)
{
	struct store_anomaly_query q = {.from = 0, .to = 1e12, .limit = 100};
	struct store_anomaly_list *l = NULL;
	size_t n;

	if (store_query_anomalies(s, &q, &l))
		return 0;
	n = l->n;
	if (n && ret_first_id)
		*ret_first_id = l->items[0].id;
	store_anomaly_list_free(l);
	return n;
}

TEST(burst_after_quiet_warmup_is_an_anomaly_that_survives_restart)
{
	double t0 = clock_wall_s() - 2000, burst_score = 0;
	struct store_anomaly_query q = {.from = 0, .to = 1e12, .limit = 10};
	struct store_anomaly_list *l = NULL;
	struct models *m;
	struct fx f = {0};
	uint64_t seq = 0;
	int64_t id1 = 0, id2 = 0;

	reg = registry_new();
	CHECK(reg);
	CHECK_EQ_INT(fx_open(&f), 0);
	m = start(f.s);
	CHECK(m);
	for (int i = 0; i < 600; i++)
		feed(m, t0 + i, 1000 + 20 * wiggle(i), ++seq);
	CHECK_EQ_INT(anomalies(f.s, NULL), 0);
	CHECK(exported(m, "kpulse_anomaly_score") < 0.5);
	for (int i = 600; i < 605; i++) {
		double s;

		feed(m, t0 + i, 50000, ++seq);
		s = exported(m, "kpulse_anomaly_score");
		/* published to four decimals, exactly as k / 10^4 */
		CHECK(s == round(s * 1e4) / 1e4);
		burst_score = s > burst_score ? s : burst_score;
	}
	CHECK(burst_score >= 0.9);
	CHECK_EQ_INT(anomalies(f.s, &id1), 1);
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK_STR(l->items[0].series, "kpulse_sched_context_switches_total{}:rate");
	CHECK_STR(l->items[0].severity, "critical");
	CHECK_STR(l->items[0].detectors, "stream");
	CHECK(strstr(l->items[0].contributors, "kpulse_sched_context_switches_total{}:rate"));
	CHECK_NEAR(l->items[0].start_ts, t0 + 600, 1e-6);
	CHECK(l->items[0].end_ts >= l->items[0].start_ts);
	l = store_anomaly_list_free(l);
	CHECK_NEAR(exported(m, "kpulse_anomalies_total"), 1, 0);

	/* stop (the sink's on_stop saves the state), start again */
	models_sink_ops.on_stop(m);
	models_free(m);
	m = start(f.s);
	CHECK(m);
	CHECK_NEAR(exported(m, "kpulse_models_restored_total"), 1, 0);
	CHECK_NEAR(exported(m, "kpulse_models_warmed_up_total"), 0, 0);
	/* the old anomaly was ended at start */
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	CHECK(!l->items[0].open);
	l = store_anomaly_list_free(l);
	/* back to normal, then a second burst: a new anomaly with a new id,
	 * scored by the restored model (no new warm-up needed) */
	for (int i = 900; i < 1500; i++)
		feed(m, t0 + i, 1000 + 20 * wiggle(i), ++seq);
	for (int i = 1500; i < 1505; i++)
		feed(m, t0 + i, 50000, ++seq);
	CHECK_EQ_INT(anomalies(f.s, &id2), 2);
	CHECK(id2 > id1);
	models_free(m);
	fx_close(&f);
	reg = registry_free(reg);
}

TEST(new_daemon_warms_up_from_stored_history)
{
	double t0 = clock_wall_s() - 1000;
	struct models *m;
	struct fx f = {0};

	reg = registry_new();
	CHECK(reg);
	CHECK_EQ_INT(fx_open(&f), 0);
	/* 900 rounds of history in the store, no model state */
	counter = 0;
	for (int i = 0; i < 900; i++) {
		counter += 1000 + 20 * wiggle(i);
		registry_begin(reg, t0 + i, 1);
		registry_set_counter(reg, "kpulse_sched_context_switches_total", NULL, 0, counter);
		registry_end(reg);
		CHECK_EQ_INT(store_append_snapshot(f.s, reg), 0);
	}
	CHECK_EQ_INT(store_flush_sync(f.s), 0);
	m = start(f.s);
	CHECK(m);
	CHECK_NEAR(exported(m, "kpulse_models_warmed_up_total"), 0, 0);
	/* the first live rate (second round) warms the new model up; then a
	 * burst right away is scored (no 300-round warm-up from nothing) */
	feed(m, t0 + 900, 1000, 1);
	feed(m, t0 + 901, 1000, 2);
	CHECK_NEAR(exported(m, "kpulse_models_warmed_up_total"), 1, 0);
	feed(m, t0 + 902, 50000, 3);
	/* a round in which the daemon did not read the scores: the burst's
	 * peak is still there at the next read */
	feed(m, t0 + 903, 1000, 4);
	CHECK(exported(m, "kpulse_anomaly_score") >= 0.9);
	/* read once: the next read shows the latest round */
	feed(m, t0 + 904, 1000, 5);
	CHECK(exported(m, "kpulse_anomaly_score") < 0.9);
	models_free(m);
	fx_close(&f);
	reg = registry_free(reg);
}

/* Series named name in a registry holding models_add_scores(). */
static size_t exported_count(struct models *m, const char *name)
{
	struct registry *out = registry_new();
	size_t n = 0;

	if (!out)
		return 0;
	registry_begin(out, 0, 1);
	if (models_add_scores(m, out) == 0) {
		for (size_t i = 0; i < registry_size(out); i++)
			n += !strcmp(registry_at(out, i)->name, name);
	}
	registry_end(out);
	registry_free(out);
	return n;
}

TEST(a_series_gone_for_an_hour_leaves_the_table_and_the_export)
{
	double t0 = clock_wall_s() - 20000, t = t0;
	struct models *m;
	struct fx f = {0};
	uint64_t seq = 0;

	reg = registry_new();
	CHECK(reg);
	CHECK_EQ_INT(fx_open(&f), 0);
	m = start(f.s);
	CHECK(m);
	/* two gauges every 10 s, then only one */
	for (int i = 0; i < 50; i++, t += 10) {
		struct round *rd;

		registry_begin(reg, t, 10);
		registry_set_gauge(reg, "kpulse_mem_available_bytes", NULL, 0, 1e9 + i);
		registry_set_gauge(reg, "kpulse_mem_swap_free_bytes", NULL, 0, 2e9);
		registry_end(reg);
		rd = round_freeze(reg, NULL, ++seq);
		models_sink_ops.on_round(m, rd);
		round_unref(rd);
	}
	CHECK_NEAR(exported(m, "kpulse_models_series"), 2, 0);
	CHECK_EQ_INT(exported_count(m, "kpulse_anomaly_score"), 2);
	for (int i = 0; i < 400; i++, t += 10) {
		struct round *rd;

		registry_begin(reg, t, 10);
		registry_set_gauge(reg, "kpulse_mem_available_bytes", NULL, 0, 1e9 + i);
		registry_end(reg);
		rd = round_freeze(reg, NULL, ++seq);
		models_sink_ops.on_round(m, rd);
		round_unref(rd);
		if (i == 40) /* 400 s on: no longer exported, still modelled */
			CHECK_EQ_INT(exported_count(m, "kpulse_anomaly_score"), 1);
	}
	/* over an hour on, past a checkpoint: out of the table */
	CHECK_NEAR(exported(m, "kpulse_models_series"), 1, 0);
	CHECK_EQ_INT(exported_count(m, "kpulse_anomaly_score"), 1);
	models_free(m);
	fx_close(&f);
	reg = registry_free(reg);
}

TEST(thresholds_out_of_order_are_refused)
{
	struct models_options o;
	struct models *m = NULL;
	char err[256] = "";

	models_options_default(&o);
	o.ensemble.warning = 0.95; /* above critical */
	CHECK_EQ_INT(models_new(&o, NULL, &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "info <= warning <= critical"));
	models_options_default(&o);
	CHECK_EQ_INT(models_new(&o, NULL, &m, err, sizeof(err)), 0);
	o.ensemble.info = 0.8;
	o.ensemble.warning = 0.7;
	CHECK_EQ_INT(models_set_thresholds(m, &o.ensemble), -EINVAL);
	models_free(m);
}

TEST_MAIN()
