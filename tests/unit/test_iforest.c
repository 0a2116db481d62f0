// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/iforest.c: known answers on matrices whose trees are
 * forced, contributions, determinism and refused input. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "models/iforest.h"
#include "models/rng.h"
#include "test.h"

TEST(average_path_length_matches_the_formula)
{
	CHECK_NEAR(iforest_avg_path(0), 0, 0);
	CHECK_NEAR(iforest_avg_path(1), 0, 0);
	CHECK_NEAR(iforest_avg_path(2), 1, 0);
	/* 2 (ln 255 + gamma) - 2 * 255 / 256 */
	CHECK_NEAR(iforest_avg_path(256), 10.244770920, 1e-8);
}

/*
 * Seven zeros and one 10, psi = 8: every tree holds all eight rows, its
 * first split (uniform in [0, 10]) isolates the 10 at depth 1, and the
 * zeros are a constant leaf of 7 rows at depth 1. So, in every tree,
 * h(10) = 1 and h(0) = 1 + c(7): the scores are known exactly.
 */
TEST(forced_trees_give_the_known_scores)
{
	double x[8] = {0, 0, 0, 0, 0, 0, 0, 10};
	struct iforest_options o = {.trees = 50, .sample_size = 256, .seed = 7};
	struct iforest *f = NULL;
	double c8 = iforest_avg_path(8);

	CHECK_EQ_INT(iforest_fit(x, 8, 1, &o, &f, NULL, 0), 0);
	CHECK_NEAR(iforest_score(f, &x[7]), pow(2, -1.0 / c8), 1e-12);
	CHECK_NEAR(iforest_score(f, &x[0]), pow(2, -(1.0 + iforest_avg_path(7)) / c8), 1e-12);
	CHECK_NEAR(iforest_score(f, &x[7]), 0.810354514, 1e-9);
	CHECK_NEAR(iforest_score(f, &x[0]), 0.429080778, 1e-9);
	iforest_free(f);
}

/*
 * The same forced trees, scored beyond the training range. A row at -5
 * is 5 below the data over a range 10 wide: at the root split it is
 * isolated with probability 5 / 15, otherwise it joins the zeros' leaf,
 * so E[h] = 1 / 3 + 2 / 3 (1 + c(7)). scikit-learn scores it like a zero
 * (the forest saturates); here it scores higher, the more so the farther
 * it is, up to the ceiling 2^(-1 / c(8)); a minimum width makes the same
 * step count for less.
 */
TEST(rows_beyond_the_training_range_score_by_their_distance)
{
	double x[8] = {0, 0, 0, 0, 0, 0, 0, 10}, minus5 = -5, minus1k = -1000, floor_w = 1000;
	struct iforest_options o = {.trees = 50, .sample_size = 256, .seed = 7};
	struct iforest *f = NULL;
	double c7 = iforest_avg_path(7), c8 = iforest_avg_path(8);
	double zero;

	CHECK_EQ_INT(iforest_fit(x, 8, 1, &o, &f, NULL, 0), 0);
	zero = iforest_score(f, &x[0]);
	CHECK_NEAR(iforest_score(f, &minus5), pow(2, -(1.0 / 3 + 2.0 / 3 * (1 + c7)) / c8), 1e-12);
	CHECK(iforest_score(f, &minus5) > zero);
	CHECK(iforest_score(f, &minus1k) > iforest_score(f, &minus5));
	CHECK(iforest_score(f, &minus1k) < iforest_score_ceiling(f));
	CHECK_NEAR(iforest_score(f, &minus1k), iforest_score_ceiling(f), 1e-2);
	CHECK_NEAR(iforest_score_ceiling(f), pow(2, -1.0 / c8), 1e-12);
	/* inside the range nothing changes: the training rows' known scores */
	CHECK_NEAR(iforest_score(f, &x[7]), 0.810354514, 1e-9);
	CHECK_NEAR(zero, 0.429080778, 1e-9);
	/* a width of 1000: -5 is isolated at the root with probability 5 / 1005 */
	iforest_set_min_width(f, &floor_w);
	CHECK_NEAR(iforest_score(f, &minus5), pow(2, -(5.0 / 1005 + 1000.0 / 1005 * (1 + c7)) / c8),
		   1e-12);
	CHECK_NEAR(iforest_score(f, &x[0]), zero, 1e-12);
	iforest_free(f);
}

TEST(an_outlier_in_one_feature_is_credited_to_that_feature)
{
	struct rng r;
	double x[201 * 3], contrib[3], s_out, s_in;
	struct iforest_options o = {.trees = 100, .sample_size = 128, .seed = 1};
	struct iforest *f = NULL;

	rng_seed(&r, 3);
	for (size_t i = 0; i < 200 * 3; i++)
		x[i] = rng_uniform(&r);
	x[600] = 0.5;
	x[601] = 9.0; /* feature 1 far out */
	x[602] = 0.5;
	CHECK_EQ_INT(iforest_fit(x, 201, 3, &o, &f, NULL, 0), 0);
	s_out = iforest_score_explain(f, &x[600], contrib);
	s_in = iforest_score(f, &x[0]);
	CHECK(s_out > 0.62);
	CHECK(s_in < 0.5);
	CHECK(contrib[1] > 0.8);
	CHECK_NEAR(contrib[0] + contrib[1] + contrib[2], 1, 1e-9);
	iforest_free(f);
}

TEST(same_seed_same_forest_other_seed_other_forest)
{
	struct rng r;
	double x[300 * 2], probe[2] = {0.3, 0.8};
	struct iforest_options o = {.trees = 20, .sample_size = 64, .seed = 11};
	struct iforest *a = NULL, *b = NULL, *c = NULL;

	rng_seed(&r, 5);
	for (size_t i = 0; i < 600; i++)
		x[i] = rng_uniform(&r);
	CHECK_EQ_INT(iforest_fit(x, 300, 2, &o, &a, NULL, 0), 0);
	CHECK_EQ_INT(iforest_fit(x, 300, 2, &o, &b, NULL, 0), 0);
	o.seed = 12;
	CHECK_EQ_INT(iforest_fit(x, 300, 2, &o, &c, NULL, 0), 0);
	CHECK(iforest_score(a, probe) == iforest_score(b, probe));
	CHECK(iforest_score(a, probe) != iforest_score(c, probe));
	CHECK(iforest_memory_bytes(a) > 20 * sizeof(double));
	iforest_free(a);
	iforest_free(b);
	iforest_free(c);
}

TEST(constant_data_scores_every_row_alike)
{
	double x[10 * 2] = {0};
	struct iforest_options o = {.trees = 10, .sample_size = 256, .seed = 1};
	struct iforest *f = NULL;
	double far[2] = {100, -100};

	CHECK_EQ_INT(iforest_fit(x, 10, 2, &o, &f, NULL, 0), 0);
	/* no split is possible: every row ends in the root leaf */
	CHECK_NEAR(iforest_score(f, x), pow(2, -iforest_avg_path(10) / iforest_avg_path(10)),
		   1e-12);
	CHECK_NEAR(iforest_score(f, far), 0.5, 1e-12);
	iforest_free(f);
}

TEST(bad_input_is_refused)
{
	double x[4] = {1, 2, NAN, 4};
	struct iforest_options o = {.trees = 10, .sample_size = 256, .seed = 1};
	struct iforest *f = NULL;
	char err[128];

	CHECK_EQ_INT(iforest_fit(x, 2, 2, &o, &f, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "row 1, feature 0"));
	x[2] = 3;
	CHECK_EQ_INT(iforest_fit(x, 0, 2, &o, &f, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(iforest_fit(x, 2, 0, &o, &f, err, sizeof(err)), -EINVAL);
	o.trees = 0;
	CHECK_EQ_INT(iforest_fit(x, 2, 2, &o, &f, err, sizeof(err)), -EINVAL);
	CHECK(f == NULL);
	CHECK(iforest_free(NULL) == NULL);
}

TEST_MAIN()
