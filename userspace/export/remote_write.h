/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * remote_write.h - pushes every round to a Prometheus remote-write
 * receiver (Prometheus with --web.enable-remote-write-receiver, Thanos
 * Receive, Mimir, VictoriaMetrics): the remote-write 1.0 protocol, a
 * WriteRequest protobuf compressed with snappy's block format and POSTed
 * through util/http.c.
 *
 * A daemon sink (remote_write_sink_ops): on the sink's thread each round
 * is encoded once (every series with the host's labels added, histograms
 * as _bucket/_sum/_count as /metrics shows them) into a bounded queue of
 * samples; a sender thread of its own takes batches from it and POSTs
 * them, retrying 408/429/5xx and network failures with a doubling backoff
 * (or the server's Retry-After). When the queue is full the oldest rounds
 * are dropped and counted, so a receiver that is down never grows memory
 * and never slows collection. Other refusals (a 400 for a bad sample) drop
 * the batch at once, counted as failed.
 */
#ifndef KPULSE_EXPORT_REMOTE_WRITE_H
#define KPULSE_EXPORT_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/sink.h"
#include "registry/registry.h"

/* The label every pushed series carries with the host's name (and, so the
 * rules and dashboard of packaging/ work on pushed data too, instance with
 * the same value and job="kpulse"). */
#define REMOTE_WRITE_HOST_LABEL "host"
#define REMOTE_WRITE_HOST_MAX	64

struct remote_write_options {
	const char *url;	  /* http:// or https:// receiver endpoint */
	const char *bearer_token; /* "" or NULL: no Authorization header */
	const char *host;	  /* "" or NULL: gethostname() */
	size_t batch_samples;	  /* samples per request, at most (whole rounds) */
	double flush_s;		  /* longest a sample waits for its batch to fill */
	size_t queue_samples;	  /* samples waiting at most; then oldest dropped */
	double timeout_s;	  /* one request */
	unsigned retries;	  /* further tries of a batch that failed */
	double backoff_min_s;	  /* first wait before a retry, doubling ... */
	double backoff_max_s;	  /* ... up to this */
};

void remote_write_options_default(struct remote_write_options *o);

struct remote_write_stats {
	uint64_t samples_queued;  /* accepted into the queue */
	uint64_t samples_sent;	  /* acknowledged by the receiver (2xx) */
	uint64_t samples_dropped; /* dropped from a full queue, or left at stop */
	uint64_t samples_failed;  /* refused, or out of retries */
	uint64_t requests;	  /* POSTs made, retries included */
	uint64_t retries;	  /* of them, retries */
	uint64_t queue_samples;	  /* waiting now */
	double last_success;	  /* wall clock of the last 2xx, 0 never */
};

struct remote_write;

/*
 * Checks the options (err says which is wrong: a bad URL, a bearer token
 * over plain http to another machine, a host name that is not a label
 * value) and starts the sender thread. Returns 0 and *ret, or -EINVAL,
 * -ENOMEM or a pthread error (negative).
 */
int remote_write_new(const struct remote_write_options *o, struct remote_write **ret, char *err,
		     size_t errlen);

/* Stops the sender: what is queued gets one try each, without retries, for
 * at most the request timeout in all; the rest is counted as dropped. Run
 * after its sink stopped. Accepts NULL; returns NULL. */
struct remote_write *remote_write_free(struct remote_write *rw);

/* The sink (ctx is the struct remote_write). */
extern const struct sink_ops remote_write_sink_ops;

void remote_write_get_stats(struct remote_write *rw, struct remote_write_stats *ret);

/* The HELP texts of its series (once, at start), then its series in every
 * round: kpulse_remote_write_samples_total{result}, ..._requests_total,
 * ..._retries_total, ..._queue_samples, ..._last_success_timestamp_seconds. */
int remote_write_describe(struct registry *r);
int remote_write_add_series(struct remote_write *rw, struct registry *r);

/* ------------------------------------------------------------ encoding
 * Exposed for the unit tests. */

struct rw_buf {
	uint8_t *data;
	size_t len, cap;
	int error; /* the first -ENOMEM; later appends do nothing */
};

void rw_buf_free(struct rw_buf *b);

/*
 * Appends one WriteRequest field 1 (a TimeSeries of one sample) per
 * sample of reg at time_ms, with the labels extra[0..nextra) added to
 * each (names must not collide with the series' own). The result of
 * several calls concatenated is itself a WriteRequest. Returns the number
 * of samples appended, or -ENOMEM.
 */
long rw_encode_registry(struct rw_buf *out, const struct registry *reg, int64_t time_ms,
			const struct metric_label *extra, size_t nextra);

/* snappy block format of in[0..len) into a new buffer *ret (free()).
 * Returns 0, -ENOMEM or -EIO. */
int rw_snappy_compress(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len);

#endif /* KPULSE_EXPORT_REMOTE_WRITE_H */
