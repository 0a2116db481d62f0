/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_event_block.h - the codec of event blocks (table event_blocks):
 * the events of one type and one minute, compressed together. Events
 * arrive in the row table `events` (one row each, written at every flush);
 * maintenance moves those of minutes that ended into blocks, which take
 * about a tenth of the rows' bytes (the fields' JSON repeats its keys and
 * most of its values from one event to the next).
 *
 * Layout of a block (format 1):
 *   byte     format (1)
 *   varint   n, the events (1 .. STORE_EVENT_BLOCK_MAX_EVENTS)
 *   varint   the length of the body once inflated (at most
 *            STORE_EVENT_BLOCK_MAX_RAW)
 *   bytes    the body, deflated (zlib)
 * The body, column by column (each column compresses better beside its
 * own kind): n ids, n timestamps, n pids as zigzag LEB128 deltas from the
 * previous (the first from 0; a timestamp is the bit pattern of its
 * double, so it comes back bit for bit), then n comms and n fields, each
 * a LEB128 length, the bytes and a NUL.
 */
#ifndef KPULSE_STORE_EVENT_BLOCK_H
#define KPULSE_STORE_EVENT_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define STORE_EVENT_BLOCK_FORMAT     1
#define STORE_EVENT_BLOCK_MAX_EVENTS 4096
#define STORE_EVENT_BLOCK_MAX_RAW    (4u << 20)
/* A block holds the events of one aligned span of this many seconds (a
 * minute), so a block starting before a range's start by more than this
 * holds none of it. */
#define STORE_EVENT_BLOCK_SPAN_S 60

/* One event of a block, its type aside (the block's row holds it). The
 * strings are NUL-terminated; decoded, they point into the block's body. */
struct store_event_rec {
	int64_t id;
	double ts;
	int32_t pid;
	const char *comm;   /* shorter than STORE_COMM_LEN */
	const char *fields; /* JSON text, at most STORE_EVENT_FIELDS_MAX bytes */
};

/*
 * Encodes n events (1 .. STORE_EVENT_BLOCK_MAX_EVENTS) into a new buffer:
 * 0 with *ret_data (free() it) and *ret_len, -EINVAL (n out of range, a
 * string too long, a timestamp not finite and > 0, a body past
 * STORE_EVENT_BLOCK_MAX_RAW) or -ENOMEM.
 */
int store_event_block_encode(const struct store_event_rec *recs, size_t n, void **ret_data,
			     size_t *ret_len);

/* A decoded block: owns recs and the body they point into. */
struct store_event_block {
	size_t n;
	struct store_event_rec *recs;
	char *body;
};

/*
 * Decodes len bytes of a block (any bytes: from the database) into *ret:
 * 0, -EBADMSG (not a block of a known format, or damaged) or -ENOMEM.
 * On failure *ret is left empty; store_event_block_free() frees it either
 * way.
 */
int store_event_block_decode(const void *data, size_t len, struct store_event_block *ret);
void store_event_block_free(struct store_event_block *b);

#endif /* KPULSE_STORE_EVENT_BLOCK_H */
