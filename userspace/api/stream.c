/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * stream.c - GET /api/v1/stream: server-sent events, one `round` event per
 * collection round. Each client has a short queue of shared, reference-
 * counted messages. api_on_round() only appends to the queues and resumes
 * suspended connections; a client whose queue is full is marked dropped
 * (its connection ends at the next write), so a slow reader costs a few
 * queued pointers and never blocks collection. An idle client's
 * connection is suspended, not polled.
 *
 * A stream lives only as long as its credential: revoking its API token
 * or deleting its user through the API ends it at once
 * (api_stream_revoke()), and before sending, at most once a second, the
 * credential is checked again, which also ends streams whose JWT expired
 * or whose user was removed by `kpulse user` in another process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <strings.h>

#include <openssl/crypto.h>

#include "api/api_internal.h"
#include "util/clock.h"

/* How often a stream's credential is checked again. */
#define RECHECK_S 1.0

/* How long api_stream_stop() waits for streams to end by themselves. */
#define STOP_WAIT_MS 2000
#define STREAM_BLOCK 65536
/* Kernel send buffer of a stream connection: a client that stops reading
 * fills it within a few rounds, then its queue, and is dropped, instead of
 * parking megabytes in socket buffers first. */
#define STREAM_SNDBUF (128 * 1024)

struct stream_msg {
	atomic_int refs;
	size_t len;
	char data[];
};

struct api_stream_client {
	struct api *api;
	struct MHD_Connection *conn;
	struct stream_msg *queue[API_STREAM_QUEUE];
	size_t head, count, offset;
	bool suspended, dropped;
	struct api_stream_client *next;
	/* who opened it, and the credential, checked again every RECHECK_S */
	struct auth_identity who;
	char bearer[AUTH_TOKEN_MAX + 16];
	double checked; /* monotonic */
};

static struct stream_msg *msg_new(const char *data, size_t len)
{
	struct stream_msg *m = malloc(sizeof(*m) + len);

	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->len = len;
	memcpy(m->data, data, len);
	return m;
}

static void msg_put(struct stream_msg *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		free(m);
}

/* Caller holds stream_lock. */
static void client_clear(struct api_stream_client *c)
{
	for (size_t i = 0; i < c->count; i++)
		msg_put(c->queue[(c->head + i) % API_STREAM_QUEUE]);
	c->head = c->count = c->offset = 0;
}

/* Caller holds stream_lock. */
static void client_wake(struct api_stream_client *c)
{
	if (c->suspended) {
		c->suspended = false;
		MHD_resume_connection(c->conn);
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream_client *c = cls;
	struct api *a = c->api;
	double now = clock_mono_s();
	size_t n = 0;

	if (now - c->checked >= RECHECK_S) {
		struct auth_identity id;

		c->checked = now;
		if (!a->auth || auth_check(a->auth, c->bearer, &id) < 0 ||
		    id.role < AUTH_ROLE_VIEWER) {
			pthread_mutex_lock(&a->stream_lock);
			c->dropped = true;
			pthread_mutex_unlock(&a->stream_lock);
		}
	}
	pthread_mutex_lock(&a->stream_lock);
	if (c->dropped) {
		pthread_mutex_unlock(&a->stream_lock);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (c->count == 0) {
		if (a->stopping) {
			pthread_mutex_unlock(&a->stream_lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		/* Nothing to send until the next round resumes us. */
		c->suspended = true;
		MHD_suspend_connection(c->conn);
		pthread_mutex_unlock(&a->stream_lock);
		return 0;
	}
	while (c->count > 0 && n < max) {
		struct stream_msg *m = c->queue[c->head];
		size_t k = m->len - c->offset;

		if (k > max - n)
			k = max - n;
		memcpy(buf + n, m->data + c->offset, k);
		n += k;
		c->offset += k;
		if (c->offset == m->len) {
			msg_put(m);
			c->head = (c->head + 1) % API_STREAM_QUEUE;
			c->count--;
			c->offset = 0;
		}
	}
	pthread_mutex_unlock(&a->stream_lock);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct api_stream_client *c = cls, **pp;
	struct api *a = c->api;

	pthread_mutex_lock(&a->stream_lock);
	for (pp = &a->stream_clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			a->stream_count--;
			break;
		}
	}
	client_clear(c);
	pthread_mutex_unlock(&a->stream_lock);
	OPENSSL_cleanse(c->bearer, sizeof(c->bearer));
	free(c);
}

enum MHD_Result api_handle_stream(struct api_request *req)
{
	static const char hello[] = ": kpulse stream, one `round` event per interval\n\n";
	struct api *a = req->api;
	const union MHD_ConnectionInfo *info;
	struct api_stream_client *c;
	struct MHD_Response *resp;
	const char *bearer =
	    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	c = calloc(1, sizeof(*c));
	if (!c)
		return api_reply_error(req, 500, "out of memory");
	c->api = a;
	c->conn = req->conn;
	c->who = req->who;
	c->checked = clock_mono_s();
	/* server.c checked it already, so it is there and fits */
	snprintf(c->bearer, sizeof(c->bearer), "%s", bearer ? bearer : "");
	c->queue[0] = msg_new(hello, sizeof(hello) - 1);
	if (!c->queue[0]) {
		free(c);
		return api_reply_error(req, 500, "out of memory");
	}
	c->count = 1;

	pthread_mutex_lock(&a->stream_lock);
	if (a->stopping || a->stream_count >= a->opts.max_stream_clients) {
		bool stopping = a->stopping;

		pthread_mutex_unlock(&a->stream_lock);
		msg_put(c->queue[0]);
		free(c);
		return stopping ? api_reply_error(req, 503, "shutting down")
				: api_reply_error(req, 429, "at most %u stream clients",
						  a->opts.max_stream_clients);
	}
	c->next = a->stream_clients;
	a->stream_clients = c;
	a->stream_count++;
	pthread_mutex_unlock(&a->stream_lock);

	info = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info) {
		int sndbuf = STREAM_SNDBUF;

		/* Best effort: without it a slow client is only dropped later. */
		(void)setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}

	/* From here on stream_free() owns c, also when creating fails. */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, c,
						 stream_free);
	if (!resp) {
		stream_free(c);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return api_queue_response(req, 200, resp, API_ANSWER_DATA);
}

void api_stream_publish(struct api *a, const char *data, size_t len)
{
	struct stream_msg *m = msg_new(data, len);

	if (!m)
		return;
	pthread_mutex_lock(&a->stream_lock);
	for (struct api_stream_client *c = a->stream_clients; c; c = c->next) {
		if (c->dropped)
			continue;
		if (c->count == API_STREAM_QUEUE) {
			/* Too slow: end it rather than buffer without bound. */
			c->dropped = true;
			client_clear(c);
			atomic_fetch_add(&a->stream_dropped_total, 1);
		} else {
			atomic_fetch_add(&m->refs, 1);
			c->queue[(c->head + c->count) % API_STREAM_QUEUE] = m;
			c->count++;
		}
		client_wake(c);
	}
	pthread_mutex_unlock(&a->stream_lock);
	msg_put(m);
}

void api_stream_stop(struct api *a)
{
	pthread_mutex_lock(&a->stream_lock);
	a->stopping = true;
	for (struct api_stream_client *c = a->stream_clients; c; c = c->next)
		client_wake(c);
	pthread_mutex_unlock(&a->stream_lock);
	/* Give the streams a moment to end cleanly; MHD_stop_daemon() closes
	 * whatever is left, which is safe once nothing is suspended. */
	for (int waited = 0; waited < STOP_WAIT_MS; waited += 10) {
		bool empty;

		pthread_mutex_lock(&a->stream_lock);
		empty = a->stream_count == 0;
		pthread_mutex_unlock(&a->stream_lock);
		if (empty)
			break;
		clock_sleep_s(0.01);
	}
}

void api_stream_revoke(struct api *a, int64_t token_id, const char *user)
{
	pthread_mutex_lock(&a->stream_lock);
	for (struct api_stream_client *c = a->stream_clients; c; c = c->next) {
		if ((token_id > 0 && c->who.token_id == token_id) ||
		    (user && !strcmp(c->who.user, user))) {
			c->dropped = true;
			client_clear(c);
			client_wake(c);
		}
	}
	pthread_mutex_unlock(&a->stream_lock);
}
