/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_series.c - the series the store knows in memory: a hash table of
 * series_ref, one per distinct (type, name, labels), that buffered
 * samples point to, so that a sample costs a pointer rather than a copy
 * of its name and labels, and the writer resolves each series' database
 * id once per connection and day rather than once per sample.
 *
 * Contracts:
 *   - The table is shared by the appending threads: every function runs
 *     under s->lock, except store_series_free_all() at close, when nothing
 *     else runs. The writer reads a ref's name and labels, which never
 *     change, and owns its db_* fields.
 *   - A buffered sample holds a counted reference (pending): a series is
 *     only evicted when nothing buffered points to it.
 *   - The table holds at most max_series series. A full table evicts the
 *     idle ones (nothing buffered, absent from this round) at most once
 *     per round, so a table full of live series costs no scan per sample.
 *   - Series that stop appearing are forgotten after STALE_ROUNDS rounds:
 *     memory follows the live series, not every series ever seen.
 *   - Labels are keyed in key order, so the order a caller lists them in
 *     does not make a new series; labels that are not valid UTF-8 are
 *     refused (-EINVAL), as they could not be stored as JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/utf8.h"

/* ---------------------------------------------------------------- keys */

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

static bool labels_utf8(const struct metric_series *m)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (!utf8_valid(m->label_keys[i], strlen(m->label_keys[i])) ||
		    !utf8_valid(m->label_values[i], strlen(m->label_values[i])))
			return false;
	return true;
}

/* The canonical label text stored in series.labels: compact, sorted.
 * NULL when out of memory (the labels are valid UTF-8). */
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

/* --------------------------------------------------------------- table */

static struct series_ref *ref_free(struct store *s, struct series_ref *r)
{
	if (r) {
		s->chunk_mem -= (int64_t)store_chunks_ref_free(r);
		free(r->name);
		free(r->labels_json);
		free(r);
	}
	return NULL;
}

/* Drops the refs nothing buffered points to and keep() refuses. */
static void refs_evict(struct store *s, uint64_t round,
		       bool (*keep)(const struct series_ref *r, uint64_t round))
{
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref **pp = &s->htab[i];

		while (*pp) {
			struct series_ref *r = *pp;

			if (r->pending == 0 && !keep(r, round)) {
				*pp = r->hnext;
				ref_free(s, r);
				s->hcount--;
			} else {
				pp = &r->hnext;
			}
		}
	}
}

static bool used_this_round(const struct series_ref *r, uint64_t round)
{
	return r->last_round == round;
}

/*
 * Series that stopped appearing (a process that left the top K, an
 * interface that went away) are forgotten after STALE_ROUNDS rounds; one
 * that comes back is looked up again. Checked every STALE_CHECK_ROUNDS.
 */
#define STALE_ROUNDS	   1024
#define STALE_CHECK_ROUNDS 256

static bool used_lately(const struct series_ref *r, uint64_t round)
{
	return r->last_round + STALE_ROUNDS >= round;
}

void store_series_evict_stale(struct store *s, uint64_t round)
{
	if (round % STALE_CHECK_ROUNDS || round <= STALE_ROUNDS)
		return;
	refs_evict(s, round, used_lately);
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

int store_series_get(struct store *s, const struct metric_series *m, uint64_t round,
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
		refs_evict(s, round, used_this_round);
		if (s->hcount >= s->opts.max_series)
			return -ENOSPC;
	}
	if (!labels_utf8(m))
		return -EINVAL;
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
		ref_free(s, r);
		return -ENOMEM;
	}
	r->hnext = s->htab[hash & (s->hcap - 1)];
	s->htab[hash & (s->hcap - 1)] = r;
	s->hcount++;
	*ret_ref = r;
	return 0;
}

void store_series_free_all(struct store *s)
{
	for (size_t i = 0; i < s->hcap; i++) {
		struct series_ref *r = s->htab[i], *next;

		for (; r; r = next) {
			next = r->hnext;
			ref_free(s, r);
		}
	}
	free(s->htab);
	s->htab = NULL;
	s->hcap = s->hcount = 0;
}
