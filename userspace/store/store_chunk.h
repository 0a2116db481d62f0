/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_chunk.h - the compressed chunk of raw samples: one series' samples
 * over at most STORE_CHUNK_SPAN_MS, encoded after the Gorilla paper
 * (Pelkonen et al., VLDB 2015): timestamps as their offset from the grid
 * of the daemon's rounds, and values as a delta-of-delta of integers when
 * they are whole numbers at a decimal scale (counters, most kernel
 * values, ticks, ms, us and ns in seconds) or XOR-ed doubles when they
 * are not; for histograms, the slots that changed and the count beside
 * them.
 *
 * Layout of a chunk: format byte (STORE_CHUNK_FORMAT, 3; formats 1 and 2
 * are still read), kind byte (bit 0: 0 counter or gauge, 1 histogram;
 * bits 1 to 5: the scale the chunk starts at, below; format 2: bits 1
 * and 2), sample count (16 bits, little endian), then the bit stream,
 * most significant bit first, padded with zeros to a byte.
 *
 * Per sample, in the bit stream of format 3:
 *   time   first: 64 bits. Then r = t - (g + step), the offset from the
 *          grid point after the last one: '0' 0; '10' 1 (a round a ms
 *          late); '110' 3 bits -4 .. 3; '1110' 12 bits, '11110' 20 bits
 *          (two's complement); '11111' 64 bits. Times strictly increase.
 *          The grid starts at the first time with step 0; an offset in
 *          -4 .. 3 moves it on by its step (to t when r < 0); another
 *          starts it again at t, with the step t - t' when |r| >= 64 or
 *          |r| >= step / 8 (rounded to a multiple of 10 from 100 on), or
 *          the step plus r when r is the last offset past -4 .. 3 again.
 *   value  a double is whole at scale sc (0 to 19, p = sc / 2) when an
 *          integer k of at most 2^53 in magnitude gives the same bits
 *          as (double)k * 10^-p (sc even) or (double)k / 10^p (sc odd).
 *          The chunk's first value other than +0 chooses the first scale
 *          at which it is whole (+0 is 0 at all; 0 if none). Before the
 *          first sample the previous value is the whole 0 and its step 0.
 *          After a whole value: dod = (k - k') - (k' - k''), the step
 *          k' - k'' being 0 unless the one before was whole at the same
 *          exponent: '0' dod 0; '10' 7 bits, '110' 13 bits, '1110' 24
 *          bits, '11110' 32 bits, '111110' 57 bits (two's complement);
 *          '111111' then '1', 5 bits a new scale at which the value is
 *          whole (the first other one), then the dod as above when its
 *          exponent is the same, else k in 55 bits (two's complement);
 *          or '111111' '0' and the value as XOR below.
 *          After a value that is not whole: XOR with the previous bits
 *          or with the previous plus its step (store_chunk.c, put_xor).
 *   histograms only, after the value:
 *          slots: '0' all as before; '1', then '0' the same slot count
 *          as before or '1' and 6 bits slot count n (<= 40), then '1'
 *          if a slot fell, then n smallint of the slot's increase
 *          (zigzag of it when one fell); slots past n are 0.
 *          count: a smallint of zigzag((count - previous count) - the
 *          sum of the slots' changes), which is 0 when the count grew by
 *          what the slots did.
 *   smallint: '0' 0; '10' 3 bits (v - 1); '110' 7 bits (v - 9);
 *          '1110' 16 bits (v - 137); '1111' 6 bits (length - 1) and v.
 *
 * Format 2 (written before): time dod = (t - t') - (t' - t''): '0' 0;
 * '10' 3 bits, '110' 7, '1110' 12, '11110' 20; '11111' 64. Values whole
 * at one of 4 scales: (double)k (0), k * 1e-9 (1), k / 1e9 (2), k / 100
 * (3), their dod '0'; '10' 7 bits, '110' 13, '1110' 24, '11110' 57;
 * '11111' XOR. Histograms as format 3.
 *
 * Format 1 (written before): times as format 2 but '10' 7 bits and '110'
 * 9 bits; the value always as XOR (from the 64 bits
 * of the first); histograms: count as a varbits of zigzag(count -
 * previous), then the slots: '0' all as before; '1', 6 bits n, n varbits
 * of zigzag(slot - previous slot). varbits: '0' for 0; '1', 6 bits
 * (length - 1), length bits.
 *
 * Contracts: the decoder accepts any bytes and either returns samples in
 * strictly increasing time order or -EBADMSG; it never reads past len.
 * Encoder and decoder agree bit for bit on every double (NaN payloads
 * included) and every uint64. A chunk of format 1 or 2 resumed by the
 * writer is rewritten in format 3 (store_open_chunks.c decodes and
 * re-encodes); closed ones stay as they are, read by their format byte.
 */
#ifndef KPULSE_STORE_CHUNK_H
#define KPULSE_STORE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

#define STORE_CHUNK_FORMAT 3
#define STORE_CHUNK_HEADER 4
/* A chunk is closed when it holds this many samples, when the next sample
 * is this far from its first, or when it is this large (which, with the
 * largest histogram sample after it, keeps a row within what SQLite
 * stores in a 4 KB page, without an overflow page). 480 samples, 8
 * minutes: each row and its two index entries cost about 50 bytes, 0.1
 * byte a sample at this size (0.4 at 120, measured by bench_store). */
#define STORE_CHUNK_MAX_SAMPLES 480
#define STORE_CHUNK_SPAN_MS	480000
#define STORE_CHUNK_MAX_BYTES	3600
/* The hard limit of the format (16-bit count). */
#define STORE_CHUNK_COUNT_MAX 65535

/* One raw sample as the store reads it back. */
struct raw_sample {
	int64_t ts_ms;
	bool has_value;
	double value; /* counters, gauges; histograms: the cumulative sum */
	bool has_hist;
	uint64_t hist_count;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

struct chunk_hist_state {
	uint64_t count;
	unsigned nslots;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

/* An open chunk being appended to. Owns buf and h. */
struct store_chunk_enc {
	unsigned char *buf;
	size_t cap;   /* bytes of buf */
	size_t nbits; /* bits written, the header included */
	unsigned n;   /* samples */
	bool hist;
	int64_t t_first, t_last, d_last; /* format 3: d_last the grid's step */
	int64_t g_last, r_far;		 /* format 3: the time's grid (store_chunk.c) */
	uint64_t v_last, v_last2;	 /* the last two values' bits */
	unsigned lead, trail;		 /* the XOR window; lead > 64: none yet */
	bool whole;			 /* the last value was whole: k_last, dk_last */
	bool scale_set;			 /* scale chosen (by the first value but +0) */
	unsigned scale;			 /* the scale now (format 3 changes it) */
	unsigned scale_first;		 /* the header's: the scale at the start */
	int64_t k_last, dk_last;
	struct chunk_hist_state *h; /* histograms only */
};

/* Starts an empty chunk of the kind given. 0 or -ENOMEM. */
int store_chunk_enc_init(struct store_chunk_enc *e, bool hist);
/* Empties the chunk, keeping its memory and kind. */
void store_chunk_enc_reset(struct store_chunk_enc *e);
/* Frees the chunk's memory (e may be zeroed or already freed). */
void store_chunk_enc_free(struct store_chunk_enc *e);
/* True when a sample at next_ts_ms must start a new chunk. */
bool store_chunk_enc_full(const struct store_chunk_enc *e, int64_t next_ts_ms);
/*
 * Appends one sample (its histogram part when the chunk is one). Returns
 * 0, -EINVAL when its time is not after the last one's, -E2BIG past
 * STORE_CHUNK_COUNT_MAX samples, or -ENOMEM; on failure the chunk is
 * unchanged.
 */
int store_chunk_enc_add(struct store_chunk_enc *e, const struct raw_sample *smp);
/* The encoded chunk (header updated), valid until the next call. */
const void *store_chunk_enc_bytes(struct store_chunk_enc *e, size_t *ret_len);
/* Bytes the chunk holds in memory, for accounting. */
size_t store_chunk_enc_mem(const struct store_chunk_enc *e);

/* Reads a chunk sample by sample; borrows the bytes. */
struct store_chunk_dec {
	const unsigned char *p;
	size_t nbits, pos;
	unsigned n, i;
	unsigned format, scale;
	bool hist;
	int64_t t, d, g, r_far;
	uint64_t v, v2;
	unsigned lead, trail;
	bool whole;
	int64_t k, dk;
	struct chunk_hist_state h;
};

/* 0, or -EBADMSG when the header is not a chunk's. */
int store_chunk_dec_init(struct store_chunk_dec *d, const void *data, size_t len);
/* The next sample into out: 1, 0 at the end, or -EBADMSG (and every
 * later call too). */
int store_chunk_dec_next(struct store_chunk_dec *d, struct raw_sample *out);
/* The sample count a chunk's header states (0 when it is not a chunk). */
unsigned store_chunk_count(const void *data, size_t len);

/*
 * One aggregate of a span of samples, as a rollup row holds it. Merging
 * two adjacent spans (in time order) gives the aggregate of both.
 */
struct span_agg {
	int64_t n;	 /* samples */
	bool has_values; /* min..last: counters and gauges */
	double min, max, sum, last;
	bool has_inc;
	double inc; /* counters: increase */
	bool has_hist;
	uint64_t hist_count; /* histograms: observations in the span */
	double hist_sum;
	uint64_t slots[REGISTRY_HIST_SLOTS];
};

/*
 * A rollup chunk: one series' rollup rows (a span_agg per bucket) of one
 * span (the 1-minute tier: an hour of minutes), in lanes, each a chunk
 * of format 2 above whose sample times are the buckets' starts (in
 * seconds) and whose values are one field of the rows that have it:
 *   0 count   every row: n (a whole number, 1 to 2^53)
 *   1 last    rows with values
 *   2 min     rows with values whose min is not last (bit for bit)
 *   3 max     rows with values whose max is not last
 *   4 sum     rows with values whose sum is not last * n
 *   5 inc     rows with a counter's increase
 *   6 hist    rows with histogram observations: a histogram chunk whose
 *             value is hist_sum, count hist_count, slots the slots
 * A lane with no row is left out. Layout: format byte
 * (STORE_ROLLUP_FORMAT), the mask of the lanes present, then per lane in
 * order: its length (16 bits, little endian) and its bytes.
 *
 * Contracts: the decoder accepts any bytes and either returns at most
 * max rows in strictly increasing bucket order, each lane's times being
 * some of lane 0's, or -EBADMSG; it never reads past len. Encoder and
 * decoder agree bit for bit on every field of the rows.
 */
#define STORE_ROLLUP_FORMAT 0x10
#define STORE_ROLLUP_LANES  7

struct rollup_row {
	int64_t bucket; /* the bucket's start, seconds */
	struct span_agg agg;
};

/*
 * Encodes n rows (buckets strictly increasing, 1 <= n <= 65535, each
 * agg.n >= 1) into a new buffer in *ret_data (the caller frees it).
 * Returns 0, -EINVAL for rows that break those rules, or -ENOMEM.
 */
int store_rollup_encode(const struct rollup_row *rows, size_t n, void **ret_data, size_t *ret_len);
/* Decodes a rollup chunk into rows[0..*ret_n); -EBADMSG when it is not
 * one or holds more than max rows. */
int store_rollup_decode(const void *data, size_t len, struct rollup_row *rows, size_t max,
			size_t *ret_n);

#endif /* KPULSE_STORE_CHUNK_H */
