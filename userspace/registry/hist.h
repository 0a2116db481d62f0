/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hist.h - math on the log2 histograms the BPF programs fill: slot i holds
 * values v with 2^i <= v < 2^(i+1) (slot 0 also holds 0). Userspace owns
 * percentiles and unit conversion; the kernel side only counts.
 */
#ifndef KPULSE_HIST_H
#define KPULSE_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound of slot i in the base unit: 2^(i+1). */
double hist_log2_upper_bound(size_t i);
/* Lower bound of slot i: 0 for slot 0, else 2^i. */
double hist_log2_lower_bound(size_t i);

/*
 * The q-quantile (q in [0, 1]) in the base unit, interpolating linearly
 * inside the slot that holds the rank ceil(q * total). Returns NAN for an
 * empty histogram or q outside [0, 1].
 */
double hist_log2_quantile(const uint64_t *slots, size_t nslots, double q);

/* Sum of the slots. */
uint64_t hist_total(const uint64_t *slots, size_t nslots);

/* dst[i] += src[i]: merging per-CPU copies or rollups. */
void hist_merge(uint64_t *dst, const uint64_t *src, size_t nslots);

#endif /* KPULSE_HIST_H */
