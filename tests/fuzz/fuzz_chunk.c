/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_chunk.c - libFuzzer target for store/store_chunk.c, the codec of
 * the raw chunks read back from the database (which a damaged or foreign
 * file can fill with anything): decoding any bytes gives samples in
 * strictly increasing time order or -EBADMSG, never a crash, a read past
 * the end or undefined behaviour (chunk formats 1 and 2). The same bytes,
 * read as a list of samples, are encoded (format 2) and must decode back
 * bit for bit. `make fuzz-chunk` builds it with clang
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
		unsigned mode;
		uint64_t bits;

		memset(s, 0, sizeof(*s));
		/* steps of 1 ms to 4 s, mostly around a second */
		t += 1 + (int64_t)(take(&p, end, 1) * 16);
		s->ts_ms = t;
		/* the kinds of values the codec treats apart: any bits, whole
		 * numbers (2^53 and past), sums of nanoseconds in seconds, and
		 * a steady step (the prediction) */
		mode = (unsigned)take(&p, end, 1);
		bits = take(&p, end, (size_t)((mode >> 2) % 9));
		switch (mode & 3) {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_any(data, size);
	round_trip(data, size);
	return 0;
}
