/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * registry.c - the metric registry. Each series is one allocation, found
 * through a hash table keyed by name + sorted labels and listed in an order
 * array that is re-sorted only after series were added. Series of one name
 * share a family, which holds the type (one type per name) and help text.
 *
 * Nodes are carved from slabs (see "Nodes" below): a counter's or gauge's
 * node stops where the histogram slots begin, 560 bytes instead of 880.
 *
 * Ownership: the registry owns every slab, node and family; a node dropped
 * during a round goes back to its free list, a family through family_put(),
 * and registry_free() frees the slabs and families.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "registry/hist.h"
#include "registry/registry.h"
#include "util/utf8.h"

/* Marking slab bytes for ASan and valgrind (see "Nodes"); no-ops without. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n)	  ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif
#if defined(__has_include) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_NOACCESS(p, n)  ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------------------
 * Hash table: intrusive chains, so removal is an unlink and nodes never move.
 */

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **buckets; /* nbuckets is a power of two */
	size_t nbuckets;
	size_t n;
};

#define HTAB_MIN_BUCKETS 64

static int htab_init(struct htab *t)
{
	t->buckets = calloc(HTAB_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = HTAB_MIN_BUCKETS;
	t->n = 0;
	return 0;
}

/* Makes room for n entries at a load factor of at most 1, so that
 * htab_add() cannot fail. On failure the table is unchanged. */
static int htab_reserve(struct htab *t, size_t n)
{
	struct hnode **buckets;
	size_t nbuckets = t->nbuckets;

	if (n <= nbuckets)
		return 0;
	while (nbuckets < n)
		nbuckets *= 2;
	buckets = calloc(nbuckets, sizeof(*buckets));
	if (!buckets)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hnode *h, *next;

		for (h = t->buckets[i]; h; h = next) {
			next = h->next;
			h->next = buckets[h->hash & (nbuckets - 1)];
			buckets[h->hash & (nbuckets - 1)] = h;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = nbuckets;
	return 0;
}

static struct hnode *htab_chain(const struct htab *t, uint64_t hash)
{
	return t->buckets[hash & (t->nbuckets - 1)];
}

static void htab_add(struct htab *t, struct hnode *h, uint64_t hash)
{
	struct hnode **bucket = &t->buckets[hash & (t->nbuckets - 1)];

	h->hash = hash;
	h->next = *bucket;
	*bucket = h;
	t->n++;
}

static void htab_del(struct htab *t, struct hnode *h)
{
	struct hnode **p = &t->buckets[h->hash & (t->nbuckets - 1)];

	while (*p && *p != h)
		p = &(*p)->next;
	if (*p) {
		*p = h->next;
		t->n--;
	}
}

/* FNV-1a, 64 bits. The terminating NUL is hashed too, so that the pairs
 * ("ab", "c") and ("a", "bc") hash differently. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv1a(uint64_t hash, const char *s)
{
	do {
		hash ^= (unsigned char)*s;
		hash *= FNV_PRIME;
	} while (*s++);
	return hash;
}

/* ---------------------------------------------------------------------------
 * Data
 */

struct family {
	struct hnode hnode;
	char name[REGISTRY_NAME_MAX];
	enum metric_type type; /* meaningful while nseries > 0 */
	size_t nseries;
	char *help; /* NULL when not described */
};

/* s is last, so that a node can stop where s's slots begin. */
struct series_node {
	struct hnode hnode;
	struct family *family;
	struct metric_series s; /* what registry_at() hands out */
};

/* A run of nodes; each node is a whole struct series_node (histograms) or
 * one cut before s.slots (every other type). */
struct slab {
	struct slab *next;
	size_t used, size; /* bytes handed out, bytes for nodes */
	_Alignas(max_align_t) unsigned char mem[];
};

struct registry {
	struct htab series;	    /* series_node by name + labels; series.n is the size */
	struct htab families;	    /* family by name */
	struct series_node **order; /* series.n entries */
	size_t order_cap;
	struct slab *slabs;	     /* the newest first; nodes are carved from it */
	struct hnode *free_nodes[2]; /* dropped nodes by size (node_class), linked by next */
	bool sorted;
	uint64_t generation;
	double timestamp;
	double interval_s;
};

/* ---------------------------------------------------------------------------
 * Nodes
 *
 * A histogram's node holds the whole struct; a node of any other type ends
 * where s.slots begins, which saves their 320 bytes per series in the live
 * registry and in each frozen copy of it. Nodes are carved from slabs; a
 * reader copies a series out with metric_series_copy(), which reads only
 * what the node has. A dropped node goes on the free list of its size and
 * is reused by the next new series of that size; slabs go with the
 * registry. A copy is carved from one slab of its exact size.
 *
 * Under ASan (and valgrind) the part of a slab not carved yet is marked
 * unreadable, so that a read past the newest node of a live registry is
 * caught like one past the last node of a copy (the end of its slab).
 */

#define SLOTS_BYTES    sizeof(((struct metric_series *)0)->slots)
#define SLAB_MIN_BYTES (16 * sizeof(struct series_node))
#define SLAB_MAX_BYTES (256 * sizeof(struct series_node))
#define NODE_ALIGN     _Alignof(struct series_node)

_Static_assert(offsetof(struct series_node, s.slots) + SLOTS_BYTES == sizeof(struct series_node),
	       "slots ends the node: a node without them stops where they begin");

/* Slab bytes not carved yet are unreadable; carved ones usable again (and
 * before the slab is freed). Nothing outside ASan and valgrind. Not inlined:
 * gcc would warn that the malloc'd bytes handed to the ASan calls are not
 * initialised, which is the point. */
static __attribute__((noinline)) void slab_mark_unreadable(void *p, size_t n)
{
	ASAN_POISON_MEMORY_REGION(p, n);
	VALGRIND_MAKE_MEM_NOACCESS(p, n);
}

static __attribute__((noinline)) void slab_mark_usable(void *p, size_t n)
{
	ASAN_UNPOISON_MEMORY_REGION(p, n);
	VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}

/* The size class of a series' node: 1 for histograms, 0 for the rest. */
static int node_class(enum metric_type type)
{
	return type == METRIC_HISTOGRAM;
}

static size_t node_size(int class)
{
	size_t n = class ? sizeof(struct series_node) : offsetof(struct series_node, s.slots);

	return (n + NODE_ALIGN - 1) & ~(NODE_ALIGN - 1);
}

/* A new slab for `bytes` of nodes on top of the list. Returns 0 or -ENOMEM. */
static int slab_add(struct registry *r, size_t bytes)
{
	struct slab *sl = malloc(sizeof(*sl) + bytes);

	if (!sl)
		return -ENOMEM;
	sl->next = r->slabs;
	sl->used = 0;
	sl->size = bytes;
	r->slabs = sl;
	slab_mark_unreadable(sl->mem, bytes);
	return 0;
}

/* A zeroed node for a series of this type (a dropped one if there is one,
 * else carved from the newest slab, a new one when it is full; slabs double
 * from SLAB_MIN_BYTES to SLAB_MAX_BYTES). NULL on ENOMEM. */
static struct series_node *node_alloc(struct registry *r, enum metric_type type)
{
	int class = node_class(type);
	size_t size = node_size(class);
	void *p;

	if (r->free_nodes[class]) {
		p = container_of(r->free_nodes[class], struct series_node, hnode);
		r->free_nodes[class] = r->free_nodes[class]->next;
	} else {
		struct slab *sl = r->slabs;

		if (!sl || sl->size - sl->used < size) {
			size_t bytes = sl ? 2 * sl->size : SLAB_MIN_BYTES;

			if (slab_add(r, bytes < SLAB_MIN_BYTES	 ? SLAB_MIN_BYTES
					: bytes > SLAB_MAX_BYTES ? SLAB_MAX_BYTES
								 : bytes))
				return NULL;
			sl = r->slabs;
		}
		p = sl->mem + sl->used;
		sl->used += size;
		slab_mark_usable(p, size);
	}
	memset(p, 0, size);
	return p;
}

/* Puts a node no longer in the tables on its free list. */
static void node_release(struct registry *r, struct series_node *node)
{
	int class = node_class(node->s.type);

	node->hnode.next = r->free_nodes[class];
	r->free_nodes[class] = &node->hnode;
}

void metric_series_copy(struct metric_series *dst, const struct metric_series *src)
{
	memcpy(dst, src, offsetof(struct metric_series, slots));
	if (src->type == METRIC_HISTOGRAM)
		memcpy(dst->slots, src->slots, sizeof(dst->slots));
	else
		memset(dst->slots, 0, sizeof(dst->slots));
}

/* ---------------------------------------------------------------------------
 * Names, labels and keys
 */

static bool is_alpha_or_underscore(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool metric_name_valid(const char *name)
{
	size_t len;

	if (!name || !(is_alpha_or_underscore(name[0]) || name[0] == ':'))
		return false;
	for (len = 1; name[len]; len++) {
		if (!is_alpha_or_underscore(name[len]) && !is_digit(name[len]) && name[len] != ':')
			return false;
	}
	return len < REGISTRY_NAME_MAX;
}

bool metric_label_key_valid(const char *key)
{
	size_t len;

	if (!key || !is_alpha_or_underscore(key[0]))
		return false;
	for (len = 1; key[len]; len++) {
		if (!is_alpha_or_underscore(key[len]) && !is_digit(key[len]))
			return false;
	}
	return len < REGISTRY_LABEL_KEY_MAX;
}

static const char *const metric_type_names[] = {
    [METRIC_COUNTER] = "counter",
    [METRIC_GAUGE] = "gauge",
    [METRIC_HISTOGRAM] = "histogram",
};
_Static_assert(sizeof(metric_type_names) / sizeof(metric_type_names[0]) == METRIC_HISTOGRAM + 1,
	       "one name per metric type");

const char *metric_type_name(enum metric_type type)
{
	return (unsigned)type <= METRIC_HISTOGRAM ? metric_type_names[type] : "unknown";
}

int metric_type_parse(const char *text, enum metric_type *ret_type)
{
	for (unsigned t = 0; text && t <= METRIC_HISTOGRAM; t++) {
		if (!strcmp(text, metric_type_names[t])) {
			*ret_type = (enum metric_type)t;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Label values come from the kernel (comm, device names) and may hold any
 * byte: invalid UTF-8 would make jansson refuse the string, and a control
 * character would break the one-line-per-series text, so both are escaped.
 */
static void copy_label_value(char dst[REGISTRY_LABEL_VALUE_MAX], const char *src)
{
	utf8_sanitize(dst, REGISTRY_LABEL_VALUE_MAX, src, strlen(src), NULL);
}

/*
 * Fills key's name and labels in canonical form: labels sorted by key,
 * values cleaned and truncated. Returns 0 or -EINVAL; key is scratch space
 * either way.
 */
static int series_key_init(struct metric_series *key, const char *name,
			   const struct metric_label *labels, size_t nlabels)
{
	memset(key, 0, sizeof(*key));
	if (!metric_name_valid(name) || nlabels > REGISTRY_MAX_LABELS || (nlabels && !labels))
		return -EINVAL;
	strcpy(key->name, name);

	/* insertion sort: there are at most REGISTRY_MAX_LABELS */
	for (size_t i = 0; i < nlabels; i++) {
		size_t j = key->nlabels;

		if (!metric_label_key_valid(labels[i].key) || !labels[i].value)
			return -EINVAL;
		while (j > 0 && strcmp(key->label_keys[j - 1], labels[i].key) > 0) {
			memcpy(key->label_keys[j], key->label_keys[j - 1], REGISTRY_LABEL_KEY_MAX);
			memcpy(key->label_values[j], key->label_values[j - 1],
			       REGISTRY_LABEL_VALUE_MAX);
			j--;
		}
		if (j > 0 && strcmp(key->label_keys[j - 1], labels[i].key) == 0)
			return -EINVAL;
		strcpy(key->label_keys[j], labels[i].key);
		copy_label_value(key->label_values[j], labels[i].value);
		key->nlabels++;
	}
	return 0;
}

static uint64_t series_hash(const struct metric_series *key)
{
	uint64_t hash = fnv1a(FNV_OFFSET, key->name);

	for (size_t i = 0; i < key->nlabels; i++) {
		hash = fnv1a(hash, key->label_keys[i]);
		hash = fnv1a(hash, key->label_values[i]);
	}
	return hash;
}

static bool series_equal(const struct metric_series *a, const struct metric_series *b)
{
	if (a->nlabels != b->nlabels || strcmp(a->name, b->name) != 0)
		return false;
	for (size_t i = 0; i < a->nlabels; i++) {
		if (strcmp(a->label_keys[i], b->label_keys[i]) != 0 ||
		    strcmp(a->label_values[i], b->label_values[i]) != 0)
			return false;
	}
	return true;
}

/*
 * Label values compare in natural order, so that cpu="2" comes before
 * cpu="10": runs of digits compare by value, other bytes as bytes. Runs of
 * equal value ("01" and "1") fall back to strcmp so that the order stays
 * total, which qsort needs.
 */
static int natural_cmp(const char *a, const char *b)
{
	const char *pa = a, *pb = b;

	while (*pa && *pb) {
		if (is_digit(*pa) && is_digit(*pb)) {
			const char *ea, *eb;
			int c;

			while (*pa == '0')
				pa++;
			while (*pb == '0')
				pb++;
			for (ea = pa; is_digit(*ea); ea++)
				;
			for (eb = pb; is_digit(*eb); eb++)
				;
			if (ea - pa != eb - pb)
				return ea - pa < eb - pb ? -1 : 1;
			c = memcmp(pa, pb, ea - pa);
			if (c)
				return c;
			pa = ea;
			pb = eb;
			continue;
		}
		if (*pa != *pb)
			return (unsigned char)*pa < (unsigned char)*pb ? -1 : 1;
		pa++;
		pb++;
	}
	if (*pa || *pb)
		return *pa ? 1 : -1;
	return strcmp(a, b);
}

static int series_cmp(const struct metric_series *a, const struct metric_series *b)
{
	int c = strcmp(a->name, b->name);

	for (size_t i = 0; !c && i < a->nlabels && i < b->nlabels; i++) {
		c = natural_cmp(a->label_values[i], b->label_values[i]);
		if (!c)
			c = strcmp(a->label_keys[i], b->label_keys[i]);
	}
	if (!c)
		c = (a->nlabels > b->nlabels) - (a->nlabels < b->nlabels);
	return c;
}

static int series_node_cmp(const void *a, const void *b)
{
	const struct series_node *x = *(const struct series_node *const *)a;
	const struct series_node *y = *(const struct series_node *const *)b;

	return series_cmp(&x->s, &y->s);
}

/* ---------------------------------------------------------------------------
 * Families and series
 */

static struct family *family_find(const struct registry *r, const char *name)
{
	uint64_t hash = fnv1a(FNV_OFFSET, name);

	for (struct hnode *h = htab_chain(&r->families, hash); h; h = h->next) {
		struct family *f = container_of(h, struct family, hnode);

		if (h->hash == hash && strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Releases one series' hold on its family; a family with neither series
 * nor help has nothing left to say and goes. */
static void family_put(struct registry *r, struct family *f)
{
	f->nseries--;
	if (f->nseries == 0 && !f->help) {
		htab_del(&r->families, &f->hnode);
		free(f);
	}
}

static struct family *family_free(struct family *f)
{
	if (f) {
		free(f->help);
		free(f);
	}
	return NULL;
}

static struct series_node *series_find(const struct registry *r, const struct metric_series *key,
				       uint64_t hash)
{
	for (struct hnode *h = htab_chain(&r->series, hash); h; h = h->next) {
		struct series_node *node = container_of(h, struct series_node, hnode);

		if (h->hash == hash && series_equal(&node->s, key))
			return node;
	}
	return NULL;
}

static int order_reserve(struct registry *r, size_t n)
{
	struct series_node **order;
	size_t cap = r->order_cap ? r->order_cap : 64;

	if (n <= r->order_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	order = realloc(r->order, cap * sizeof(*order));
	if (!order)
		return -ENOMEM;
	r->order = order;
	r->order_cap = cap;
	return 0;
}

/*
 * The order is a cache of the series set, so const readers may refresh it:
 * nothing they can observe changes. Readers on other threads use a copy,
 * which registry_copy() leaves sorted, so they never get here to write.
 */
static void registry_sort(const struct registry *cr)
{
	struct registry *r = (struct registry *)cr;

	if (r->sorted)
		return;
	if (r->series.n > 1)
		qsort(r->order, r->series.n, sizeof(*r->order), series_node_cmp);
	r->sorted = true;
}

/*
 * Finds or creates the series for this round and marks it as set. Returns
 * 0 and *ret_series, or -EINVAL / -ENOSPC / -ENOMEM with the registry
 * unchanged: every allocation happens before the first change.
 */
static int series_get(struct registry *r, const char *name, const struct metric_label *labels,
		      size_t nlabels, enum metric_type type, struct metric_series **ret_series)
{
	struct family *family, *new_family = NULL;
	struct series_node *node;
	struct metric_series key;
	uint64_t hash;
	int err;

	err = series_key_init(&key, name, labels, nlabels);
	if (err)
		return err;
	family = family_find(r, key.name);
	if (family && family->nseries > 0 && family->type != type)
		return -EINVAL;

	hash = series_hash(&key);
	node = series_find(r, &key, hash);
	if (node) {
		node->s.generation = r->generation;
		*ret_series = &node->s;
		return 0;
	}

	if (r->series.n >= REGISTRY_MAX_SERIES)
		return -ENOSPC;
	node = node_alloc(r, type);
	if (!node)
		return -ENOMEM;
	if (!family) {
		new_family = calloc(1, sizeof(*new_family));
		if (!new_family)
			goto nomem;
		if (htab_reserve(&r->families, r->families.n + 1))
			goto nomem;
	}
	if (order_reserve(r, r->series.n + 1) || htab_reserve(&r->series, r->series.n + 1))
		goto nomem;

	if (new_family) {
		strcpy(new_family->name, key.name);
		htab_add(&r->families, &new_family->hnode, fnv1a(FNV_OFFSET, key.name));
		family = new_family;
	}
	family->type = type;
	family->nseries++;

	/* the key up to where the node ends (key's slots are zero) */
	memcpy(&node->s, &key, node_size(node_class(type)) - offsetof(struct series_node, s));
	node->s.type = type;
	node->s.generation = r->generation;
	node->family = family;
	/* collectors tend to add in order; appending keeps a sorted order sorted */
	if (r->series.n > 0 && series_cmp(&r->order[r->series.n - 1]->s, &node->s) > 0)
		r->sorted = false;
	r->order[r->series.n] = node;
	htab_add(&r->series, &node->hnode, hash);
	*ret_series = &node->s;
	return 0;

nomem:
	free(new_family);
	node->s.type = type; /* its size class */
	node_release(r, node);
	return -ENOMEM;
}

/* ---------------------------------------------------------------------------
 * Lifetime and rounds
 */

struct registry *registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (htab_init(&r->series) || htab_init(&r->families))
		return registry_free(r);
	r->sorted = true;
	return r;
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	while (r->slabs) {
		struct slab *next = r->slabs->next;

		slab_mark_usable(r->slabs->mem, r->slabs->size);
		free(r->slabs);
		r->slabs = next;
	}
	for (size_t i = 0; r->families.buckets && i < r->families.nbuckets; i++) {
		struct hnode *h, *next;

		for (h = r->families.buckets[i]; h; h = next) {
			next = h->next;
			family_free(container_of(h, struct family, hnode));
		}
	}
	free(r->families.buckets);
	free(r->series.buckets);
	free(r->order);
	free(r);
	return NULL;
}

void registry_begin(struct registry *r, double timestamp, double interval_s)
{
	if (!r)
		return;
	r->generation++;
	r->timestamp = timestamp;
	r->interval_s = interval_s;
}

void registry_end(struct registry *r)
{
	size_t n, kept = 0;

	if (!r)
		return;
	n = r->series.n;
	for (size_t i = 0; i < n; i++) {
		struct series_node *node = r->order[i];

		if (node->s.generation == r->generation) {
			/* compacting in place keeps a sorted order sorted */
			r->order[kept++] = node;
			continue;
		}
		htab_del(&r->series, &node->hnode);
		family_put(r, node->family);
		node_release(r, node);
	}
}

/* ---------------------------------------------------------------------------
 * Setting values
 */

static int set_scalar(struct registry *r, const char *name, const struct metric_label *labels,
		      size_t nlabels, enum metric_type type, double value)
{
	struct metric_series *s;
	int err;

	if (!r)
		return -EINVAL;
	err = series_get(r, name, labels, nlabels, type, &s);
	if (err)
		return err;
	s->value = value;
	return 0;
}

int registry_set_counter(struct registry *r, const char *name, const struct metric_label *labels,
			 size_t nlabels, double value)
{
	return set_scalar(r, name, labels, nlabels, METRIC_COUNTER, value);
}

int registry_set_gauge(struct registry *r, const char *name, const struct metric_label *labels,
		       size_t nlabels, double value)
{
	return set_scalar(r, name, labels, nlabels, METRIC_GAUGE, value);
}

int registry_set_histogram(struct registry *r, const char *name, const struct metric_label *labels,
			   size_t nlabels, const uint64_t *slots, uint64_t count, double sum,
			   double scale)
{
	double top = hist_log2_upper_bound(REGISTRY_HIST_SLOTS - 1);
	struct metric_series *s;
	int err;

	/* every scaled bound must be a finite, increasing number for JSON */
	if (!r || !slots || !(scale > 0) || !isfinite(top * scale))
		return -EINVAL;
	err = series_get(r, name, labels, nlabels, METRIC_HISTOGRAM, &s);
	if (err)
		return err;
	memcpy(s->slots, slots, sizeof(s->slots));
	s->hist_count = count;
	s->hist_sum = sum * scale;
	s->scale = scale;
	return 0;
}

int registry_describe(struct registry *r, const char *name, const char *help)
{
	struct family *f;
	char *copy;

	if (!r || !metric_name_valid(name) || !help)
		return -EINVAL;
	copy = strdup(help);
	if (!copy)
		return -ENOMEM;
	f = family_find(r, name);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f || htab_reserve(&r->families, r->families.n + 1)) {
			free(f);
			free(copy);
			return -ENOMEM;
		}
		strcpy(f->name, name);
		htab_add(&r->families, &f->hnode, fnv1a(FNV_OFFSET, name));
	}
	free(f->help);
	f->help = copy;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Reading
 */

const char *registry_help(const struct registry *r, const char *name)
{
	const struct family *f;

	if (!r || !metric_name_valid(name))
		return NULL;
	f = family_find(r, name);
	return f ? f->help : NULL;
}

size_t registry_size(const struct registry *r)
{
	return r ? r->series.n : 0;
}

const struct metric_series *registry_at(const struct registry *r, size_t i)
{
	if (!r || i >= r->series.n)
		return NULL;
	registry_sort(r);
	return &r->order[i]->s;
}

const struct metric_series *registry_find(const struct registry *r, const char *name,
					  const struct metric_label *labels, size_t nlabels)
{
	const struct series_node *node;
	struct metric_series key;

	if (!r || series_key_init(&key, name, labels, nlabels))
		return NULL;
	node = series_find(r, &key, series_hash(&key));
	return node ? &node->s : NULL;
}

const char *metric_series_label(const struct metric_series *s, const char *key)
{
	if (!s || !key)
		return NULL;
	for (size_t i = 0; i < s->nlabels; i++) {
		if (strcmp(s->label_keys[i], key) == 0)
			return s->label_values[i];
	}
	return NULL;
}

double registry_timestamp(const struct registry *r)
{
	return r ? r->timestamp : 0;
}

double registry_interval(const struct registry *r)
{
	return r ? r->interval_s : 0;
}

struct registry *registry_copy(const struct registry *r)
{
	struct registry *c;
	size_t bytes = 0;

	if (!r)
		return NULL;
	c = registry_new();
	if (!c)
		return NULL;
	for (size_t i = 0; i < r->series.n; i++)
		bytes += node_size(node_class(r->order[i]->s.type));
	if (htab_reserve(&c->families, r->families.n) || htab_reserve(&c->series, r->series.n) ||
	    order_reserve(c, r->series.n) || (bytes && slab_add(c, bytes)))
		return registry_free(c);

	/* families first, so that each copied series can point at its copy */
	for (size_t i = 0; i < r->families.nbuckets; i++) {
		for (struct hnode *h = r->families.buckets[i]; h; h = h->next) {
			const struct family *f = container_of(h, struct family, hnode);
			struct family *fc = calloc(1, sizeof(*fc));

			if (!fc)
				return registry_free(c);
			*fc = *f;
			fc->help = NULL;
			if (f->help) {
				fc->help = strdup(f->help);
				if (!fc->help) {
					free(fc);
					return registry_free(c);
				}
			}
			htab_add(&c->families, &fc->hnode, h->hash);
		}
	}
	for (size_t i = 0; i < r->series.n; i++) {
		const struct series_node *node = r->order[i];
		/* from the slab above, which has room for every node */
		struct series_node *nc = node_alloc(c, node->s.type);

		memcpy(nc, node, node_size(node_class(node->s.type)));
		nc->family = family_find(c, node->s.name);
		c->order[i] = nc;
		htab_add(&c->series, &nc->hnode, node->hnode.hash);
	}
	c->sorted = r->sorted;
	registry_sort(c);
	c->generation = r->generation;
	c->timestamp = r->timestamp;
	c->interval_s = r->interval_s;
	return c;
}
