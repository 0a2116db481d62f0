/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_detector.c - what the streaming detector costs per update, next to
 * the plainest reference (an EWMA z-score) measured in the same run (not a
 * test: it prints numbers and exits 0).
 *
 * SERIES detectors (one per series, as the models sink keeps them) are
 * updated round after round with a daily cycle plus noise; each timing
 * window covers one round of every series, and the figure is the median
 * over the windows of ns per update, with min and max. Memory is the
 * detector's state size.
 *
 * Usage: bench_detector [SERIES [ROUNDS]] (defaults 500 and 2000).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/detector.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Runs rounds x series updates of kind; fills med/min/max ns per update. */
static int run(enum detector_kind kind, size_t series, size_t rounds, double *med, double *min,
	       double *max)
{
	struct detector *d = calloc(series, sizeof(*d));
	double *per = calloc(rounds, sizeof(*per)), sink = 0;
	uint64_t s = 88172645463325252ull;

	if (!d || !per) {
		free(d);
		free(per);
		return -1;
	}
	for (size_t i = 0; i < series; i++)
		detector_init(&d[i], kind);
	for (size_t r = 0; r < rounds; r++) {
		double ts = 1.7e9 + (double)r * 10, t0;
		double base = 50 + 30 * sin(2 * M_PI * fmod(ts, 86400) / 86400);

		t0 = mono();
		for (size_t i = 0; i < series; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			sink += detector_update(&d[i], ts, base + (double)(s >> 40) / 1e6, NULL);
		}
		per[r] = (mono() - t0) * 1e9 / (double)series;
	}
	qsort(per, rounds, sizeof(*per), cmp_double);
	*med = per[rounds / 2];
	*min = per[0];
	*max = per[rounds - 1];
	free(d);
	free(per);
	return sink < 0 ? -1 : 0; /* keeps the scores alive */
}

int main(int argc, char **argv)
{
	size_t series = argc > 1 ? strtoul(argv[1], NULL, 10) : 500;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	double m[2], lo[2], hi[2];

	if (!series || rounds < 2) {
		fprintf(stderr, "usage: bench_models [SERIES [ROUNDS]]\n");
		return 2;
	}
	/* interleaved twice, the second pair counted: caches and clocks warm */
	for (int pass = 0; pass < 2; pass++) {
		if (run(DETECTOR_EWMA, series, rounds, &m[1], &lo[1], &hi[1]) ||
		    run(DETECTOR_STREAM, series, rounds, &m[0], &lo[0], &hi[0])) {
			fprintf(stderr, "bench_models: out of memory\n");
			return 1;
		}
	}
	printf("detector update, %zu series x %zu rounds (ns per update, median [min..max] of "
	       "rounds):\n",
	       series, rounds);
	printf("  stream (daemon's) %8.1f ns [%.1f..%.1f]  target < 1000 ns: %s\n", m[0], lo[0],
	       hi[0], m[0] < 1000 ? "PASS" : "FAIL");
	printf("  ewma (reference)  %8.1f ns [%.1f..%.1f]  ratio stream/ewma %.1f\n", m[1], lo[1],
	       hi[1], m[0] / m[1]);
	printf("  state per series  %8zu bytes (target < 4096: %s)\n", sizeof(struct detector),
	       sizeof(struct detector) < 4096 ? "PASS" : "FAIL");
	return 0;
}
