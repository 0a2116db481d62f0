/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hist.c - bounds, totals, merging and quantiles of the log2 histograms the
 * BPF programs fill. Everything is in the base unit (usually ns); callers
 * scale the result.
 */
#include <float.h>
#include <math.h>

#include "registry/hist.h"

double hist_log2_upper_bound(size_t i)
{
	return ldexp(1.0, (int)i + 1);
}

double hist_log2_lower_bound(size_t i)
{
	/* slot 0 also holds the value 0 (the kernel's log2(0) is 0) */
	return i == 0 ? 0.0 : ldexp(1.0, (int)i);
}

uint64_t hist_total(const uint64_t *slots, size_t nslots)
{
	uint64_t total = 0;

	for (size_t i = 0; i < nslots; i++)
		total += slots[i];
	return total;
}

void hist_merge(uint64_t *dst, const uint64_t *src, size_t nslots)
{
	for (size_t i = 0; i < nslots; i++)
		dst[i] += src[i];
}

/*
 * The rank ceil(q * total), at least 1. q * total is rounded first when it
 * lies within a few ulps of an integer: 0.07 * 100 is 7.000000000000001 in
 * binary, and a bare ceil() would pick rank 8.
 */
static uint64_t quantile_rank(double q, uint64_t total)
{
	double x = q * (double)total;
	double nearest = nearbyint(x);
	double rank = fabs(x - nearest) <= 4 * DBL_EPSILON * x ? nearest : ceil(x);

	if (rank < 1)
		return 1;
	if (rank >= (double)total)
		return total;
	return (uint64_t)rank;
}

double hist_log2_quantile(const uint64_t *slots, size_t nslots, double q)
{
	uint64_t total, rank, below = 0;

	/* written so that a NaN q fails the test too */
	if (!slots || !(q >= 0.0 && q <= 1.0))
		return NAN;
	total = hist_total(slots, nslots);
	if (total == 0)
		return NAN;
	rank = quantile_rank(q, total);

	for (size_t i = 0; i < nslots; i++) {
		if (below + slots[i] >= rank) {
			double lo = hist_log2_lower_bound(i);
			double hi = hist_log2_upper_bound(i);

			/* values are assumed spread evenly inside the slot */
			return lo + (hi - lo) * ((double)(rank - below) / (double)slots[i]);
		}
		below += slots[i];
	}
	return NAN; /* not reached: rank <= total */
}
