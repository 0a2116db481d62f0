/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_chunk.c - store_chunk.c, the compressed chunk codec: exact
 * round trips on the cases that break delta and XOR coders (gaps, clock
 * jitter, irregular steps, identical values, NaN and infinities, counter
 * resets, histograms that gain and lose slots, uint64 wrap), the sizes
 * the Gorilla encoding promises for a steady series, when a chunk closes,
 * and damaged chunks refused without reading past their end.
 */
#include <errno.h>
#include <stdint.h>

#include "store/store_chunk.h"
#include "test.h"

#define MAXN 512

/* Encodes n samples, decodes them back into out; returns 0, the first
 * encoder error, or -EBADMSG when the decoder disagrees. *ret_len gets
 * the encoded size. */
static int round_trip(const struct raw_sample *in, size_t n, bool hist, struct raw_sample *out,
		      size_t *ret_len)
{
	struct store_chunk_enc e;
	struct store_chunk_dec d;
	const void *bytes;
	size_t len = 0;
	int err;

	err = store_chunk_enc_init(&e, hist);
	for (size_t i = 0; !err && i < n; i++)
		err = store_chunk_enc_add(&e, &in[i]);
	if (err)
		goto out;
	bytes = store_chunk_enc_bytes(&e, &len);
	err = bytes && store_chunk_count(bytes, len) == n ? 0 : -EBADMSG;
	if (!err)
		err = store_chunk_dec_init(&d, bytes, len);
	for (size_t i = 0; !err && i < n; i++)
		if (store_chunk_dec_next(&d, &out[i]) != 1)
			err = -EBADMSG;
	if (!err && store_chunk_dec_next(&d, &out[0]) != 0)
		err = -EBADMSG;
	*ret_len = len;
out:
	store_chunk_enc_free(&e);
	return err;
}

/* Bit-exact equality of what was put in and read back. */
static bool same(const struct raw_sample *a, const struct raw_sample *b, bool hist)
{
	if (a->ts_ms != b->ts_ms || memcmp(&a->value, &b->value, sizeof(double)) || !b->has_value)
		return false;
	if (!hist)
		return !b->has_hist;
	return b->has_hist && a->hist_count == b->hist_count &&
	       !memcmp(a->slots, b->slots, sizeof(a->slots));
}

static struct raw_sample in[MAXN], out[MAXN];

static int check_all(size_t n, bool hist, size_t *ret_len)
{
	size_t len = 0;
	int err = round_trip(in, n, hist, out, &len);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (!same(&in[i], &out[i], hist))
			return -EDOM;
	if (ret_len)
		*ret_len = len;
	return 0;
}

static void fill(size_t n, int64_t t0, int64_t step, double v)
{
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < n; i++) {
		in[i].ts_ms = t0 + (int64_t)i * step;
		in[i].value = v;
	}
}

TEST(steady_series_costs_bits_not_bytes)
{
	size_t len = 0;

	/* 120 samples a second apart, one whole value: the first sample's
	 * time takes 64 bits and its value 2 + 7 (dod 42 from 0), the
	 * second's time 4 + 12 bits (dod 1000) and value 1, the rest 1 + 1 */
	fill(120, 1700000000000, 1000, 42);
	CHECK_EQ_INT(check_all(120, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 118 * 2 + 7) / 8);
	/* 42.5 is whole in hundredths (clock ticks): the first value a dod
	 * of 4,250 (4 + 24 bits), then 0 */
	fill(120, 1700000000000, 1000, 42.5);
	CHECK_EQ_INT(check_all(120, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 28 + 16 + 1 + 118 * 2 + 7) / 8);
	/* 1/3 is whole at no scale: '11111' then a new XOR window ('10',
	 * '1', 5 + 6 bits and the 62 meaningful bits), then '0' a repeat */
	fill(120, 1700000000000, 1000, 1.0 / 3);
	CHECK_EQ_INT(check_all(120, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 5 + 3 + 11 + 62 + 16 + 1 + 118 * 2 + 7) / 8);
}

TEST(counters_of_whole_numbers_cost_their_delta_of_delta)
{
	size_t len = 0;

	/* a counter growing by 1,000,000 a second: the first value is a dod
	 * of 57 bits, the second a dod of 1,000,000 (24 bits), then 0 */
	fill(480, 1700000000000, 1000, 0);
	for (size_t i = 0; i < 480; i++)
		in[i].value = 5e12 + 1e6 * (double)i;
	CHECK_EQ_INT(check_all(480, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 62 + 16 + 28 + 478 * 2 + 7) / 8);
	/* steps that vary by a few: 1 + 9 bits a sample at most */
	for (size_t i = 1; i < 480; i++)
		in[i].value = in[i - 1].value + 1000 + (double)(i * 7 % 50);
	CHECK_EQ_INT(check_all(480, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 62 + 16 + 28 + 477 * 10 + 7) / 8);
}

TEST(whole_and_fractional_values_switch_without_loss)
{
	static const double v[] = {1,
				   2,
				   2.5,
				   3,
				   3.5,
				   9007199254740992.0,	/* 2^53: whole */
				   9007199254740994.0,	/* past 2^53: not whole */
				   -9007199254740992.0, /* -2^53 */
				   -0.0,		/* not whole: its bits are not 0's */
				   0.0,
				   NAN,
				   7,
				   1e300,
				   4,
				   4,
				   -4,
				   0.1,
				   0.2,
				   0.30000000000000004,
				   0.4,
				   INFINITY,
				   -INFINITY,
				   12};
	size_t n = sizeof(v) / sizeof(v[0]);

	fill(n, 1000, 1000, 0);
	for (size_t i = 0; i < n; i++)
		in[i].value = v[i];
	CHECK_EQ_INT(check_all(n, false, NULL), 0);
	/* the same as a histogram's sums (whole in nanoseconds) */
	for (size_t i = 0; i < n; i++)
		in[i].has_hist = true;
	CHECK_EQ_INT(check_all(n, true, NULL), 0);
}

TEST(fractions_on_a_steady_step_are_predicted)
{
	size_t steady = 0, noisy = 0;
	uint64_t x = 88172645463325252ULL;

	/* v += 0.1: the XOR with the prediction v' + (v' - v'') has a few
	 * bits, where the XOR with v' has most of the mantissa */
	fill(200, 1000, 1000, 0);
	for (size_t i = 0; i < 200; i++)
		in[i].value = 0.1 * (double)i + 1e-3;
	CHECK_EQ_INT(check_all(200, false, &steady), 0);
	for (size_t i = 0; i < 200; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i].value = (double)(x >> 11) * 1e-3 + 1e-4;
	}
	CHECK_EQ_INT(check_all(200, false, &noisy), 0);
	/* measured: 609 and 1,600 bytes; an XOR with v' alone takes about
	 * 45 bits a sample on the steady step */
	CHECK(steady < STORE_CHUNK_HEADER + 200 * 28 / 8);
	CHECK(noisy > 200 * 7);
}

TEST(seconds_from_nanoseconds_and_ticks_are_whole)
{
	size_t len = 0;

	/* the ways kpulse makes seconds: ns * 1e-9, ns / 1e9, ticks / 100;
	 * each counter growing steadily costs 2 bits a sample after the
	 * first two (starting at +0, which leaves the scale to the next) */
	for (int way = 0; way < 3; way++) {
		fill(300, 1700000000000, 1000, 0);
		for (size_t i = 1; i < 300; i++) {
			uint64_t k = 987654321 + 1234567 * (uint64_t)i;

			in[i].value = way == 0	 ? (double)k * 1e-9
				      : way == 1 ? (double)k / 1e9
						 : (double)(98765 + 1234 * i) / 100;
		}
		CHECK_EQ_INT(check_all(300, false, &len), 0);
		CHECK(len < STORE_CHUNK_HEADER + 8 + 2 * 8 + 300 * 2 / 8 + 2);
	}
}

TEST(histogram_sums_in_nanoseconds_are_whole)
{
	size_t len = 0;

	/* what registry_set_histogram() stores: a sum of nanoseconds times
	 * 1e-9, which grows by 250 us each second: two bits a sample beyond
	 * the slots and count */
	fill(200, 1700000000000, 1000, 0);
	for (size_t i = 0; i < 200; i++) {
		in[i].has_hist = true;
		in[i].value = (double)(123456789 + 250000 * (uint64_t)i) * 1e-9;
		in[i].hist_count = 5;
		in[i].slots[2] = 5;
	}
	CHECK_EQ_INT(check_all(200, true, &len), 0);
	CHECK(len < STORE_CHUNK_HEADER + 40 + 200 * 4 / 8);
}

TEST(jitter_gaps_and_irregular_steps_round_trip)
{
	static const int64_t steps[] = {1000, 1001,	999,  1000, 1064, 936,	  1300,
					700,  5000,	1,    1,    3000, 2,	  60000,
					1000, 86400000, 1000, 2047, 4095, 1 << 20};
	size_t n = sizeof(steps) / sizeof(steps[0]) + 1;
	int64_t t = 1700000000123;

	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < n; i++) {
		in[i].ts_ms = t;
		in[i].value = (double)i * 0.1;
		if (i + 1 < n)
			t += steps[i];
	}
	CHECK_EQ_INT(check_all(n, false, NULL), 0);
	/* the largest step the format holds */
	in[0].ts_ms = INT64_MIN + 1;
	in[1].ts_ms = INT64_MAX;
	CHECK_EQ_INT(check_all(2, false, NULL), -EINVAL);
	in[0].ts_ms = -5;
	in[1].ts_ms = INT64_MAX - 10;
	in[2].ts_ms = INT64_MAX;
	CHECK_EQ_INT(check_all(3, false, NULL), 0);
}

TEST(a_few_ms_of_clock_jitter_cost_5_bits)
{
	size_t len = 0;

	/* rounds a second apart, give or take a millisecond or two (what a
	 * daemon's rounds look like): dods of -4 .. 3 take '10' and 3 bits */
	fill(100, 1700000000000, 1000, 7);
	for (size_t i = 1; i < 100; i++)
		in[i].ts_ms += (int64_t)(i % 3) - 1;
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 98 * (5 + 1) + 7) / 8);
}

TEST(times_must_increase)
{
	fill(3, 1000, 10, 1);
	in[2].ts_ms = in[1].ts_ms;
	CHECK_EQ_INT(check_all(3, false, NULL), -EINVAL);
	in[2].ts_ms = in[1].ts_ms - 1;
	CHECK_EQ_INT(check_all(3, false, NULL), -EINVAL);
}

TEST(special_doubles_round_trip_bit_for_bit)
{
	static const uint64_t nan_payload = 0x7ff8dead0000beefULL;
	double odd_nan;

	memcpy(&odd_nan, &nan_payload, sizeof(odd_nan));
	fill(12, 1000, 1000, 0);
	in[0].value = NAN;
	in[1].value = NAN;
	in[2].value = -0.0;
	in[3].value = 0.0;
	in[4].value = INFINITY;
	in[5].value = -INFINITY;
	in[6].value = odd_nan;
	in[7].value = 5e-324; /* the smallest subnormal */
	in[8].value = 1.7976931348623157e308;
	in[9].value = -1.7976931348623157e308;
	in[10].value = 1.0;
	in[11].value = 1.0 + 2.220446049250313e-16;
	CHECK_EQ_INT(check_all(12, false, NULL), 0);
}

TEST(counters_with_resets_and_noise_round_trip)
{
	uint64_t x = 88172645463325252ULL;
	double c = 1e9;

	fill(MAXN, 1, 997, 0);
	for (size_t i = 0; i < MAXN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i % 97 == 50)
			c = 0; /* a reset */
		c += (double)(x % 100000);
		in[i].value = i % 3 ? c : (double)(x >> 11) * 1e-3; /* and noise */
	}
	CHECK_EQ_INT(check_all(MAXN, false, NULL), 0);
}

TEST(histograms_gain_and_lose_slots)
{
	size_t len = 0;

	fill(8, 1700000000000, 1000, 0);
	for (size_t i = 0; i < 8; i++) {
		in[i].has_hist = true;
		in[i].hist_count = 10 * i;
		in[i].value = 0.5 * (double)i;
		in[i].slots[3] = i;
	}
	in[2].slots[20] = 7;				   /* gains a slot */
	in[3].slots[20] = 7;				   /* keeps it */
	in[4].slots[REGISTRY_HIST_SLOTS - 1] = UINT64_MAX; /* the last one, all bits */
	in[5].slots[3] = 0;				   /* loses them: a reset */
	in[5].hist_count = 0;
	in[6].hist_count = UINT64_MAX; /* wraps */
	in[7].hist_count = 1;
	CHECK_EQ_INT(check_all(8, true, NULL), 0);

	/* an unchanged histogram costs one bit for its slots and one for its
	 * count beyond the time and the value */
	fill(100, 1700000000000, 1000, 3.0);
	for (size_t i = 0; i < 100; i++) {
		in[i].hist_count = 5;
		in[i].slots[2] = 5;
	}
	CHECK_EQ_INT(check_all(100, true, &len), 0);
	CHECK(len < STORE_CHUNK_HEADER + 40 + 100 / 2);
}

TEST(a_chunk_closes_on_count_span_or_size)
{
	struct store_chunk_enc e;
	struct raw_sample s = {.ts_ms = 1000, .value = 1};
	bool ok = true;

	if (store_chunk_enc_init(&e, false) < 0)
		CHECK(0);
	ok &= !store_chunk_enc_full(&e, 1000); /* empty: never */
	for (int i = 0; i < STORE_CHUNK_MAX_SAMPLES - 1; i++) {
		s.ts_ms = 1000 + i * 100;
		ok &= store_chunk_enc_add(&e, &s) == 0;
	}
	ok &= !store_chunk_enc_full(&e, s.ts_ms + 100);
	ok &= store_chunk_enc_full(&e, 1000 + STORE_CHUNK_SPAN_MS);
	ok &= store_chunk_enc_full(&e, 999); /* before its start */
	s.ts_ms += 100;
	ok &= store_chunk_enc_add(&e, &s) == 0;
	ok &= store_chunk_enc_full(&e, s.ts_ms + 1);
	store_chunk_enc_reset(&e);
	ok &= e.n == 0 && !store_chunk_enc_full(&e, 5);
	store_chunk_enc_free(&e);
	CHECK(ok);
}

TEST(damaged_chunks_are_refused_within_their_bytes)
{
	struct store_chunk_enc e;
	struct store_chunk_dec d;
	unsigned char copy[4096], kind;
	const void *bytes;
	size_t len = 0, refused = 0;
	struct raw_sample r;

	fill(50, 1700000000000, 1000, 1.5);
	for (size_t i = 0; i < 50; i++)
		in[i].value = (double)i * 1.25;
	if (store_chunk_enc_init(&e, false) < 0)
		CHECK(0);
	for (size_t i = 0; i < 50; i++)
		store_chunk_enc_add(&e, &in[i]);
	bytes = store_chunk_enc_bytes(&e, &len);
	memcpy(copy, bytes, len);
	store_chunk_enc_free(&e);
	CHECK(len < sizeof(copy));

	/* wrong format, kind, or too short for a header */
	copy[0] = STORE_CHUNK_FORMAT + 1;
	CHECK_EQ_INT(store_chunk_dec_init(&d, copy, len), -EBADMSG);
	copy[0] = 0;
	CHECK_EQ_INT(store_chunk_dec_init(&d, copy, len), -EBADMSG);
	CHECK_EQ_INT(store_chunk_count(copy, len), 0);
	copy[0] = STORE_CHUNK_FORMAT;
	kind = copy[1];
	copy[1] = 8; /* past histogram with the last scale */
	CHECK_EQ_INT(store_chunk_dec_init(&d, copy, len), -EBADMSG);
	copy[1] = kind;
	CHECK_EQ_INT(store_chunk_dec_init(&d, copy, 3), -EBADMSG);
	CHECK_EQ_INT(store_chunk_count(copy, 3), 0);

	/* every truncation: the samples that fit, then -EBADMSG, never more */
	for (size_t cut = STORE_CHUNK_HEADER; cut < len; cut++) {
		int rc;

		CHECK_EQ_INT(store_chunk_dec_init(&d, copy, cut), 0);
		while ((rc = store_chunk_dec_next(&d, &r)) == 1)
			;
		CHECK_EQ_INT(rc, -EBADMSG);
		CHECK_EQ_INT(store_chunk_dec_next(&d, &r), -EBADMSG);
		refused++;
	}
	CHECK(refused > 0);

	/* a count larger than the stream holds: the padding may read as a
	 * few more samples (a repeat costs 2 bits), then the end */
	copy[2] = 200;
	CHECK_EQ_INT(store_chunk_dec_init(&d, copy, len), 0);
	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(store_chunk_dec_next(&d, &r), 1);
	{
		int rc, extra = 0;

		while ((rc = store_chunk_dec_next(&d, &r)) == 1 && extra < 8)
			extra++;
		CHECK_EQ_INT(rc, -EBADMSG);
		CHECK(extra < 4);
	}

	/* a time that does not increase (dod taking the delta to 0) */
	{
		struct store_chunk_enc z;
		unsigned char bad[64];

		memset(bad, 0, sizeof(bad));
		bad[0] = STORE_CHUNK_FORMAT;
		bad[2] = 2;
		/* sample 0: time 0 (64 zero bits), value '0' (the whole 0);
		 * sample 1: dod '0' = delta 0 */
		CHECK_EQ_INT(store_chunk_dec_init(&d, bad, sizeof(bad)), 0);
		CHECK_EQ_INT(store_chunk_dec_next(&d, &r), 1);
		CHECK_EQ_INT(store_chunk_dec_next(&d, &r), -EBADMSG);
		memset(&z, 0, sizeof(z));
		store_chunk_enc_free(&z); /* a zeroed encoder frees cleanly */
	}
}

TEST_MAIN()
