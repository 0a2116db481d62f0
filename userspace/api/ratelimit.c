/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ratelimit.c - per-client token buckets for the API: a client (a token's
 * identity, or an address without one) gets `rate` requests a second with
 * bursts of two seconds' worth. The login throttle is a second limiter of
 * the same kind, per client address, held to API_LOGIN_RATE logins a
 * second (bursts of API_LOGIN_BURST), since each login costs a PBKDF2 on
 * an HTTP thread.
 *
 * Contracts: the table has a fixed size; a new client takes a free slot or
 * the least recently seen one of its probe window, so memory stays bounded
 * whatever clients do. Time is passed in (monotonic seconds), so the
 * buckets are tested without waiting; a clock stepping back never locks a
 * client out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api_internal.h"
#include "util/clock.h"

/* Slots looked at for one key: a small window keeps lookups cheap. */
#define RATE_PROBE 8

int api_rate_init_burst(struct api_rate_limiter *l, double rate, double burst)
{
	if (!(rate > 0) || !(burst >= 1))
		return -EINVAL;
	memset(l->slots, 0, sizeof(l->slots));
	l->rate = rate;
	l->burst = burst;
	return -pthread_mutex_init(&l->lock, NULL);
}

int api_rate_init(struct api_rate_limiter *l, unsigned rate)
{
	return api_rate_init_burst(l, rate, 2.0 * rate);
}

int api_login_limiter_init(struct api_rate_limiter *l)
{
	return api_rate_init_burst(l, API_LOGIN_RATE, API_LOGIN_BURST);
}

void api_rate_destroy(struct api_rate_limiter *l)
{
	pthread_mutex_destroy(&l->lock);
}

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int api_rate_take(struct api_rate_limiter *l, const char *key, double now, double *retry_after_s)
{
	return api_rate_take_n(l, key, 1.0, now, retry_after_s);
}

int api_rate_take_n(struct api_rate_limiter *l, const char *key, double n, double now,
		    double *retry_after_s)
{
	struct api_rate_slot *slot = NULL, *victim = NULL;
	uint64_t h = key_hash(key);
	int r = 0;

	if (!(n > 0) || n > l->burst)
		return -E2BIG;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < RATE_PROBE; i++) {
		struct api_rate_slot *s = &l->slots[(h + i) % API_RATE_SLOTS];

		if (s->last > 0 && strncmp(s->key, key, sizeof(s->key)) == 0) {
			slot = s;
			break;
		}
		if (!victim || s->last < victim->last)
			victim = s;
	}
	if (!slot) {
		slot = victim;
		snprintf(slot->key, sizeof(slot->key), "%s", key);
		slot->tokens = l->burst;
		slot->last = now;
	}
	slot->tokens = fmin(l->burst, slot->tokens + (now - slot->last) * l->rate);
	/* A clock step backwards must not lock a client out. */
	if (now > slot->last)
		slot->last = now;
	if (slot->tokens >= n) {
		slot->tokens -= n;
	} else {
		*retry_after_s = ceil((n - slot->tokens) / l->rate);
		if (*retry_after_s < 1)
			*retry_after_s = 1;
		r = -EAGAIN;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* ------------------------------------------------------------ clients */

void api_client_key(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN] = "unknown";

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
	}
	snprintf(buf, len, "ip:%s", addr);
}

int api_login_throttle(struct api_request *req, double *retry_after_s)
{
	char key[API_RATE_KEY_MAX];

	api_client_key(req->conn, key, sizeof(key));
	return api_rate_take(&req->api->login_limiter, key, clock_mono_s(), retry_after_s);
}
