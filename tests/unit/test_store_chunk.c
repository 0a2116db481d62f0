/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_chunk.c - store_chunk.c, the compressed chunk codec: exact
 * round trips on the cases that break delta and XOR coders (gaps, clock
 * jitter, irregular steps, identical values, NaN and infinities, counter
 * resets, histograms that gain and lose slots, uint64 wrap), the sizes
 * the Gorilla encoding promises for a steady series, when a chunk closes,
 * and damaged chunks refused without reading past their end; and the
 * rollup chunk (an hour of 1-minute rows in lanes of those chunks):
 * exact round trips of every field, what it costs a minute, and damaged
 * or foreign ones refused.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	 * second's time 4 + 12 bits (1000 off a grid without a step yet)
	 * and value 1, the rest 1 + 1 */
	fill(120, 1700000000000, 1000, 42);
	CHECK_EQ_INT(check_all(120, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 118 * 2 + 7) / 8);
	/* 42.5 is whole in tenths: the first value a dod of 425 (3 + 13
	 * bits), then 0 */
	fill(120, 1700000000000, 1000, 42.5);
	CHECK_EQ_INT(check_all(120, false, &len), 0);
	CHECK_EQ_INT(len, STORE_CHUNK_HEADER + (64 + 16 + 16 + 1 + 118 * 2 + 7) / 8);
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

TEST(rounds_a_few_ms_late_cost_1_to_6_bits)
{
	size_t len = 0;

	/* rounds on a second's ticks, some a millisecond late (what a
	 * daemon's rounds look like): on the grid '0', 1 ms late '10' */
	fill(100, 1700000000000, 1000, 7);
	for (size_t i = 1; i < 100; i++)
		in[i].ts_ms += i % 4 == 1;
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 98 * (2 + 1) + 7) / 8);
	/* a millisecond early or late either way: -4 .. 3 take '110' and 3
	 * bits, and an early one moves the grid back to it */
	fill(100, 1700000000000, 1000, 7);
	for (size_t i = 1; i < 100; i++)
		in[i].ts_ms += (int64_t)(i % 3) - 1;
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 98 * (6 + 1) + 7) / 8);
	/* a clock that drifts 1 ms in 5 rounds: a new grid at 4 ms */
	fill(100, 1700000000000, 1000, 7);
	for (size_t i = 1; i < 100; i++)
		in[i].ts_ms += (int64_t)i / 5;
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 9 + 16 + 1 + 98 * (6 + 1) + 7) / 8);
	/* a step of 1,005 ms, which the grid first takes as 1,010: the same
	 * offset (-5) twice corrects it */
	fill(100, 1700000000000, 1005, 7);
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len <= STORE_CHUNK_HEADER + (64 + 9 + 3 * 16 + 1 + 96 * (1 + 1) + 7) / 8);
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

/* The samples of format2_chunk below. */
static void format2_sample(int i, struct raw_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->ts_ms = 1700000000000 + i * 1000 + (i % 3);
	s->value = i < 6    ? (double)(100 + 7 * i)
		   : i < 12 ? (double)(12345678 + 1000003 * i) * 1e-9
		   : i < 18 ? (i * 0.25) + 1.0 / 3
			    : (double)(69993 + i) / 100;
}

TEST(chunks_of_format_2_from_the_previous_kpulse_read_back)
{
	/* 24 samples of format2_sample() as da8d0aa's encoder wrote them
	 * (whole, nanoseconds, fractions, ticks), a chunk a database of
	 * schema 9 holds */
	static const unsigned char format2_chunk[] = {
	    0x02, 0x00, 0x18, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0xc0,
	    0x64, 0xe3, 0xe9, 0x83, 0x95, 0x4c, 0x57, 0xf4, 0x3e, 0xff, 0xf2, 0x29, 0x36,
	    0xd1, 0x5e, 0x93, 0x1b, 0x38, 0x00, 0x04, 0x19, 0xb4, 0xcd, 0x25, 0x09, 0xa3,
	    0x57, 0xff, 0x00, 0x00, 0x00, 0x00, 0x06, 0x7c, 0x00, 0x00, 0x00, 0x07, 0x6a,
	    0xf8, 0x77, 0xff, 0x24, 0x89, 0x7f, 0x3e, 0x39, 0x47, 0x9c, 0x00, 0x0c, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x6a, 0xff, 0xe0, 0x00, 0x00, 0x00, 0x01, 0xce, 0xbc,
	    0x0b, 0x56, 0xa3, 0x69, 0x7b, 0x5b, 0x41, 0x2f, 0xb4, 0x12, 0xf3, 0x80, 0x00,
	    0x02, 0x90, 0xa4, 0x29, 0x0a, 0x5a, 0xba, 0x79, 0x80,
	};
	struct store_chunk_dec d;
	struct raw_sample want, got;
	int i = 0, rc;

	CHECK_EQ_INT(format2_chunk[0], 2);
	CHECK_EQ_INT(store_chunk_count(format2_chunk, sizeof(format2_chunk)), 24);
	CHECK_EQ_INT(store_chunk_dec_init(&d, format2_chunk, sizeof(format2_chunk)), 0);
	while ((rc = store_chunk_dec_next(&d, &got)) == 1) {
		format2_sample(i++, &want);
		CHECK(same(&want, &got, false));
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(i, 24);
	/* the same samples in format 3 */
	for (i = 0; i < 24; i++)
		format2_sample(i, &in[i]);
	CHECK_EQ_INT(check_all(24, false, NULL), 0);
}

TEST(decimal_fractions_made_either_way_are_whole)
{
	static const double neg[] = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};
	static const double pos[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	size_t len = 0;

	/* a counter of ticks, ms, us or ns, in seconds as a product or a
	 * quotient, growing by an irregular amount: whole at its scale, so
	 * about its delta-of-delta a sample (no 64-bit XOR) */
	for (int p = 1; p <= 9; p++) {
		for (int way = 0; way < 2; way++) {
			int64_t k = 123456789;

			fill(200, 1700000000000, 1000, 0);
			for (size_t i = 0; i < 200; i++) {
				k += 1000 + (int64_t)(i * 7919 % 61);
				in[i].value = way ? (double)k / pos[p] : (double)k * neg[p];
			}
			CHECK_EQ_INT(check_all(200, false, &len), 0);
			CHECK(len < STORE_CHUNK_HEADER + 8 + 8 + 200 * (1 + 9) / 8 + 8);
		}
	}
	/* negative ones too */
	fill(100, 1700000000000, 1000, 0);
	for (size_t i = 0; i < 100; i++)
		in[i].value = -(double)(500 + 3 * (int64_t)i) * 0.01;
	CHECK_EQ_INT(check_all(100, false, &len), 0);
	CHECK(len < STORE_CHUNK_HEADER + 8 + 8 + 100 * 2 / 8 + 8);
}

TEST(a_chunk_changes_scale_when_a_value_needs_another)
{
	static const double vals[] = {1.5,
				      2.5,
				      3.75, /* tenths, then hundredths */
				      699.9300000000001,
				      699.93, /* 69993 * 0.01, then 69993 / 100 */
				      0.000000001,
				      9007199254740994.0, /* 2^53 + 2: past what is whole */
				      -4.5,
				      NAN,
				      -0.0,
				      INFINITY,
				      1e300,
				      5e-324,
				      0.1 + 0.2,
				      1.0 / 3,
				      7.0,
				      7.0,
				      7.0,
				      123456.789,
				      123456.79};
	size_t n = sizeof(vals) / sizeof(vals[0]);

	fill(n, 1700000000000, 1000, 0);
	for (size_t i = 0; i < n; i++)
		in[i].value = vals[i];
	CHECK_EQ_INT(check_all(n, false, NULL), 0);
	/* the other way round, and from +0 (which leaves the scale open) */
	fill(n + 1, 1700000000000, 1000, 0);
	for (size_t i = 0; i < n; i++)
		in[i + 1].value = vals[n - 1 - i];
	CHECK_EQ_INT(check_all(n + 1, false, NULL), 0);
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
	copy[1] = 2 * 19 + 2; /* past histogram with the last scale */
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

/* ------------------------------------------------------ rollup chunks */

static bool bits_same(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Whether two rows hold the same fields (those their flags say exist). */
static bool rows_same(const struct rollup_row *a, const struct rollup_row *b)
{
	const struct span_agg *x = &a->agg, *y = &b->agg;

	return a->bucket == b->bucket && x->n == y->n && x->has_values == y->has_values &&
	       (!x->has_values || (bits_same(x->min, y->min) && bits_same(x->max, y->max) &&
				   bits_same(x->sum, y->sum) && bits_same(x->last, y->last))) &&
	       x->has_inc == y->has_inc && (!x->has_inc || bits_same(x->inc, y->inc)) &&
	       x->has_hist == y->has_hist &&
	       (!x->has_hist ||
		(x->hist_count == y->hist_count && bits_same(x->hist_sum, y->hist_sum) &&
		 !memcmp(x->slots, y->slots, sizeof(x->slots))));
}

static struct rollup_row rin[64], rout[64];

/* Encodes n rows and decodes them back: 0, an encoder error, or -EBADMSG
 * when a row differs. */
static int rollup_round_trip(size_t n, size_t *ret_len)
{
	void *data = NULL;
	size_t len = 0, got = 0;
	int err = store_rollup_encode(rin, n, &data, &len);

	if (!err)
		err = store_rollup_decode(data, len, rout, 64, &got);
	if (!err && got != n)
		err = -EBADMSG;
	for (size_t i = 0; !err && i < n; i++)
		if (!rows_same(&rin[i], &rout[i]))
			err = -EBADMSG;
	free(data);
	if (ret_len)
		*ret_len = len;
	return err;
}

/* A counter's minute: 60 samples rising by about rate a second. */
static void counter_row(struct rollup_row *r, int64_t bucket, double first, double rate)
{
	memset(r, 0, sizeof(*r));
	r->bucket = bucket;
	r->agg.n = 60;
	r->agg.has_values = true;
	r->agg.min = first;
	r->agg.max = r->agg.last = first + 59 * rate;
	r->agg.sum = 60 * first + rate * 59 * 30;
	r->agg.has_inc = true;
	r->agg.inc = 60 * rate;
}

TEST(rollup_rows_of_an_hour_round_trip_and_cost_a_few_bytes_a_minute)
{
	size_t len = 0;

	/* a counter: min, sum and inc of their own, max is last */
	for (int i = 0; i < 60; i++)
		counter_row(&rin[i], 1699999200 + 60 * i, 1e6 + 6000.0 * i + (i % 3), 100 + i % 5);
	CHECK_EQ_INT(rollup_round_trip(60, &len), 0);
	/* 447 bytes: 7.5 a minute, where a row and its index entry took 55 */
	CHECK(len < 60 * 8);
	/* a gauge that did not move: count and last only */
	for (int i = 0; i < 60; i++) {
		memset(&rin[i], 0, sizeof(rin[i]));
		rin[i].bucket = 1699999200 + 60 * i;
		rin[i].agg.n = 60;
		rin[i].agg.has_values = true;
		rin[i].agg.min = rin[i].agg.max = rin[i].agg.last = 4096;
		rin[i].agg.sum = 4096.0 * 60;
	}
	CHECK_EQ_INT(rollup_round_trip(60, &len), 0);
	/* 67 bytes: each lane's header and first time are 14 of them */
	CHECK(len < 80);
}

TEST(rollup_rows_keep_every_field_bit_for_bit)
{
	/* gaps, NaN and infinities, a sum that is not last * n, rows without
	 * values or increase, a reset, one sample */
	static const double specials[] = {NAN, -INFINITY, INFINITY, -0.0, 0.1, 1e300, -3.5};

	for (int i = 0; i < 50; i++) {
		struct span_agg *a = &rin[i].agg;

		memset(&rin[i], 0, sizeof(rin[i]));
		rin[i].bucket = 1700000000 + 60 * i + (i > 20 ? 600 : 0) + (i > 40 ? 86400 : 0);
		a->n = i == 7 ? 1 : i == 8 ? ((int64_t)1 << 53) : 1 + i % 61;
		a->has_values = i % 9 != 4;
		a->last = specials[i % 7];
		a->min = i % 2 ? a->last : specials[(i + 3) % 7];
		a->max = i % 3 ? a->last : specials[(i + 5) % 7];
		a->sum = i % 4 ? a->last * (double)a->n : 0.5 + i;
		a->has_inc = i % 5 != 0;
		a->inc = i == 13 ? 0 : 17.25 * i;
	}
	CHECK_EQ_INT(rollup_round_trip(50, NULL), 0);
	CHECK_EQ_INT(rollup_round_trip(1, NULL), 0);
}

TEST(rollup_rows_of_histograms_gain_and_lose_slots)
{
	for (int i = 0; i < 60; i++) {
		struct span_agg *a = &rin[i].agg;

		memset(&rin[i], 0, sizeof(rin[i]));
		rin[i].bucket = 1700000000 + 60 * i;
		a->n = 60;
		/* the first minute after a start has no observations known */
		a->has_hist = i != 0;
		for (int k = 0; k < (i % 7 == 3 ? 40 : 12); k++)
			a->slots[k] = (uint64_t)((i * 31 + k * 7) % 50);
		if (i == 30)
			a->slots[REGISTRY_HIST_SLOTS - 1] = UINT64_MAX;
		for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
			a->hist_count += a->slots[k];
		a->hist_sum = 0.001 * (double)a->hist_count + (i == 9 ? NAN : 0);
	}
	CHECK_EQ_INT(rollup_round_trip(60, NULL), 0);
}

TEST(rollup_rows_that_break_the_rules_are_not_encoded)
{
	void *data = NULL;
	size_t len;

	counter_row(&rin[0], 60, 1, 1);
	counter_row(&rin[1], 60, 2, 1);
	CHECK_EQ_INT(store_rollup_encode(rin, 0, &data, &len), -EINVAL);
	CHECK_EQ_INT(store_rollup_encode(rin, 2, &data, &len), -EINVAL); /* same bucket */
	rin[1].bucket = 0;
	CHECK_EQ_INT(store_rollup_encode(rin, 2, &data, &len), -EINVAL); /* going back */
	rin[1].bucket = 120;
	rin[1].agg.n = 0;
	CHECK_EQ_INT(store_rollup_encode(rin, 2, &data, &len), -EINVAL); /* no sample */
	CHECK(data == NULL);
}

/* Decoding must refuse, never read past len (ASan checks in make sanitize). */
static int decode_copy(const unsigned char *p, size_t len, size_t max)
{
	unsigned char *copy = malloc(len ? len : 1);
	size_t n = 0;
	int err;

	memcpy(copy, p, len);
	err = store_rollup_decode(copy, len, rout, max, &n);
	free(copy);
	return err;
}

TEST(damaged_or_foreign_rollup_chunks_are_refused)
{
	unsigned char *p, bad[4096];
	void *data = NULL;
	size_t len = 0;

	for (int i = 0; i < 10; i++)
		counter_row(&rin[i], 1700000000 + 60 * i, 1000.0 * i, 3);
	CHECK_EQ_INT(store_rollup_encode(rin, 10, &data, &len), 0);
	p = data;
	CHECK(len < sizeof(bad));
	CHECK_EQ_INT(decode_copy(p, len, 64), 0);
	/* more rows than the caller has room for */
	CHECK_EQ_INT(decode_copy(p, len, 9), -EBADMSG);
	/* every truncation, and a byte too many */
	for (size_t cut = 0; cut < len; cut++)
		CHECK_EQ_INT(decode_copy(p, cut, 64), -EBADMSG);
	memcpy(bad, p, len);
	bad[len] = 0;
	CHECK_EQ_INT(decode_copy(bad, len + 1, 64), -EBADMSG);
	/* another format: a raw chunk, or a lane mask without lane 0 or
	 * with lanes that do not exist */
	memcpy(bad, p, len);
	bad[0] = STORE_CHUNK_FORMAT;
	CHECK_EQ_INT(decode_copy(bad, len, 64), -EBADMSG);
	memcpy(bad, p, len);
	bad[1] &= (unsigned char)~1u;
	CHECK_EQ_INT(decode_copy(bad, len, 64), -EBADMSG);
	memcpy(bad, p, len);
	bad[1] |= 0x80;
	CHECK_EQ_INT(decode_copy(bad, len, 64), -EBADMSG);
	/* a lane whose length runs past the end */
	memcpy(bad, p, len);
	bad[2] = 0xff;
	bad[3] = 0xff;
	CHECK_EQ_INT(decode_copy(bad, len, 64), -EBADMSG);
	/* a flipped bit anywhere is refused or decodes within the bytes */
	for (size_t bit = 16; bit < len * 8; bit++) {
		size_t n = 0;
		int err;

		memcpy(bad, p, len);
		bad[bit / 8] ^= (unsigned char)(0x80 >> (bit % 8));
		err = store_rollup_decode(bad, len, rout, 64, &n);
		CHECK(err == 0 || err == -EBADMSG);
		for (size_t i = 1; err == 0 && i < n; i++)
			CHECK(rout[i].bucket > rout[i - 1].bucket && rout[i].agg.n >= 1);
	}
	free(data);

	/* a lane's rows must be some of lane 0's: a lane of other times */
	for (int i = 0; i < 2; i++) {
		memset(&rin[i], 0, sizeof(rin[i]));
		rin[i].bucket = 60 * (i + 1);
		rin[i].agg.n = 1;
	}
	rin[0].agg.has_inc = true; /* lane 5 at 60 */
	CHECK_EQ_INT(store_rollup_encode(rin, 2, &data, &len), 0);
	{
		/* lane 0 (count) of the same chunk with the times 120 and 180:
		 * re-encode the rows moved by a minute, keep the inc lane */
		void *moved = NULL;
		size_t mlen = 0, l0 = (size_t)((unsigned char *)data)[2] |
				      (size_t)((unsigned char *)data)[3] << 8;

		rin[0].bucket = 120;
		rin[1].bucket = 180;
		rin[0].agg.has_inc = false;
		CHECK_EQ_INT(store_rollup_encode(rin, 2, &moved, &mlen), 0);
		CHECK_EQ_INT(mlen, 2 + 2 + l0);
		memcpy(bad, moved, mlen);
		memcpy(bad + mlen, (unsigned char *)data + 2 + 2 + l0, len - 2 - 2 - l0);
		bad[1] = ((unsigned char *)data)[1];
		CHECK_EQ_INT(decode_copy(bad, mlen + len - 4 - l0, 64), -EBADMSG);
		/* and the same bytes with lane 0 of the right times decode */
		CHECK_EQ_INT(decode_copy(data, len, 64), 0);
		free(moved);
	}
	free(data);
}

TEST_MAIN()
