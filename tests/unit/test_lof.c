// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/lof.c: known answers (computed with scikit-learn's
 * LocalOutlierFactor on the same rows), novelty scores, contributions,
 * the k-NN distance, and refused input. */
#include <errno.h>
#include <math.h>

#include "models/lof.h"
#include "models/rng.h"
#include "test.h"

TEST(training_scores_match_scikit_learn_1d)
{
	double x[5] = {0, 1, 2, 3, 10};
	struct lof *l = NULL;

	CHECK_EQ_INT(lof_fit(x, 5, 1, 2, &l, NULL, 0), 0);
	CHECK_EQ_INT(lof_neighbors(l), 2);
	for (size_t i = 0; i < 4; i++)
		CHECK_NEAR(lof_train_score(l, i), 1.0, 1e-9);
	CHECK_NEAR(lof_train_score(l, 4), 5.0, 1e-9);
	lof_free(l);
}

TEST(novelty_scores_match_scikit_learn)
{
	double x[5] = {0, 1, 2, 3, 10}, a = 1.5, b = 6.0;
	struct lof *l = NULL;

	CHECK_EQ_INT(lof_fit(x, 5, 1, 2, &l, NULL, 0), 0);
	CHECK_NEAR(lof_score(l, &a, NULL), 0.66666667, 1e-8);
	CHECK_NEAR(lof_score(l, &b, NULL), 2.33333333, 1e-8);
	lof_free(l);
}

TEST(training_scores_match_scikit_learn_2d)
{
	double x[12] = {0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5, 5, 0.5};
	static const double want[6] = {0.96745631, 0.96745631, 0.96745631,
				       0.96745631, 1.10819419, 4.48945553};
	struct lof *l = NULL;

	CHECK_EQ_INT(lof_fit(x, 6, 2, 3, &l, NULL, 0), 0);
	for (size_t i = 0; i < 6; i++)
		CHECK_NEAR(lof_train_score(l, i), want[i], 1e-8);
	lof_free(l);
}

TEST(neighbours_are_capped_at_rows_minus_one)
{
	double x[3] = {0, 1, 5};
	struct lof *l = NULL;

	CHECK_EQ_INT(lof_fit(x, 3, 1, 20, &l, NULL, 0), 0);
	CHECK_EQ_INT(lof_neighbors(l), 2);
	lof_free(l);
}

TEST(contributions_name_the_feature_that_is_off)
{
	struct rng r;
	double x[300 * 4], probe[4] = {0.5, 0.5, 0.5, 6.0}, contrib[4];
	struct lof *l = NULL;

	rng_seed(&r, 9);
	for (size_t i = 0; i < 1200; i++)
		x[i] = rng_uniform(&r);
	CHECK_EQ_INT(lof_fit(x, 300, 4, 20, &l, NULL, 0), 0);
	CHECK(lof_score(l, probe, contrib) > 3);
	CHECK(contrib[3] > 0.9);
	CHECK_NEAR(contrib[0] + contrib[1] + contrib[2] + contrib[3], 1, 1e-9);
	lof_free(l);
}

TEST(knn_distance_is_the_distance_to_the_kth_neighbour)
{
	double x[5] = {0, 1, 2, 3, 10}, a = 2.25;
	struct lof *l = NULL;

	CHECK_EQ_INT(lof_fit(x, 5, 1, 2, &l, NULL, 0), 0);
	/* neighbours of 2.25: 2 (0.25), 3 (0.75) */
	CHECK_NEAR(lof_knn_distance(l, &a), 0.75, 1e-12);
	lof_free(l);
}

TEST(bad_input_is_refused)
{
	double x[4] = {1, 2, INFINITY, 4};
	struct lof *l = NULL;
	char err[128];

	CHECK_EQ_INT(lof_fit(x, 2, 2, 1, &l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "row 1, feature 0"));
	CHECK_EQ_INT(lof_fit(x, 1, 2, 1, &l, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(lof_fit(x, 2, 2, 0, &l, err, sizeof(err)), -EINVAL);
	CHECK(l == NULL);
	CHECK(lof_free(NULL) == NULL);
}

TEST_MAIN()
