// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * alerts.c - the queue, the delivery thread and retries (the contract is
 * at the top of alerts.h; the bodies are alerts_format.c's, the names,
 * options, status and series alerts_state.c's).
 *
 * A notified event becomes one message and one job per target it is for.
 * Jobs wait in one list in the order they were queued. The thread takes
 * the first job that is due and not blocked, a job being blocked while an
 * earlier job of the same incident and target is still in the list: that
 * keeps each incident's events in order at each target, while a target
 * that is down (its jobs waiting to try again) blocks only its own jobs.
 *
 * Locking: a->lock guards the list, the incidents and the counters; it is
 * never held across an HTTP request. a->cond (CLOCK_MONOTONIC) wakes the
 * thread and whoever waits for the queue to empty.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alerts/alerts_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/http.h"
#include "util/redact.h"
#include "util/utf8.h"

#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"
/* Longest answer read from a target: they say a word or two. */
#define ANSWER_MAX (64 * 1024)
/* A Retry-After longer than this is taken as this. */
#define RETRY_AFTER_MAX_S 3600.0

/* ------------------------------------------------------------ lifecycle */

static void *run(void *arg);

static const char *const url_settings[ALERT_TARGET_COUNT] = {
    "KPULSE_ALERT_SLACK_URL", "KPULSE_ALERT_PAGERDUTY_URL", "KPULSE_ALERT_WEBHOOK_URL"};

/* Checks a target's URL without ever quoting it. */
static int check_url(struct alerts *a, int t, const char *url, char *err, size_t errlen)
{
	if (!http_url_valid(url))
		return error_set(err, errlen, -EINVAL, "%s: not an http:// or https:// URL",
				 url_settings[t]);
	http_url_origin(url, a->origin[t], sizeof(a->origin[t]));
	if (strncasecmp(url, "https:", 6) && !http_url_is_loopback(url))
		return error_set(err, errlen, -EINVAL,
				 "%s: refusing plain http to %s: the alert carries a secret; use "
				 "https (or an address of this machine)",
				 url_settings[t], a->origin[t]);
	a->url[t] = strdup(url);
	return a->url[t] ? 0 : error_set(err, errlen, -ENOMEM, "out of memory");
}

static bool set(const char *s)
{
	return s && s[0];
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void destroy(struct alerts *a)
{
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		free_secret(a->url[t]);
	free_secret(a->pagerduty_key);
	free_secret(a->webhook_secret);
	free(a->inc);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

int alerts_new(const struct alerts_options *o, struct alerts **ret, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct alerts *a;
	int e;

	if (!o || !ret || !(o->timeout_s > 0) || !(o->backoff_s >= 0) ||
	    !(o->backoff_max_s >= o->backoff_s) || !o->max_queued || !o->max_incidents ||
	    !(o->drain_s >= 0))
		return error_set(err, errlen, -EINVAL, "bad alert options");
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		if ((unsigned)o->min_severity[t] >= ALERT_SEVERITY_COUNT)
			return error_set(err, errlen, -EINVAL, "bad alert options");
	a = calloc(1, sizeof(*a));
	if (!a)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	a->inc = calloc(o->max_incidents, sizeof(*a->inc));
	if (!a->inc) {
		destroy(a);
		return error_set(err, errlen, -ENOMEM, "out of memory");
	}
	if (set(o->slack_url) && (e = check_url(a, ALERT_TARGET_SLACK, o->slack_url, err, errlen)))
		goto fail;
	if (set(o->pagerduty_key)) {
		size_t n = strlen(o->pagerduty_key);

		if (n > 1024 ||
		    strspn(o->pagerduty_key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789-_") != n) {
			e = error_set(err, errlen, -EINVAL,
				      "KPULSE_ALERT_PAGERDUTY_KEY: not a routing key (letters and "
				      "digits)");
			goto fail;
		}
		e = check_url(a, ALERT_TARGET_PAGERDUTY,
			      set(o->pagerduty_url) ? o->pagerduty_url : PAGERDUTY_URL, err,
			      errlen);
		if (e)
			goto fail;
		a->pagerduty_key = strdup(o->pagerduty_key);
		if (!a->pagerduty_key) {
			e = error_set(err, errlen, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (set(o->webhook_url) &&
	    (e = check_url(a, ALERT_TARGET_WEBHOOK, o->webhook_url, err, errlen)))
		goto fail;
	if (set(o->webhook_secret) && !(a->webhook_secret = strdup(o->webhook_secret))) {
		e = error_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	/* a webhook URL's secret is its path and query: the origin is not */
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		const char *auth = a->url[t] ? strstr(a->url[t], "://") : NULL, *rest;

		if (!auth || t == ALERT_TARGET_PAGERDUTY)
			continue;
		rest = auth + 3 + strcspn(auth + 3, "/?#");
		if (strlen(rest) > 1)
			a->secrets[a->nsecrets++] = rest;
	}
	if (a->pagerduty_key)
		a->secrets[a->nsecrets++] = a->pagerduty_key;
	if (a->webhook_secret)
		a->secrets[a->nsecrets++] = a->webhook_secret;

	if (set(o->source)) {
		utf8_sanitize(a->host, sizeof(a->host), o->source, strlen(o->source), NULL);
	} else {
		char h[256] = "";

		if (gethostname(h, sizeof(h) - 1) < 0 || !h[0])
			snprintf(h, sizeof(h), "localhost");
		utf8_sanitize(a->host, sizeof(a->host), h, strlen(h), NULL);
	}
	memcpy(a->min_severity, o->min_severity, sizeof(a->min_severity));
	a->timeout_s = o->timeout_s;
	a->retries = o->retries;
	a->backoff_s = o->backoff_s;
	a->backoff_max_s = o->backoff_max_s;
	a->max_queued = o->max_queued;
	a->max_incidents = o->max_incidents;
	a->drain_s = o->drain_s;

	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&a->thread, NULL, run, a);
	if (e) {
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->cond);
		e = error_set(err, errlen, -e, "cannot start the alert thread");
		goto fail;
	}
	*ret = a;
	return 0;
fail:
	destroy(a);
	return e;
}

struct alerts *alerts_free(struct alerts *a)
{
	struct timespec ts;

	if (!a)
		return NULL;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	a->drain_until = clock_mono_s() + a->drain_s;
	ts.tv_sec = (time_t)a->drain_until;
	ts.tv_nsec = (long)((a->drain_until - floor(a->drain_until)) * 1e9);
	pthread_cond_broadcast(&a->cond);
	/* the drain is over: a request still in flight is cut short */
	while (!a->exited)
		if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT)
			break;
	atomic_store(&a->cancel, true);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	destroy(a);
	return NULL;
}

/* ------------------------------------------------------------ incidents */

struct incident *alerts_find_incident(struct alerts *a, int64_t id)
{
	for (size_t i = 0; i < a->ninc; i++)
		if (a->inc[i].id == id)
			return &a->inc[i];
	return NULL;
}

/* The incident's entry, made when new: when the table is full, the least
 * recently notified incident with nothing queued makes room. NULL when
 * every incident has deliveries queued. Under lock. */
static struct incident *get_incident(struct alerts *a, int64_t id)
{
	struct incident *inc = alerts_find_incident(a, id), *old = NULL;

	if (inc)
		return inc;
	if (a->ninc < a->max_incidents) {
		inc = &a->inc[a->ninc++];
	} else {
		for (size_t i = 0; i < a->ninc; i++)
			if (!a->inc[i].pending && (!old || a->inc[i].touched < old->touched))
				old = &a->inc[i];
		if (!old)
			return NULL;
		inc = old;
	}
	memset(inc, 0, sizeof(*inc));
	inc->id = id;
	return inc;
}

/* ------------------------------------------------------------ notify */

/* A link the targets can show: http(s), nothing Slack's <url|label>
 * would misread. */
static bool link_ok(const char *link)
{
	size_t n = strlen(link);

	if (n >= ALERT_LINK_MAX || !http_url_valid(link))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)link[i] <= 0x20 || link[i] == 0x7f || strchr("<>|", link[i]))
			return false;
	return true;
}

static bool dedup_ok(const char *k)
{
	size_t n = strlen(k);

	if (!n || n >= ALERT_DEDUP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
			return false;
	return true;
}

static int make_msg(const struct alerts *a, const struct alert_event *ev, struct alert_msg **ret)
{
	struct alert_msg *m;

	if (!ev || (unsigned)ev->kind >= ALERT_KIND_COUNT ||
	    (unsigned)ev->severity >= ALERT_SEVERITY_COUNT || ev->incident_id < 0 || !ev->title ||
	    !ev->title[0] || !(ev->ts >= 0) || !isfinite(ev->ts) ||
	    (ev->link && ev->link[0] && !link_ok(ev->link)) ||
	    (ev->dedup_key && !dedup_ok(ev->dedup_key)))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->kind = ev->kind;
	m->incident_id = ev->incident_id;
	m->severity = ev->severity;
	utf8_sanitize(m->title, sizeof(m->title), ev->title, strlen(ev->title), NULL);
	if (ev->summary)
		utf8_sanitize_text(m->summary, sizeof(m->summary), ev->summary, strlen(ev->summary),
				   NULL);
	if (ev->link)
		snprintf(m->link, sizeof(m->link), "%s", ev->link);
	if (ev->dedup_key)
		snprintf(m->dedup_key, sizeof(m->dedup_key), "%s", ev->dedup_key);
	else
		snprintf(m->dedup_key, sizeof(m->dedup_key), "kpulse/%.200s/incident/%lld", a->host,
			 (long long)ev->incident_id);
	m->ts = ev->ts > 0 ? ev->ts : clock_wall_s();
	*ret = m;
	return 0;
}

static void state_set(struct alert_delivery *d, enum alert_delivery_state st,
		      const struct alert_msg *m, const char *error)
{
	memset(d, 0, sizeof(*d));
	d->state = st;
	d->kind = m->kind;
	d->severity = m->severity;
	if (error) {
		size_t n = utf8_cut(error, strlen(error), sizeof(d->error) - 1);

		memcpy(d->error, error, n);
		d->error[n] = '\0';
	}
}

int alerts_notify(struct alerts *a, const struct alert_event *ev)
{
	bool want[ALERT_TARGET_COUNT] = {}, any = false;
	char why[ALERT_TARGET_COUNT][ALERT_ERROR_MAX] = {};
	struct job *jobs[ALERT_TARGET_COUNT] = {};
	struct alert_msg *m = NULL;
	struct incident *inc;
	unsigned njobs = 0;
	int err;

	if (!a)
		return -EINVAL;
	err = make_msg(a, ev, &m);
	if (err)
		return err;
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		if (!a->url[t])
			continue;
		jobs[t] = calloc(1, sizeof(*jobs[t]));
		if (!jobs[t]) {
			err = -ENOMEM;
			goto out;
		}
	}

	pthread_mutex_lock(&a->lock);
	inc = get_incident(a, m->incident_id);
	if (!inc) {
		a->dropped++;
		err = -ENOBUFS;
		goto unlock;
	}
	if (inc->has_last && inc->last_kind == m->kind &&
	    (m->kind == ALERT_RESOLVE || inc->last_severity == m->severity)) {
		a->deduplicated++;
		err = -EALREADY;
		goto unlock;
	}
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		if (!a->url[t])
			continue;
		if (m->kind == ALERT_RESOLVE) {
			want[t] = inc->opened[t];
			if (!want[t])
				snprintf(why[t], sizeof(why[t]),
					 "not alerted at this target: nothing to resolve");
		} else {
			want[t] = m->severity >= a->min_severity[t];
			if (!want[t])
				snprintf(why[t], sizeof(why[t]), "below this target's minimum, %s",
					 alert_severity_name(a->min_severity[t]));
		}
		any |= want[t];
	}
	if (any && a->queued_events >= a->max_queued) {
		a->dropped++;
		for (int t = 0; t < ALERT_TARGET_COUNT; t++)
			if (want[t])
				state_set(&inc->d[t], ALERT_DELIVERY_DROPPED, m,
					  "dropped: the alert queue was full");
		inc->touched = ++a->seq;
		err = -ENOBUFS;
		goto unlock;
	}
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		struct job **tail = &a->head;

		if (!a->url[t])
			continue;
		if (!want[t]) {
			state_set(&inc->d[t], ALERT_DELIVERY_SKIPPED, m, why[t]);
			continue;
		}
		state_set(&inc->d[t], ALERT_DELIVERY_PENDING, m, NULL);
		inc->opened[t] = m->kind != ALERT_RESOLVE;
		jobs[t]->msg = m;
		jobs[t]->target = (enum alert_target)t;
		jobs[t]->due = 0;
		while (*tail)
			tail = &(*tail)->next;
		*tail = jobs[t];
		jobs[t] = NULL;
		inc->pending++;
		njobs++;
	}
	inc->has_last = true;
	inc->last_kind = m->kind;
	inc->last_severity = m->severity;
	inc->touched = ++a->seq;
	a->accepted++;
	if (njobs) {
		m->refs = njobs;
		m = NULL;
		a->queued_events++;
		pthread_cond_broadcast(&a->cond);
	}
	err = 0;
unlock:
	pthread_mutex_unlock(&a->lock);
out:
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		free(jobs[t]);
	free(m);
	return err;
}

int alerts_wait_idle(struct alerts *a, double timeout_s)
{
	double until = clock_mono_s() + timeout_s;
	struct timespec ts;
	int r = 0;

	if (!a)
		return -EINVAL;
	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - floor(until)) * 1e9);
	pthread_mutex_lock(&a->lock);
	while ((a->head || a->busy) && r == 0)
		if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT)
			r = -ETIMEDOUT;
	if (r && !a->head && !a->busy)
		r = 0;
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* ------------------------------------------------------------ delivery */

struct attempt {
	long status;	    /* 0: no answer */
	double retry_after; /* -1: none */
	bool retryable;
	char why[ALERT_ERROR_MAX];
};

/* One request to one target. Returns 0 when it took the event. */
static int deliver(struct alerts *a, const struct job *j, double timeout_s, struct attempt *at)
{
	const char *headers[4] = {"Content-Type: application/json", NULL, NULL, NULL};
	char sig[ALERT_SIGNATURE_MAX + 32], event[64], words[ALERT_ERROR_MAX], msg[ALERT_ERROR_MAX];
	struct http_response resp = {};
	struct http_request req;
	char *body = NULL;
	int r;

	at->status = 0;
	at->retry_after = -1;
	at->retryable = false;
	at->why[0] = '\0';
	switch (j->target) {
	case ALERT_TARGET_SLACK:
		body = alerts_format_slack(j->msg, a->host);
		break;
	case ALERT_TARGET_PAGERDUTY:
		body = alerts_format_pagerduty(j->msg, a->pagerduty_key, a->host);
		break;
	case ALERT_TARGET_WEBHOOK:
		body = alerts_format_webhook(j->msg, a->host);
		snprintf(event, sizeof(event), "X-Kpulse-Event: %s", alert_kind_name(j->msg->kind));
		headers[1] = event;
		if (body && a->webhook_secret) {
			char s[ALERT_SIGNATURE_MAX];

			if (alerts_sign(a->webhook_secret, body, strlen(body), s) == 0) {
				snprintf(sig, sizeof(sig), "X-Kpulse-Signature: %s", s);
				headers[2] = sig;
			}
		}
		break;
	default:
		break;
	}
	if (!body) {
		snprintf(at->why, sizeof(at->why), "out of memory");
		at->retryable = true;
		return -ENOMEM;
	}
	req = (struct http_request){
	    .method = "POST",
	    .url = a->url[j->target],
	    .headers = headers,
	    .body = body,
	    .body_len = strlen(body),
	    .timeout_s = timeout_s,
	    .max_response_bytes = ANSWER_MAX,
	    .cancel = &a->cancel,
	};
	r = http_perform(&req, &resp, msg, sizeof(msg));
	if (j->target == ALERT_TARGET_PAGERDUTY)
		explicit_bzero(body, strlen(body)); /* it held the routing key */
	free(body);
	if (r) {
		snprintf(at->why, sizeof(at->why), "%s", msg);
		at->retryable = r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT ||
				r == -EHOSTUNREACH || r == -EIO;
	} else if (resp.status >= 200 && resp.status <= 299) {
		at->status = resp.status;
	} else {
		at->status = resp.status;
		at->retry_after = resp.retry_after_s;
		at->retryable = http_status_retryable(resp.status);
		alerts_answer_words(resp.body, resp.body_len, words, sizeof(words));
		error_set(at->why, sizeof(at->why), 0, "HTTP %ld%s%s", resp.status,
			  words[0] ? ": " : "", words);
		r = -EPROTO;
	}
	http_response_clear(&resp);
	if (at->why[0] && a->nsecrets) {
		redact_secrets(msg, sizeof(msg), at->why, a->secrets, a->nsecrets, NULL);
		snprintf(at->why, sizeof(at->why), "%s", msg);
	}
	return r;
}

/* The first job that is due and not blocked by an earlier one of the same
 * incident and target; *next_due gets the earliest due of the unblocked
 * jobs that are not due yet. Under lock. */
static struct job *pick(struct alerts *a, double now, double *next_due)
{
	*next_due = INFINITY;
	for (struct job *j = a->head; j; j = j->next) {
		bool blocked = false;

		for (struct job *k = a->head; k != j; k = k->next)
			if (k->target == j->target && k->msg->incident_id == j->msg->incident_id)
				blocked = true;
		if (blocked || j->in_flight)
			continue;
		/* stopping: a first attempt goes now; retries keep their wait,
		 * which outcome() allowed only within the drain time */
		if (j->due <= now || (a->stop && !j->attempts))
			return j;
		if (j->due < *next_due)
			*next_due = j->due;
	}
	return NULL;
}

static void unlink_job(struct alerts *a, struct job *j)
{
	struct job **p = &a->head;

	while (*p && *p != j)
		p = &(*p)->next;
	if (*p)
		*p = j->next;
}

/* Frees j; its message goes with its last job. Under lock. */
static void finish_job(struct alerts *a, struct job *j)
{
	struct incident *inc = alerts_find_incident(a, j->msg->incident_id);

	unlink_job(a, j);
	if (inc && inc->pending)
		inc->pending--;
	if (--j->msg->refs == 0) {
		free(j->msg);
		a->queued_events--;
	}
	free(j);
}

static double wait_for(const struct alerts *a, unsigned attempts, double retry_after)
{
	double w = a->backoff_s * pow(2, attempts > 1 ? attempts - 1 : 0);

	if (w > a->backoff_max_s)
		w = a->backoff_max_s;
	if (retry_after > w)
		w = retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : retry_after;
	return w;
}

/* Records the outcome of an attempt of j. Under lock. */
static void outcome(struct alerts *a, struct job *j, int r, const struct attempt *at)
{
	struct incident *inc = alerts_find_incident(a, j->msg->incident_id);
	struct alert_delivery *d = inc ? &inc->d[j->target] : NULL;
	/* the state is this job's until a later event of the incident took it */
	bool mine = d && d->kind == j->msg->kind && d->severity == j->msg->severity;
	double now = clock_mono_s(), wait;

	j->in_flight = false;
	j->attempts++;
	a->stats[j->target].attempts++;
	if (mine) {
		d->attempts = j->attempts;
		d->http_status = at->status;
		d->last_attempt_ts = clock_wall_s();
		snprintf(d->error, sizeof(d->error), "%s", at->why);
	}
	if (r == -ECANCELED) {
		/* alerts_free() ran out of drain time during this attempt */
		a->dropped++;
		if (mine) {
			d->state = ALERT_DELIVERY_DROPPED;
			snprintf(d->error, sizeof(d->error),
				 "dropped: kpulse stopped before it was delivered");
		}
		finish_job(a, j);
		return;
	}
	if (!r) {
		a->stats[j->target].delivered++;
		if (mine) {
			d->state = ALERT_DELIVERY_DELIVERED;
			d->delivered_ts = d->last_attempt_ts;
		}
		finish_job(a, j);
		return;
	}
	wait = wait_for(a, j->attempts, at->retry_after);
	if (at->retryable && j->attempts <= a->retries &&
	    (!a->stop || now + wait < a->drain_until)) {
		j->due = now + wait;
		if (mine)
			d->state = ALERT_DELIVERY_PENDING;
		return;
	}
	a->stats[j->target].failed++;
	if (mine) {
		d->state = ALERT_DELIVERY_FAILED;
		if (at->retryable && j->attempts > 1 && j->attempts > a->retries) {
			size_t n = strlen(d->error);

			snprintf(d->error + n, sizeof(d->error) - n, " (%u attempts)", j->attempts);
		}
	}
	finish_job(a, j);
}

static void *run(void *arg)
{
	struct alerts *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		double now = clock_mono_s(), next, timeout;
		struct attempt at;
		struct job *j;
		int r;

		if (a->stop && (!a->head || now >= a->drain_until))
			break;
		j = pick(a, now, &next);
		if (!j) {
			double until = a->stop ? fmin(next, a->drain_until) : next;
			struct timespec ts;

			if (isinf(until)) {
				pthread_cond_wait(&a->cond, &a->lock);
			} else {
				ts.tv_sec = (time_t)until;
				ts.tv_nsec = (long)((until - floor(until)) * 1e9);
				pthread_cond_timedwait(&a->cond, &a->lock, &ts);
			}
			continue;
		}
		timeout = a->timeout_s;
		if (a->stop && a->drain_until - now < timeout)
			timeout = a->drain_until - now;
		if (timeout < 0.05)
			timeout = 0.05;
		j->in_flight = true;
		a->busy = true;
		pthread_mutex_unlock(&a->lock);
		r = deliver(a, j, timeout, &at);
		pthread_mutex_lock(&a->lock);
		a->busy = false;
		outcome(a, j, r, &at);
		pthread_cond_broadcast(&a->cond);
	}
	/* stopped: what is left will not be delivered */
	while (a->head) {
		struct job *j = a->head;
		struct incident *inc = alerts_find_incident(a, j->msg->incident_id);

		if (inc && inc->d[j->target].kind == j->msg->kind) {
			inc->d[j->target].state = ALERT_DELIVERY_DROPPED;
			snprintf(inc->d[j->target].error, sizeof(inc->d[j->target].error),
				 "dropped: kpulse stopped before it was delivered");
		}
		a->dropped++;
		finish_job(a, j);
	}
	a->exited = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}
