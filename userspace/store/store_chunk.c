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

/* The scale of a chunk whose first value other than +0 has these bits:
 * the first at which it is whole, ticks before nanoseconds (a number of
 * ticks is mostly whole in nanoseconds too, not the other way round). */
static unsigned scale_for(uint64_t bits)
{
	static const unsigned order[] = {SCALE_UNIT, SCALE_DIV_100, SCALE_MUL_1E9, SCALE_DIV_1E9};
	int64_t k;

	for (unsigned i = 0; i < NSCALES; i++)
		if (whole_of(order[i], bits, &k))
			return order[i];
	return SCALE_UNIT;
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
	e->t_first = e->t_last = e->d_last = 0;
	e->v_last = e->v_last2 = 0;
	e->lead = e->trail = NO_WINDOW;
	e->whole = true; /* before the first sample: the whole 0, step 0 */
	e->scale = SCALE_UNIT;
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

static void put_time(struct store_chunk_enc *e, int64_t t)
{
	int64_t d, dod;

	if (!e->n) {
		put_bits(e, (uint64_t)t, 64);
		e->t_first = t;
		return;
	}
	d = (int64_t)((uint64_t)t - (uint64_t)e->t_last);
	dod = (int64_t)((uint64_t)d - (uint64_t)e->d_last);
	if (dod == 0) {
		put_bits(e, 0, 1);
	} else if (dod >= -4 && dod <= 3) {
		put_bits(e, 2, 2);
		put_bits(e, (uint64_t)dod, 3);
	} else if (dod >= -64 && dod <= 63) {
		put_bits(e, 6, 3);
		put_bits(e, (uint64_t)dod, 7);
	} else if (dod >= -2048 && dod <= 2047) {
		put_bits(e, 14, 4);
		put_bits(e, (uint64_t)dod, 12);
	} else if (dod >= -(1 << 19) && dod < (1 << 19)) {
		put_bits(e, 30, 5);
		put_bits(e, (uint64_t)dod, 20);
	} else {
		put_bits(e, 31, 5);
		put_bits(e, (uint64_t)dod, 64);
	}
	e->d_last = d;
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

static void put_value(struct store_chunk_enc *e, uint64_t bits)
{
	int64_t k = 0, dk = 0, dod;
	bool whole;

	/* +0 is 0 at every scale: the first other value chooses it */
	if (!e->scale_set && bits) {
		e->scale = scale_for(bits);
		e->scale_set = true;
	}
	whole = whole_of(e->scale, bits, &k);

	if (!e->whole) {
		put_xor(e, bits);
	} else if (!whole) {
		/* the first one too: XOR with 0, never x = 0 (0 is whole) */
		put_bits(e, 31, 5);
		put_xor(e, bits);
	} else {
		/* |k| <= 2^53: dk within 2^54, dod within 2^55 */
		dk = k - e->k_last;
		dod = dk - e->dk_last;
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
		} else {
			put_bits(e, 30, 5);
			put_bits(e, (uint64_t)dod, 57);
		}
	}
	/* the step counts only between two whole values (not from the 0
	 * before the first) */
	e->dk_last = whole && e->whole && e->n ? dk : 0;
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
	size_t worst = 5 + 64 + 5 + 3 + 1 + 5 + 6 + 64; /* time, value */
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
	e->buf[1] = (unsigned char)((e->hist ? 1 : 0) | e->scale << 1);
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

unsigned store_chunk_count(const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!p || len < STORE_CHUNK_HEADER || p[0] < 1 || p[0] > STORE_CHUNK_FORMAT ||
	    p[1] > (p[0] == 1 ? 1 : 2 * NSCALES - 1))
		return 0;
	return p[2] | (unsigned)p[3] << 8;
}

int store_chunk_dec_init(struct store_chunk_dec *d, const void *data, size_t len)
{
	const unsigned char *p = data;

	memset(d, 0, sizeof(*d));
	if (!p || len < STORE_CHUNK_HEADER || p[0] < 1 || p[0] > STORE_CHUNK_FORMAT ||
	    p[1] > (p[0] == 1 ? 1 : 2 * NSCALES - 1) || len > SIZE_MAX / 8)
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

static bool get_time(struct store_chunk_dec *d)
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

static bool get_value(struct store_chunk_dec *d)
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
	else
		ok = get_time(d) && get_value(d) && (!d->hist || get_hist(d));
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
