/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_event_block.c - store_event_block.c, the codec of event
 * blocks: exact round trips (timestamps bit for bit, ids and pids that go
 * back and forth, empty and longest strings), what a block of typical
 * process events costs, what the encoder refuses, and damaged or foreign
 * blocks refused without reading past their end.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "store/store.h"
#include "store/store_event_block.h"
#include "test.h"

static bool same(const struct store_event_rec *a, const struct store_event_rec *b)
{
	return a->id == b->id && !memcmp(&a->ts, &b->ts, sizeof(a->ts)) && a->pid == b->pid &&
	       !strcmp(a->comm ? a->comm : "", b->comm) &&
	       !strcmp(a->fields ? a->fields : "", b->fields);
}

/* Encodes and decodes n records; 0 when every one comes back equal. */
static int round_trip(const struct store_event_rec *in, size_t n, size_t *ret_len)
{
	struct store_event_block b;
	void *data = NULL;
	size_t len = 0;
	int err = store_event_block_encode(in, n, &data, &len);

	if (err)
		return err;
	err = store_event_block_decode(data, len, &b);
	if (!err && b.n != n)
		err = -EBADMSG;
	for (size_t i = 0; !err && i < n; i++)
		if (!same(&in[i], &b.recs[i]))
			err = -EBADMSG;
	store_event_block_free(&b);
	free(data);
	if (ret_len)
		*ret_len = len;
	return err;
}

TEST(round_trip_keeps_every_field_exactly)
{
	char longest_fields[STORE_EVENT_FIELDS_MAX + 1];
	struct store_event_rec in[6] = {
	    {1, 1700000000.123456789, 4242, "bash", "{\"ppid\":1}"},
	    /* ids and times that go back (a block is in time order, ids need
	     * not be), a negative pid, empty strings */
	    {0, 1699999999.0000001, -1, "", ""},
	    {INT64_MAX, 1e-300, INT32_MIN, "123456789012345", "{}"},
	    {INT64_MIN, 1.7976931348623157e308, INT32_MAX, "x", NULL},
	    {7, 4.9e-324, 0, NULL, "{\"a\":\"\\u00e9\"}"},
	    {8, 2.0, 1, "y", longest_fields},
	};

	memset(longest_fields, 'f', STORE_EVENT_FIELDS_MAX);
	longest_fields[STORE_EVENT_FIELDS_MAX] = 0;
	CHECK_EQ_INT(round_trip(in, 6, NULL), 0);
	CHECK_EQ_INT(round_trip(in, 1, NULL), 0);
}

TEST(a_minute_of_process_events_costs_a_tenth_of_its_text)
{
	static struct store_event_rec in[STORE_EVENT_BLOCK_MAX_EVENTS];
	static char fields[STORE_EVENT_BLOCK_MAX_EVENTS][160];
	size_t text = 0, len = 0;

	/* exit events as the daemon writes them: a pid that climbs, short
	 * lifetimes, a handful of commands */
	for (int i = 0; i < 400; i++) {
		static const char *const comm[] = {"bash", "cat", "rm", "make", "cc1"};

		snprintf(fields[i], sizeof(fields[i]),
			 "{\"cgroup\":\"/\",\"exit_code\":0,\"lifetime_s\":0.00%d%03d,"
			 "\"major_faults\":0,\"minor_faults\":%d,\"ppid\":%d,\"signal\":0}",
			 i % 7 + 1, (i * 37) % 1000, 100 + i % 90, 28000 + i / 3);
		in[i] = (struct store_event_rec){.id = 1000 + i,
						 .ts = 1796288925.8 + i * 0.15,
						 .pid = 31000 + 2 * i,
						 .comm = comm[i % 5],
						 .fields = fields[i]};
		text += strlen(fields[i]) + strlen(comm[i % 5]) + 8 + 4 + 8;
	}
	CHECK_EQ_INT(round_trip(in, 400, &len), 0);
	CHECK(len * 10 < text);
	/* the most events a block holds */
	for (int i = 400; i < STORE_EVENT_BLOCK_MAX_EVENTS; i++)
		in[i] = in[i % 400];
	CHECK_EQ_INT(round_trip(in, STORE_EVENT_BLOCK_MAX_EVENTS, NULL), 0);
}

TEST(encoder_refuses_what_a_block_cannot_hold)
{
	char too_long[STORE_EVENT_FIELDS_MAX + 2];
	struct store_event_rec r = {1, 1700000000.5, 1, "c", "{}"};
	static struct store_event_rec many[STORE_EVENT_BLOCK_MAX_EVENTS + 1];
	void *data = NULL;
	size_t len = 0;

	CHECK_EQ_INT(store_event_block_encode(&r, 0, &data, &len), -EINVAL);
	CHECK_EQ_INT(store_event_block_encode(NULL, 1, &data, &len), -EINVAL);
	for (size_t i = 0; i <= STORE_EVENT_BLOCK_MAX_EVENTS; i++)
		many[i] = r;
	CHECK_EQ_INT(store_event_block_encode(many, STORE_EVENT_BLOCK_MAX_EVENTS + 1, &data, &len),
		     -EINVAL);
	r.ts = NAN;
	CHECK_EQ_INT(store_event_block_encode(&r, 1, &data, &len), -EINVAL);
	r.ts = 0;
	CHECK_EQ_INT(store_event_block_encode(&r, 1, &data, &len), -EINVAL);
	r.ts = 1;
	r.comm = "1234567890123456"; /* STORE_COMM_LEN bytes */
	CHECK_EQ_INT(store_event_block_encode(&r, 1, &data, &len), -EINVAL);
	r.comm = "c";
	memset(too_long, 'f', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = 0;
	r.fields = too_long;
	CHECK_EQ_INT(store_event_block_encode(&r, 1, &data, &len), -EINVAL);
	CHECK(data == NULL);
}

/* A block: header (format, n, body length) and the given body, deflated. */
static size_t craft(unsigned char *out, size_t cap, unsigned format, unsigned n, size_t raw_len,
		    const void *body, size_t body_len)
{
	uLongf z = cap - 8;
	size_t h = 0;

	out[h++] = (unsigned char)format;
	out[h++] = (unsigned char)n; /* n < 128 here */
	out[h++] = (unsigned char)(raw_len | 0x80);
	out[h++] = (unsigned char)(raw_len >> 7);
	if (compress2(out + h, &z, body, body_len, 6) != Z_OK)
		return 0;
	return h + z;
}

TEST(damaged_or_foreign_blocks_are_refused)
{
	struct store_event_rec r[2] = {{1, 1700000000.5, 10, "a", "{\"x\":1}"},
				       {2, 1700000001.5, 11, "b", "{}"}};
	struct store_event_block b;
	unsigned char buf[512];
	void *data = NULL;
	size_t len = 0, n;
	/* one event: id 1, ts bits 0 (a time of 0), pid 0, "" and "" */
	static const unsigned char zero_ts[] = {2, 0, 0, 0, 0, 0, 0};
	/* one event, fine but for a comm without its NUL */
	static const unsigned char no_nul[] = {2,    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					       0x80, 0x7f, 0,	 1,    'a',  'b',  0,	 0};

	CHECK_EQ_INT(store_event_block_encode(r, 2, &data, &len), 0);
	CHECK_EQ_INT(store_event_block_decode(data, len, &b), 0);
	store_event_block_free(&b);
	/* every truncation is refused */
	for (size_t cut = 0; cut < len; cut++)
		CHECK_EQ_INT(store_event_block_decode(data, cut, &b), -EBADMSG);
	/* a byte flipped anywhere: refused or decoded, never a crash (zlib's
	 * check covers the body) */
	for (size_t i = 0; i < len; i++) {
		((unsigned char *)data)[i] ^= 0x5a;
		if (store_event_block_decode(data, len, &b) == 0)
			store_event_block_free(&b);
		((unsigned char *)data)[i] ^= 0x5a;
	}
	/* another format */
	((unsigned char *)data)[0] = 2;
	CHECK_EQ_INT(store_event_block_decode(data, len, &b), -EBADMSG);
	free(data);
	CHECK_EQ_INT(store_event_block_decode(NULL, 0, &b), -EBADMSG);
	CHECK_EQ_INT(store_event_block_decode("", 0, &b), -EBADMSG);

	/* a body that does not match its length, a time that is not > 0, a
	 * string without its NUL, bytes past the last column */
	n = craft(buf, sizeof(buf), 1, 1, sizeof(zero_ts) + 1, zero_ts, sizeof(zero_ts));
	CHECK(n > 0);
	CHECK_EQ_INT(store_event_block_decode(buf, n, &b), -EBADMSG);
	n = craft(buf, sizeof(buf), 1, 1, sizeof(zero_ts), zero_ts, sizeof(zero_ts));
	CHECK_EQ_INT(store_event_block_decode(buf, n, &b), -EBADMSG);
	n = craft(buf, sizeof(buf), 1, 1, sizeof(no_nul), no_nul, sizeof(no_nul));
	CHECK_EQ_INT(store_event_block_decode(buf, n, &b), -EBADMSG);
	/* the same with the NUL: decodes; with a byte after it: refused */
	{
		unsigned char ok[sizeof(no_nul) + 1];

		memcpy(ok, no_nul, sizeof(no_nul));
		ok[13] = 0; /* comm "a" and its NUL */
		ok[14] = 0; /* fields: length 0 */
		ok[15] = 0; /* and its NUL */
		n = craft(buf, sizeof(buf), 1, 1, 16, ok, 16);
		CHECK_EQ_INT(store_event_block_decode(buf, n, &b), 0);
		CHECK_EQ_INT(b.n, 1);
		CHECK(b.n == 1 && !strcmp(b.recs[0].comm, "a") && !strcmp(b.recs[0].fields, ""));
		store_event_block_free(&b);
		ok[16] = 0;
		n = craft(buf, sizeof(buf), 1, 1, 17, ok, 17);
		CHECK_EQ_INT(store_event_block_decode(buf, n, &b), -EBADMSG);
	}
	/* a count of 0 */
	n = craft(buf, sizeof(buf), 1, 0, sizeof(zero_ts), zero_ts, sizeof(zero_ts));
	CHECK_EQ_INT(store_event_block_decode(buf, n, &b), -EBADMSG);
	CHECK(b.recs == NULL && b.body == NULL && b.n == 0);
}

TEST_MAIN()
