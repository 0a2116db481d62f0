/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_event_block.c - libFuzzer target for store/store_event_block.c,
 * the codec of the event blocks read back from the database (which a
 * damaged or foreign file can fill with anything): decoding any bytes
 * gives events with times finite and > 0 and strings within their bounds
 * or -EBADMSG, never a crash, a read past the end or undefined behaviour.
 * The same bytes, read as a list of events, are encoded and must decode
 * back field for field, times bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_event_block.h"

static void decode_any(const uint8_t *data, size_t size)
{
	struct store_event_block b;
	int rc = store_event_block_decode(data, size, &b);

	if (rc != 0) {
		if (rc != -74 /* EBADMSG */ && rc != -12 /* ENOMEM */)
			abort();
		if (b.n || b.recs || b.body)
			abort();
		return;
	}
	if (!b.n || b.n > STORE_EVENT_BLOCK_MAX_EVENTS)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		const struct store_event_rec *r = &b.recs[i];

		if (!isfinite(r->ts) || r->ts <= 0 || strlen(r->comm) >= STORE_COMM_LEN ||
		    strlen(r->fields) > STORE_EVENT_FIELDS_MAX)
			abort();
	}
	store_event_block_free(&b);
}

/* Takes len bytes from the input as an integer (zeros past its end). */
static uint64_t take(const uint8_t **p, const uint8_t *end, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++)
		v = v << 8 | (*p < end ? *(*p)++ : 0);
	return v;
}

/* Takes a string of up to max bytes (no NUL) into dst. */
static void take_str(const uint8_t **p, const uint8_t *end, char *dst, size_t max)
{
	size_t len = (size_t)take(p, end, 1) % (max + 1), n = 0;

	while (n < len && *p < end) {
		char c = (char)*(*p)++;

		dst[n++] = c ? c : 'z';
	}
	dst[n] = 0;
}

static struct store_event_rec in[64];
static char comms[64][STORE_COMM_LEN];
static char fields[64][256];

static void round_trip(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct store_event_block b;
	void *out = NULL;
	size_t n = 0, len = 0;

	while (p < end && n < 64) {
		uint64_t bits = take(&p, end, 8);
		double ts;

		memcpy(&ts, &bits, sizeof(ts));
		if (!isfinite(ts) || ts <= 0)
			ts = 1700000000.0 + (double)(bits % 100000);
		in[n].id = (int64_t)take(&p, end, 8);
		in[n].ts = ts;
		in[n].pid = (int32_t)take(&p, end, 4);
		take_str(&p, end, comms[n], STORE_COMM_LEN - 1);
		take_str(&p, end, fields[n], sizeof(fields[n]) - 1);
		in[n].comm = comms[n];
		in[n].fields = fields[n];
		n++;
	}
	if (!n)
		return;
	if (store_event_block_encode(in, n, &out, &len) != 0)
		abort();
	if (store_event_block_decode(out, len, &b) != 0 || b.n != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct store_event_rec *r = &b.recs[i];

		if (r->id != in[i].id || memcmp(&r->ts, &in[i].ts, sizeof(r->ts)) ||
		    r->pid != in[i].pid || strcmp(r->comm, in[i].comm) ||
		    strcmp(r->fields, in[i].fields))
			abort();
	}
	store_event_block_free(&b);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_any(data, size);
	round_trip(data, size);
	return 0;
}
