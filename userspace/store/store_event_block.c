/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_event_block.c - the event block codec (layout in
 * store_event_block.h): a block's body built column by column and
 * deflated with zlib; decoding checks every length against the body
 * before it reads, so any bytes decode or are refused with -EBADMSG.
 * Pure code: no SQLite, no state (fuzzed by tests/fuzz/fuzz_event_block.c).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "store/store.h"
#include "store/store_event_block.h"

/* -------------------------------------------------------------- body */

struct body {
	unsigned char *p;
	size_t len, cap;
};

static int body_reserve(struct body *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *p;

	if (more > STORE_EVENT_BLOCK_MAX_RAW || b->len + more > STORE_EVENT_BLOCK_MAX_RAW)
		return -EINVAL;
	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int put_varint(struct body *b, uint64_t v)
{
	int err = body_reserve(b, 10);

	if (err)
		return err;
	do {
		unsigned char c = v & 0x7f;

		v >>= 7;
		b->p[b->len++] = c | (v ? 0x80 : 0);
	} while (v);
	return 0;
}

static uint64_t zigzag(int64_t d)
{
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Wrapping difference of two 64-bit patterns, as a signed delta. */
static int64_t delta(uint64_t cur, uint64_t prev)
{
	return (int64_t)(cur - prev);
}

static int put_str(struct body *b, const char *s, size_t max)
{
	size_t len = s ? strlen(s) : 0;
	int err;

	if (len > max)
		return -EINVAL;
	err = put_varint(b, len);
	if (!err)
		err = body_reserve(b, len + 1);
	if (err)
		return err;
	if (len)
		memcpy(b->p + b->len, s, len);
	b->p[b->len + len] = 0;
	b->len += len + 1;
	return 0;
}

static uint64_t ts_bits(double ts)
{
	uint64_t v;

	memcpy(&v, &ts, sizeof(v));
	return v;
}

/* ------------------------------------------------------------ encode */

int store_event_block_encode(const struct store_event_rec *recs, size_t n, void **ret_data,
			     size_t *ret_len)
{
	struct body b = {0};
	unsigned char *out = NULL;
	uLongf out_len;
	uint64_t prev;
	size_t hdr;
	int err = 0;

	if (!recs || !n || n > STORE_EVENT_BLOCK_MAX_EVENTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(recs[i].ts) || recs[i].ts <= 0)
			return -EINVAL;
	prev = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = put_varint(&b, zigzag(delta((uint64_t)recs[i].id, prev)));
		prev = (uint64_t)recs[i].id;
	}
	prev = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = put_varint(&b, zigzag(delta(ts_bits(recs[i].ts), prev)));
		prev = ts_bits(recs[i].ts);
	}
	prev = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = put_varint(&b, zigzag(delta((uint64_t)(int64_t)recs[i].pid, prev)));
		prev = (uint64_t)(int64_t)recs[i].pid;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = put_str(&b, recs[i].comm, STORE_COMM_LEN - 1);
	for (size_t i = 0; i < n && !err; i++)
		err = put_str(&b, recs[i].fields, STORE_EVENT_FIELDS_MAX);
	if (err)
		goto out;

	out_len = compressBound(b.len);
	out = malloc(1 + 10 + 10 + out_len);
	if (!out) {
		err = -ENOMEM;
		goto out;
	}
	out[0] = STORE_EVENT_BLOCK_FORMAT;
	hdr = 1;
	for (uint64_t v = n;; v >>= 7) {
		out[hdr++] = (v & 0x7f) | (v >> 7 ? 0x80 : 0);
		if (!(v >> 7))
			break;
	}
	for (uint64_t v = b.len;; v >>= 7) {
		out[hdr++] = (v & 0x7f) | (v >> 7 ? 0x80 : 0);
		if (!(v >> 7))
			break;
	}
	if (compress2(out + hdr, &out_len, b.p, b.len, 6) != Z_OK) {
		err = -ENOMEM; /* Z_MEM_ERROR; the bound leaves room for the rest */
		goto out;
	}
	*ret_data = out;
	*ret_len = hdr + out_len;
	out = NULL;
out:
	free(out);
	free(b.p);
	return err;
}

/* ------------------------------------------------------------ decode */

struct cursor {
	const unsigned char *p, *end;
};

static bool get_varint(struct cursor *c, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned char byte;

		if (c->p >= c->end)
			return false;
		byte = *c->p++;
		if (shift == 63 && byte > 1)
			return false;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* A string of at most max bytes, NUL-terminated, with no NUL inside. */
static bool get_str(struct cursor *c, size_t max, const char **ret)
{
	uint64_t len;

	if (!get_varint(c, &len) || len > max || len >= (uint64_t)(c->end - c->p))
		return false;
	if (c->p[len] != 0 || memchr(c->p, 0, len))
		return false;
	*ret = (const char *)c->p;
	c->p += len + 1;
	return true;
}

void store_event_block_free(struct store_event_block *b)
{
	if (b) {
		free(b->recs);
		free(b->body);
		*b = (struct store_event_block){0};
	}
}

int store_event_block_decode(const void *data, size_t len, struct store_event_block *ret)
{
	struct cursor c = {data, (const unsigned char *)data + len};
	struct store_event_block b = {0};
	uint64_t n, raw_len, prev;
	uLongf got;
	int err = -EBADMSG;

	*ret = (struct store_event_block){0};
	if (!data || len < 1 || *c.p++ != STORE_EVENT_BLOCK_FORMAT)
		return -EBADMSG;
	if (!get_varint(&c, &n) || !n || n > STORE_EVENT_BLOCK_MAX_EVENTS ||
	    !get_varint(&c, &raw_len) || raw_len > STORE_EVENT_BLOCK_MAX_RAW ||
	    raw_len < n * 7 /* the least an event takes: 3 deltas, 2 empty strings */)
		return -EBADMSG;
	b.body = malloc(raw_len);
	b.recs = calloc(n, sizeof(*b.recs));
	if (!b.body || !b.recs) {
		err = -ENOMEM;
		goto fail;
	}
	got = raw_len;
	switch (uncompress((Bytef *)b.body, &got, c.p, (uLong)(c.end - c.p))) {
	case Z_OK:
		break;
	case Z_MEM_ERROR:
		err = -ENOMEM;
		goto fail;
	default:
		goto fail;
	}
	if (got != raw_len)
		goto fail;
	b.n = n;
	c = (struct cursor){(unsigned char *)b.body, (unsigned char *)b.body + raw_len};
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (!get_varint(&c, &v))
			goto fail;
		prev += (uint64_t)unzigzag(v);
		b.recs[i].id = (int64_t)prev;
	}
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		double ts;

		if (!get_varint(&c, &v))
			goto fail;
		prev += (uint64_t)unzigzag(v);
		memcpy(&ts, &prev, sizeof(ts));
		if (!isfinite(ts) || ts <= 0)
			goto fail;
		b.recs[i].ts = ts;
	}
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (!get_varint(&c, &v))
			goto fail;
		prev += (uint64_t)unzigzag(v);
		if ((int64_t)prev < INT32_MIN || (int64_t)prev > INT32_MAX)
			goto fail;
		b.recs[i].pid = (int32_t)(int64_t)prev;
	}
	for (size_t i = 0; i < n; i++)
		if (!get_str(&c, STORE_COMM_LEN - 1, &b.recs[i].comm))
			goto fail;
	for (size_t i = 0; i < n; i++)
		if (!get_str(&c, STORE_EVENT_FIELDS_MAX, &b.recs[i].fields))
			goto fail;
	if (c.p != c.end)
		goto fail;
	*ret = b;
	return 0;
fail:
	store_event_block_free(&b);
	return err;
}
