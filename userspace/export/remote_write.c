// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * remote_write.c - the remote-write sink (contract in remote_write.h):
 * the protobuf encoding of rounds, the bounded queue of encoded rounds,
 * and the sender thread with its batches, retries and backoff.
 *
 * The protobuf schema is Prometheus's prompb (remote.proto, types.proto):
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   (ms)
 *
 * Each round is encoded as a run of WriteRequest field-1 entries, one
 * TimeSeries with one sample per series; runs concatenate into a valid
 * WriteRequest, so a batch is the queued rounds' bytes side by side. The
 * protobuf writer is the few lines it takes (varints, fixed64, length
 * prefixes); snappy is libsnappy's C API.
 *
 * Locking: rw->lock guards the queue and the stats; it is never held
 * across encoding, compression or HTTP. rw->cond (CLOCK_MONOTONIC) wakes
 * the sender for a new round or the stop.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <snappy-c.h>

#include "export/prometheus.h"
#include "export/remote_write.h"
#include "registry/hist.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/http.h"
#include "util/log.h"

/* Receivers answer a line or two; more is not read. */
#define ANSWER_MAX	  (64 * 1024)
#define RETRY_AFTER_MAX_S 300.0
/* Labels of one pushed series: __name__, its own, host, instance, job, le. */
#define LABELS_MAX (1 + REGISTRY_MAX_LABELS + 3 + 1)

void remote_write_options_default(struct remote_write_options *o)
{
	*o = (struct remote_write_options){
	    .url = "",
	    .bearer_token = "",
	    .host = "",
	    .batch_samples = 2000,
	    .flush_s = 5,
	    .queue_samples = 200000,
	    .timeout_s = 10,
	    .retries = 10,
	    .backoff_min_s = 0.5,
	    .backoff_max_s = 30,
	};
}

/* ------------------------------------------------------------ protobuf */

void rw_buf_free(struct rw_buf *b)
{
	free(b->data);
	*b = (struct rw_buf){};
}

static void buf_put(struct rw_buf *b, const void *p, size_t n)
{
	if (b->error)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->error = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void put_varint(struct rw_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	buf_put(b, tmp, n);
}

/* wire types: 0 varint, 1 fixed64, 2 length-delimited */
static void put_tag(struct rw_buf *b, unsigned field, unsigned wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

static size_t string_field_len(const char *s)
{
	size_t n = strlen(s);

	return 1 + varint_len(n) + n;
}

static void put_string_field(struct rw_buf *b, unsigned field, const char *s)
{
	size_t n = strlen(s);

	put_tag(b, field, 2);
	put_varint(b, n);
	buf_put(b, s, n);
}

struct label {
	const char *name, *value;
};

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static size_t label_len(const struct label *l)
{
	return string_field_len(l->name) + string_field_len(l->value);
}

/* One TimeSeries of one sample as WriteRequest field 1; labels sorted by
 * name, as the protocol requires. */
static void put_series(struct rw_buf *b, struct label *labels, size_t n, double value,
		       int64_t time_ms)
{
	size_t series_len = 0, sample_len;
	uint64_t bits;

	qsort(labels, n, sizeof(*labels), label_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t l = label_len(&labels[i]);

		series_len += 1 + varint_len(l) + l;
	}
	sample_len = 1 + 8 + 1 + varint_len((uint64_t)time_ms);
	series_len += 1 + varint_len(sample_len) + sample_len;

	put_tag(b, 1, 2);
	put_varint(b, series_len);
	for (size_t i = 0; i < n; i++) {
		put_tag(b, 1, 2);
		put_varint(b, label_len(&labels[i]));
		put_string_field(b, 1, labels[i].name);
		put_string_field(b, 2, labels[i].value);
	}
	put_tag(b, 2, 2);
	put_varint(b, sample_len);
	put_tag(b, 1, 1);
	memcpy(&bits, &value, sizeof(bits));
	for (int i = 0; i < 8; i++) { /* fixed64 is little-endian */
		uint8_t byte = (uint8_t)(bits >> (8 * i));

		buf_put(b, &byte, 1);
	}
	put_tag(b, 2, 0);
	put_varint(b, (uint64_t)time_ms);
}

long rw_encode_registry(struct rw_buf *out, const struct registry *reg, int64_t time_ms,
			const struct metric_label *extra, size_t nextra)
{
	size_t n = registry_size(reg);
	long samples = 0;
	char name[REGISTRY_NAME_MAX + 16], le[32];

	if (nextra > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct metric_series *s = registry_at(reg, i);
		struct label labels[LABELS_MAX];
		size_t nl = 0, top;
		uint64_t cumulative = 0;

		labels[nl++] = (struct label){"__name__", name};
		for (size_t k = 0; k < s->nlabels; k++)
			labels[nl++] = (struct label){s->label_keys[k], s->label_values[k]};
		/* a series' own label wins over an added one of the same name
		 * (a custom metric with a job label): a name twice would make
		 * the receiver refuse the whole batch */
		for (size_t k = 0; k < nextra; k++)
			if (!metric_series_label(s, extra[k].key))
				labels[nl++] = (struct label){extra[k].key, extra[k].value};
		if (s->type != METRIC_HISTOGRAM) {
			snprintf(name, sizeof(name), "%s", s->name);
			put_series(out, labels, nl, s->value, time_ms);
			samples++;
			continue;
		}
		/* as /metrics: buckets up to the highest non-empty slot, +Inf */
		top = REGISTRY_HIST_SLOTS;
		while (top > 0 && s->slots[top - 1] == 0)
			top--;
		snprintf(name, sizeof(name), "%s_bucket", s->name);
		labels[nl].name = "le";
		for (size_t k = 0; k <= top; k++) {
			struct label tmp[LABELS_MAX];

			if (k < top) {
				cumulative += s->slots[k];
				prometheus_format_value(hist_log2_upper_bound(k) * s->scale, le);
			} else {
				cumulative = s->hist_count;
				snprintf(le, sizeof(le), "+Inf");
			}
			labels[nl].value = le;
			/* put_series sorts: keep the template's order for the next */
			memcpy(tmp, labels, sizeof(tmp[0]) * (nl + 1));
			put_series(out, tmp, nl + 1, (double)cumulative, time_ms);
			samples++;
		}
		snprintf(name, sizeof(name), "%s_sum", s->name);
		put_series(out, labels, nl, s->hist_sum, time_ms);
		snprintf(name, sizeof(name), "%s_count", s->name);
		put_series(out, labels, nl, (double)s->hist_count, time_ms);
		samples += 2;
	}
	return out->error ? out->error : samples;
}

int rw_snappy_compress(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	size_t cap = snappy_max_compressed_length(len);
	char *out = malloc(cap ? cap : 1);

	if (!out)
		return -ENOMEM;
	if (snappy_compress((const char *)in, len, out, &cap) != SNAPPY_OK) {
		free(out);
		return -EIO;
	}
	*ret = (uint8_t *)out;
	*ret_len = cap;
	return 0;
}

/* ------------------------------------------------------------ the queue */

/* One encoded round. */
struct chunk {
	struct chunk *next;
	uint8_t *data;
	size_t len;
	size_t samples;
	double queued_at; /* monotonic */
};

struct remote_write {
	char url[HTTP_URL_MAX];
	char origin[HTTP_ORIGIN_MAX];
	char auth_header[1100]; /* "Authorization: Bearer ..." or "" */
	char host[REMOTE_WRITE_HOST_MAX];
	size_t batch_samples, queue_max;
	double flush_s, timeout_s, backoff_min_s, backoff_max_s;
	unsigned retries;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	struct chunk *head, *tail;
	struct remote_write_stats st;
	unsigned warned_failures; /* failures logged since the last success */
};

static void chunk_free(struct chunk *c)
{
	if (c) {
		free(c->data);
		free(c);
	}
}

static struct timespec deadline_in(double s)
{
	struct timespec ts;
	double whole;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(modf(s, &whole) * 1e9);
	ts.tv_sec += (time_t)whole + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return ts;
}

/* Appends c, dropping the oldest rounds while the queue is over its bound
 * (never c itself: the newest data is the most useful). Lock held. */
static void queue_push_locked(struct remote_write *rw, struct chunk *c)
{
	if (rw->tail)
		rw->tail->next = c;
	else
		rw->head = c;
	rw->tail = c;
	rw->st.queue_samples += c->samples;
	rw->st.samples_queued += c->samples;
	while (rw->st.queue_samples > rw->queue_max && rw->head != c) {
		struct chunk *old = rw->head;

		rw->head = old->next;
		rw->st.queue_samples -= old->samples;
		rw->st.samples_dropped += old->samples;
		chunk_free(old);
	}
}

/* Takes whole rounds from the head, up to batch_samples (at least one),
 * into body. Lock held. Returns the samples taken. */
static size_t queue_take_batch_locked(struct remote_write *rw, struct rw_buf *body)
{
	size_t samples = 0;

	while (rw->head && (samples == 0 || samples + rw->head->samples <= rw->batch_samples)) {
		struct chunk *c = rw->head;

		buf_put(body, c->data, c->len);
		samples += c->samples;
		rw->head = c->next;
		if (!rw->head)
			rw->tail = NULL;
		rw->st.queue_samples -= c->samples;
		chunk_free(c);
	}
	return samples;
}

/* ------------------------------------------------------------ sending */

enum send_result { SEND_OK, SEND_RETRY, SEND_REFUSED };

/* One POST of a compressed batch. *retry_after_s gets the server's wish. */
static enum send_result post_once(struct remote_write *rw, const uint8_t *body, size_t len,
				  double *retry_after_s)
{
	const char *headers[] = {
	    "Content-Type: application/x-protobuf",	 "Content-Encoding: snappy",
	    "X-Prometheus-Remote-Write-Version: 0.1.0",	 "User-Agent: kpulse",
	    rw->auth_header[0] ? rw->auth_header : NULL, NULL};
	struct http_request req = {
	    .method = "POST",
	    .url = rw->url,
	    .headers = headers,
	    .body = (const char *)body,
	    .body_len = len,
	    .timeout_s = rw->timeout_s,
	    .max_response_bytes = ANSWER_MAX,
	};
	struct http_response resp = {};
	char err[512];
	enum send_result res;
	int r;

	*retry_after_s = -1;
	pthread_mutex_lock(&rw->lock);
	rw->st.requests++;
	pthread_mutex_unlock(&rw->lock);
	r = http_perform(&req, &resp, err, sizeof(err));
	if (r) {
		if (rw->warned_failures++ == 0)
			log_warn("remote write: %s (retrying with backoff)", err);
		return r == -EINVAL ? SEND_REFUSED : SEND_RETRY;
	}
	if (resp.status >= 200 && resp.status < 300) {
		if (rw->warned_failures)
			log_info("remote write: %s accepts samples again", rw->origin);
		rw->warned_failures = 0;
		res = SEND_OK;
	} else {
		res = http_status_retryable(resp.status) ? SEND_RETRY : SEND_REFUSED;
		*retry_after_s = resp.retry_after_s;
		/* the receiver's reason, one line, cut short */
		for (size_t i = 0; i < resp.body_len && i < 200; i++)
			if (resp.body[i] == '\n' || resp.body[i] == '\r' || resp.body[i] == '\0')
				resp.body[i] = ' ';
		if (resp.body_len > 200)
			resp.body[200] = '\0';
		if (res == SEND_REFUSED || rw->warned_failures++ == 0)
			log_warn("remote write: %s answered %ld%s: %s", rw->origin, resp.status,
				 res == SEND_RETRY ? " (retrying with backoff)" : ", batch dropped",
				 resp.body ? resp.body : "");
	}
	http_response_clear(&resp);
	return res;
}

/* Waits s seconds or until the stop. Returns false when stopping. */
static bool backoff_wait(struct remote_write *rw, double s)
{
	struct timespec until = deadline_in(s);
	bool go_on;

	pthread_mutex_lock(&rw->lock);
	while (!rw->stopping && pthread_cond_timedwait(&rw->cond, &rw->lock, &until) != ETIMEDOUT)
		;
	go_on = !rw->stopping;
	pthread_mutex_unlock(&rw->lock);
	return go_on;
}

/* Sends one batch: with retries and backoff while running, once at stop. */
static void send_batch(struct remote_write *rw, struct rw_buf *body, size_t samples, bool final)
{
	uint8_t *z = NULL;
	size_t zlen = 0;
	double wait = rw->backoff_min_s, retry_after;
	enum send_result res = SEND_REFUSED;
	unsigned tries = 0;

	if (body->error || rw_snappy_compress(body->data, body->len, &z, &zlen)) {
		log_warn("remote write: a batch of %zu samples could not be encoded", samples);
		goto done;
	}
	for (;;) {
		res = post_once(rw, z, zlen, &retry_after);
		if (res != SEND_RETRY || final || tries >= rw->retries)
			break;
		if (retry_after >= 0)
			wait = fmin(fmax(retry_after, rw->backoff_min_s), RETRY_AFTER_MAX_S);
		tries++;
		pthread_mutex_lock(&rw->lock);
		rw->st.retries++;
		pthread_mutex_unlock(&rw->lock);
		if (!backoff_wait(rw, wait)) {
			final = true; /* one last try at stop */
			continue;
		}
		wait = fmin(wait * 2, rw->backoff_max_s);
	}
done:
	pthread_mutex_lock(&rw->lock);
	if (res == SEND_OK) {
		rw->st.samples_sent += samples;
		rw->st.last_success = clock_wall_s();
	} else if (final && res == SEND_RETRY) {
		rw->st.samples_dropped += samples;
	} else {
		rw->st.samples_failed += samples;
	}
	pthread_mutex_unlock(&rw->lock);
	free(z);
}

static void *sender_main(void *arg)
{
	struct remote_write *rw = arg;
	double stop_deadline = 0;

	for (;;) {
		struct rw_buf body = {};
		size_t samples;
		bool final;

		pthread_mutex_lock(&rw->lock);
		/* a batch is due when full, when its oldest round waited
		 * flush_s, or at the stop */
		while (!rw->stopping &&
		       (!rw->head || (rw->st.queue_samples < rw->batch_samples &&
				      clock_mono_s() < rw->head->queued_at + rw->flush_s))) {
			struct timespec until = deadline_in(
			    rw->head ? rw->head->queued_at + rw->flush_s - clock_mono_s() : 3600);

			pthread_cond_timedwait(&rw->cond, &rw->lock, &until);
		}
		final = rw->stopping;
		if (final && !stop_deadline)
			stop_deadline = clock_mono_s() + rw->timeout_s;
		if (final && (!rw->head || clock_mono_s() > stop_deadline)) {
			/* what is left was collected but never sent */
			while (rw->head) {
				struct chunk *c = rw->head;

				rw->head = c->next;
				rw->st.samples_dropped += c->samples;
				rw->st.queue_samples -= c->samples;
				chunk_free(c);
			}
			rw->tail = NULL;
			pthread_mutex_unlock(&rw->lock);
			break;
		}
		samples = queue_take_batch_locked(rw, &body);
		pthread_mutex_unlock(&rw->lock);
		send_batch(rw, &body, samples, final);
		rw_buf_free(&body);
	}
	return NULL;
}

/* ------------------------------------------------------------ the sink */

static void rw_sink_round(void *ctx, struct round *r)
{
	struct remote_write *rw = ctx;
	const struct metric_label extra[] = {
	    {REMOTE_WRITE_HOST_LABEL, rw->host}, {"instance", rw->host}, {"job", "kpulse"}};
	struct rw_buf b = {};
	struct chunk *c;
	long n;

	n = rw_encode_registry(&b, r->reg, (int64_t)llround(r->timestamp * 1000), extra, 3);
	c = n > 0 ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		if (n != 0)
			log_warn("remote write: round %llu not queued: out of memory",
				 (unsigned long long)r->seq);
		rw_buf_free(&b);
		return;
	}
	c->data = b.data;
	c->len = b.len;
	c->samples = (size_t)n;
	c->queued_at = clock_mono_s();
	pthread_mutex_lock(&rw->lock);
	queue_push_locked(rw, c);
	pthread_cond_signal(&rw->cond);
	pthread_mutex_unlock(&rw->lock);
}

const struct sink_ops remote_write_sink_ops = {.name = "remote_write", .on_round = rw_sink_round};

/* ------------------------------------------------------------ life cycle */

static bool host_valid(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n >= REMOTE_WRITE_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] < 0x21 || (unsigned char)h[i] == 0x7f)
			return false;
	return true;
}

int remote_write_new(const struct remote_write_options *o, struct remote_write **ret, char *err,
		     size_t errlen)
{
	struct remote_write *rw;
	pthread_condattr_t ca;
	int r;

	if (!o->url || !http_url_valid(o->url) || strlen(o->url) >= HTTP_URL_MAX)
		return error_set(err, errlen, -EINVAL,
				 "KPULSE_REMOTE_WRITE_URL: not an http:// or https:// URL");
	if (o->bearer_token && *o->bearer_token && strncmp(o->url, "https://", 8) &&
	    !http_url_is_loopback(o->url))
		return error_set(err, errlen, -EINVAL,
				 "KPULSE_REMOTE_WRITE_BEARER_TOKEN: the token would cross the "
				 "network in clear text: use an https:// URL");
	if (o->bearer_token && strlen(o->bearer_token) > 1000)
		return error_set(err, errlen, -EINVAL,
				 "KPULSE_REMOTE_WRITE_BEARER_TOKEN: longer than 1000 bytes");
	if (!o->batch_samples || !o->queue_samples || o->timeout_s <= 0)
		return error_set(err, errlen, -EINVAL, "remote write: bad batch, queue or timeout");
	rw = calloc(1, sizeof(*rw));
	if (!rw)
		return error_set(err, errlen, -ENOMEM, "remote write: out of memory");
	snprintf(rw->url, sizeof(rw->url), "%s", o->url);
	http_url_origin(o->url, rw->origin, sizeof(rw->origin));
	if (o->bearer_token && *o->bearer_token)
		snprintf(rw->auth_header, sizeof(rw->auth_header), "Authorization: Bearer %s",
			 o->bearer_token);
	if (o->host && *o->host)
		snprintf(rw->host, sizeof(rw->host), "%s", o->host);
	else if (gethostname(rw->host, sizeof(rw->host) - 1) != 0)
		snprintf(rw->host, sizeof(rw->host), "unknown");
	if (!host_valid(rw->host)) {
		r = error_set(err, errlen, -EINVAL,
			      "KPULSE_REMOTE_WRITE_HOST: '%s' is not 1 to %d printable bytes "
			      "without blanks",
			      rw->host, REMOTE_WRITE_HOST_MAX - 1);
		free(rw);
		return r;
	}
	rw->batch_samples = o->batch_samples;
	rw->queue_max = o->queue_samples;
	rw->flush_s = o->flush_s;
	rw->timeout_s = o->timeout_s;
	rw->retries = o->retries;
	rw->backoff_min_s = o->backoff_min_s > 0 ? o->backoff_min_s : 0.5;
	rw->backoff_max_s = fmax(o->backoff_max_s, rw->backoff_min_s);
	pthread_mutex_init(&rw->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rw->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&rw->thread, NULL, sender_main, rw);
	if (r) {
		remote_write_free(rw);
		return error_set(err, errlen, -r, "remote write: cannot start its thread: %s",
				 strerror(r));
	}
	rw->thread_started = true;
	*ret = rw;
	return 0;
}

struct remote_write *remote_write_free(struct remote_write *rw)
{
	if (!rw)
		return NULL;
	if (rw->thread_started) {
		pthread_mutex_lock(&rw->lock);
		rw->stopping = true;
		pthread_cond_broadcast(&rw->cond);
		pthread_mutex_unlock(&rw->lock);
		pthread_join(rw->thread, NULL);
	}
	while (rw->head) {
		struct chunk *c = rw->head;

		rw->head = c->next;
		chunk_free(c);
	}
	pthread_cond_destroy(&rw->cond);
	pthread_mutex_destroy(&rw->lock);
	explicit_bzero(rw->auth_header, sizeof(rw->auth_header));
	free(rw);
	return NULL;
}

void remote_write_get_stats(struct remote_write *rw, struct remote_write_stats *ret)
{
	pthread_mutex_lock(&rw->lock);
	*ret = rw->st;
	pthread_mutex_unlock(&rw->lock);
}

/* ------------------------------------------------------------ series */

static const struct {
	const char *name, *help;
} rw_help[] = {
    {"kpulse_remote_write_samples_total",
     "Samples pushed to the remote-write receiver, by result: sent (acknowledged), dropped "
     "(queue full, or left at stop), failed (refused, or out of retries)"},
    {"kpulse_remote_write_requests_total", "Remote-write requests made, retries included"},
    {"kpulse_remote_write_retries_total", "Remote-write requests that were retries"},
    {"kpulse_remote_write_queue_samples", "Samples waiting to be pushed"},
    {"kpulse_remote_write_last_success_timestamp_seconds",
     "When the receiver last acknowledged a batch (0: never)"},
};

int remote_write_describe(struct registry *r)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(rw_help) / sizeof(rw_help[0]); i++)
		err |= registry_describe(r, rw_help[i].name, rw_help[i].help);
	return err ? -ENOMEM : 0;
}

int remote_write_add_series(struct remote_write *rw, struct registry *r)
{
	struct remote_write_stats st;
	const struct metric_label sent = {"result", "sent"}, dropped = {"result", "dropped"},
				  failed = {"result", "failed"};
	int err = 0;

	remote_write_get_stats(rw, &st);
	err |= registry_set_counter(r, "kpulse_remote_write_samples_total", &sent, 1,
				    (double)st.samples_sent);
	err |= registry_set_counter(r, "kpulse_remote_write_samples_total", &dropped, 1,
				    (double)st.samples_dropped);
	err |= registry_set_counter(r, "kpulse_remote_write_samples_total", &failed, 1,
				    (double)st.samples_failed);
	err |= registry_set_counter(r, "kpulse_remote_write_requests_total", NULL, 0,
				    (double)st.requests);
	err |= registry_set_counter(r, "kpulse_remote_write_retries_total", NULL, 0,
				    (double)st.retries);
	err |= registry_set_gauge(r, "kpulse_remote_write_queue_samples", NULL, 0,
				  (double)st.queue_samples);
	err |= registry_set_gauge(r, "kpulse_remote_write_last_success_timestamp_seconds", NULL, 0,
				  st.last_success);
	return err ? -ENOMEM : 0;
}
