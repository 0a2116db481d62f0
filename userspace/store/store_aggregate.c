/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_aggregate.c - the span aggregate that the rollups store and the
 * queries compute: count, min, max, sum and last of the values, a
 * counter's increase, and a histogram's observations. Rollups and range
 * queries build it the same way, which is why a query on a rollup tier
 * and one on raw samples agree.
 *
 * Contracts:
 *   - Pure functions on memory: no database, no lock, no allocation.
 *   - An increase is only known between two samples. A counter or
 *     histogram value below the previous one is a reset (the daemon
 *     restarted): the increase is the new value itself.
 *   - Merging the aggregates of adjacent spans, in time order, gives the
 *     aggregate of the whole span, so minutes merge into hours and rollup
 *     rows into query steps.
 */
#include "registry/hist.h"
#include "store/store_internal.h"

static bool hist_reset(const struct raw_sample *prev, const struct raw_sample *cur)
{
	if (cur->hist_count < prev->hist_count)
		return true;
	for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
		if (cur->slots[i] < prev->slots[i])
			return true;
	return false;
}

void store_span_add_raw(struct span_agg *agg, enum metric_type type, const struct raw_sample *prev,
			const struct raw_sample *cur)
{
	if (type == METRIC_HISTOGRAM) {
		bool reset;

		if (!cur->has_hist)
			return;
		agg->n++;
		if (!prev || !prev->has_hist)
			return; /* no increase known */
		agg->has_hist = true;
		reset = hist_reset(prev, cur);
		for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
			agg->slots[i] += reset ? cur->slots[i] : cur->slots[i] - prev->slots[i];
		agg->hist_count += reset ? cur->hist_count : cur->hist_count - prev->hist_count;
		agg->hist_sum += reset ? cur->value : cur->value - prev->value;
		return;
	}
	if (!cur->has_value)
		return;
	if (!agg->has_values || cur->value < agg->min)
		agg->min = cur->value;
	if (!agg->has_values || cur->value > agg->max)
		agg->max = cur->value;
	agg->has_values = true;
	agg->n++;
	agg->sum += cur->value;
	agg->last = cur->value;
	if (type == METRIC_COUNTER && prev && prev->has_value) {
		agg->has_inc = true;
		agg->inc += cur->value >= prev->value ? cur->value - prev->value : cur->value;
	}
}

void store_span_merge(struct span_agg *a, const struct span_agg *b)
{
	a->n += b->n;
	if (b->has_values) {
		if (!a->has_values || b->min < a->min)
			a->min = b->min;
		if (!a->has_values || b->max > a->max)
			a->max = b->max;
		a->sum += b->sum;
		a->last = b->last;
		a->has_values = true;
	}
	if (b->has_inc) {
		a->inc += b->inc;
		a->has_inc = true;
	}
	if (b->has_hist) {
		a->hist_count += b->hist_count;
		a->hist_sum += b->hist_sum;
		hist_merge(a->slots, b->slots, REGISTRY_HIST_SLOTS);
		a->has_hist = true;
	}
}
