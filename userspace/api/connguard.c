/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * connguard.c - what the API knows about each TCP connection, for two
 * defences libmicrohttpd does not have on its own:
 *
 *  - slowloris: libmicrohttpd's timeout is an idle timeout, so a client
 *    that sends a header line every few seconds holds its connection for
 *    ever. Here every connection carries the time the current request
 *    began to arrive; a sweeper thread shuts down (shutdown(2), so
 *    libmicrohttpd sees EOF and closes it itself) each connection whose
 *    request has not arrived whole within request_timeout_s, or within
 *    API_REQUEST_TIMEOUT_BUSY_S while more than half of max_connections
 *    are open, which keeps room for honest clients under attack. A
 *    keep-alive connection waiting for its next request counts as
 *    receiving one. A request being answered (a stream, a login waiting
 *    for the hashing worker) has no deadline.
 *  - %00 in a URL: libmicrohttpd decodes it into a NUL that cuts the path
 *    or query value short (DELETE /api/v1/users/x%00.y deleted user x).
 *    The unescaper leaves such a string undecoded and marks the request,
 *    which server.c then refuses with 400.
 *
 * The sweeper also calls malloc_trim() every few seconds after requests
 * were served, so memory freed after a burst of load goes back to the
 * kernel (see also api_start()'s mallopt()).
 *
 * Contracts: libmicrohttpd calls the CLOSED notification before it closes
 * the socket, and the notification takes the guard's lock, so the sweeper
 * never shuts down a descriptor that was reused by another connection.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api_internal.h"
#include "util/clock.h"

#define SWEEP_INTERVAL_S 0.25
/* After requests were served, free memory is handed back to the kernel at
 * most this often (malloc_trim), so a burst of load does not leave the
 * resident size at its peak. */
#define TRIM_INTERVAL_S 5.0

struct api_conn *api_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		     enum MHD_ConnectionNotificationCode code)
{
	struct api *a = cls;
	struct api_conn_guard *g = &a->guard;
	struct api_conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		c = calloc(1, sizeof(*c));
		if (!c)
			return; /* unguarded, but served: nothing here is required */
		c->fd = ci ? ci->connect_fd : -1;
		c->since = clock_mono_s();
		c->receiving = true;
		pthread_mutex_lock(&g->lock);
		c->next = g->head;
		if (g->head)
			g->head->prev = c;
		g->head = c;
		g->count++;
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	c = *socket_context;
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->count--;
	pthread_mutex_unlock(&g->lock);
	*socket_context = NULL;
	free(c);
}

void api_conn_received(struct api *a, struct api_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&a->guard.lock);
	c->receiving = false;
	pthread_mutex_unlock(&a->guard.lock);
}

void api_conn_next(struct api *a, struct api_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&a->guard.lock);
	c->receiving = true;
	c->since = clock_mono_s();
	c->bad_escape = false;
	pthread_mutex_unlock(&a->guard.lock);
}

size_t api_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	if (strstr(s, "%00")) {
		struct api_conn *c = api_conn_of(conn);

		/* Written by the connection's own thread, read by it in
		 * on_request(); the sweeper never reads it. */
		if (c)
			c->bad_escape = true;
		return strlen(s);
	}
	return MHD_http_unescape(s);
}

/* Shuts down every connection past its deadline; returns how many. */
static unsigned sweep(struct api *a, double now)
{
	struct api_conn_guard *g = &a->guard;
	double limit = a->opts.request_timeout_s;
	unsigned n = 0;

	pthread_mutex_lock(&g->lock);
	if (g->count * 2 > a->opts.max_connections && limit > API_REQUEST_TIMEOUT_BUSY_S)
		limit = API_REQUEST_TIMEOUT_BUSY_S;
	for (struct api_conn *c = g->head; c; c = c->next) {
		if (!c->receiving || c->shut || c->fd < 0 || now - c->since <= limit)
			continue;
		c->shut = true;
		(void)shutdown(c->fd, SHUT_RDWR);
		n++;
	}
	pthread_mutex_unlock(&g->lock);
	return n;
}

static void *sweeper(void *arg)
{
	struct api *a = arg;
	struct api_conn_guard *g = &a->guard;
	uint64_t trimmed_at_requests = 0;
	double trimmed_at = clock_mono_s();

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec ts;
		unsigned n;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(SWEEP_INTERVAL_S * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
		if (g->stop)
			break;
		pthread_mutex_unlock(&g->lock);
		n = sweep(a, clock_mono_s());
		if (clock_mono_s() - trimmed_at >= TRIM_INTERVAL_S) {
			uint64_t requests = atomic_load(&a->requests_total);

			if (requests != trimmed_at_requests)
				malloc_trim(0);
			trimmed_at_requests = requests;
			trimmed_at = clock_mono_s();
		}
		if (n)
			api_audit(a, API_AUDIT_SLOW_CLIENT, NULL, NULL,
				  "closed %u connection(s) whose request did not arrive in time",
				  n);
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int api_conn_guard_start(struct api *a)
{
	struct api_conn_guard *g = &a->guard;
	int r;

	r = pthread_create(&g->sweeper, NULL, sweeper, a);
	if (r)
		return -r;
	g->started = true;
	return 0;
}

void api_conn_guard_stop(struct api *a)
{
	struct api_conn_guard *g = &a->guard;

	if (!g->started)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->sweeper, NULL);
	g->started = false;
}
