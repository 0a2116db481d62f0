/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_hist.c - log2 histogram math: slot bounds, totals, merging and
 * quantiles on slot layouts whose answers are worked out by hand below.
 */
#include <stdint.h>

#include "registry/hist.h"
#include "test.h"

#define NSLOTS 40

TEST(bounds_are_powers_of_two)
{
	CHECK_NEAR(hist_log2_lower_bound(0), 0.0, 0);
	CHECK_NEAR(hist_log2_upper_bound(0), 2.0, 0);
	CHECK_NEAR(hist_log2_lower_bound(1), 2.0, 0);
	CHECK_NEAR(hist_log2_upper_bound(1), 4.0, 0);
	CHECK_NEAR(hist_log2_lower_bound(3), 8.0, 0);
	CHECK_NEAR(hist_log2_upper_bound(3), 16.0, 0);
	CHECK_NEAR(hist_log2_upper_bound(39), 1099511627776.0, 0); /* 2^40 */
}

TEST(total_and_merge_add_slotwise)
{
	uint64_t a[NSLOTS] = {[0] = 1, [5] = 7, [39] = 2};
	uint64_t b[NSLOTS] = {[0] = 4, [6] = 3};

	CHECK_EQ_INT(hist_total(a, NSLOTS), 10);
	CHECK_EQ_INT(hist_total(a, 0), 0);
	hist_merge(a, b, NSLOTS);
	CHECK_EQ_INT(a[0], 5);
	CHECK_EQ_INT(a[5], 7);
	CHECK_EQ_INT(a[6], 3);
	CHECK_EQ_INT(a[39], 2);
	CHECK_EQ_INT(hist_total(a, NSLOTS), 17);
	/* src is untouched */
	CHECK_EQ_INT(b[0], 4);
	CHECK_EQ_INT(hist_total(b, NSLOTS), 7);
}

/* Slot 3 is [8, 16); 4 values: rank k sits at 8 + 8 * k / 4. */
TEST(quantile_single_slot_interpolates)
{
	uint64_t s[NSLOTS] = {[3] = 4};

	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.0), 10.0, 1e-12); /* rank 1, not 0 */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.25), 10.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.26), 12.0, 1e-12); /* ceil(1.04) = 2 */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.5), 12.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.75), 14.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 1.0), 16.0, 1e-12);
}

/* Slot 0 is [0, 2): its lower bound is 0, not 1. */
TEST(quantile_slot_zero_starts_at_zero)
{
	uint64_t s[NSLOTS] = {[0] = 2};

	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.5), 1.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 1.0), 2.0, 1e-12);
}

/* 1 value in [2, 4), 3 in [16, 32): total 4. */
TEST(quantile_two_slots)
{
	uint64_t s[NSLOTS] = {[1] = 1, [4] = 3};

	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.0), 4.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.25), 4.0, 1e-12);
	/* rank 2 is the 1st of 3 in slot 4: 16 + 16 / 3 */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.5), 16.0 + 16.0 / 3.0, 1e-9);
	/* rank 3: 16 + 32 / 3 */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.75), 16.0 + 32.0 / 3.0, 1e-9);
	/* ceil(0.99 * 4) = 4 */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.99), 32.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 1.0), 32.0, 1e-12);
}

TEST(quantile_top_slot)
{
	uint64_t s[NSLOTS] = {[39] = 1};

	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.5), 1099511627776.0, 0);
}

/*
 * 0.07 * 100 is 7.000000000000001 in doubles: the rank must be 7, the
 * last value of slot 0 (upper bound 2), not 8, which would land in slot 1.
 */
TEST(quantile_rank_ignores_float_noise)
{
	uint64_t s[NSLOTS] = {[0] = 7, [1] = 93};

	CHECK(0.07 * 100 > 7.0); /* the premise of the test */
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.07), 2.0, 1e-12);
	CHECK_NEAR(hist_log2_quantile(s, NSLOTS, 0.08), 2.0 + 2.0 / 93.0, 1e-12);
}

TEST(quantile_undefined_is_nan)
{
	uint64_t empty[NSLOTS] = {0};
	uint64_t s[NSLOTS] = {[2] = 5};

	CHECK(isnan(hist_log2_quantile(empty, NSLOTS, 0.5)));
	CHECK(isnan(hist_log2_quantile(s, 0, 0.5)));
	CHECK(isnan(hist_log2_quantile(NULL, NSLOTS, 0.5)));
	CHECK(isnan(hist_log2_quantile(s, NSLOTS, -0.01)));
	CHECK(isnan(hist_log2_quantile(s, NSLOTS, 1.01)));
	CHECK(isnan(hist_log2_quantile(s, NSLOTS, NAN)));
	CHECK(isnan(hist_log2_quantile(s, NSLOTS, INFINITY)));
}

TEST(quantile_after_merge)
{
	uint64_t cpu0[NSLOTS] = {[1] = 1};
	uint64_t cpu1[NSLOTS] = {[4] = 3};

	hist_merge(cpu0, cpu1, NSLOTS);
	CHECK_NEAR(hist_log2_quantile(cpu0, NSLOTS, 0.5), 16.0 + 16.0 / 3.0, 1e-9);
}

TEST_MAIN()
