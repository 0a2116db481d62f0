/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_chunk.c - libFuzzer target for store/store_chunk.c, the codec of
 * the raw chunks read back from the database (which a damaged or foreign
 * file can fill with anything): decoding any bytes gives samples in
 * strictly increasing time order or -EBADMSG, never a crash, a read past
 * the end or undefined behaviour (chunk formats 1, 2 and 3). The same bytes,
 * read as a list of samples, are encoded (format 3) and must decode back
 * bit for bit. The same bytes are read as a rollup chunk too (the
 * 1-minute tier's blobs, store_rollup_decode()): rows in strictly
 * increasing bucket order or -EBADMSG; and, read as a list of rollup
 * rows, encoded and decoded back field for field. `make fuzz-chunk`
 * builds it with clang
 * -fsanitize=fuzzer,address,undefined.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_chunk.h"

static void decode_any(const uint8_t *data, size_t size)
{
	struct store_chunk_dec d;
	struct raw_sample r;
	int64_t last = 0;
	unsigned n = 0;
	int rc;

	if (store_chunk_dec_init(&d, data, size) < 0)
		return;
	while ((rc = store_chunk_dec_next(&d, &r)) == 1) {
		if (n++ && r.ts_ms <= last)
			abort(); /* times strictly increase */
		last = r.ts_ms;
	}
	if (rc != 0 && rc != -74 /* EBADMSG */)
		abort();
	if (rc == 0 && n != store_chunk_count(data, size))
		abort();
}

/* Takes len bytes from the input as an integer (zeros past its end). */
static uint64_t take(const uint8_t **p, const uint8_t *end, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++)
		v = v << 8 | (*p < end ? *(*p)++ : 0);
	return v;
}

static struct raw_sample in[512], out;
static const double pow10_pos[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const double pow10_neg[10] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};

static void round_trip(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	bool hist = size && (data[0] & 1);
	struct store_chunk_enc e;
	struct store_chunk_dec d;
	const void *bytes;
	size_t n = 0, len;
	int64_t t;

	if (!size)
		return;
	p++;
	/* halved, so 512 steps of up to 4 s cannot overflow it */
	t = (int64_t)take(&p, end, 8) / 2;
	while (p < end && n < sizeof(in) / sizeof(in[0])) {
		struct raw_sample *s = &in[n];
		unsigned mode, step;
		uint64_t bits;

		memset(s, 0, sizeof(*s));
		/* rounds a second apart give or take 4 ms (the grid of
		 * format 3's times), or steps of 1 ms to 3.8 s */
		step = (unsigned)take(&p, end, 1);
		t += step < 160 ? 1000 + (int64_t)(step % 9) - 4 : 1 + (int64_t)(step - 160) * 40;
		s->ts_ms = t;
		/* the kinds of values the codec treats apart: any bits, whole
		 * numbers (2^53 and past), sums of nanoseconds in seconds, a
		 * steady step (the prediction), and decimal fractions made by
		 * multiplying or dividing by a power of ten (format 3's
		 * scales) */
		mode = (unsigned)take(&p, end, 1);
		bits = take(&p, end, (size_t)((mode >> 3) % 9));
		switch (mode & 7) {
		case 4:
			s->value = (double)((int64_t)bits >> 10) * pow10_neg[(mode >> 4) % 10];
			break;
		case 5:
			s->value = (double)((int64_t)bits >> 10) / pow10_pos[(mode >> 4) % 10];
			break;
		case 0:
			memcpy(&s->value, &bits, sizeof(bits));
			break;
		case 1:
			s->value = (double)(int64_t)bits;
			break;
		case 2:
			s->value = (double)((int64_t)bits >> 8) * 1e-9;
			break;
		default:
			s->value = n >= 2 ? in[n - 1].value + (in[n - 1].value - in[n - 2].value)
					  : (double)bits;
			break;
		}
		if (hist) {
			unsigned k = (unsigned)take(&p, end, 1) % REGISTRY_HIST_SLOTS;

			s->has_hist = true;
			s->hist_count = take(&p, end, 2);
			if (n)
				memcpy(s->slots, in[n - 1].slots, sizeof(s->slots));
			s->slots[k] = take(&p, end, 2);
		}
		n++;
	}
	if (store_chunk_enc_init(&e, hist) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (store_chunk_enc_add(&e, &in[i]) < 0)
			abort();
	bytes = store_chunk_enc_bytes(&e, &len);
	if (!bytes || store_chunk_dec_init(&d, bytes, len) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (store_chunk_dec_next(&d, &out) != 1 || out.ts_ms != in[i].ts_ms ||
		    memcmp(&out.value, &in[i].value, sizeof(double)) || out.has_hist != hist)
			abort();
		if (hist && (out.hist_count != in[i].hist_count ||
			     memcmp(out.slots, in[i].slots, sizeof(out.slots))))
			abort();
	}
	if (store_chunk_dec_next(&d, &out) != 0)
		abort();
	store_chunk_enc_free(&e);
}

static struct rollup_row rows_in[64], rows_out[64];

static void rollup_decode_any(const uint8_t *data, size_t size)
{
	size_t n = 0;
	int rc = store_rollup_decode(data, size, rows_out, 64, &n);

	if (rc != 0 && rc != -74 /* EBADMSG */)
		abort();
	if (rc == 0 && (n == 0 || n > 64))
		abort();
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (rows_out[i].agg.n < 1 || (i && rows_out[i].bucket <= rows_out[i - 1].bucket))
			abort();
}

static bool same(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static double any_double(const uint8_t **p, const uint8_t *end)
{
	uint64_t mode = take(p, end, 1), bits = take(p, end, (size_t)(mode % 9));
	double v;

	if (mode & 0x80) {
		memcpy(&v, &bits, sizeof(v));
		return v;
	}
	return (double)(int64_t)bits * (mode & 0x40 ? 1e-9 : 1);
}

static void rollup_round_trip(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	int64_t bucket = (int64_t)take(&p, end, 4);
	size_t n = 0, got = 0, len = 0;
	void *bytes = NULL;

	while (p < end && n < 64) {
		struct rollup_row *r = &rows_in[n];
		uint64_t flags = take(&p, end, 1);
		struct span_agg *a = &r->agg;

		memset(r, 0, sizeof(*r));
		bucket += 60 * (1 + (int64_t)(flags >> 6));
		r->bucket = bucket;
		a->n = 1 + (int64_t)take(&p, end, 1);
		a->has_values = flags & 1;
		a->last = any_double(&p, end);
		a->min = flags & 2 ? any_double(&p, end) : a->last;
		a->max = flags & 4 ? any_double(&p, end) : a->last;
		a->sum = flags & 8 ? any_double(&p, end) : a->last * (double)a->n;
		a->has_inc = flags & 16;
		a->inc = any_double(&p, end);
		a->has_hist = flags & 32;
		if (a->has_hist) {
			a->hist_sum = any_double(&p, end);
			a->hist_count = take(&p, end, 2);
			a->slots[take(&p, end, 1) % REGISTRY_HIST_SLOTS] = take(&p, end, 2);
		}
		n++;
	}
	if (!n)
		return;
	if (store_rollup_encode(rows_in, n, &bytes, &len) < 0)
		abort();
	if (store_rollup_decode(bytes, len, rows_out, 64, &got) < 0 || got != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct span_agg *x = &rows_in[i].agg, *y = &rows_out[i].agg;

		if (rows_in[i].bucket != rows_out[i].bucket || x->n != y->n ||
		    x->has_values != y->has_values || x->has_inc != y->has_inc ||
		    x->has_hist != y->has_hist)
			abort();
		if (x->has_values && (!same(x->min, y->min) || !same(x->max, y->max) ||
				      !same(x->sum, y->sum) || !same(x->last, y->last)))
			abort();
		if (x->has_inc && !same(x->inc, y->inc))
			abort();
		if (x->has_hist &&
		    (x->hist_count != y->hist_count || !same(x->hist_sum, y->hist_sum) ||
		     memcmp(x->slots, y->slots, sizeof(x->slots))))
			abort();
	}
	free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_any(data, size);
	round_trip(data, size);
	rollup_decode_any(data, size);
	rollup_round_trip(data, size);
	return 0;
}
