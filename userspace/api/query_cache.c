// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * query_cache.c - query_range answers of the last second, by query, so
 * that dashboards refreshing the same panels for every viewer cost one
 * store query, not one each.
 *
 * Contracts: an answer cannot change before the store commits again, so
 * an entry is served only while the store's flush count is what it was
 * when the entry was made, and for at most QCACHE_TTL_S (monotonic time).
 * Only small bodies are kept, so the cache holds at most
 * API_QCACHE_SLOTS * QCACHE_BODY_MAX bytes. The cache belongs to one API
 * (struct api), so two APIs in one process (tests) never share answers.
 * Callers get copies; the lock is held only to copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define QCACHE_BODY_MAX (96 * 1024)
#define QCACHE_TTL_S	1.0

int api_query_cache_init(struct api_query_cache *c)
{
	memset(c->slots, 0, sizeof(c->slots));
	return -pthread_mutex_init(&c->lock, NULL);
}

void api_query_cache_destroy(struct api_query_cache *c)
{
	for (size_t i = 0; i < API_QCACHE_SLOTS; i++) {
		free(c->slots[i].body);
		c->slots[i].body = NULL;
	}
	pthread_mutex_destroy(&c->lock);
}

/* FNV-1a of the key picks its one slot. */
static struct api_qcache_slot *slot_of(struct api_query_cache *c, const char *key)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &c->slots[h % API_QCACHE_SLOTS];
}

char *api_query_cache_get(struct api_query_cache *c, uint64_t flushes, double now, const char *key,
			  size_t *ret_len)
{
	struct api_qcache_slot *slot = slot_of(c, key);
	char *copy = NULL;

	pthread_mutex_lock(&c->lock);
	if (slot->body && slot->flushes == flushes && now - slot->created < QCACHE_TTL_S &&
	    now >= slot->created && !strcmp(slot->key, key)) {
		copy = malloc(slot->len + 1);
		if (copy) {
			memcpy(copy, slot->body, slot->len + 1);
			*ret_len = slot->len;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return copy;
}

void api_query_cache_put(struct api_query_cache *c, uint64_t flushes, double now, const char *key,
			 const char *body, size_t len)
{
	struct api_qcache_slot *slot = slot_of(c, key);
	char *copy;

	if (len > QCACHE_BODY_MAX || strlen(key) >= API_QCACHE_KEY_MAX)
		return;
	copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, body, len + 1);
	pthread_mutex_lock(&c->lock);
	free(slot->body);
	slot->flushes = flushes;
	slot->created = now;
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->body = copy;
	slot->len = len;
	pthread_mutex_unlock(&c->lock);
}
