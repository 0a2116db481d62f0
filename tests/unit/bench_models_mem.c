/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_models_mem.c - where the models sink's memory per modelled series
 * goes, measured in-process (not a test: it prints numbers and exits 0).
 *
 * The daemon's round is replayed as the daemon runs it: a live registry of
 * N counters, the round frozen (a registry copy) and handed to the models
 * sink, the scores written into the next round; one frozen round is kept
 * alive as the API sink keeps the latest. Heap in use (mallinfo2) is read
 * after the rounds at N = BASE and N = BASE + ADDED; the difference over
 * ADDED is the cost of one more series, and the same run with the models
 * off gives the input series' own cost. The breakdown:
 *   - detector state (sizeof(struct detector), what it persists);
 *   - the score series kpulse_anomaly_score: its cost in the live registry
 *     and in the frozen round, measured alone;
 *   - the rest (series_select's entry and strings, the sink's table and
 *     per-series arrays, the model's key strings): the remainder;
 *   - then the same with a real store (each round appended as the store
 *     sink does, a commit every 10 rounds, models warming up from it): the
 *     heap a modelled series adds with the store's per-series state, its
 *     score series' chunks and SQLite (sqlite3_memory_used, shown apart).
 *
 * Usage: bench_models_mem [ADDED [ROUNDS]] (defaults 1000 and 20).
 */
#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "daemon/round.h"
#include "models/detector.h"
#include "models/hostmv.h"
#include "models/models.h"
#include "registry/registry.h"
#include "store/store.h"

#define BASE 100

static size_t heap_in_use(void)
{
	struct mallinfo2 mi;

	malloc_trim(0);
	mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void fill(struct registry *reg, size_t n, double ts, double base)
{
	char dev[32];

	for (size_t i = 0; i < n; i++) {
		struct metric_label l = {"device", dev};

		snprintf(dev, sizeof(dev), "dev%zu", i);
		registry_set_counter(reg, "kpulse_block_ios_completed_total", &l, 1,
				     base * (double)(i + 1) + ts * (double)(i % 7 + 1));
	}
}

/* Heap in use after `rounds` rounds of n series with models on or off. */
static size_t run(size_t n, size_t rounds, bool models_on)
{
	struct registry *reg = registry_new();
	struct models_options o;
	struct models *m = NULL;
	struct round *kept = NULL;
	size_t used;
	char err[256];

	models_options_default(&o);
	o.max_series = 4 * (BASE + 10000);
	if (models_on && models_new(&o, NULL, &m, err, sizeof(err))) {
		fprintf(stderr, "models_new: %s\n", err);
		exit(1);
	}
	for (size_t r = 0; r < rounds; r++) {
		double ts = 1e9 + (double)r;
		struct round *rd;

		registry_begin(reg, ts, 1);
		fill(reg, n, ts, 1000);
		if (m)
			models_add_scores(m, reg);
		registry_end(reg);
		rd = round_freeze(reg, NULL, r + 1);
		if (!rd)
			exit(1);
		if (m)
			models_sink_ops.on_round(m, rd);
		round_unref(kept);
		kept = rd; /* the API sink keeps the latest round */
	}
	used = heap_in_use();
	round_unref(kept);
	models_free(m);
	registry_free(reg);
	return used;
}

/*
 * The daemon's path with the store: each round goes to a real store (as
 * the store sink appends it; a commit every 10 rounds) and the models warm
 * up from it. Heap in use and SQLite's part of it (sqlite3_memory_used)
 * after `rounds` rounds of n series, the store still open.
 */
static void run_store(size_t n, size_t rounds, bool models_on, size_t *ret_heap, size_t *ret_sqlite)
{
	char dir[] = "/tmp/kpulse-bench-mem.XXXXXX", path[64];
	struct registry *reg = registry_new();
	struct store_options so;
	struct models_options o;
	struct store *st = NULL;
	struct models *m = NULL;
	struct round *kept = NULL;
	double t0 = (double)time(NULL) - (double)rounds;
	char err[256];

	if (!mkdtemp(dir))
		exit(1);
	snprintf(path, sizeof(path), "%s/kpulse.db", dir);
	store_options_default(&so);
	so.flush_interval_s = 3600; /* committed here, every 10 rounds */
	if (store_open(path, &so, &st, err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	models_options_default(&o);
	o.max_series = 4 * (BASE + 10000);
	if (models_on && models_new(&o, st, &m, err, sizeof(err))) {
		fprintf(stderr, "models_new: %s\n", err);
		exit(1);
	}
	for (size_t r = 0; r < rounds; r++) {
		double ts = t0 + (double)r;
		struct round *rd;

		registry_begin(reg, ts, 1);
		fill(reg, n, ts, 1000);
		if (m)
			models_add_scores(m, reg);
		registry_end(reg);
		rd = round_freeze(reg, NULL, r + 1);
		if (!rd || store_append_snapshot(st, rd->reg))
			exit(1);
		if (r % 10 == 9)
			store_flush_sync(st);
		if (m)
			models_sink_ops.on_round(m, rd);
		round_unref(kept);
		kept = rd;
	}
	store_flush_sync(st);
	*ret_heap = heap_in_use();
	*ret_sqlite = (size_t)sqlite3_memory_used();
	round_unref(kept);
	models_free(m);
	store_close(st);
	registry_free(reg);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path))
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Heap in use by n score series (3 labels) in a registry and one copy. */
static size_t scores(size_t n)
{
	struct registry *reg = registry_new(), *copy;
	char labels[32];
	size_t used;

	registry_begin(reg, 1e9, 1);
	for (size_t i = 0; i < n; i++) {
		struct metric_label l[3] = {{"metric", "kpulse_block_ios_completed_total"},
					    {"series", labels},
					    {"stat", "rate"}};

		snprintf(labels, sizeof(labels), "device=dev%zu", i);
		registry_set_gauge(reg, "kpulse_anomaly_score", l, 3, 0.1);
	}
	registry_end(reg);
	copy = registry_copy(reg);
	used = heap_in_use();
	registry_free(copy);
	registry_free(reg);
	return used;
}

int main(int argc, char **argv)
{
	size_t added = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
	double on, off, score, det = (double)sizeof(struct detector);

	if (added < 1 || rounds < 3) {
		fprintf(stderr, "usage: bench_models_mem [ADDED >= 1 [ROUNDS >= 3]]\n");
		return 2;
	}
	on = ((double)run(BASE + added, rounds, true) - (double)run(BASE, rounds, true)) /
	     (double)added;
	off = ((double)run(BASE + added, rounds, false) - (double)run(BASE, rounds, false)) /
	      (double)added;
	score = ((double)scores(BASE + added) - (double)scores(BASE)) / (double)added;
	printf("models memory per modelled series (%zu series added to %d, %zu rounds, heap in "
	       "use):\n",
	       added, BASE, rounds);
	printf("  added by the models  %7.0f bytes   target < 4096: %s\n", on - off,
	       on - off < 4096 ? "PASS" : "FAIL");
	printf("    detector state     %7.0f bytes\n", det);
	printf("    score series       %7.0f bytes (live registry + the round kept)\n", score);
	printf("    the rest           %7.0f bytes (selection, sink tables, names)\n",
	       on - off - det - score);
	printf("  the input series     %7.0f bytes (collected anyway: not counted)\n", off);
	{
		/* the same with a real store: what the daemon's RSS adds */
		size_t h[2][2], q[2][2], srounds = rounds < 120 ? 120 : rounds;

		for (int mo = 0; mo < 2; mo++) {
			run_store(BASE, srounds, mo, &h[mo][0], &q[mo][0]);
			run_store(BASE + added, srounds, mo, &h[mo][1], &q[mo][1]);
		}
		double dh_on = ((double)h[1][1] - (double)h[1][0]) / (double)added;
		double dh_off = ((double)h[0][1] - (double)h[0][0]) / (double)added;
		double dq_on = ((double)q[1][1] - (double)q[1][0]) / (double)added;
		double dq_off = ((double)q[0][1] - (double)q[0][0]) / (double)added;

		printf("  with a store (%zu rounds, a commit every 10, warm-up from it):\n",
		       srounds);
		printf(
		    "    added by the models %7.0f bytes, of which SQLite %6.0f (its page caches "
		    "and statements; the store's per-series state and the score series' "
		    "chunks are the rest beyond the line above)\n",
		    dh_on - dh_off, dq_on - dq_off);
		printf("    the input series    %7.0f bytes, of which SQLite %6.0f\n", dh_off,
		       dq_off);
	}
	{
		/* the multivariate detectors' fixed part, at the defaults of
		 * hostmv.c (1 s rounds, 1 min windows, 24 h, 64 series) */
		struct multivar_options mo = {.interval_s = 1,
					      .window_s = 60,
					      .history_s = 86400,
					      .retrain_s = 3600,
					      .max_train_rows = 1440,
					      .forest = {.trees = 100, .sample_size = 256},
					      .lof_neighbors = 20};

		printf("  multivariate IF+LOF  %7.1f MB at most, whatever the series count "
		       "(64 series, 24 h of 1 min windows; half of it only while a new model "
		       "is handed over)\n",
		       (double)multivar_memory_bound(&mo, 64) / 1e6);
	}
	return 0;
}
