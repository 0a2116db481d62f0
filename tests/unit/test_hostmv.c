// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_hostmv.c - the host's multivariate detectors in the models sink:
 * a correlated shift scores high and names its series as ensemble inputs
 * (and, through the models sink, becomes an anomaly whose record names
 * iforest or lof and its contributors); the first model is trained from
 * the store's history; a new set of series starts the detectors over;
 * histograms' p99 stay out; bad options are refused. Waits for the
 * trainer thread are polls with a generous deadline, never a measurement
 * of speed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/round.h"
#include "models/hostmv.h"
#include "models/models.h"
#include "models/rng.h"
#include "store/store.h"
#include "test.h"
#include "util/clock.h"

static const char *const keys[] = {"app_a{}:value", "app_b{}:value", "app_c{}:value",
				   "app_lat{}:p99"};
static const char *const metric[] = {"app_a", "app_b", "app_c", "app_lat"};

/* A normal round: b follows a, c stays; the p99 is noise. */
static void normal(struct rng *r, double *v)
{
	double a = 10 + 5 * (rng_uniform(r) + 1);

	v[0] = a;
	v[1] = 2 * a + 0.2 * rng_uniform(r);
	v[2] = 5 + 0.1 * rng_uniform(r);
	v[3] = 0.01 + 0.001 * rng_uniform(r);
}

static size_t to_values(const double *v, size_t n, struct series_value *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct series_value){
		    keys[i], metric[i], "", i == 3 ? SERIES_STAT_P99 : SERIES_STAT_VALUE,
		    v[i],    NULL};
	return n;
}

static struct hostmv_options opts(void)
{
	return (struct hostmv_options){
	    .window_s = 1, .history_s = 300, .retrain_s = 3600, .max_series = 8};
}

/* Polls until the detectors trained a model (up to 60 s, even under ASan). */
static bool wait_trained(struct hostmv *h)
{
	for (int i = 0; i < 6000; i++) {
		struct hostmv_stats st;

		hostmv_stats(h, &st);
		if (st.trainings >= 1)
			return true;
		usleep(10000);
	}
	return false;
}

TEST(a_correlated_shift_scores_high_and_names_its_series)
{
	struct hostmv_options o = opts();
	struct hostmv *h = NULL;
	struct ensemble_input in[HOSTMV_INPUTS];
	struct series_value sv[4];
	struct hostmv_stats st;
	struct rng r;
	double v[4], t = 1e6, best = 0;
	size_t n;
	bool named = false;

	rng_seed(&r, 7);
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, NULL, 0), 0);
	for (int i = 0; i < 200; i++, t += 1) {
		normal(&r, v);
		hostmv_round(h, t, 1, sv, to_values(v, 4, sv), in);
	}
	/* the first attempts came too early; a retry follows every 16 windows */
	CHECK(wait_trained(h));
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.series, 3); /* a, b, c: the p99 stays out */
	CHECK_EQ_INT(st.restarts, 1);
	/* normal rounds: scored, low */
	for (int i = 0; i < 5; i++, t += 1) {
		normal(&r, v);
		n = hostmv_round(h, t, 1, sv, to_values(v, 4, sv), in);
		CHECK_EQ_INT(n, 2);
		for (size_t k = 0; k < n; k++)
			CHECK(in[k].score < 0.5);
	}
	CHECK(!strcmp(in[0].detector, "iforest") && !strcmp(in[1].detector, "lof"));
	/* a correlated shift: a and b leave their ranges together, keeping
	 * their ratio; c stays */
	for (int i = 0; i < 3; i++, t += 1) {
		normal(&r, v);
		v[0] = 30;
		v[1] = 60;
		n = hostmv_round(h, t, 1, sv, to_values(v, 4, sv), in);
		for (size_t k = 0; k < n; k++) {
			best = fmax(best, in[k].score);
			if (in[k].score >= 0.5 && in[k].nseries &&
			    (!strcmp(in[k].series[0], keys[0]) ||
			     !strcmp(in[k].series[0], keys[1])))
				named = true;
		}
	}
	CHECK(best >= 0.5);
	CHECK(named);
	hostmv_free(h);
}

struct fx {
	char dir[64], path[128];
	struct store *s;
};

static int fx_open(struct fx *f)
{
	struct store_options o;
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/kpulse-test-hostmv.XXXXXX");
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

TEST(the_first_model_is_trained_on_stored_history)
{
	struct hostmv_options o = opts();
	struct registry *reg = registry_new();
	struct ensemble_input in[HOSTMV_INPUTS];
	struct series_value sv[4];
	struct hostmv *h = NULL;
	struct hostmv_stats st;
	struct fx f = {0};
	struct rng r;
	double v[4], now = clock_wall_s(), t;

	CHECK(reg);
	CHECK_EQ_INT(fx_open(&f), 0);
	rng_seed(&r, 3);
	/* 200 s of history, one sample a second */
	for (t = now - 200; t < now; t += 1) {
		normal(&r, v);
		registry_begin(reg, t, 1);
		for (int j = 0; j < 3; j++)
			registry_set_gauge(reg, metric[j], NULL, 0, v[j]);
		registry_end(reg);
		CHECK_EQ_INT(store_append_snapshot(f.s, reg), 0);
	}
	CHECK_EQ_INT(store_flush_sync(f.s), 0);
	CHECK_EQ_INT(hostmv_new(&o, f.s, &h, NULL, 0), 0);
	/* the set settles in HOSTMV_SETTLE_ROUNDS rounds: far fewer windows
	 * than a model needs, so a model now came from the store */
	for (int i = 0; i < HOSTMV_SETTLE_ROUNDS + 1; i++, t += 1) {
		normal(&r, v);
		hostmv_round(h, t, 1, sv, to_values(v, 3, sv), in);
	}
	CHECK(wait_trained(h));
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.series, 3);
	hostmv_free(h);
	fx_close(&f);
	registry_free(reg);
}

TEST(a_new_series_starts_the_detectors_over_once_it_settles)
{
	struct hostmv_options o = opts();
	struct ensemble_input in[HOSTMV_INPUTS];
	struct series_value sv[4];
	struct hostmv *h = NULL;
	struct hostmv_stats st;
	struct rng r;
	double v[4], t = 1e6;

	rng_seed(&r, 5);
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, NULL, 0), 0);
	/* one series is not enough for a multivariate model */
	for (int i = 0; i < 10; i++, t += 1) {
		normal(&r, v);
		hostmv_round(h, t, 1, sv, to_values(v, 1, sv), in);
	}
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.restarts, 0);
	for (int i = 0; i < 10; i++, t += 1) {
		normal(&r, v);
		hostmv_round(h, t, 1, sv, to_values(v, 2, sv), in);
	}
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.restarts, 1);
	CHECK_EQ_INT(st.series, 2);
	/* a third series for fewer rounds than the settling: nothing changes */
	for (int i = 0; i < HOSTMV_SETTLE_ROUNDS - 1; i++, t += 1) {
		normal(&r, v);
		hostmv_round(h, t, 1, sv, to_values(v, 3, sv), in);
	}
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.restarts, 1);
	normal(&r, v);
	hostmv_round(h, t, 1, sv, to_values(v, 3, sv), in);
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.restarts, 2);
	CHECK_EQ_INT(st.series, 3);
	hostmv_free(h);
}

TEST(a_set_the_detectors_cannot_start_on_is_tried_once)
{
	struct hostmv_options o = opts();
	struct ensemble_input in[HOSTMV_INPUTS];
	struct series_value sv[4];
	struct hostmv *h = NULL;
	struct hostmv_stats st;
	struct rng r;
	double v[4], t = 1e6;

	/* a window of 7,200 rounds of 0.5 s: more than a window may hold */
	o.window_s = 3600;
	o.history_s = 40 * 3600;
	rng_seed(&r, 9);
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, NULL, 0), 0);
	for (int i = 0; i < 30; i++, t += 0.5) {
		normal(&r, v);
		CHECK_EQ_INT(hostmv_round(h, t, 0.5, sv, to_values(v, 3, sv), in), 0);
	}
	hostmv_stats(h, &st);
	CHECK_EQ_INT(st.restarts, 1);
	CHECK_EQ_INT(st.series, 0);
	hostmv_free(h);
}

TEST(beyond_max_series_the_kernel_signals_come_first)
{
	/* six custom series come first in the round, then three kernel
	 * signals; four fit: the kernel ones in their preferred order, then
	 * the first custom one */
	static const char *const names[] = {"app_0",
					    "app_1",
					    "app_2",
					    "app_3",
					    "app_4",
					    "app_5",
					    "kpulse_mem_page_faults_total",
					    "kpulse_sched_processes_forked_total",
					    "kpulse_sched_context_switches_total"};
	struct hostmv_options o = opts();
	struct series_value v[9];
	struct ensemble_input in[HOSTMV_INPUTS];
	char keyv[9][64];
	struct hostmv *h = NULL;
	char err[128];

	o.max_series = 4;
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, err, sizeof(err)), 0);
	for (size_t i = 0; i < 9; i++) {
		snprintf(keyv[i], sizeof(keyv[i]), "%s{}:rate", names[i]);
		v[i] =
		    (struct series_value){keyv[i], names[i], "", SERIES_STAT_RATE, (double)i, NULL};
	}
	for (int r = 0; r <= HOSTMV_SETTLE_ROUNDS; r++)
		hostmv_round(h, 1000 + r, 1, v, 9, in);
	CHECK_STR(hostmv_series_key(h, 0), "kpulse_sched_context_switches_total{}:rate");
	CHECK_STR(hostmv_series_key(h, 1), "kpulse_sched_processes_forked_total{}:rate");
	CHECK_STR(hostmv_series_key(h, 2), "kpulse_mem_page_faults_total{}:rate");
	CHECK_STR(hostmv_series_key(h, 3), "app_0{}:rate");
	CHECK(hostmv_series_key(h, 4) == NULL);
	hostmv_free(h);
}

TEST(options_out_of_range_are_refused)
{
	struct hostmv_options o = opts();
	struct hostmv *h = NULL;
	char err[256] = "";

	o.max_series = 1;
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "series"));
	o = opts();
	o.history_s = 10; /* 10 windows of 1 s */
	CHECK_EQ_INT(hostmv_new(&o, NULL, &h, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "history"));
	CHECK(h == NULL);
}

/* ---- through the models sink: the anomaly record ---- */

static void feed(struct models *m, struct registry *reg, double ts, const double *v, uint64_t seq)
{
	struct round *rd;

	registry_begin(reg, ts, 1);
	for (int j = 0; j < 3; j++)
		registry_set_gauge(reg, metric[j], NULL, 0, v[j]);
	registry_end(reg);
	rd = round_freeze(reg, NULL, seq);
	if (rd) {
		models_sink_ops.on_round(m, rd);
		round_unref(rd);
	}
}

/* The value of a series models_add_scores() writes. */
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

TEST(the_models_sink_stores_a_multivariate_anomaly_with_its_detectors_and_contributors)
{
	struct store_anomaly_query q = {.from = 0, .to = 1e12, .limit = 100};
	struct store_anomaly_list *l = NULL;
	struct registry *reg = registry_new();
	struct models_options o;
	struct models *m = NULL;
	struct fx f = {0};
	struct rng r;
	double v[4], t = clock_wall_s() - 1000;
	uint64_t seq = 0;
	bool found = false;
	char err[256] = "";

	CHECK(reg);
	CHECK_EQ_INT(fx_open(&f), 0);
	models_options_default(&o);
	o.include = "app_*";
	o.mv = opts();
	CHECK_EQ_INT(models_new(&o, f.s, &m, err, sizeof(err)), 0);
	rng_seed(&r, 11);
	/* a series joins the vectors once it has history for a model (33
	 * windows of 1 s here): none before */
	for (int i = 0; i < 30; i++, t += 1) {
		normal(&r, v);
		feed(m, reg, t, v, ++seq);
	}
	CHECK_NEAR(exported(m, "kpulse_multivar_series"), 0, 0);
	for (int i = 30; i < 400; i++, t += 1) {
		normal(&r, v);
		feed(m, reg, t, v, ++seq);
	}
	CHECK_NEAR(exported(m, "kpulse_multivar_series"), 3, 0);
	/* the model: trained in the background (a retry every 16 rounds) */
	for (int i = 0; i < 6000 && !(exported(m, "kpulse_multivar_trainings_total") >= 1); i++) {
		normal(&r, v);
		feed(m, reg, t, v, ++seq);
		t += 1;
		usleep(10000);
	}
	for (int i = 0; i < 20; i++, t += 1) {
		normal(&r, v);
		feed(m, reg, t, v, ++seq);
	}
	for (int i = 0; i < 3; i++, t += 1) {
		normal(&r, v);
		v[0] = 30;
		v[1] = 60;
		feed(m, reg, t, v, ++seq);
	}
	CHECK_EQ_INT(store_query_anomalies(f.s, &q, &l), 0);
	for (size_t i = 0; l && i < l->n; i++) {
		const struct store_anomaly *a = &l->items[i];

		if ((strstr(a->detectors, "iforest") || strstr(a->detectors, "lof")) &&
		    (strstr(a->contributors, "app_a") || strstr(a->contributors, "app_b")))
			found = true;
	}
	CHECK(found);
	store_anomaly_list_free(l);
	models_free(m);
	fx_close(&f);
	registry_free(reg);
}

TEST_MAIN()
