// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/features.c: level and change from the streaming ring
 * and from window means, missing values, thinning, and the robust scaler. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "models/features.h"
#include "test.h"

TEST(stream_gives_window_level_and_change_once_two_windows_are_full)
{
	struct features_stream *fs = features_stream_new(2, 3);
	double v[2], out[4];

	CHECK(fs);
	for (int i = 1; i <= 5; i++) {
		v[0] = i;
		v[1] = 10 * i;
		features_stream_push(fs, v);
		CHECK(!features_stream_vector(fs, out));
	}
	v[0] = 6;
	v[1] = 60;
	features_stream_push(fs, v);
	CHECK(features_stream_vector(fs, out));
	/* last window 4,5,6: mean 5; previous 1,2,3: mean 2 */
	CHECK_NEAR(out[0], 5, 1e-12);
	CHECK_NEAR(out[1], 3, 1e-12);
	CHECK_NEAR(out[2], 50, 1e-12);
	CHECK_NEAR(out[3], 30, 1e-12);
	CHECK_STR(features_kind_name(0), "level");
	CHECK_STR(features_kind_name(3), "change");
	features_stream_free(fs);
}

TEST(stream_skips_missing_rounds_and_refuses_an_empty_window)
{
	struct features_stream *fs = features_stream_new(1, 2);
	double v, out[2];

	CHECK(fs);
	v = 1;
	features_stream_push(fs, &v);
	v = NAN;
	features_stream_push(fs, &v);
	v = 4;
	features_stream_push(fs, &v);
	v = 6;
	features_stream_push(fs, &v);
	CHECK(features_stream_vector(fs, out));
	CHECK_NEAR(out[0], 5, 1e-12);
	CHECK_NEAR(out[1], 4, 1e-12); /* the previous window's mean is 1 */
	v = NAN;
	features_stream_push(fs, &v);
	features_stream_push(fs, &v);
	CHECK(!features_stream_vector(fs, out)); /* the last window is empty */
	features_stream_free(fs);
	CHECK(features_stream_new(0, 2) == NULL);
	CHECK(features_stream_new(1, 0) == NULL);
}

TEST(rows_from_buckets_skip_incomplete_windows_and_thin_evenly)
{
	double means[6 * 2], out[10 * 4];

	for (int k = 0; k < 6; k++) {
		means[k * 2] = k;
		means[k * 2 + 1] = k * k;
	}
	means[2 * 2 + 1] = NAN; /* bucket 2 is incomplete: rows 1 and 2 go */
	CHECK_EQ_INT(features_from_buckets(means, 6, 2, out, 10), 3);
	/* row from buckets 0 and 1 */
	CHECK_NEAR(out[0], 1, 0);
	CHECK_NEAR(out[1], 1, 0);
	CHECK_NEAR(out[2], 1, 0);
	CHECK_NEAR(out[3], 1, 0);
	/* next valid: buckets 3, 4 */
	CHECK_NEAR(out[4], 4, 0);
	CHECK_NEAR(out[7], 16 - 9, 0);
	CHECK_EQ_INT(features_from_buckets(means, 6, 2, out, 2), 2);
	CHECK_EQ_INT(features_from_buckets(means, 1, 2, out, 2), 0);
}

TEST(scaler_centres_on_the_median_and_scales_by_the_mad)
{
	double x[5 * 2] = {1, 7, 2, 7, 3, 7, 4, 7, 100, 7}, in[2] = {3, 8}, out[2];
	struct features_scaler s;

	CHECK_EQ_INT(features_scaler_fit(&s, x, 5, 2), 0);
	CHECK_NEAR(s.center[0], 3, 0);
	CHECK_NEAR(s.scale[0], 1.4826, 1e-12); /* |dev| 2,1,0,1,97: MAD 1 */
	CHECK_NEAR(s.center[1], 7, 0);
	CHECK_NEAR(s.scale[1], 1, 0); /* constant: scale 1 */
	features_scaler_apply(&s, in, out);
	CHECK_NEAR(out[0], 0, 0);
	CHECK_NEAR(out[1], 1, 0);
	in[0] = 1e9;
	features_scaler_apply(&s, in, out);
	CHECK_NEAR(out[0], FEATURES_CLIP, 0);
	features_scaler_clear(&s);
	CHECK_EQ_INT(features_scaler_fit(&s, x, 0, 2), -EINVAL);
}

TEST(non_negative_series_are_compressed_so_a_storm_stands_beyond_a_build)
{
	/* series 0: quiet at 5/s, builds at 250/s in the history; series 1
	 * goes negative: it stays linear */
	double x[6 * 4] = {5,	0,   -1, 0, 4, -1,   1, 2,  6, 2, 0, -1,
			   250, 244, 2,	 2, 5, -245, 1, -1, 5, 0, 0, -1};
	double storm[4] = {5000, 4995, 3, 2}, build[4] = {250, 245, 3, 2}, out[4];
	struct features_log l;

	CHECK_EQ_INT(features_log_fit(&l, x, 6, 2), 0);
	CHECK_NEAR(l.unit[0], 5, 0); /* median level */
	CHECK_NEAR(l.unit[1], 0, 0); /* a negative level: linear */
	features_log_apply(&l, storm, out);
	CHECK_NEAR(out[0], log1p(1000), 1e-12);
	CHECK_NEAR(out[1], log1p(1000) - log1p(1), 1e-12);
	CHECK_NEAR(out[2], 3, 0);
	CHECK_NEAR(out[3], 2, 0);
	/* the storm is further beyond a build than a build is beyond quiet */
	features_log_apply(&l, build, build);
	CHECK(out[0] - build[0] > 0.5 * (build[0] - log1p(1)));
	features_log_clear(&l);
	CHECK_EQ_INT(features_log_fit(&l, x, 0, 2), -EINVAL);
}

TEST_MAIN()
