// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * series_select.c - the modelled series and their per-round values (see
 * series_select.h). Previous counter values and histogram slots are kept
 * per key in an open-addressing hash table that grows with the series
 * tracked, up to the size max_series needs.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "models/series_select.h"
#include "registry/hist.h"
#include "util/error.h"

#define DEFAULT_MAX_SERIES 1000
/* A series not seen for this many rounds is forgotten (a device that went
 * away); its slot can be reused. */
#define FORGET_ROUNDS 1000
/* The table's first size; it doubles when half full. Sized for
 * max_series at once, it would hold 64-byte slots scattered by the hash
 * over its whole length, so each series tracked would make a page of its
 * own resident (KPULSE_MODELS_MAX_SERIES=10000: a 2 MiB table, about
 * 4 KiB of RSS per series until it fills). */
#define TABLE_MIN 64

/* key and labels are one allocation, "key\0labels\0"; the name is the
 * registry row's. 48 bytes, and the table holds 2 to 4 per series. */
struct entry {
	char *key;
	enum series_stat stat;
	bool used, have_prev;
	uint64_t last_round;
	double prev_value, prev_ts;
	uint64_t *prev_slots; /* histograms only */
};

/* The patterns' answer per metric name, so a round costs a lookup per
 * series instead of a run of fnmatch() calls: names are few (a few hundred)
 * and never change meaning. Names beyond the cache are matched each time. */
#define NAME_CACHE 1024

struct name_answer {
	char name[REGISTRY_NAME_MAX]; /* "" for a free slot */
	bool match;
};

struct series_select {
	char include[SERIES_PATTERNS_MAX];
	char exclude[SERIES_PATTERNS_MAX];
	struct name_answer *names; /* NAME_CACHE slots */
	size_t max_series, cap, cap_max, tracked;
	uint64_t round, skipped;
	struct entry *table; /* cap slots, a power of two up to cap_max >= 2 * max_series */
};

static const char *const stat_names[] = {"rate", "p99", "value"};

const char *series_stat_name(enum series_stat stat)
{
	return (unsigned)stat < 3 ? stat_names[stat] : "unknown";
}

/* Each comma-separated pattern of list is non-empty. */
static bool patterns_valid(const char *list)
{
	const char *p = list;

	if (!*list)
		return true;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 0)
			return false;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

static bool match_any(const char *list, const char *name, const char *defaults)
{
	char pat[SERIES_PATTERNS_MAX];
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		memcpy(pat, p, n);
		pat[n] = '\0';
		if (!strcmp(pat, "@custom")    ? strncmp(name, "kpulse_", 7) != 0
		    : !strcmp(pat, "@default") ? defaults && match_any(defaults, name, NULL)
					       : fnmatch(pat, name, 0) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

int series_select_match(const struct series_select *s, const char *name)
{
	return match_any(s->include, name, SERIES_DEFAULT_INCLUDE) &&
	       !match_any(s->exclude, name, SERIES_DEFAULT_EXCLUDE);
}

static uint64_t hash_key(const char *k);

/* series_select_match() through the cache. */
static bool match_cached(struct series_select *s, const char *name)
{
	size_t i = hash_key(name) & (NAME_CACHE - 1);

	for (size_t n = 0; n < NAME_CACHE; n++, i = (i + 1) & (NAME_CACHE - 1)) {
		struct name_answer *a = &s->names[i];

		if (!a->name[0]) {
			a->match = series_select_match(s, name);
			snprintf(a->name, sizeof(a->name), "%s", name);
			return a->match;
		}
		if (!strcmp(a->name, name))
			return a->match;
	}
	return series_select_match(s, name);
}

int series_select_new(const struct series_select_options *opts, struct series_select **ret,
		      char *err, size_t errlen)
{
	const char *inc = opts && opts->include ? opts->include : "@default";
	const char *exc = opts && opts->exclude ? opts->exclude : "@default";
	struct series_select *s;
	size_t cap = 2;

	if (strlen(inc) >= SERIES_PATTERNS_MAX || !patterns_valid(inc))
		return error_set(err, errlen, -EINVAL,
				 "include patterns '%.64s': a comma-separated list of non-empty "
				 "globs shorter than %d bytes in all",
				 inc, SERIES_PATTERNS_MAX);
	if (strlen(exc) >= SERIES_PATTERNS_MAX || !patterns_valid(exc))
		return error_set(err, errlen, -EINVAL,
				 "exclude patterns '%.64s': a comma-separated list of non-empty "
				 "globs shorter than %d bytes in all",
				 exc, SERIES_PATTERNS_MAX);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	strcpy(s->include, inc);
	strcpy(s->exclude, exc);
	s->max_series = opts && opts->max_series ? opts->max_series : DEFAULT_MAX_SERIES;
	while (cap < 2 * s->max_series)
		cap *= 2;
	s->cap_max = cap;
	s->cap = cap < TABLE_MIN ? cap : TABLE_MIN;
	s->table = calloc(s->cap, sizeof(*s->table));
	s->names = calloc(NAME_CACHE, sizeof(*s->names));
	if (!s->table || !s->names) {
		free(s->table);
		free(s->names);
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

struct series_select *series_select_free(struct series_select *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->cap; i++) {
		free(s->table[i].prev_slots);
		free(s->table[i].key);
	}
	free(s->table);
	free(s->names);
	free(s);
	return NULL;
}

size_t series_select_tracked(const struct series_select *s)
{
	return s->tracked;
}

uint64_t series_select_skipped(const struct series_select *s)
{
	return s->skipped;
}

/* FNV-1a */
static uint64_t hash_key(const char *k)
{
	uint64_t h = 1469598103934665603ull;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return h;
}

/* The entry of key, or a free (or forgotten) slot for it; NULL when the
 * table is full. Linear probing; forgotten entries are reused in place. */
static struct entry *lookup(struct series_select *s, const char *key, bool *ret_new)
{
	size_t mask = s->cap - 1, i = hash_key(key) & mask;
	struct entry *reuse = NULL;

	for (size_t n = 0; n < s->cap; n++, i = (i + 1) & mask) {
		struct entry *e = &s->table[i];

		if (!e->used) {
			*ret_new = true;
			return reuse ? reuse : e;
		}
		if (!strcmp(e->key, key)) {
			*ret_new = false;
			return e;
		}
		if (!reuse && s->round - e->last_round > FORGET_ROUNDS)
			reuse = e;
	}
	*ret_new = true;
	return reuse;
}

/*
 * Doubles the table (up to cap_max) when one more series would fill it
 * past half, so probes stay short. Entries move; pointers to them do not
 * survive (their strings do). Returns 0, or -ENOMEM with the table as it
 * was.
 */
static int grow(struct series_select *s)
{
	size_t cap = s->cap * 2, mask = cap - 1;
	struct entry *t;

	if ((s->tracked + 1) * 2 <= s->cap || s->cap >= s->cap_max)
		return 0;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->table[i].used)
			continue;
		for (j = hash_key(s->table[i].key) & mask; t[j].used; j = (j + 1) & mask)
			;
		t[j] = s->table[i];
	}
	free(s->table);
	s->table = t;
	s->cap = cap;
	return 0;
}

static int format_key(const struct metric_series *m, enum series_stat stat, char *key, char *labels)
{
	size_t n = 0;

	labels[0] = '\0';
	for (size_t i = 0; i < m->nlabels; i++)
		n += (size_t)snprintf(labels + n, SERIES_KEY_MAX - n, "%s%s=%s", i ? "," : "",
				      m->label_keys[i], m->label_values[i]);
	return snprintf(key, SERIES_KEY_MAX, "%s{%s}:%s", m->name, labels, series_stat_name(stat)) <
		       SERIES_KEY_MAX
		   ? 0
		   : -ENAMETOOLONG;
}

/* The round's value of a tracked series into *ret; false for none yet. */
static bool value_of(struct entry *e, const struct metric_series *m, double ts, double *ret)
{
	bool have = false;

	switch (e->stat) {
	case SERIES_STAT_VALUE:
		*ret = m->value;
		have = isfinite(m->value);
		break;
	case SERIES_STAT_RATE:
		if (e->have_prev && ts > e->prev_ts && isfinite(m->value)) {
			double d = m->value >= e->prev_value ? m->value - e->prev_value : m->value;

			*ret = d / (ts - e->prev_ts);
			have = true;
		}
		e->prev_value = m->value;
		break;
	case SERIES_STAT_P99: {
		uint64_t delta[REGISTRY_HIST_SLOTS];
		bool reset = false;

		if (e->have_prev) {
			for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++) {
				reset |= m->slots[i] < e->prev_slots[i];
				delta[i] = m->slots[i] - e->prev_slots[i];
			}
			if (reset)
				memcpy(delta, m->slots, sizeof(delta));
			if (hist_total(delta, REGISTRY_HIST_SLOTS)) {
				*ret =
				    hist_log2_quantile(delta, REGISTRY_HIST_SLOTS, 0.99) * m->scale;
				have = isfinite(*ret);
			}
		}
		memcpy(e->prev_slots, m->slots, sizeof(m->slots));
		break;
	}
	}
	e->prev_ts = ts;
	e->have_prev = true;
	return have;
}

/* The modelled series of reg, read as of time ts, into out (at most cap). */
static long select_from(struct series_select *s, const struct registry *reg, double ts,
			struct series_value *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < registry_size(reg); i++) {
		const struct metric_series *m = registry_at(reg, i);
		enum series_stat stat = m->type == METRIC_COUNTER     ? SERIES_STAT_RATE
					: m->type == METRIC_HISTOGRAM ? SERIES_STAT_P99
								      : SERIES_STAT_VALUE;
		char key[SERIES_KEY_MAX], labels[SERIES_KEY_MAX];
		struct entry *e;
		bool fresh;
		double v;

		if (!match_cached(s, m->name) || format_key(m, stat, key, labels))
			continue;
		e = lookup(s, key, &fresh);
		if (fresh && (!e || !e->used) && s->tracked < s->max_series &&
		    (s->tracked + 1) * 2 > s->cap && s->cap < s->cap_max) {
			if (grow(s))
				return -ENOMEM;
			e = lookup(s, key, &fresh);
		}
		if (fresh && (!e || s->tracked >= s->max_series)) {
			s->skipped++;
			continue;
		}
		if (fresh) {
			size_t kl = strlen(key), ll = strlen(labels);
			uint64_t *slots = NULL;
			char *text = malloc(kl + ll + 2);

			if (text && stat == SERIES_STAT_P99)
				slots = calloc(REGISTRY_HIST_SLOTS, sizeof(*slots));
			if (!text || (stat == SERIES_STAT_P99 && !slots)) {
				free(text);
				return -ENOMEM;
			}
			if (e->used) { /* a forgotten series' slot */
				free(e->prev_slots);
				free(e->key);
			} else {
				s->tracked++;
			}
			memset(e, 0, sizeof(*e));
			e->used = true;
			e->stat = stat;
			e->prev_slots = slots;
			e->key = text;
			memcpy(e->key, key, kl + 1);
			memcpy(e->key + kl + 1, labels, ll + 1);
		}
		e->last_round = s->round;
		if (value_of(e, m, ts, &v) && n < cap)
			out[n++] = (struct series_value){
			    e->key, m->name, e->key + strlen(e->key) + 1, e->stat, v, m};
	}
	return (long)n;
}

long series_select_round(struct series_select *s, const struct registry *reg,
			 struct series_value *out, size_t cap)
{
	s->round++;
	return select_from(s, reg, registry_timestamp(reg), out, cap);
}

long series_select_more(struct series_select *s, const struct registry *reg, double ts,
			struct series_value *out, size_t cap)
{
	return reg ? select_from(s, reg, ts, out, cap) : 0;
}
