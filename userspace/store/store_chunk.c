/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_chunk.c - the encoder and decoder of compressed raw chunks
 * (layout in store_chunk.h). Pure code: no SQLite, no locks; the writer
 * keeps one encoder per series, the readers decode rows in place.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_chunk.h"

#define NO_WINDOW 0xff

/* ---------------------------------------------------------- bit writer */

static int reserve_bits(struct store_chunk_enc *e, size_t more)
{
	size_t need = (e->nbits + more + 7) / 8;
	unsigned char *nb;
	size_t ncap;

	if (need <= e->cap)
		return 0;
	ncap = e->cap ? e->cap : 64;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(e->buf, ncap);
	if (!nb)
		return -ENOMEM;
	memset(nb + e->cap, 0, ncap - e->cap);
	e->buf = nb;
	e->cap = ncap;
	return 0;
}

/* Writes the low nbits of v, most significant first; room is reserved. */
static void put_bits(struct store_chunk_enc *e, uint64_t v, unsigned nbits)
{
	while (nbits) {
		size_t byte = e->nbits / 8;
		unsigned used = e->nbits % 8, room = 8 - used;
		unsigned take = nbits < room ? nbits : room;
		uint64_t part = (v >> (nbits - take)) & ((1u << take) - 1);

		e->buf[byte] |= (unsigned char)(part << (room - take));
		e->nbits += take;
		nbits -= take;
	}
}

static unsigned bit_length(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t z)
{
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

/* Worst case bits of one smallint. */
#define SMALLINT_MAX (4 + 6 + 64)

static void put_smallint(struct store_chunk_enc *e, uint64_t v)
{
	if (v == 0) {
		put_bits(e, 0, 1);
	} else if (v <= 8) {
		put_bits(e, 2, 2);
		put_bits(e, v - 1, 3);
	} else if (v <= 136) {
		put_bits(e, 6, 3);
		put_bits(e, v - 9, 7);
	} else if (v <= 136 + 65535) {
		put_bits(e, 14, 4);
		put_bits(e, v - 137, 16);
	} else {
		unsigned len = bit_length(v);

		put_bits(e, 15, 4);
		put_bits(e, len - 1, 6);
		put_bits(e, v, len);
	}
}

#define WHOLE_MAX ((int64_t)1 << 53)

/* How a chunk's whole numbers k make its values (store_chunk.h). */
enum { SCALE_UNIT, SCALE_MUL_1E9, SCALE_DIV_1E9, SCALE_DIV_100, NSCALES };

static double scale_up(unsigned scale, double v)
{
	return scale == SCALE_UNIT ? v : scale == SCALE_DIV_100 ? v * 100 : v * 1e9;
}

static double scale_back(unsigned scale, int64_t k)
{
	switch (scale) {
	case SCALE_MUL_1E9:
		return (double)k * 1e-9;
	case SCALE_DIV_1E9:
		return (double)k / 1e9;
	case SCALE_DIV_100:
		return (double)k / 100;
	default:
		return (double)k;
	}
}

/*
 * Whether the double of these bits is whole at the scale: an integer k of
 * at most 2^53 whose value at the scale has the same bits.
 */
static bool whole_of(unsigned scale, uint64_t bits, int64_t *ret_k)
{
	double v, back;
	int64_t k;

	memcpy(&v, &bits, sizeof(v));
	v = scale_up(scale, v);
	if (!(v >= -(double)WHOLE_MAX && v <= (double)WHOLE_MAX))
		return false; /* NaN too */
	k = (int64_t)llround(v);
	back = scale_back(scale, k);
	if (memcmp(&back, &bits, sizeof(back)))
		return false;
	*ret_k = k;
	return true;
}

/*
 * Format 3: a value is whole at the chunk's scale sc (0 to SC_MAX) when
 * an integer k of at most 2^53 in magnitude gives its bits as k times
 * 10^-p (sc even) or k divided by 10^p (sc odd), p = sc / 2 from 0 to 9:
 * the two ways code makes a decimal fraction, which differ in the last
 * bit (699.93 as 69993 ticks * 0.01 is 699.9300000000001). A pure
 * function of the bits, so the decoder finds the same k after a value
 * sent as XOR.
 */
#define SC_MAX 19

static const double pow10_tab[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const double pow10_neg[10] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};

static uint64_t sc_bits(unsigned sc, int64_t k)
{
	double back = sc & 1 ? (double)k / pow10_tab[sc / 2] : (double)k * pow10_neg[sc / 2];
	uint64_t b;

	memcpy(&b, &back, sizeof(b));
	return b;
}

static bool sc_whole(unsigned sc, uint64_t bits, int64_t *ret_k)
{
	double v, s;
	int64_t k;

	memcpy(&v, &bits, sizeof(v));
	s = v * pow10_tab[sc / 2];
	if (!(s >= -(double)WHOLE_MAX && s <= (double)WHOLE_MAX))
		return false; /* NaN too */
	k = (int64_t)llround(s);
	if (sc_bits(sc, k) != bits)
		return false;
	*ret_k = k;
	return true;
}

/* The first scale other than sc (SC_MAX + 1 for none) at which the
 * value of these bits is whole: the smallest exponent, multiplied before
 * divided. */
static unsigned sc_find(uint64_t bits, unsigned sc, int64_t *ret_k)
{
	unsigned i;

	for (i = 0; i <= SC_MAX; i++)
		if (i != sc && sc_whole(i, bits, ret_k))
			break;
	return i;
}

/* ------------------------------------------------------------ encoder */

int store_chunk_enc_init(struct store_chunk_enc *e, bool hist)
{
	memset(e, 0, sizeof(*e));
	e->hist = hist;
	if (hist) {
		e->h = calloc(1, sizeof(*e->h));
		if (!e->h)
			return -ENOMEM;
	}
	store_chunk_enc_reset(e);
	return 0;
}

void store_chunk_enc_reset(struct store_chunk_enc *e)
{
	if (e->buf)
		memset(e->buf, 0, e->cap);
	e->nbits = STORE_CHUNK_HEADER * 8;
	e->n = 0;
	e->t_first = e->t_last = e->d_last = e->g_last = e->r_far = 0;
	e->v_last = e->v_last2 = 0;
	e->lead = e->trail = NO_WINDOW;
	e->whole = true; /* before the first sample: the whole 0, step 0 */
	e->scale = e->scale_first = 0;
	e->scale_set = false;
	e->k_last = e->dk_last = 0;
	if (e->h)
		memset(e->h, 0, sizeof(*e->h));
}

void store_chunk_enc_free(struct store_chunk_enc *e)
{
	free(e->buf);
	free(e->h);
	memset(e, 0, sizeof(*e));
}

bool store_chunk_enc_full(const struct store_chunk_enc *e, int64_t next_ts_ms)
{
	if (!e->n)
		return false;
	return e->n >= STORE_CHUNK_MAX_SAMPLES ||
	       (uint64_t)next_ts_ms - (uint64_t)e->t_first >= STORE_CHUNK_SPAN_MS ||
	       next_ts_ms < e->t_first || e->nbits / 8 >= STORE_CHUNK_MAX_BYTES;
}

/*
 * The grid of format 3's times: a grid point g (the last time, moved on
 * by the step at each round) and the step.
 *   - An offset from the grid point within [GRID_NEAR_MIN, GRID_NEAR_MAX]
 *     (a round a few ms late) moves the grid on by its step, or back to
 *     the time when it came early.
 *   - Past it the grid starts again at the time, and its step becomes
 *     the last two times' when the offset is GRID_RESTEP or an eighth of
 *     the step (a missed round, a new interval), rounded to 10 from 100
 *     on (that step has a round's lateness in it, intervals do not); the
 *     same offset twice in a row corrects the step by it.
 */
#define GRID_NEAR_MIN (-4)
#define GRID_NEAR_MAX 3
#define GRID_RESTEP   64

struct grid {
	int64_t *g, *step, *r_far; /* r_far: the last offset past near, or 0 */
};

/* The grid after time t (offset r from it; t_last the time before). */
static void grid_next(struct grid gr, int64_t t_last, int64_t t, int64_t r)
{
	uint64_t ar = r < 0 ? -(uint64_t)r : (uint64_t)r;
	uint64_t as = *gr.step < 0 ? -(uint64_t)*gr.step : (uint64_t)*gr.step;

	if (r >= GRID_NEAR_MIN && r <= GRID_NEAR_MAX) {
		*gr.g = r < 0 ? t : (int64_t)((uint64_t)*gr.g + (uint64_t)*gr.step);
		*gr.r_far = 0;
		return;
	}
	if (ar >= GRID_RESTEP || ar >= as / 8) {
		/* times increase: the step is in (0, INT64_MAX] */
		uint64_t d = (uint64_t)t - (uint64_t)t_last;

		if (d >= 100)
			d = d / 10 * 10 + (d % 10 >= 5 ? 10 : 0);
		*gr.step = (int64_t)d;
	} else if (r == *gr.r_far) {
		*gr.step = (int64_t)((uint64_t)*gr.step + (uint64_t)r);
	}
	*gr.g = t;
	*gr.r_far = r;
}

/*
 * Times after the first as their offset r from the grid: the previous
 * grid point plus the step (a daemon's rounds come on the ticks of a
 * clock, a few ms late: the offset is mostly 0 or 1 where a
 * delta-of-delta is the difference of two jitters).
 */
static void put_time(struct store_chunk_enc *e, int64_t t)
{
	int64_t r;

	if (!e->n) {
		put_bits(e, (uint64_t)t, 64);
		e->t_first = e->g_last = t;
		e->d_last = e->r_far = 0;
		return;
	}
	r = (int64_t)((uint64_t)t - (uint64_t)e->g_last - (uint64_t)e->d_last);
	if (r == 0) {
		put_bits(e, 0, 1);
	} else if (r == 1) {
		put_bits(e, 2, 2);
	} else if (r >= GRID_NEAR_MIN && r <= GRID_NEAR_MAX) {
		put_bits(e, 6, 3);
		put_bits(e, (uint64_t)r, 3);
	} else if (r >= -2048 && r <= 2047) {
		put_bits(e, 14, 4);
		put_bits(e, (uint64_t)r, 12);
	} else if (r >= -(1 << 19) && r < (1 << 19)) {
		put_bits(e, 30, 5);
		put_bits(e, (uint64_t)r, 20);
	} else {
		put_bits(e, 31, 5);
		put_bits(e, (uint64_t)r, 64);
	}
	grid_next((struct grid){&e->g_last, &e->d_last, &e->r_far}, e->t_last, t, r);
}

/*
 * The prediction of a value that is not whole: the previous one plus its
 * step, v' + (v' - v''), in doubles; the previous one when that is not
 * finite (so no NaN payload, which machines propagate differently, is
 * ever part of it).
 */
static uint64_t predict(uint64_t last, uint64_t last2)
{
	double a, b, p;

	memcpy(&a, &last, sizeof(a));
	memcpy(&b, &last2, sizeof(b));
	p = a + (a - b);
	if (!isfinite(a) || !isfinite(b) || !isfinite(p))
		return last;
	memcpy(&last, &p, sizeof(p));
	return last;
}

/* x != 0: '0' and x's meaningful bits in the window, or '1', 5 bits
 * leading zeros, 6 bits (length - 1), the bits (a new window). */
static void put_xor_bits(struct store_chunk_enc *e, uint64_t x)
{
	unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x), sig;

	if (lead > 31)
		lead = 31;
	if (e->lead != NO_WINDOW && lead >= e->lead && trail >= e->trail) {
		put_bits(e, 0, 1);
		put_bits(e, x >> e->trail, 64 - e->lead - e->trail);
		return;
	}
	sig = 64 - lead - trail;
	put_bits(e, 1, 1);
	put_bits(e, lead, 5);
	put_bits(e, sig - 1, 6);
	put_bits(e, x >> trail, sig);
	e->lead = lead;
	e->trail = trail;
}

/* A value that is not whole: '0' the previous bits again; '10' XOR with
 * them; '110' the prediction exactly; '111' XOR with the prediction. */
static void put_xor(struct store_chunk_enc *e, uint64_t bits)
{
	uint64_t x = bits ^ e->v_last, xp = bits ^ predict(e->v_last, e->v_last2);

	if (!x) {
		put_bits(e, 0, 1);
	} else if (!xp) {
		put_bits(e, 6, 3);
	} else if (__builtin_clzll(x) + __builtin_ctzll(x) >=
		   __builtin_clzll(xp) + __builtin_ctzll(xp)) {
		put_bits(e, 2, 2);
		put_xor_bits(e, x);
	} else {
		put_bits(e, 7, 3);
		put_xor_bits(e, xp);
	}
}

/* After a whole value: dod = (k - k') - (k' - k''): '0' 0; '10' 7 bits,
 * '110' 13, '1110' 24, '11110' 32, '111110' 57 (two's complement). */
static void put_dod(struct store_chunk_enc *e, int64_t dod)
{
	if (dod == 0) {
		put_bits(e, 0, 1);
	} else if (dod >= -64 && dod <= 63) {
		put_bits(e, 2, 2);
		put_bits(e, (uint64_t)dod, 7);
	} else if (dod >= -4096 && dod <= 4095) {
		put_bits(e, 6, 3);
		put_bits(e, (uint64_t)dod, 13);
	} else if (dod >= -(1 << 23) && dod < (1 << 23)) {
		put_bits(e, 14, 4);
		put_bits(e, (uint64_t)dod, 24);
	} else if (dod >= INT32_MIN && dod <= INT32_MAX) {
		put_bits(e, 30, 5);
		put_bits(e, (uint64_t)dod, 32);
	} else {
		put_bits(e, 62, 6);
		put_bits(e, (uint64_t)dod, 57);
	}
}

static void put_value(struct store_chunk_enc *e, uint64_t bits)
{
	int64_t k = 0, dk = 0;
	bool whole, rescaled = false;

	/* +0 is 0 at every scale: the first other value chooses it */
	if (!e->scale_set && bits) {
		e->scale = e->scale_first = sc_find(bits, SC_MAX + 1, &k) % (SC_MAX + 1);
		e->scale_set = true;
	}
	whole = sc_whole(e->scale, bits, &k);

	if (!e->whole) {
		put_xor(e, bits);
	} else if (whole) {
		/* |k| <= 2^53: dk within 2^54, dod within 2^55 */
		dk = k - e->k_last;
		put_dod(e, dk - e->dk_last);
	} else {
		unsigned sc = sc_find(bits, e->scale, &k);

		put_bits(e, 63, 6);
		if (sc <= SC_MAX) {
			/* whole at another scale: it becomes the chunk's; the
			 * same exponent keeps k's steps, another starts anew */
			put_bits(e, 1, 1);
			put_bits(e, sc, 5);
			if (sc / 2 == e->scale / 2) {
				dk = k - e->k_last;
				put_dod(e, dk - e->dk_last);
			} else {
				put_bits(e, (uint64_t)k, 55);
				rescaled = true;
			}
			e->scale = sc;
			whole = true;
		} else {
			/* the first one too: XOR with 0, never x = 0 (0 is whole) */
			put_bits(e, 0, 1);
			put_xor(e, bits);
		}
	}
	/* the step counts only between two whole values at one scale (not
	 * from the 0 before the first) */
	e->dk_last = whole && e->whole && e->n && !rescaled ? dk : 0;
	e->k_last = whole ? k : 0;
	e->whole = whole;
	e->v_last2 = e->v_last;
	e->v_last = bits;
}

static void put_hist(struct store_chunk_enc *e, const struct raw_sample *smp)
{
	struct chunk_hist_state *h = e->h;
	unsigned n = REGISTRY_HIST_SLOTS;
	uint64_t grew = 0;

	while (n > 0 && smp->slots[n - 1] == 0)
		n--;
	if (n == h->nslots && !memcmp(smp->slots, h->slots, sizeof(h->slots))) {
		put_bits(e, 0, 1);
	} else {
		put_bits(e, 1, 1);
		if (n == h->nslots) {
			put_bits(e, 0, 1);
		} else {
			put_bits(e, 1, 1);
			put_bits(e, n, 6);
		}
		bool fell = false;

		for (unsigned i = 0; i < n; i++)
			fell |= smp->slots[i] < h->slots[i];
		put_bits(e, fell, 1);
		for (unsigned i = 0; i < n; i++) {
			uint64_t d = smp->slots[i] - h->slots[i];

			put_smallint(e, fell ? zigzag((int64_t)d) : d);
			grew += d;
		}
		/* slots past n are 0 now: their change is part of the sum */
		for (unsigned i = n; i < REGISTRY_HIST_SLOTS; i++)
			grew -= h->slots[i];
		memcpy(h->slots, smp->slots, sizeof(h->slots));
		h->nslots = n;
	}
	put_smallint(e, zigzag((int64_t)(smp->hist_count - h->count - grew)));
	h->count = smp->hist_count;
}

int store_chunk_enc_add(struct store_chunk_enc *e, const struct raw_sample *smp)
{
	size_t worst = 5 + 64 + 6 + 1 + 3 + 1 + 5 + 6 + 64; /* time, value */
	uint64_t bits;
	int err;

	/* the step must also fit an int64, as the decoder requires */
	if (e->n && (smp->ts_ms <= e->t_last ||
		     (uint64_t)smp->ts_ms - (uint64_t)e->t_last > (uint64_t)INT64_MAX))
		return -EINVAL;
	if (e->n >= STORE_CHUNK_COUNT_MAX)
		return -E2BIG;
	if (e->hist)
		worst += 3 + 6 + (REGISTRY_HIST_SLOTS + 1) * SMALLINT_MAX;
	err = reserve_bits(e, worst);
	if (err)
		return err;
	memcpy(&bits, &smp->value, sizeof(bits));
	put_time(e, smp->ts_ms);
	put_value(e, bits);
	if (e->hist)
		put_hist(e, smp);
	e->t_last = smp->ts_ms;
	e->n++;
	return 0;
}

const void *store_chunk_enc_bytes(struct store_chunk_enc *e, size_t *ret_len)
{
	if (reserve_bits(e, 0) < 0 || !e->buf) {
		/* the header alone always fits once anything was added */
		*ret_len = 0;
		return NULL;
	}
	e->buf[0] = STORE_CHUNK_FORMAT;
	e->buf[1] = (unsigned char)((e->hist ? 1 : 0) | e->scale_first << 1);
	e->buf[2] = (unsigned char)(e->n & 0xff);
	e->buf[3] = (unsigned char)(e->n >> 8);
	*ret_len = (e->nbits + 7) / 8;
	return e->buf;
}

size_t store_chunk_enc_mem(const struct store_chunk_enc *e)
{
	return e->cap + (e->h ? sizeof(*e->h) : 0);
}

/* ------------------------------------------------------------ decoder */

/* Reads nbits (<= 64) into *ret; false past the end. */
static bool get_bits(struct store_chunk_dec *d, unsigned nbits, uint64_t *ret)
{
	uint64_t v = 0;

	if (nbits > d->nbits - d->pos)
		return false;
	while (nbits) {
		size_t byte = d->pos / 8;
		unsigned used = d->pos % 8, room = 8 - used;
		unsigned take = nbits < room ? nbits : room;
		unsigned part = (d->p[byte] >> (room - take)) & ((1u << take) - 1);

		v = (take == 64 ? 0 : v << take) | part;
		d->pos += take;
		nbits -= take;
	}
	*ret = v;
	return true;
}

static int64_t sign_extend(uint64_t v, unsigned nbits)
{
	uint64_t m = (uint64_t)1 << (nbits - 1);

	return (int64_t)((v ^ m) - m);
}

static bool get_varbits(struct store_chunk_dec *d, uint64_t *ret)
{
	uint64_t flag, len;

	if (!get_bits(d, 1, &flag))
		return false;
	if (!flag) {
		*ret = 0;
		return true;
	}
	return get_bits(d, 6, &len) && get_bits(d, (unsigned)len + 1, ret);
}

/* The format byte and the kind byte (the histogram bit, then the scale
 * of format 2 or the decimal exponent of format 3). */
static bool header_valid(const unsigned char *p)
{
	switch (p[0]) {
	case 1:
		return p[1] <= 1;
	case 2:
		return p[1] <= 2 * NSCALES - 1;
	case 3:
		return p[1] <= 2 * SC_MAX + 1;
	default:
		return false;
	}
}

unsigned store_chunk_count(const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!p || len < STORE_CHUNK_HEADER || !header_valid(p))
		return 0;
	return p[2] | (unsigned)p[3] << 8;
}

int store_chunk_dec_init(struct store_chunk_dec *d, const void *data, size_t len)
{
	const unsigned char *p = data;

	memset(d, 0, sizeof(*d));
	if (!p || len < STORE_CHUNK_HEADER || !header_valid(p) || len > SIZE_MAX / 8)
		return -EBADMSG;
	d->p = p;
	d->format = p[0];
	d->whole = true;
	d->nbits = len * 8;
	d->pos = STORE_CHUNK_HEADER * 8;
	d->hist = p[1] & 1;
	d->scale = p[1] >> 1;
	d->n = p[2] | (unsigned)p[3] << 8;
	d->lead = d->trail = NO_WINDOW;
	return 0;
}

/* Formats 1 and 2: delta-of-delta. */
static bool get_time_dod(struct store_chunk_dec *d)
{
	static const unsigned widths_v1[] = {7, 9, 12, 20, 64}, widths_v2[] = {3, 7, 12, 20, 64};
	const unsigned *widths = d->format == 1 ? widths_v1 : widths_v2;
	uint64_t bit, v;
	unsigned ones = 0;
	int64_t dod, dt;

	if (!d->i) {
		if (!get_bits(d, 64, &v))
			return false;
		d->t = (int64_t)v;
		return true;
	}
	/* count the leading ones of the prefix: 0, 10, 110, 1110, 11110, 11111 */
	while (ones < 5) {
		if (!get_bits(d, 1, &bit))
			return false;
		if (!bit)
			break;
		ones++;
	}
	if (!ones) {
		dod = 0;
	} else {
		if (!get_bits(d, widths[ones - 1], &v))
			return false;
		dod = widths[ones - 1] == 64 ? (int64_t)v : sign_extend(v, widths[ones - 1]);
	}
	dt = (int64_t)((uint64_t)d->d + (uint64_t)dod);
	if (dt <= 0 || (int64_t)((uint64_t)d->t + (uint64_t)dt) <= d->t)
		return false; /* times strictly increase */
	d->d = dt;
	d->t += dt;
	return true;
}

/* put_time() read back (format 3); d->g the grid point, d->d its step. */
static bool get_time(struct store_chunk_dec *d)
{
	static const unsigned widths[] = {12, 20, 64};
	uint64_t bit, v;
	unsigned ones = 0;
	int64_t r, t;

	if (d->format < 3)
		return get_time_dod(d);
	if (!d->i) {
		if (!get_bits(d, 64, &v))
			return false;
		d->t = d->g = (int64_t)v;
		d->d = d->r_far = 0;
		return true;
	}
	while (ones < 5) {
		if (!get_bits(d, 1, &bit))
			return false;
		if (!bit)
			break;
		ones++;
	}
	if (ones < 2) {
		r = ones;
	} else if (ones == 2) {
		if (!get_bits(d, 3, &v))
			return false;
		r = sign_extend(v, 3);
	} else {
		if (!get_bits(d, widths[ones - 3], &v))
			return false;
		r = widths[ones - 3] == 64 ? (int64_t)v : sign_extend(v, widths[ones - 3]);
	}
	t = (int64_t)((uint64_t)d->g + (uint64_t)d->d + (uint64_t)r);
	if (t <= d->t)
		return false; /* times strictly increase */
	grid_next((struct grid){&d->g, &d->d, &d->r_far}, d->t, t, r);
	d->t = t;
	return true;
}

/* Format 1: the value as XOR with the previous bits. */
static bool get_xor_v1(struct store_chunk_dec *d)
{
	uint64_t bit, lead, sig, x;

	if (!get_bits(d, 1, &bit))
		return false;
	if (!bit)
		return true;
	if (!get_bits(d, 1, &bit))
		return false;
	if (!bit) {
		if (d->lead == NO_WINDOW)
			return false;
		if (!get_bits(d, 64 - d->lead - d->trail, &x))
			return false;
		d->v ^= x << d->trail;
		return true;
	}
	if (!get_bits(d, 5, &lead) || !get_bits(d, 6, &sig))
		return false;
	sig++;
	if (lead + sig > 64 || !get_bits(d, (unsigned)sig, &x))
		return false;
	d->lead = (unsigned)lead;
	d->trail = (unsigned)(64 - lead - sig);
	d->v ^= d->trail == 64 ? 0 : x << d->trail;
	return true;
}

/* put_xor_bits() read back: x, never 0. */
static bool get_xor_bits(struct store_chunk_dec *d, uint64_t *ret)
{
	uint64_t bit, lead, sig, x;

	if (!get_bits(d, 1, &bit))
		return false;
	if (!bit) {
		if (d->lead == NO_WINDOW || !get_bits(d, 64 - d->lead - d->trail, &x))
			return false;
		*ret = x << d->trail;
		return *ret != 0;
	}
	if (!get_bits(d, 5, &lead) || !get_bits(d, 6, &sig))
		return false;
	sig++;
	if (lead + sig > 64 || !get_bits(d, (unsigned)sig, &x))
		return false;
	d->lead = (unsigned)lead;
	d->trail = (unsigned)(64 - lead - sig);
	*ret = d->trail == 64 ? 0 : x << d->trail;
	return *ret != 0;
}

/* put_xor() read back into d->v (d->v2 the value before). */
static bool get_xor(struct store_chunk_dec *d)
{
	uint64_t bit, x, base = d->v;

	if (!get_bits(d, 1, &bit))
		return false;
	if (!bit)
		return true;
	if (!get_bits(d, 1, &bit))
		return false;
	if (bit) {
		base = predict(d->v, d->v2);
		if (!get_bits(d, 1, &bit))
			return false;
		if (!bit) {
			d->v = base;
			return true;
		}
	}
	if (!get_xor_bits(d, &x))
		return false;
	d->v = base ^ x;
	return true;
}

/* Format 1: the first value's 64 bits, then XOR. */
static bool get_value_v1(struct store_chunk_dec *d)
{
	if (!d->i)
		return get_bits(d, 64, &d->v);
	return get_xor_v1(d);
}

/* Format 2: whole values at one of the scales, else XOR. */
static bool get_value_v2(struct store_chunk_dec *d)
{
	static const unsigned widths[] = {7, 13, 24, 57};
	uint64_t bit, v;
	unsigned ones = 0;
	uint64_t before = d->v;
	int64_t k, dk = 0;
	bool whole;

	if (!d->whole) {
		if (!get_xor(d))
			return false;
		whole = whole_of(d->scale, d->v, &k);
	} else {
		while (ones < 5) {
			if (!get_bits(d, 1, &bit))
				return false;
			if (!bit)
				break;
			ones++;
		}
		if (ones == 5) {
			if (!get_xor(d))
				return false;
			/* the encoder takes this way only for values not whole */
			if (whole_of(d->scale, d->v, &k))
				return false;
			whole = false;
		} else {
			int64_t dod = 0;

			if (ones) {
				if (!get_bits(d, widths[ones - 1], &v))
					return false;
				dod = sign_extend(v, widths[ones - 1]);
			}
			/* d->k and d->dk are within 2^53 and 2^54: no overflow */
			dk = d->dk + dod;
			k = d->k + dk;
			if (k < -WHOLE_MAX || k > WHOLE_MAX)
				return false;
			{
				double back = scale_back(d->scale, k);

				memcpy(&d->v, &back, sizeof(back));
			}
			whole = true;
		}
	}
	d->dk = whole && d->whole && d->i ? k - d->k : 0;
	d->k = whole ? k : 0;
	d->whole = whole;
	d->v2 = before;
	return true;
}

/* put_dod() read back: 1, 0 for the escape '111111', -1 past the end. */
static int get_dod(struct store_chunk_dec *d, int64_t *ret)
{
	static const unsigned widths[] = {7, 13, 24, 32, 57};
	uint64_t bit, v;
	unsigned ones = 0;

	while (ones < 6) {
		if (!get_bits(d, 1, &bit))
			return -1;
		if (!bit)
			break;
		ones++;
	}
	if (ones == 6)
		return 0;
	*ret = 0;
	if (ones) {
		if (!get_bits(d, widths[ones - 1], &v))
			return -1;
		*ret = sign_extend(v, widths[ones - 1]);
	}
	return 1;
}

/* put_value() read back. */
static bool get_value_v3(struct store_chunk_dec *d)
{
	uint64_t bit, v, before = d->v;
	int64_t k = 0, dk = 0, dod = 0;
	bool whole, rescaled = false;
	int r;

	if (!d->whole) {
		if (!get_xor(d))
			return false;
		whole = sc_whole(d->scale, d->v, &k);
	} else if ((r = get_dod(d, &dod)) < 0) {
		return false;
	} else if (r == 0) {
		if (!get_bits(d, 1, &bit))
			return false;
		if (bit) {
			if (!get_bits(d, 5, &v) || v == d->scale || v > SC_MAX)
				return false;
			if (v / 2 == d->scale / 2) {
				if (get_dod(d, &dod) != 1)
					return false;
				dk = d->dk + dod;
				k = d->k + dk;
			} else {
				if (!get_bits(d, 55, &bit))
					return false;
				k = sign_extend(bit, 55);
				rescaled = true;
			}
			if (k < -WHOLE_MAX || k > WHOLE_MAX)
				return false;
			d->scale = (unsigned)v;
			d->v = sc_bits(d->scale, k);
			whole = true;
		} else {
			if (!get_xor(d))
				return false;
			/* the encoder takes this way only for values not whole */
			if (sc_whole(d->scale, d->v, &k))
				return false;
			whole = false;
		}
	} else {
		/* d->k and d->dk are within 2^53 and 2^54: no overflow */
		dk = d->dk + dod;
		k = d->k + dk;
		if (k < -WHOLE_MAX || k > WHOLE_MAX)
			return false;
		d->v = sc_bits(d->scale, k);
		whole = true;
	}
	d->dk = whole && d->whole && d->i && !rescaled ? k - d->k : 0;
	d->k = whole ? k : 0;
	d->whole = whole;
	d->v2 = before;
	return true;
}

static bool get_hist_v1(struct store_chunk_dec *d)
{
	struct chunk_hist_state *h = &d->h;
	uint64_t z, bit, n;

	if (!get_varbits(d, &z))
		return false;
	h->count += (uint64_t)unzigzag(z);
	if (!get_bits(d, 1, &bit))
		return false;
	if (!bit)
		return true;
	if (!get_bits(d, 6, &n) || n > REGISTRY_HIST_SLOTS)
		return false;
	for (unsigned i = 0; i < n; i++) {
		if (!get_varbits(d, &z))
			return false;
		h->slots[i] += (uint64_t)unzigzag(z);
	}
	for (unsigned i = (unsigned)n; i < REGISTRY_HIST_SLOTS; i++)
		h->slots[i] = 0;
	h->nslots = (unsigned)n;
	return true;
}

static bool get_smallint(struct store_chunk_dec *d, uint64_t *ret)
{
	static const unsigned widths[] = {3, 7, 16};
	static const uint64_t base[] = {1, 9, 137};
	uint64_t bit, v, len;
	unsigned ones = 0;

	while (ones < 4) {
		if (!get_bits(d, 1, &bit))
			return false;
		if (!bit)
			break;
		ones++;
	}
	if (!ones) {
		*ret = 0;
		return true;
	}
	if (ones < 4) {
		if (!get_bits(d, widths[ones - 1], &v))
			return false;
		*ret = v + base[ones - 1];
		return true;
	}
	return get_bits(d, 6, &len) && get_bits(d, (unsigned)len + 1, ret);
}

static bool get_hist(struct store_chunk_dec *d)
{
	struct chunk_hist_state *h = &d->h;
	uint64_t z, bit, n, fell, grew = 0;

	if (!get_bits(d, 1, &bit))
		return false;
	if (bit) {
		if (!get_bits(d, 1, &bit))
			return false;
		n = h->nslots;
		if (bit && (!get_bits(d, 6, &n) || n > REGISTRY_HIST_SLOTS))
			return false;
		if (!get_bits(d, 1, &fell))
			return false;
		for (unsigned i = 0; i < n; i++) {
			if (!get_smallint(d, &z))
				return false;
			if (fell)
				z = (uint64_t)unzigzag(z);
			h->slots[i] += z;
			grew += z;
		}
		for (unsigned i = (unsigned)n; i < REGISTRY_HIST_SLOTS; i++) {
			grew -= h->slots[i];
			h->slots[i] = 0;
		}
		h->nslots = (unsigned)n;
	}
	if (!get_smallint(d, &z))
		return false;
	h->count += grew + (uint64_t)unzigzag(z);
	return true;
}

int store_chunk_dec_next(struct store_chunk_dec *d, struct raw_sample *out)
{
	bool ok;

	if (!d->p)
		return -EBADMSG;
	if (d->i >= d->n)
		return 0;
	if (d->format == 1)
		ok = get_time(d) && get_value_v1(d) && (!d->hist || get_hist_v1(d));
	else if (d->format == 2)
		ok = get_time(d) && get_value_v2(d) && (!d->hist || get_hist(d));
	else
		ok = get_time(d) && get_value_v3(d) && (!d->hist || get_hist(d));
	if (!ok) {
		d->p = NULL; /* every later call fails too */
		return -EBADMSG;
	}
	d->i++;
	out->ts_ms = d->t;
	out->has_value = true;
	memcpy(&out->value, &d->v, sizeof(out->value));
	out->has_hist = d->hist;
	out->hist_count = d->hist ? d->h.count : 0;
	if (d->hist)
		memcpy(out->slots, d->h.slots, sizeof(out->slots));
	return 1;
}

/* ------------------------------------------------------ rollup chunks */

enum { LANE_COUNT, LANE_LAST, LANE_MIN, LANE_MAX, LANE_SUM, LANE_INC, LANE_HIST };

#define LANE_LEN_MAX 65535

static bool same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Whether a row has a sample in the lane, and its value there. */
static bool lane_value(const struct span_agg *a, unsigned lane, double *ret)
{
	switch (lane) {
	case LANE_COUNT:
		*ret = (double)a->n;
		return true;
	case LANE_LAST:
		*ret = a->last;
		return a->has_values;
	case LANE_MIN:
		*ret = a->min;
		return a->has_values && !same_double(a->min, a->last);
	case LANE_MAX:
		*ret = a->max;
		return a->has_values && !same_double(a->max, a->last);
	case LANE_SUM:
		*ret = a->sum;
		return a->has_values && !same_double(a->sum, a->last * (double)a->n);
	case LANE_INC:
		*ret = a->inc;
		return a->has_inc;
	default:
		*ret = a->hist_sum;
		return a->has_hist;
	}
}

/* Encodes one lane of the rows into e (initialized here). */
static int lane_encode(struct store_chunk_enc *e, unsigned lane, const struct rollup_row *rows,
		       size_t n)
{
	struct raw_sample smp;
	int err;

	err = store_chunk_enc_init(e, lane == LANE_HIST);
	if (err)
		return err;
	/* once: each row sets what its lane's encoder reads */
	memset(&smp, 0, sizeof(smp));
	for (size_t i = 0; i < n; i++) {
		const struct span_agg *a = &rows[i].agg;
		double v;

		if (!lane_value(a, lane, &v))
			continue;
		smp.ts_ms = rows[i].bucket;
		smp.has_value = true;
		smp.value = v;
		if (lane == LANE_HIST) {
			smp.has_hist = true;
			smp.hist_count = a->hist_count;
			memcpy(smp.slots, a->slots, sizeof(smp.slots));
		}
		err = store_chunk_enc_add(e, &smp);
		if (err)
			return err;
	}
	return 0;
}

int store_rollup_encode(const struct rollup_row *rows, size_t n, void **ret_data, size_t *ret_len)
{
	struct store_chunk_enc e[STORE_ROLLUP_LANES];
	const void *bytes[STORE_ROLLUP_LANES] = {0};
	size_t lens[STORE_ROLLUP_LANES] = {0}, total = 2, pos;
	unsigned char *out = NULL;
	unsigned mask = 0;
	int err = 0;

	if (!rows || !n || n > STORE_CHUNK_COUNT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (rows[i].agg.n < 1 || rows[i].agg.n > WHOLE_MAX ||
		    (i && rows[i].bucket <= rows[i - 1].bucket))
			return -EINVAL;
	memset(e, 0, sizeof(e));
	for (unsigned l = 0; l < STORE_ROLLUP_LANES; l++) {
		err = lane_encode(&e[l], l, rows, n);
		if (err)
			goto out;
		if (!e[l].n)
			continue;
		bytes[l] = store_chunk_enc_bytes(&e[l], &lens[l]);
		if (!bytes[l]) {
			err = -ENOMEM;
			goto out;
		}
		if (lens[l] > LANE_LEN_MAX) {
			err = -E2BIG;
			goto out;
		}
		mask |= 1u << l;
		total += 2 + lens[l];
	}
	out = malloc(total);
	if (!out) {
		err = -ENOMEM;
		goto out;
	}
	out[0] = STORE_ROLLUP_FORMAT;
	out[1] = (unsigned char)mask;
	pos = 2;
	for (unsigned l = 0; l < STORE_ROLLUP_LANES; l++) {
		if (!bytes[l])
			continue;
		out[pos] = (unsigned char)(lens[l] & 0xff);
		out[pos + 1] = (unsigned char)(lens[l] >> 8);
		memcpy(out + pos + 2, bytes[l], lens[l]);
		pos += 2 + lens[l];
	}
	*ret_data = out;
	*ret_len = total;
out:
	for (unsigned l = 0; l < STORE_ROLLUP_LANES; l++)
		store_chunk_enc_free(&e[l]);
	return err;
}

/* Puts a lane's sample into its row; false when it may not be there. */
static bool lane_put(struct span_agg *a, unsigned lane, const struct raw_sample *smp)
{
	double v = smp->value;

	switch (lane) {
	case LANE_LAST:
		/* what the other lanes leave out follows from last */
		a->has_values = true;
		a->last = a->min = a->max = v;
		a->sum = v * (double)a->n;
		return true;
	case LANE_MIN:
		a->min = v;
		return a->has_values;
	case LANE_MAX:
		a->max = v;
		return a->has_values;
	case LANE_SUM:
		a->sum = v;
		return a->has_values;
	case LANE_INC:
		a->has_inc = true;
		a->inc = v;
		return true;
	default:
		a->has_hist = true;
		a->hist_sum = v;
		a->hist_count = smp->hist_count;
		memcpy(a->slots, smp->slots, sizeof(a->slots));
		return true;
	}
}

int store_rollup_decode(const void *data, size_t len, struct rollup_row *rows, size_t max,
			size_t *ret_n)
{
	const unsigned char *p = data;
	struct store_chunk_dec d;
	struct raw_sample smp;
	size_t pos = 2, n = 0;
	unsigned mask;
	int rc;

	if (!p || len < 2 || p[0] != STORE_ROLLUP_FORMAT || !(p[1] & 1) ||
	    p[1] >> STORE_ROLLUP_LANES)
		return -EBADMSG;
	mask = p[1];
	for (unsigned l = 0; l < STORE_ROLLUP_LANES; l++) {
		size_t lane_len, k = 0;

		if (!(mask & 1u << l))
			continue;
		if (len - pos < 2)
			return -EBADMSG;
		lane_len = p[pos] | (size_t)p[pos + 1] << 8;
		pos += 2;
		if (len - pos < lane_len)
			return -EBADMSG;
		if (store_chunk_dec_init(&d, p + pos, lane_len) < 0 || d.hist != (l == LANE_HIST) ||
		    !d.n)
			return -EBADMSG;
		pos += lane_len;
		while ((rc = store_chunk_dec_next(&d, &smp)) == 1) {
			if (l == LANE_COUNT) {
				if (n >= max ||
				    !(smp.value >= 1 && smp.value <= (double)WHOLE_MAX) ||
				    smp.value != floor(smp.value))
					return -EBADMSG;
				memset(&rows[n], 0, sizeof(rows[n]));
				rows[n].bucket = smp.ts_ms;
				rows[n].agg.n = (int64_t)smp.value;
				n++;
				continue;
			}
			/* the rows of a lane are some of lane 0's, in order */
			while (k < n && rows[k].bucket < smp.ts_ms)
				k++;
			if (k == n || rows[k].bucket != smp.ts_ms ||
			    !lane_put(&rows[k].agg, l, &smp))
				return -EBADMSG;
			k++;
		}
		if (rc < 0)
			return -EBADMSG;
	}
	if (pos != len)
		return -EBADMSG;
	*ret_n = n;
	return 0;
}
