/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_ingest.c - the store's bounded buffer: what store_append_snapshot(),
 * store_append_series() and store_append_event() put in, and how the
 * writer takes it out. Appends run on the collector's and the API's
 * threads and must never wait for the database: they copy into memory
 * under s->lock and return.
 *
 * Contracts:
 *   - Bounded: at most max_buffered_samples samples and
 *     max_buffered_events events are held (buffered plus the writer's
 *     pending batch). Beyond that a sample or event is dropped, counted in
 *     samples_dropped / events_dropped, and the append returns -ENOBUFS;
 *     the rest of the round is still kept.
 *   - Nothing is lost silently: a sample that cannot be stored (a value
 *     that is not finite, labels that are not UTF-8, an invalid series in
 *     a snapshot) is counted in samples_rejected.
 *   - Ownership: s->incoming belongs to the store under s->lock. The
 *     writer moves it into its pending batch with store_batch_move() and,
 *     once written or given up, releases the series references
 *     (store_batch_unref(), under lock) and frees it (store_batch_free()).
 *   - Samples are kept in blocks of BUF_BLOCK_SAMPLES, histogram slots
 *     encoded (store_blob_encode()) into each block's arena, so a buffered
 *     sample costs about 40 bytes, not a metric_series.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* -------------------------------------------------------------- batches */

void store_batch_init(struct batch *b)
{
	*b = (struct batch){.min_ts_ms = INT64_MAX};
}

void store_batch_move(struct batch *dst, struct batch *src)
{
	if (src->head) {
		if (dst->tail)
			dst->tail->next = src->head;
		else
			dst->head = src->head;
		dst->tail = src->tail;
	}
	if (src->ev_head) {
		if (dst->ev_tail)
			dst->ev_tail->next = src->ev_head;
		else
			dst->ev_head = src->ev_head;
		dst->ev_tail = src->ev_tail;
	}
	dst->nsamples += src->nsamples;
	dst->nevents += src->nevents;
	if (src->min_ts_ms < dst->min_ts_ms)
		dst->min_ts_ms = src->min_ts_ms;
	store_batch_init(src);
}

void store_batch_free(struct batch *b)
{
	struct buf_block *c, *cnext;
	struct buf_event *e, *enext;

	for (c = b->head; c; c = cnext) {
		cnext = c->next;
		free(c->arena);
		free(c);
	}
	for (e = b->ev_head; e; e = enext) {
		enext = e->next;
		free(e->fields);
		free(e);
	}
	store_batch_init(b);
}

void store_batch_unref(struct batch *b)
{
	for (struct buf_block *c = b->head; c; c = c->next)
		for (size_t i = 0; i < c->n; i++)
			c->samples[i].ref->pending--;
}

/* A block with room for one sample and blob_len arena bytes; NULL on ENOMEM. */
static struct buf_block *block_for(struct batch *b, size_t blob_len)
{
	struct buf_block *c = b->tail;

	if (!c || c->n == BUF_BLOCK_SAMPLES) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->next = NULL;
		c->n = 0;
		c->arena = NULL;
		c->arena_len = c->arena_cap = 0;
		if (b->tail)
			b->tail->next = c;
		else
			b->head = c;
		b->tail = c;
	}
	if (c->arena_len + blob_len > c->arena_cap) {
		size_t ncap = c->arena_cap ? c->arena_cap * 2 : 16 * STORE_BLOB_MAX;
		unsigned char *na;

		while (ncap < c->arena_len + blob_len)
			ncap *= 2;
		na = realloc(c->arena, ncap);
		if (!na)
			return NULL;
		c->arena = na;
		c->arena_cap = ncap;
	}
	return c;
}

/* -------------------------------------------------------------- samples */

static bool series_valid(const struct metric_series *m)
{
	size_t n = strnlen(m->name, REGISTRY_NAME_MAX);

	if (n == 0 || n == REGISTRY_NAME_MAX || m->nlabels > REGISTRY_MAX_LABELS)
		return false;
	if (m->type != METRIC_COUNTER && m->type != METRIC_GAUGE && m->type != METRIC_HISTOGRAM)
		return false;
	for (size_t i = 0; i < m->nlabels; i++) {
		n = strnlen(m->label_keys[i], REGISTRY_LABEL_KEY_MAX);
		if (n == 0 || n == REGISTRY_LABEL_KEY_MAX)
			return false;
		if (strnlen(m->label_values[i], REGISTRY_LABEL_VALUE_MAX) ==
		    REGISTRY_LABEL_VALUE_MAX)
			return false;
	}
	return true;
}

static bool sample_finite(const struct metric_series *m)
{
	if (m->type == METRIC_HISTOGRAM)
		return isfinite(m->hist_sum) && isfinite(m->scale) && m->scale > 0;
	return isfinite(m->value);
}

/* Under lock. Returns 0, -ENOBUFS (dropped, counted) or -ENOMEM. */
static int append_one(struct store *s, const struct metric_series *m, int64_t ts_ms, uint64_t round)
{
	unsigned char blob[STORE_BLOB_MAX];
	size_t blob_len = 0;
	struct series_ref *ref;
	struct buf_sample *smp;
	struct buf_block *c;
	int err;

	if (!sample_finite(m)) {
		s->stats.samples_rejected++;
		return 0;
	}
	if (s->buffered_samples >= s->opts.max_buffered_samples) {
		s->stats.samples_dropped++;
		return -ENOBUFS;
	}
	err = store_series_get(s, m, round, &ref);
	if (err == -EINVAL) {
		s->stats.samples_rejected++;
		return 0;
	}
	if (err == -ENOSPC) {
		s->stats.samples_dropped++;
		return -ENOBUFS;
	}
	if (err)
		return err;
	if (m->type == METRIC_HISTOGRAM)
		blob_len = store_blob_encode(m->slots, blob);
	c = block_for(&s->incoming, blob_len);
	if (!c)
		return -ENOMEM;
	smp = &c->samples[c->n++];
	smp->ref = ref;
	smp->ts_ms = ts_ms;
	smp->blob_len = (uint16_t)blob_len;
	smp->blob_off = (uint32_t)c->arena_len;
	if (m->type == METRIC_HISTOGRAM) {
		smp->value = m->hist_sum;
		smp->hist_count = m->hist_count;
		memcpy(c->arena + c->arena_len, blob, blob_len);
		c->arena_len += blob_len;
	} else {
		smp->value = m->value;
		smp->hist_count = 0;
	}
	ref->pending++;
	s->buffered_samples++;
	s->incoming.nsamples++;
	if (ts_ms < s->incoming.min_ts_ms)
		s->incoming.min_ts_ms = ts_ms;
	return 0;
}

/*
 * Appends one round: n series, the i-th from series[i] or, without an
 * array, registry_at(r, i). A snapshot sets the live series count; a
 * custom batch (usually small) only raises it. Invalid series of a
 * snapshot are counted as rejected; a batch was validated by the caller.
 */
static int append_round(struct store *s, int64_t ts_ms, const struct metric_series *series,
			const struct registry *r, size_t n)
{
	uint64_t round;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	round = ++s->round;
	store_series_evict_stale(s, round);
	if (r || n > s->live_series)
		s->live_series = n;
	for (size_t i = 0; i < n; i++) {
		const struct metric_series *m = series ? &series[i] : registry_at(r, i);
		int err;

		if (!m || !series_valid(m)) {
			s->stats.samples_rejected++;
			continue;
		}
		err = append_one(s, m, ts_ms, round);
		if (err == -ENOMEM) {
			ret = err;
			break;
		}
		if (err)
			ret = err;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_append_series(struct store *s, double ts, const struct metric_series *series, size_t n)
{
	int64_t ts_ms;

	if (!s || (!series && n) || store_ts_to_ms(ts, &ts_ms) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!series_valid(&series[i]))
			return -EINVAL;
	return append_round(s, ts_ms, series, NULL, n);
}

int store_append_snapshot(struct store *s, const struct registry *r)
{
	int64_t ts_ms;

	if (!s || !r || store_ts_to_ms(registry_timestamp(r), &ts_ms) < 0)
		return -EINVAL;
	return append_round(s, ts_ms, NULL, r, registry_size(r));
}

/* --------------------------------------------------------------- events */

static struct buf_event *buf_event_free(struct buf_event *e)
{
	if (e) {
		free(e->fields);
		free(e);
	}
	return NULL;
}

/* True when fields' key holds what the event's column holds already. */
static bool same_as_column(json_t *fields, const char *key, json_t *column)
{
	json_t *v = json_object_get(fields, key);

	return v && column && json_equal(v, column);
}

/*
 * The serialized fields without the keys the event's columns hold with
 * the same value (a collected event carries its type, timestamp, pid and
 * comm among its fields too): a third of a typical event's bytes, kept
 * once. NULL when out of memory.
 */
static char *fields_dumps(json_t *fields, double ts, const char *type, int32_t pid,
			  const char *comm)
{
	static const char *const keys[] = {"type", "timestamp", "pid", "comm"};
	json_t *cols[4] = {json_string(type), json_real(ts), json_integer(pid), json_string(comm)};
	json_t *copy = NULL;
	char *out = NULL;

	for (size_t i = 0; i < 4; i++) {
		if (!same_as_column(fields, keys[i], cols[i]))
			continue;
		if (!copy && !(copy = json_copy(fields)))
			goto out;
		json_object_del(copy, keys[i]);
	}
	out = json_dumps(copy ? copy : fields, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(copy);
	for (size_t i = 0; i < 4; i++)
		json_decref(cols[i]);
	return out;
}

int store_append_event(struct store *s, double ts, const char *type, int32_t pid, const char *comm,
		       json_t *fields)
{
	struct buf_event *e;
	size_t len;

	if (!s || !isfinite(ts) || ts <= 0 || !store_event_type_valid(type) ||
	    (fields && !json_is_object(fields)))
		return -EINVAL;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ts = ts;
	e->pid = pid;
	strcpy(e->type, type);
	if (comm) {
		/* cut at a byte boundary, as the kernel's comm is */
		len = strnlen(comm, STORE_COMM_LEN - 1);
		memcpy(e->comm, comm, len);
	}
	e->fields = fields ? fields_dumps(fields, ts, type, pid, e->comm) : strdup("{}");
	if (!e->fields) {
		buf_event_free(e);
		return -ENOMEM;
	}
	if (strlen(e->fields) > STORE_EVENT_FIELDS_MAX) {
		buf_event_free(e);
		return -E2BIG;
	}

	pthread_mutex_lock(&s->lock);
	if (s->buffered_events >= s->opts.max_buffered_events) {
		s->stats.events_dropped++;
		pthread_mutex_unlock(&s->lock);
		buf_event_free(e);
		return -ENOBUFS;
	}
	if (s->incoming.ev_tail)
		s->incoming.ev_tail->next = e;
	else
		s->incoming.ev_head = e;
	s->incoming.ev_tail = e;
	s->incoming.nevents++;
	s->buffered_events++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
