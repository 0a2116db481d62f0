/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store.c - the store's life cycle and its write path: options, open and
 * close, the bounded ingest buffer the collector appends to, and the one
 * writer thread that drains it into SQLite, retries when the database
 * cannot be written, and runs maintenance between flushes.
 *
 * Ownership: the buffer (s->incoming) belongs to the store under s->lock;
 * the writer moves it into s->pending, which only the writer touches, and
 * frees it once committed. Series are interned in a hash table of
 * series_ref; a buffered sample holds a counted reference to its series,
 * so the table only evicts series no buffered sample points to.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_internal.h"

/* ------------------------------------------------------------ options */

void store_options_default(struct store_options *o)
{
	*o = (struct store_options){
	    .flush_interval_s = 1.0,
	    .max_buffered_samples = 1000000,
	    .max_buffered_events = 100000,
	    .max_series = 100000,
	    .retention_raw_s = 24 * 3600.0,
	    .retention_1m_s = 30 * 86400.0,
	    .retention_1h_s = 365 * 86400.0,
	    .retention_events_s = 7 * 86400.0,
	    .rollup_delay_s = 10.0,
	    .maintenance_interval_s = 10.0,
	    .maintenance_batch_rows = 10000,
	    .busy_timeout_ms = 2000,
	    .retry_max_s = 30.0,
	    .close_timeout_s = 10.0,
	    .max_points = 11000,
	    .max_query_series = 100,
	    .max_list = 10000,
	    .max_events = 10000,
	    .max_readers = 4,
	};
}

static bool positive(double v)
{
	return isfinite(v) && v > 0;
}

static const char *options_invalid(const struct store_options *o)
{
	if (!positive(o->flush_interval_s) || o->flush_interval_s > 3600)
		return "flush_interval_s must be in (0, 3600]";
	if (!o->max_buffered_samples || !o->max_buffered_events || !o->max_series)
		return "buffer and series limits must be > 0";
	if (!positive(o->retention_raw_s) || !positive(o->retention_1m_s) ||
	    !positive(o->retention_1h_s) || !positive(o->retention_events_s))
		return "retentions must be > 0";
	if (!isfinite(o->rollup_delay_s) || o->rollup_delay_s < 0)
		return "rollup_delay_s must be >= 0";
	if (!isfinite(o->maintenance_interval_s) || o->maintenance_interval_s < 0)
		return "maintenance_interval_s must be >= 0";
	if (!o->maintenance_batch_rows)
		return "maintenance_batch_rows must be > 0";
	if (o->busy_timeout_ms < 0)
		return "busy_timeout_ms must be >= 0";
	if (!positive(o->retry_max_s) || !isfinite(o->close_timeout_s) || o->close_timeout_s < 0)
		return "retry_max_s must be > 0 and close_timeout_s >= 0";
	if (!o->max_points || !o->max_query_series || !o->max_list || !o->max_events ||
	    !o->max_readers)
		return "query limits must be > 0";
	return NULL;
}

/* ------------------------------------------------------------- clocks */

static double realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double store_now(const struct store *s)
{
	return s->opts.clock ? s->opts.clock(s->opts.clock_ctx) : realtime();
}

double store_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct timespec mono_deadline(double t)
{
	struct timespec ts;

	if (t > 1e12)
		t = 1e12;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	return ts;
}

/* ------------------------------------------------------- series refs */

struct series_ref {
	struct series_ref *hnext;
	uint64_t hash;
	enum metric_type type;
	double scale;
	uint64_t pending;    /* buffered samples pointing here; under lock */
	uint64_t last_round; /* the last append that used it; under lock */
	/* writer thread only */
	int64_t db_id;
	uint64_t db_gen; /* s->conn_gen db_id was resolved on; 0 = never */
	int64_t seen_day;
	char *name;
	char *labels_json;
	size_t keylen;
	char key[];
};

/* type, name, then per label in key order: 0x1f key 0x1e value */
#define SERIES_KEY_MAX                                                                             \
	(2 + REGISTRY_NAME_MAX +                                                                   \
	 REGISTRY_MAX_LABELS * (REGISTRY_LABEL_KEY_MAX + REGISTRY_LABEL_VALUE_MAX + 2))

static void label_order(const struct metric_series *m, size_t order[REGISTRY_MAX_LABELS])
{
	for (size_t i = 0; i < m->nlabels; i++) {
		size_t j = i;

		while (j > 0 && strcmp(m->label_keys[order[j - 1]], m->label_keys[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

static size_t series_key(const struct metric_series *m, char buf[SERIES_KEY_MAX])
{
	size_t order[REGISTRY_MAX_LABELS], len = 0, n;

	label_order(m, order);
	buf[len++] = (char)('0' + (int)m->type);
	n = strlen(m->name);
	memcpy(buf + len, m->name, n);
	len += n;
	for (size_t i = 0; i < m->nlabels; i++) {
		buf[len++] = '\x1f';
		n = strlen(m->label_keys[order[i]]);
		memcpy(buf + len, m->label_keys[order[i]], n);
		len += n;
		buf[len++] = '\x1e';
		n = strlen(m->label_values[order[i]]);
		memcpy(buf + len, m->label_values[order[i]], n);
		len += n;
	}
	buf[len] = '\0';
	return len;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The canonical label text stored in series.labels: compact, sorted. */
static char *labels_json(const struct metric_series *m)
{
	json_t *o = json_object();
	char *text = NULL;

	if (!o)
		return NULL;
	for (size_t i = 0; i < m->nlabels; i++) {
		json_t *v = json_string(m->label_values[i]);

		if (!v || json_object_set_new(o, m->label_keys[i], v) < 0)
			goto out;
	}
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(o);
	return text;
}

static struct series_ref *ref_free(struct series_ref *r)
{
	if (r) {
		free(r->name);
		free(r->labels_json);
		free(r);
	}
	return NULL;
}

/* Drops every idle series (no buffered sample, not in this round). */
static void refs_evict_idle(struct store *s, uint64_t round)
{
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref **pp = &s->htab[i];

		while (*pp) {
			struct series_ref *r = *pp;

			if (r->pending == 0 && r->last_round != round) {
				*pp = r->hnext;
				ref_free(r);
				s->hcount--;
			} else {
				pp = &r->hnext;
			}
		}
	}
}

/*
 * Series that stopped appearing (a process that left the top K, an
 * interface that went away) are forgotten after STALE_ROUNDS rounds, so
 * memory follows the series that are alive, not every series ever seen;
 * one that comes back is looked up again. Checked every STALE_CHECK_ROUNDS.
 */
#define STALE_ROUNDS	   1024
#define STALE_CHECK_ROUNDS 256

static void refs_evict_stale(struct store *s, uint64_t round)
{
	if (round % STALE_CHECK_ROUNDS || round <= STALE_ROUNDS)
		return;
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref **pp = &s->htab[i];

		while (*pp) {
			struct series_ref *r = *pp;

			if (r->pending == 0 && r->last_round + STALE_ROUNDS < round) {
				*pp = r->hnext;
				ref_free(r);
				s->hcount--;
			} else {
				pp = &r->hnext;
			}
		}
	}
}

static int refs_grow(struct store *s)
{
	size_t ncap = s->hcap ? s->hcap * 2 : 1024;
	struct series_ref **nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref *r = s->htab[i], *next;

		for (; r; r = next) {
			next = r->hnext;
			r->hnext = nt[r->hash & (ncap - 1)];
			nt[r->hash & (ncap - 1)] = r;
		}
	}
	free(s->htab);
	s->htab = nt;
	s->hcap = ncap;
	return 0;
}

/*
 * Finds or interns the series of m. Called under lock. Returns 0 and
 * *ret_ref, -ENOSPC (max_series reached and nothing idle to evict),
 * -EINVAL (labels that are not valid UTF-8) or -ENOMEM.
 */
static int ref_get(struct store *s, const struct metric_series *m, uint64_t round,
		   struct series_ref **ret_ref)
{
	char key[SERIES_KEY_MAX];
	size_t keylen = series_key(m, key);
	uint64_t hash = fnv1a(key, keylen);
	struct series_ref *r;

	if (s->hcap) {
		for (r = s->htab[hash & (s->hcap - 1)]; r; r = r->hnext) {
			if (r->hash == hash && r->keylen == keylen &&
			    !memcmp(r->key, key, keylen)) {
				r->last_round = round;
				*ret_ref = r;
				return 0;
			}
		}
	}
	if (s->hcount >= s->opts.max_series) {
		/* one scan per round at most: a full table of live series
		 * must not cost a scan per sample */
		if (s->evict_round == round)
			return -ENOSPC;
		s->evict_round = round;
		refs_evict_idle(s, round);
		if (s->hcount >= s->opts.max_series)
			return -ENOSPC;
	}
	if (s->hcount >= s->hcap && refs_grow(s) < 0)
		return -ENOMEM;

	r = calloc(1, sizeof(*r) + keylen + 1);
	if (!r)
		return -ENOMEM;
	r->hash = hash;
	r->type = m->type;
	r->scale = m->type == METRIC_HISTOGRAM ? m->scale : 1.0;
	r->last_round = round;
	r->keylen = keylen;
	memcpy(r->key, key, keylen + 1);
	r->name = strdup(m->name);
	r->labels_json = labels_json(m);
	if (!r->name || !r->labels_json) {
		bool bad_utf8 = r->name && !r->labels_json;

		ref_free(r);
		return bad_utf8 ? -EINVAL : -ENOMEM;
	}
	r->hnext = s->htab[hash & (s->hcap - 1)];
	s->htab[hash & (s->hcap - 1)] = r;
	s->hcount++;
	*ret_ref = r;
	return 0;
}

/* ------------------------------------------------------------ buffer */

struct buf_sample {
	struct series_ref *ref;
	int64_t ts_ms;
	double value; /* counter/gauge value, histogram sum */
	uint64_t hist_count;
	uint32_t blob_off; /* histogram slots in the chunk's arena */
	uint16_t blob_len; /* 0: not a histogram */
};

#define CHUNK_SAMPLES 4096

struct chunk {
	struct chunk *next;
	size_t n;
	unsigned char *arena;
	size_t arena_len, arena_cap;
	struct buf_sample samples[CHUNK_SAMPLES];
};

struct buf_event {
	struct buf_event *next;
	double ts;
	int32_t pid;
	char type[STORE_EVENT_TYPE_MAX];
	char comm[STORE_COMM_LEN];
	char *fields; /* JSON text */
};

static void batch_init(struct batch *b)
{
	*b = (struct batch){.min_ts_ms = INT64_MAX};
}

/* Appends src to dst and empties src. */
static void batch_move(struct batch *dst, struct batch *src)
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
	batch_init(src);
}

/* Frees a batch's memory; the caller has released its refs. */
static void batch_free(struct batch *b)
{
	struct chunk *c, *cnext;
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
	batch_init(b);
}

/* Under lock: forgets the batch's references to its series. */
static void batch_unref(struct batch *b)
{
	for (struct chunk *c = b->head; c; c = c->next)
		for (size_t i = 0; i < c->n; i++)
			c->samples[i].ref->pending--;
}

/* A chunk with room for one sample and blob_len arena bytes; NULL on ENOMEM. */
static struct chunk *chunk_for(struct batch *b, size_t blob_len)
{
	struct chunk *c = b->tail;

	if (!c || c->n == CHUNK_SAMPLES) {
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
	struct chunk *c;
	int err;

	if (!sample_finite(m)) {
		s->stats.samples_rejected++;
		return 0;
	}
	if (s->buffered_samples >= s->opts.max_buffered_samples) {
		s->stats.samples_dropped++;
		return -ENOBUFS;
	}
	err = ref_get(s, m, round, &ref);
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
	c = chunk_for(&s->incoming, blob_len);
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

/* Unix seconds to the stored milliseconds; -EINVAL unless finite, > 0 and
 * below year 275,000 (where doubles stop holding milliseconds exactly). */
static int ts_to_ms(double ts, int64_t *ret_ms)
{
	if (!isfinite(ts) || ts <= 0 || ts > 8.6e12)
		return -EINVAL;
	*ret_ms = llround(ts * 1000.0);
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
	refs_evict_stale(s, round);
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

	if (!s || (!series && n) || ts_to_ms(ts, &ts_ms) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!series_valid(&series[i]))
			return -EINVAL;
	return append_round(s, ts_ms, series, NULL, n);
}

int store_append_snapshot(struct store *s, const struct registry *r)
{
	int64_t ts_ms;

	if (!s || !r || ts_to_ms(registry_timestamp(r), &ts_ms) < 0)
		return -EINVAL;
	return append_round(s, ts_ms, NULL, r, registry_size(r));
}

static bool event_type_valid(const char *type)
{
	size_t n = 0;

	if (!type)
		return false;
	for (; type[n]; n++) {
		char c = type[n];

		if (n >= STORE_EVENT_TYPE_MAX - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

int store_append_event(struct store *s, double ts, const char *type, int32_t pid, const char *comm,
		       json_t *fields)
{
	struct buf_event *e;
	size_t len;

	if (!s || !isfinite(ts) || ts <= 0 || !event_type_valid(type) ||
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
	e->fields = fields ? json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!e->fields) {
		free(e);
		return -ENOMEM;
	}
	if (strlen(e->fields) > STORE_EVENT_FIELDS_MAX) {
		free(e->fields);
		free(e);
		return -E2BIG;
	}

	pthread_mutex_lock(&s->lock);
	if (s->buffered_events >= s->opts.max_buffered_events) {
		s->stats.events_dropped++;
		pthread_mutex_unlock(&s->lock);
		free(e->fields);
		free(e);
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

/* ------------------------------------------------------------ writer */

int store_wfail(struct store *s, int rc, const char *what)
{
	int err = store_db_errno(s->db, rc);

	snprintf(s->werr, sizeof(s->werr), "%s: %s (%s)", what,
		 s->db ? sqlite3_errmsg(s->db) : "no connection", sqlite3_errstr(rc));
	return err;
}

int store_wstep(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err = 0;

	/* before the reset, which forgets the system errno */
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store_wfail(s, rc, what);
	sqlite3_reset(st);
	return err;
}

static void writer_disconnect(struct store *s)
{
	store_writer_finalize(s);
	sqlite3_close_v2(s->db);
	s->db = NULL;
	s->writer_cache_kib = 0;
	store_maint_reset(s);
}

/*
 * Each flush appends one sample per series, at a different place of the
 * (series, time) index for each series: the pages it touches are about one
 * leaf per series. The writer's page cache follows the series count of the
 * latest snapshot (8 KiB a series, 4 to 64 MiB), so a small daemon stays
 * small and a large ingest does not thrash.
 */
static void writer_size_cache(struct store *s, uint64_t nseries)
{
	long want = (long)(nseries * 8);
	char sql[64];

	want = want < 4096 ? 4096 : want > 65536 ? 65536 : want;
	/* Only move on a real change: both directions by a quarter. */
	if (s->writer_cache_kib && want <= s->writer_cache_kib * 5 / 4 &&
	    want >= s->writer_cache_kib * 3 / 4)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%ld", want);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		s->writer_cache_kib = want;
}

static int writer_connect(struct store *s, char *err, size_t errlen)
{
	int ret;

	ret = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, true, &s->db, err, errlen);
	if (ret)
		return ret;
	s->conn_gen++;
	ret = store_writer_prepare(s);
	if (!ret)
		ret = store_maint_load(s);
	if (ret) {
		snprintf(err, errlen, "preparing statements on %s: %s", s->path,
			 sqlite3_errmsg(s->db));
		writer_disconnect(s);
	}
	return ret;
}

/* Connects when a previous failure dropped the connection. */
static int writer_ensure_connected(struct store *s)
{
	if (s->db)
		return 0;
	return writer_connect(s, s->werr, sizeof(s->werr));
}

static int txn_refs_push(struct store *s, struct series_ref *r)
{
	if (s->ntxn_refs == s->txn_refs_cap) {
		size_t ncap = s->txn_refs_cap ? s->txn_refs_cap * 2 : 256;
		struct series_ref **n = realloc(s->txn_refs, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->txn_refs = n;
		s->txn_refs_cap = ncap;
	}
	s->txn_refs[s->ntxn_refs++] = r;
	return 0;
}

/*
 * The series id of r on this connection, inserting the series when new.
 * last_seen_ts is refreshed once per day of data per series.
 */
static int ref_resolve(struct store *s, struct series_ref *r, int64_t ts_ms, int64_t *ret_id)
{
	int64_t day = floor_div(ts_ms, 86400000);
	sqlite3_stmt *st = s->st.series_upsert;
	int rc;

	if (r->db_gen == s->conn_gen && r->seen_day == day) {
		*ret_id = r->db_id;
		return 0;
	}
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->labels_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, metric_type_name(r->type), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, r->scale);
	sqlite3_bind_int64(st, 5, floor_div(ts_ms, 1000));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int err = store_wfail(s, rc, "inserting a series");

		sqlite3_reset(st);
		return err;
	}
	r->db_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	/* undone if the transaction rolls back */
	if (txn_refs_push(s, r) < 0) {
		snprintf(s->werr, sizeof(s->werr), "flush: out of memory");
		return -ENOMEM;
	}
	r->db_gen = s->conn_gen;
	r->seen_day = day;
	*ret_id = r->db_id;
	return 0;
}

static int insert_samples(struct store *s, const struct batch *b)
{
	sqlite3_stmt *st = s->st.raw_insert;

	for (const struct chunk *c = b->head; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			const struct buf_sample *smp = &c->samples[i];
			int64_t id = 0;
			int err, rc;

			err = ref_resolve(s, smp->ref, smp->ts_ms, &id);
			if (err)
				return err;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, smp->ts_ms);
			sqlite3_bind_double(st, 3, smp->value);
			if (smp->blob_len) {
				sqlite3_bind_int64(st, 4, (int64_t)smp->hist_count);
				sqlite3_bind_blob(st, 5, c->arena + smp->blob_off, smp->blob_len,
						  SQLITE_STATIC);
			} else {
				sqlite3_bind_null(st, 4);
				sqlite3_bind_null(st, 5);
			}
			rc = sqlite3_step(st);
			if (rc != SQLITE_DONE) {
				err = store_wfail(s, rc, "inserting samples");
				sqlite3_reset(st);
				return err;
			}
			sqlite3_reset(st);
		}
	}
	return 0;
}

static int insert_events(struct store *s, const struct batch *b)
{
	sqlite3_stmt *st = s->st.event_insert;

	for (const struct buf_event *e = b->ev_head; e; e = e->next) {
		int rc;

		sqlite3_bind_double(st, 1, e->ts);
		sqlite3_bind_text(st, 2, e->type, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, e->pid);
		sqlite3_bind_text(st, 4, e->comm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->fields, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			int err = store_wfail(s, rc, "inserting events");

			sqlite3_reset(st);
			return err;
		}
		sqlite3_reset(st);
	}
	return 0;
}

static int64_t ceil_to(double t, int64_t width)
{
	return -floor_div(-(int64_t)ceil(t), width) * width;
}

/*
 * Samples older than a rollup watermark arrived (they were buffered while
 * the database was unavailable): move the watermarks back so that the
 * buckets they fall in are rolled up again. Never below what retention
 * keeps, as those buckets' other samples may be gone already.
 */
static int lower_watermarks(struct store *s, const struct batch *b, int64_t *ret_1m,
			    int64_t *ret_1h)
{
	int64_t min_s = floor_div(b->min_ts_ms, 1000);
	double now = store_now(s);
	int64_t wm_1m = floor_div(min_s, TIER_1M_S) * TIER_1M_S;
	int64_t wm_1h = floor_div(min_s, TIER_1H_S) * TIER_1H_S;
	int64_t keep_1m = ceil_to(now - s->opts.retention_raw_s, TIER_1M_S);
	int64_t keep_1h = ceil_to(now - s->opts.retention_1m_s, TIER_1H_S);
	int err;

	*ret_1m = s->wm_1m;
	*ret_1h = s->wm_1h;
	if (wm_1m < keep_1m)
		wm_1m = keep_1m;
	if (wm_1h < keep_1h)
		wm_1h = keep_1h;
	if (wm_1m < s->wm_1m) {
		err = store_meta_set(s, "rollup_1m_done", wm_1m);
		if (err)
			return err;
		*ret_1m = wm_1m;
	}
	if (wm_1h < s->wm_1h) {
		err = store_meta_set(s, "rollup_1h_done", wm_1h);
		if (err)
			return err;
		*ret_1h = wm_1h;
	}
	return 0;
}

/* One transaction with the whole pending batch. */
static int flush_txn(struct store *s)
{
	int64_t wm_1m = s->wm_1m, wm_1h = s->wm_1h;
	int err;

	s->ntxn_refs = 0;
	err = store_wstep(s, s->st.begin, "flush: begin");
	if (err)
		return err;
	err = insert_samples(s, &s->pending);
	if (!err)
		err = insert_events(s, &s->pending);
	if (!err && s->pending.nsamples)
		err = lower_watermarks(s, &s->pending, &wm_1m, &wm_1h);
	if (!err)
		err = store_wstep(s, s->st.commit, "flush: commit");
	if (err) {
		if (!sqlite3_get_autocommit(s->db)) {
			sqlite3_step(s->st.rollback);
			sqlite3_reset(s->st.rollback);
		}
		for (size_t i = 0; i < s->ntxn_refs; i++)
			s->txn_refs[i]->db_gen = 0;
		s->ntxn_refs = 0;
		return err;
	}
	s->ntxn_refs = 0;
	if (wm_1m != s->wm_1m || wm_1h != s->wm_1h) {
		s->wm_1m = wm_1m;
		s->wm_1h = wm_1h;
		store_maint_reset(s);
	}
	/* samples for the bucket a rollup is half way through: start it over */
	if (s->pending.nsamples && s->cur_1m.active &&
	    floor_div(s->pending.min_ts_ms, 1000 * TIER_1M_S) * TIER_1M_S <= s->cur_1m.bucket)
		store_maint_reset(s);
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Releases the pending batch: written, or dropped (counted). */
static void pending_release(struct store *s, bool written)
{
	size_t ns = s->pending.nsamples, ne = s->pending.nevents;

	pthread_mutex_lock(&s->lock);
	batch_unref(&s->pending);
	s->buffered_samples -= ns;
	s->buffered_events -= ne;
	if (written) {
		s->stats.samples_written += ns;
		s->stats.events_written += ne;
	} else {
		s->stats.samples_dropped += ns;
		s->stats.events_dropped += ne;
	}
	pthread_mutex_unlock(&s->lock);
	batch_free(&s->pending);
}

/* Records the last error in the stats. */
static void record_error(struct store *s, int err, const char *text)
{
	double now = store_now(s);

	pthread_mutex_lock(&s->lock);
	s->stats.last_error = err;
	s->stats.last_error_ts = now;
	snprintf(s->stats.last_error_text, sizeof(s->stats.last_error_text), "%s", text);
	pthread_mutex_unlock(&s->lock);
}

/* A failure that retrying the same batch cannot fix. */
static bool error_is_poison(int err)
{
	return err == -EINVAL || err == -E2BIG;
}

/* A failure that may need a fresh connection (remount, moved file). */
static bool error_needs_reconnect(int err)
{
	return err != -EBUSY && err != -ENOSPC && err != -ENOMEM && !error_is_poison(err);
}

/*
 * Writes the pending batch. On failure the batch stays pending (except a
 * poisoned one, dropped so that it cannot block the store forever) and
 * the error is recorded.
 */
static int flush_pending(struct store *s)
{
	double t0 = store_mono(), latency, now;
	uint64_t size, nseries;
	int err;

	if (!s->pending.nsamples && !s->pending.nevents)
		return 0;
	err = writer_ensure_connected(s);
	if (err)
		goto fail;
	pthread_mutex_lock(&s->lock);
	nseries = s->live_series;
	pthread_mutex_unlock(&s->lock);
	writer_size_cache(s, nseries);
	err = flush_txn(s);
	if (err) {
		if (error_is_poison(err))
			pending_release(s, false);
		else if (error_needs_reconnect(err)) {
			writer_disconnect(s);
			/* the idle read connections too: nothing may keep the
			 * files open while the disk recovers */
			store_readers_close(s);
		}
		goto fail;
	}
	pending_release(s, true);
	latency = store_mono() - t0;
	size = file_size(s->path) + file_size(s->wal_path);
	now = store_now(s);
	pthread_mutex_lock(&s->lock);
	s->stats.flushes++;
	s->stats.consecutive_failures = 0;
	s->stats.last_flush_latency_s = latency;
	s->stats.last_flush_ts = now;
	s->stats.db_size_bytes = size;
	pthread_mutex_unlock(&s->lock);
	return 0;
fail:
	pthread_mutex_lock(&s->lock);
	s->stats.write_errors++;
	s->stats.consecutive_failures++;
	pthread_mutex_unlock(&s->lock);
	record_error(s, err, s->werr);
	return err;
}

static double backoff_s(const struct store *s, uint64_t failures)
{
	double b = 0.1;

	for (uint64_t i = 1; i < failures && b < s->opts.retry_max_s; i++)
		b *= 2;
	return b < s->opts.retry_max_s ? b : s->opts.retry_max_s;
}

/* Counts and records a failed maintenance step. */
static int maint_failed(struct store *s, int err)
{
	pthread_mutex_lock(&s->lock);
	s->stats.maintenance_errors++;
	pthread_mutex_unlock(&s->lock);
	record_error(s, err, s->werr);
	if (s->db && error_needs_reconnect(err))
		writer_disconnect(s);
	return err;
}

static int maint_run_all(struct store *s)
{
	int r = writer_ensure_connected(s);

	if (r)
		return maint_failed(s, r);
	do {
		r = store_maint_step(s);
	} while (r > 0);
	return r < 0 ? maint_failed(s, r) : 0;
}

/* True when a caller waits for the writer. */
static bool requests_pending(struct store *s, uint64_t flush_seen, uint64_t maint_seen)
{
	bool yes;

	pthread_mutex_lock(&s->lock);
	yes = s->stop || s->flush_req != flush_seen || s->maint_req != maint_seen;
	pthread_mutex_unlock(&s->lock);
	return yes;
}

/* At stop: write what is left, retrying for close_timeout_s. */
static void writer_drain(struct store *s)
{
	double deadline = store_mono() + s->opts.close_timeout_s;
	uint64_t failures = 0;

	for (;;) {
		double wait;

		pthread_mutex_lock(&s->lock);
		batch_move(&s->pending, &s->incoming);
		pthread_mutex_unlock(&s->lock);
		if (!s->pending.nsamples && !s->pending.nevents)
			return;
		if (!flush_pending(s)) {
			failures = 0;
			continue;
		}
		wait = backoff_s(s, ++failures);
		if (store_mono() + wait > deadline) {
			pending_release(s, false);
			return;
		}
		nanosleep(&(struct timespec){(time_t)wait, (long)((wait - (time_t)wait) * 1e9)},
			  NULL);
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	bool background = s->opts.maintenance_interval_s > 0;
	double next_flush = store_mono() + s->opts.flush_interval_s;
	double next_maint = store_mono();
	uint64_t flush_seen = 0, maint_seen = 0, failures = 0;
	bool maint_more = false;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		double now = store_mono();
		bool maint_asked = s->maint_req != maint_seen;
		bool flush_due = s->flush_req != flush_seen || maint_asked || now >= next_flush;
		bool maint_due = background && !failures && (maint_more || now >= next_maint);

		if (!flush_due && !maint_due) {
			double until = next_flush;
			struct timespec ts;

			if (background && !failures && next_maint < until)
				until = next_maint;
			ts = mono_deadline(until);
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
			continue;
		}

		if (flush_due) {
			uint64_t attempt = ++s->flush_started;
			int err;

			flush_seen = s->flush_req;
			batch_move(&s->pending, &s->incoming);
			pthread_mutex_unlock(&s->lock);
			err = flush_pending(s);
			pthread_mutex_lock(&s->lock);
			s->flush_done = attempt;
			s->flush_err = err;
			failures = err ? failures + 1 : 0;
			next_flush = store_mono() +
				     (err ? backoff_s(s, failures) : s->opts.flush_interval_s);
			pthread_cond_broadcast(&s->done);
		}

		if (maint_asked) {
			uint64_t asked = s->maint_req;
			int err = s->flush_err;

			pthread_mutex_unlock(&s->lock);
			if (!err)
				err = maint_run_all(s);
			pthread_mutex_lock(&s->lock);
			maint_seen = asked;
			s->maint_done = asked;
			s->maint_err = err;
			maint_more = false;
			next_maint = store_mono() + s->opts.maintenance_interval_s;
			pthread_cond_broadcast(&s->done);
		} else if (maint_due) {
			int r = 0;

			/* small steps until done or the next flush is due */
			pthread_mutex_unlock(&s->lock);
			if (s->db) {
				do {
					r = store_maint_step(s);
				} while (r > 0 && store_mono() < next_flush &&
					 !requests_pending(s, flush_seen, maint_seen));
				if (r < 0)
					maint_failed(s, r);
			}
			pthread_mutex_lock(&s->lock);
			maint_more = r > 0;
			if (r <= 0)
				next_maint = store_mono() + s->opts.maintenance_interval_s;
		}
	}
	pthread_mutex_unlock(&s->lock);
	writer_drain(s);
	return NULL;
}

/* ------------------------------------------------------- open / close */

static void store_free(struct store *s)
{
	store_readers_close(s);
	if (s->db)
		writer_disconnect(s);
	pthread_mutex_lock(&s->lock);
	batch_unref(&s->incoming);
	batch_unref(&s->pending);
	pthread_mutex_unlock(&s->lock);
	batch_free(&s->incoming);
	batch_free(&s->pending);
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref *r = s->htab[i], *next;

		for (; r; r = next) {
			next = r->hnext;
			ref_free(r);
		}
	}
	free(s->htab);
	free(s->txn_refs);
	store_maint_free(s);
	pthread_cond_destroy(&s->rcond);
	pthread_mutex_destroy(&s->rlock);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->ridle);
	free(s->path);
	free(s->wal_path);
	free(s->vfs);
	free(s);
}

static void set_errbuf(char *err, size_t errlen, const char *text)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", text);
}

int store_open(const char *path, const struct store_options *opts, struct store **ret_store,
	       char *err, size_t errlen)
{
	struct store_options defaults;
	pthread_condattr_t cattr;
	const char *why;
	struct store *s;
	int ret;

	if (!opts) {
		store_options_default(&defaults);
		opts = &defaults;
	}
	if (!path || !*path || !ret_store) {
		set_errbuf(err, errlen, "store: no database path");
		return -EINVAL;
	}
	why = options_invalid(opts);
	if (why) {
		set_errbuf(err, errlen, why);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->opts = *opts;
	s->path = strdup(path);
	s->vfs = opts->vfs ? strdup(opts->vfs) : NULL;
	s->opts.vfs = s->vfs;
	s->ridle = calloc(opts->max_readers, sizeof(*s->ridle));
	if (!s->path || (opts->vfs && !s->vfs) || !s->ridle ||
	    asprintf(&s->wal_path, "%s-wal", path) < 0) {
		s->wal_path = NULL;
		free(s->ridle);
		free(s->path);
		free(s->vfs);
		free(s);
		goto nomem;
	}
	batch_init(&s->incoming);
	batch_init(&s->pending);
	s->wm_1m = s->wm_1h = WATERMARK_NONE;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_cond_init(&s->done, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rcond, NULL);

	/* connect here, not on the writer thread, so that a refused or
	 * unopenable database fails the open with its reason */
	ret = writer_connect(s, err, errlen);
	if (ret)
		goto fail;
	ret = -pthread_create(&s->writer, NULL, writer_main, s);
	if (ret) {
		set_errbuf(err, errlen, "store: cannot start the writer thread");
		goto fail;
	}
	s->writer_started = true;
	*ret_store = s;
	return 0;
nomem:
	set_errbuf(err, errlen, "store: out of memory");
	return -ENOMEM;
fail:
	store_free(s);
	return ret;
}

struct store *store_close_report(struct store *s, uint64_t *ret_lost_samples,
				 uint64_t *ret_lost_events)
{
	struct store_stats before = {}, after = {};

	if (!s)
		return NULL;
	store_get_stats(s, &before);
	/* readers first: only the writer's connection, closed last,
	 * checkpoints the WAL into the database file */
	store_readers_close(s);
	if (s->writer_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->writer, NULL);
	}
	store_get_stats(s, &after);
	if (ret_lost_samples)
		*ret_lost_samples = after.samples_dropped - before.samples_dropped;
	if (ret_lost_events)
		*ret_lost_events = after.events_dropped - before.events_dropped;
	store_free(s);
	return NULL;
}

struct store *store_close(struct store *s)
{
	return store_close_report(s, NULL, NULL);
}

int store_flush_sync(struct store *s)
{
	uint64_t target;
	int err;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* the next attempt to start drains everything appended so far */
	target = s->flush_started + 1;
	s->flush_req++;
	pthread_cond_signal(&s->wake);
	while (s->flush_done < target)
		pthread_cond_wait(&s->done, &s->lock);
	err = s->flush_err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

int store_run_maintenance(struct store *s)
{
	uint64_t target;
	int err;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	target = ++s->maint_req;
	pthread_cond_signal(&s->wake);
	while (s->maint_done < target)
		pthread_cond_wait(&s->done, &s->lock);
	err = s->maint_err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

void store_get_stats(struct store *s, struct store_stats *ret)
{
	if (!s || !ret)
		return;
	pthread_mutex_lock(&s->lock);
	*ret = s->stats;
	ret->samples_buffered = s->buffered_samples;
	ret->events_buffered = s->buffered_events;
	ret->series_tracked = s->hcount;
	pthread_mutex_unlock(&s->lock);
}
