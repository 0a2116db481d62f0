/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_store.c - how fast the store takes samples and answers a range
 * query (not a test: it prints numbers and always exits 0 unless the
 * store itself fails).
 *
 *   ingest: SERIES series (5% histograms) appended round after round
 *           through store_append_series() and the real writer thread into
 *           a database file, background maintenance on; samples/s counts
 *           from the first append to the last commit.
 *           Bytes per sample: the database file plus its WAL after the
 *           last commit, over the samples written.
 *   paced:  SERIES / 2 series, 600 rounds, a commit after each round as
 *           the daemon's flushes do: bytes per sample of db + WAL.
 *   query:  24 h of one series at a 1-minute step from the 1-minute tier
 *           of a second database (100 series, a sample every 10 s, rolled
 *           up under a fake clock), and 1 h of it at a 10 s step from the
 *           raw tier; the median of QUERIES runs each. The rollup
 *           tiers' pages in that database, per bucket of a series.
 *   memory: the open chunks' memory (store_stats.open_chunk_bytes) with
 *           MEM_SERIES series after MEM_ROUNDS rounds (chunks half full).
 *
 * Built with -DBENCH_STORE_BASELINE it leaves out what a store before
 * compressed chunks cannot report, so the same bench runs on both.
 *
 * Usage: bench_store [DIR [SERIES [ROUNDS]]]: the databases go to a new
 * directory under DIR (default /var/tmp: on disk, unlike a tmpfs /tmp),
 * removed afterwards (kept when BENCH_STORE_KEEP is set, to look into).
 * Defaults: 2000 series, 1000 rounds.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#ifndef BENCH_STORE_BASELINE
#include "store/store_chunk.h"
#endif
#include "util/clock.h"

#define QUERIES	     101
#define QUERY_SERIES 100
#define MEM_SERIES   10000
#define MEM_ROUNDS   60

static double fake_now;

static double fake_clock(void *ctx)
{
	double v;

	__atomic_load(&fake_now, &v, __ATOMIC_SEQ_CST);
	return v;
}

static void set_fake_now(double t)
{
	__atomic_store(&fake_now, &t, __ATOMIC_SEQ_CST);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[2400];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

static struct metric_series *make_series(size_t n)
{
	struct metric_series *m = calloc(n, sizeof(*m));

	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		snprintf(m[i].name, sizeof(m[i].name), "kpulse_bench_%s_%zu",
			 i % 20 == 0 ? "latency_seconds"
			 : i % 2     ? "ops_total"
				     : "level_bytes",
			 i / 100);
		snprintf(m[i].label_keys[0], sizeof(m[i].label_keys[0]), "device");
		snprintf(m[i].label_values[0], sizeof(m[i].label_values[0]), "dev%zu", i % 100);
		snprintf(m[i].label_keys[1], sizeof(m[i].label_keys[1]), "op");
		snprintf(m[i].label_values[1], sizeof(m[i].label_values[1]), "%s",
			 i % 3 ? "read" : "write");
		m[i].nlabels = 2;
		if (i % 20 == 0) {
			m[i].type = METRIC_HISTOGRAM;
			m[i].scale = 1e-9;
		} else {
			m[i].type = i % 2 ? METRIC_COUNTER : METRIC_GAUGE;
		}
	}
	return m;
}

/* Moves every series one round on: counters and histograms grow. */
static void advance(struct metric_series *m, size_t n, unsigned round)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].type == METRIC_HISTOGRAM) {
			for (int k = 0; k < 6; k++)
				m[i].slots[10 + (round + i + (size_t)k) % 12] += k + 1;
			m[i].hist_count += 21;
			m[i].hist_sum += 21 * 3e-6;
		} else if (m[i].type == METRIC_COUNTER) {
			m[i].value += (double)((round * 7 + i) % 100);
		} else {
			m[i].value = (double)((round * 13 + i * 7) % 1000) * 1024.0;
		}
	}
}

static int bench_ingest(const char *dir, size_t nseries, unsigned rounds)
{
	struct store_options o;
	struct store_stats st;
	struct store *s = NULL;
	struct metric_series *m = make_series(nseries);
	char path[4096], err[256] = "";
	double start = (double)time(NULL) - rounds, t0, t1;
	int ret;

	snprintf(path, sizeof(path), "%s/ingest.db", dir);
	store_options_default(&o);
	ret = m ? store_open(path, &o, &s, err, sizeof(err)) : -ENOMEM;
	if (ret) {
		fprintf(stderr, "bench_store: open %s: %s\n", path, err);
		free(m);
		return ret;
	}
	t0 = clock_mono_s();
	for (unsigned r = 0; r < rounds; r++) {
		advance(m, nseries, r);
		/* the collector's pace is the writer's: stay clear of drops,
		 * and ask for a flush rather than wait for the next tick, so
		 * that the writer's own speed is what is measured */
		store_get_stats(s, &st);
		if (st.samples_buffered + nseries > o.max_buffered_samples / 2)
			ret = store_flush_sync(s);
		if (ret) {
			fprintf(stderr, "bench_store: flush: %d\n", ret);
			break;
		}
		ret = store_append_series(s, start + r, m, nseries);
		if (ret) {
			fprintf(stderr, "bench_store: append: %d\n", ret);
			break;
		}
	}
	if (!ret)
		ret = store_flush_sync(s);
	t1 = clock_mono_s();
	store_get_stats(s, &st);
	printf("ingest: %zu series x %u rounds = %llu samples in %.2f s: %.0f samples/s "
	       "(%llu dropped, %llu flushes, last flush %.1f ms)\n",
	       nseries, rounds, (unsigned long long)st.samples_written, t1 - t0,
	       (double)st.samples_written / (t1 - t0), (unsigned long long)st.samples_dropped,
	       (unsigned long long)st.flushes, st.last_flush_latency_s * 1e3);
	printf("disk: db + WAL %.1f MiB after the last commit: %.2f bytes/sample\n",
	       (double)st.db_size_bytes / (1 << 20),
	       st.samples_written ? (double)st.db_size_bytes / (double)st.samples_written : 0);
	store_close(s);
	/* closed: the WAL is checkpointed into the file and removed */
	{
		struct stat sb;

		if (stat(path, &sb) == 0 && st.samples_written)
			printf("disk: db alone after close %.1f MiB: %.2f bytes/sample\n",
			       (double)sb.st_size / (1 << 20),
			       (double)sb.st_size / (double)st.samples_written);
	}
	free(m);
	return ret;
}

/*
 * At the daemon's pace: one commit per round, so every open chunk is
 * rewritten at each flush (the bulk ingest above closes most chunks
 * before their first write). Bytes per sample of the database and its
 * WAL after the last commit.
 */
static int bench_paced(const char *dir, size_t nseries, unsigned rounds)
{
	struct store_options o;
	struct store_stats st;
	struct store *s = NULL;
	struct metric_series *m = make_series(nseries);
	char path[4096], err[256] = "";
	double start = (double)time(NULL) - rounds;
	int ret;

	snprintf(path, sizeof(path), "%s/paced.db", dir);
	store_options_default(&o);
	o.flush_interval_s = 3600; /* only the flushes asked for below */
	ret = m ? store_open(path, &o, &s, err, sizeof(err)) : -ENOMEM;
	if (ret) {
		fprintf(stderr, "bench_store: open %s: %s\n", path, err);
		free(m);
		return ret;
	}
	for (unsigned r = 0; r < rounds && !ret; r++) {
		advance(m, nseries, r);
		ret = store_append_series(s, start + r, m, nseries);
		if (!ret)
			ret = store_flush_sync(s);
	}
	if (ret)
		fprintf(stderr, "bench_store: paced: %d\n", ret);
	store_get_stats(s, &st);
	printf("paced: %zu series x %u rounds, a commit each: db + WAL %.1f MiB after the last "
	       "commit: %.2f bytes/sample\n",
	       nseries, rounds, (double)st.db_size_bytes / (1 << 20),
	       st.samples_written ? (double)st.db_size_bytes / (double)st.samples_written : 0);
	store_close(s);
	free(m);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench_query(const char *dir)
{
	const double t_end = 1700006400.0; /* an hour boundary */
	const unsigned rounds = 86400 / 10;
	struct store_range_result *res = NULL;
	struct store_range_query q = {
	    .selector = {.name = "kpulse_bench_ops_total_0",
			 .matchers = {{"device", "dev1"}},
			 .nmatchers = 1},
	    .from = t_end - 86400,
	    .to = t_end - 1,
	    .step = 60,
	    .agg = STORE_AGG_RATE,
	};
	struct store_options o;
	struct store *s = NULL;
	struct metric_series *m = make_series(QUERY_SERIES);
	double ms[QUERIES], t0;
	char path[4096], err[256] = "";
	size_t npoints = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/query.db", dir);
	store_options_default(&o);
	o.clock = fake_clock;
	o.maintenance_interval_s = 0;
	set_fake_now(t_end - 86400);
	ret = m ? store_open(path, &o, &s, err, sizeof(err)) : -ENOMEM;
	if (ret) {
		fprintf(stderr, "bench_store: open %s: %s\n", path, err);
		free(m);
		return ret;
	}
	for (unsigned r = 0; r < rounds && !ret; r++) {
		advance(m, QUERY_SERIES, r);
		ret = store_append_series(s, t_end - 86400 + 10.0 * r, m, QUERY_SERIES);
		if (!ret && r % 1000 == 999)
			ret = store_flush_sync(s);
	}
	if (!ret)
		ret = store_flush_sync(s);
	set_fake_now(t_end + 60);
	t0 = clock_mono_s();
	if (!ret)
		ret = store_run_maintenance(s);
	if (ret) {
		fprintf(stderr, "bench_store: preparing the query data: %d\n", ret);
		goto out;
	}
	printf("query setup: %u samples rolled up in %.2f s\n", rounds * QUERY_SERIES,
	       clock_mono_s() - t0);
#ifndef BENCH_STORE_BASELINE
	{
		struct store_stats st;

		/* the tiers' pages (dbstat), as the maintenance pass that
		 * just ended counted them */
		store_get_stats(s, &st);
		printf("rollups: %d series x 24 h: 1-minute tier %.1f KiB, %.1f bytes a minute of "
		       "a series; 1-hour tier %.1f KiB, %.1f bytes an hour of a series\n",
		       QUERY_SERIES, (double)st.tier_bytes[STORE_TIER_1M] / 1024,
		       (double)st.tier_bytes[STORE_TIER_1M] / (QUERY_SERIES * 1440.0),
		       (double)st.tier_bytes[STORE_TIER_1H] / 1024,
		       (double)st.tier_bytes[STORE_TIER_1H] / (QUERY_SERIES * 24.0));
	}
#endif
	for (int i = 0; i < QUERIES; i++) {
		t0 = clock_mono_s();
		ret = store_query_range(s, &q, &res);
		ms[i] = (clock_mono_s() - t0) * 1e3;
		if (ret) {
			fprintf(stderr, "bench_store: query: %d\n", ret);
			goto out;
		}
		npoints = res->nseries ? res->series[0].npoints : 0;
		if (i == 0 && res->tier != STORE_TIER_1M)
			fprintf(stderr, "bench_store: query used tier %s\n",
				store_tier_name(res->tier));
		res = store_range_result_free(res);
	}
	printf("query: 24 h at 1 m step, one series (%zu points, rate): first %.2f ms, ", npoints,
	       ms[0]);
	qsort(ms, QUERIES, sizeof(ms[0]), cmp_double);
	printf("median %.2f ms, max %.2f ms over %d runs\n", ms[QUERIES / 2], ms[QUERIES - 1],
	       QUERIES);

	/* the last hour from the raw tier */
	q.from = t_end - 3600;
	q.step = 10;
	for (int i = 0; i < QUERIES; i++) {
		t0 = clock_mono_s();
		ret = store_query_range(s, &q, &res);
		ms[i] = (clock_mono_s() - t0) * 1e3;
		if (ret) {
			fprintf(stderr, "bench_store: query: %d\n", ret);
			goto out;
		}
		npoints = res->nseries ? res->series[0].npoints : 0;
		if (i == 0 && res->tier != STORE_TIER_RAW)
			fprintf(stderr, "bench_store: query used tier %s\n",
				store_tier_name(res->tier));
		res = store_range_result_free(res);
	}
	printf("query: 1 h at 10 s step, one series (%zu points, raw, rate): first %.2f ms, ",
	       npoints, ms[0]);
	qsort(ms, QUERIES, sizeof(ms[0]), cmp_double);
	printf("median %.2f ms, max %.2f ms over %d runs\n", ms[QUERIES / 2], ms[QUERIES - 1],
	       QUERIES);
out:
	store_close(s);
	free(m);
	return ret;
}

/* The open chunks' memory with MEM_SERIES series, MEM_ROUNDS rounds in. */
static int bench_memory(const char *dir)
{
#ifdef BENCH_STORE_BASELINE
	printf("memory: open chunks: none (one row per sample)\n");
	return 0;
#else
	struct store_options o;
	struct store_stats st;
	struct store *s = NULL;
	struct metric_series *m = make_series(MEM_SERIES);
	char path[4096], err[256] = "";
	double start = (double)time(NULL) - MEM_ROUNDS;
	int ret;

	snprintf(path, sizeof(path), "%s/memory.db", dir);
	store_options_default(&o);
	ret = m ? store_open(path, &o, &s, err, sizeof(err)) : -ENOMEM;
	if (ret) {
		fprintf(stderr, "bench_store: open %s: %s\n", path, err);
		free(m);
		return ret;
	}
	for (size_t i = 0; i < MEM_SERIES; i++) /* distinct series */
		snprintf(m[i].label_values[0], sizeof(m[i].label_values[0]), "dev%zu", i);
	for (unsigned r = 0; r < MEM_ROUNDS && !ret; r++) {
		advance(m, MEM_SERIES, r);
		ret = store_append_series(s, start + r, m, MEM_SERIES);
		if (!ret && r % 10 == 9)
			ret = store_flush_sync(s);
	}
	if (!ret)
		ret = store_flush_sync(s);
	store_get_stats(s, &st);
	if (!ret)
		printf("memory: open chunks of %d series after %d rounds: %.2f MiB, %.0f bytes a "
		       "series (bound: a chunk closes at %d bytes of samples)\n",
		       MEM_SERIES, MEM_ROUNDS, (double)st.open_chunk_bytes / (1 << 20),
		       (double)st.open_chunk_bytes / MEM_SERIES, STORE_CHUNK_MAX_BYTES);
	store_close(s);
	free(m);
	return ret;
#endif
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/var/tmp";
	size_t nseries = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	unsigned rounds = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
	char dir[2048];
	int ret;

	if (!nseries || !rounds) {
		fprintf(stderr, "usage: bench_store [DIR [SERIES [ROUNDS]]]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/kpulse-bench-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("bench_store: mkdtemp");
		return 1;
	}
	ret = bench_ingest(dir, nseries, rounds);
	if (!ret)
		ret = bench_paced(dir, nseries / 2, 600);
	if (!ret)
		ret = bench_query(dir);
	if (!ret)
		ret = bench_memory(dir);
	if (getenv("BENCH_STORE_KEEP"))
		fprintf(stderr, "bench_store: databases kept in %s\n", dir);
	else
		rm_dir(dir);
	return ret ? 1 : 0;
}
