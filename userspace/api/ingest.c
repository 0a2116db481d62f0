/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ingest.c - POST /api/v1/metrics: custom counters and gauges pushed by
 * clients. The whole batch is validated before anything changes (names,
 * label counts and lengths, finite values, the timestamp window, the
 * series cap), then applied to the custom registry, which /metrics and
 * /api/v1/live show, and appended to the store.
 *
 * Quotas: each token (login tokens: each user) may push
 * custom_samples_rate samples a second (bursts of five seconds' worth),
 * else 429; a series not pushed for
 * custom_series_ttl_s (up to twice that) is dropped, so the series cap is
 * never held for ever by a client that went away. A token owns the series
 * it created (pushing a series another token created is free) and may own
 * custom_token_max_series of them, else 429: one token cannot fill the
 * cap and lock the others out of new series.
 *
 *   {"timestamp": 1700000000.5,            optional, unix seconds
 *    "metrics": [{"name": "app_jobs_total", "type": "counter",
 *                 "labels": {"queue": "mail"}, "value": 42}]}
 */
#include <errno.h>
#include <math.h>
#include <search.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"
#include "util/error.h"

struct registry *api_custom_snapshot(struct api *a)
{
	struct registry *copy = NULL;

	if (!a)
		return NULL;
	pthread_mutex_lock(&a->lock);
	if (registry_size(a->custom))
		copy = registry_copy(a->custom);
	pthread_mutex_unlock(&a->lock);
	return copy;
}

struct item {
	const char *name;
	enum metric_type type;
	struct metric_label labels[REGISTRY_MAX_LABELS];
	size_t nlabels;
	double value;
};

/* Checks one batch entry; err names it by index. */
static int parse_item(json_t *m, size_t idx, struct item *it, char *err, size_t errlen)
{
	static const char *const fields[] = {"name", "type", "labels", "value", NULL};
	json_t *name = json_object_get(m, "name"), *type = json_object_get(m, "type");
	json_t *labels = json_object_get(m, "labels"), *value = json_object_get(m, "value"), *v;
	char why[128];
	const char *key, *t;

	if (!json_is_object(m))
		return error_set(err, errlen, -EINVAL, "metrics[%zu]: not an object", idx);
	if (api_json_only_fields(m, fields, why, sizeof(why)) < 0)
		return error_set(err, errlen, -EINVAL, "metrics[%zu]: %s", idx, why);
	if (!json_is_string(name) || !api_custom_name_valid(json_string_value(name)))
		return error_set(
		    err, errlen, -EINVAL,
		    "metrics[%zu].name: not [a-zA-Z_][a-zA-Z0-9_]* under %d bytes, outside "
		    "kpulse_ and without a _bucket, _sum or _count suffix",
		    idx, REGISTRY_NAME_MAX);
	it->name = json_string_value(name);
	/* histograms are the collector's; clients push counters and gauges */
	t = json_string_value(type);
	if (!t || metric_type_parse(t, &it->type) < 0 || it->type == METRIC_HISTOGRAM)
		return error_set(err, errlen, -EINVAL, "metrics[%zu].type: not counter or gauge",
				 idx);
	/* jansson refuses NaN, Infinity and overflowing literals already;
	 * the check stays for values built another way. */
	if (!json_is_number(value) || !isfinite(json_number_value(value)) ||
	    (it->type == METRIC_COUNTER && json_number_value(value) < 0))
		return error_set(err, errlen, -EINVAL, "metrics[%zu].value: not a finite number%s",
				 idx, it->type == METRIC_COUNTER ? " >= 0" : "");
	it->value = json_number_value(value);
	it->nlabels = 0;
	if (labels && !json_is_object(labels))
		return error_set(err, errlen, -EINVAL, "metrics[%zu].labels: not an object", idx);
	if (json_object_size(labels) > REGISTRY_MAX_LABELS)
		return error_set(err, errlen, -EINVAL, "metrics[%zu].labels: more than %d labels",
				 idx, REGISTRY_MAX_LABELS);
	json_object_foreach (labels, key, v) {
		const char *s = json_string_value(v);

		if (!api_label_key_valid(key))
			return error_set(
			    err, errlen, -EINVAL,
			    "metrics[%zu].labels: key \"%.40s\" is not [a-zA-Z_][a-zA-Z0-9_]* "
			    "under %d bytes (no leading __)",
			    idx, key, REGISTRY_LABEL_KEY_MAX);
		if (!s || strlen(s) >= REGISTRY_LABEL_VALUE_MAX)
			return error_set(err, errlen, -EINVAL,
					 "metrics[%zu].labels.%s: not a string under %d bytes", idx,
					 key, REGISTRY_LABEL_VALUE_MAX);
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return error_set(
				    err, errlen, -EINVAL,
				    "metrics[%zu].labels.%s: holds a control character", idx, key);
		it->labels[it->nlabels].key = key;
		it->labels[it->nlabels].value = s;
		it->nlabels++;
	}
	return 0;
}

/* Series of the batch new to the registry, and type clashes with it.
 * Duplicates inside the batch count once. Caller holds a->lock. */
static int count_new(struct api *a, const struct item *items, size_t n, size_t *ret_new, char *err,
		     size_t errlen)
{
	size_t fresh = 0;

	for (size_t i = 0; i < n; i++) {
		const struct metric_series *s;
		bool dup = false;

		for (size_t k = 0; k < registry_size(a->custom); k++) {
			s = registry_at(a->custom, k);
			if (!strcmp(s->name, items[i].name) && s->type != items[i].type)
				return error_set(err, errlen, -EINVAL,
						 "metrics[%zu]: %s is already a %s", i,
						 items[i].name, metric_type_name(s->type));
		}
		if (registry_find(a->custom, items[i].name, items[i].labels, items[i].nlabels))
			continue;
		for (size_t j = 0; j < i && !dup; j++) {
			if (strcmp(items[j].name, items[i].name))
				continue;
			if (items[j].type != items[i].type)
				return error_set(err, errlen, -EINVAL,
						 "metrics[%zu]: %s given as two types", i,
						 items[i].name);
			dup = items[j].nlabels == items[i].nlabels;
			for (size_t l = 0; dup && l < items[i].nlabels; l++) {
				bool found = false;

				for (size_t m = 0; m < items[j].nlabels && !found; m++)
					found = !strcmp(items[i].labels[l].key,
							items[j].labels[m].key) &&
						!strcmp(items[i].labels[l].value,
							items[j].labels[m].value);
				dup = found;
			}
		}
		if (!dup)
			fresh++;
	}
	*ret_new = fresh;
	return 0;
}

/* ------------------------------------------------------------ owners */

/* A token's share of the custom series: the ones it created and that
 * have not expired. Freed when it owns none. */
struct api_custom_quota {
	size_t series;
	char key[API_RATE_KEY_MAX];
};

/* One custom series and the token that created it. The trees own both;
 * owners point at their quota. */
struct api_custom_owner {
	struct api_custom_quota *quota;
	uint64_t period; /* the last period it was pushed in */
	char series[];	 /* series_key() */
};

static int owner_cmp(const void *x, const void *y)
{
	return strcmp(((const struct api_custom_owner *)x)->series,
		      ((const struct api_custom_owner *)y)->series);
}

static int quota_cmp(const void *x, const void *y)
{
	return strcmp(((const struct api_custom_quota *)x)->key,
		      ((const struct api_custom_quota *)y)->key);
}

/* A new owner (quota unset) holding the registry's identity of s as one
 * string: the name, then each label (the registry keeps them sorted) as
 * \x1fkey\x1evalue. Names and keys are [a-zA-Z0-9_]; values hold no
 * control character. NULL without memory. */
static struct api_custom_owner *owner_new(const struct metric_series *s)
{
	size_t len = strlen(s->name) + 1, off;
	struct api_custom_owner *o;

	for (size_t i = 0; i < s->nlabels; i++)
		len += 2 + strlen(s->label_keys[i]) + strlen(s->label_values[i]);
	o = calloc(1, offsetof(struct api_custom_owner, series) + len);
	if (!o)
		return NULL;
	off = (size_t)sprintf(o->series, "%s", s->name);
	for (size_t i = 0; i < s->nlabels; i++)
		off += (size_t)sprintf(o->series + off, "\x1f%s\x1e%s", s->label_keys[i],
				       s->label_values[i]);
	return o;
}

static struct api_custom_quota *quota_find(struct api *a, const char *key)
{
	struct api_custom_quota probe, **found;

	snprintf(probe.key, sizeof(probe.key), "%s", key);
	found = tfind(&probe, &a->custom_quotas, quota_cmp);
	return found ? *found : NULL;
}

/* Records that the token of quota_key pushed s in this period; a series
 * new to the table is the token's. Caller holds a->lock. Returns 0 or
 * -ENOMEM (then s is not counted, which errs towards the client). */
static int owner_touch(struct api *a, const struct metric_series *s, const char *quota_key)
{
	struct api_custom_owner *o = owner_new(s), **found;
	struct api_custom_quota *q;

	if (!o)
		return -ENOMEM;
	found = tfind(o, &a->custom_owners, owner_cmp);
	if (found) {
		(*found)->period = a->custom_period;
		free(o);
		return 0;
	}
	q = quota_find(a, quota_key);
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (q)
			snprintf(q->key, sizeof(q->key), "%s", quota_key);
		if (!q || !tsearch(q, &a->custom_quotas, quota_cmp)) {
			free(q);
			free(o);
			return -ENOMEM;
		}
	}
	o->quota = q;
	o->period = a->custom_period;
	if (!tsearch(o, &a->custom_owners, owner_cmp)) {
		free(o);
		if (q->series == 0) { /* new above: a quota owns something */
			tdelete(q, &a->custom_quotas, quota_cmp);
			free(q);
		}
		return -ENOMEM;
	}
	q->series++;
	a->custom_owner_count++;
	return 0;
}

struct owner_list {
	struct api_custom_owner **v;
	size_t n;
};

static void owner_collect(const void *node, VISIT which, void *data)
{
	struct owner_list *l = data;

	if (which == postorder || which == leaf)
		l->v[l->n++] = *(struct api_custom_owner *const *)node;
}

/* Forgets the owners of the series the registry dropped: those not pushed
 * in the period that just ended. Caller holds a->lock. */
static void owners_expire(struct api *a)
{
	struct owner_list l = {calloc(a->custom_owner_count + 1, sizeof(*l.v)), 0};

	/* Without memory the owners stay until the next period: the quotas
	 * are then stricter for a while, never looser. */
	if (!l.v)
		return;
	twalk_r(a->custom_owners, owner_collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct api_custom_owner *o = l.v[i];
		struct api_custom_quota *q = o->quota;

		if (o->period == a->custom_period)
			continue;
		tdelete(o, &a->custom_owners, owner_cmp);
		a->custom_owner_count--;
		free(o);
		if (--q->series == 0) {
			tdelete(q, &a->custom_quotas, quota_cmp);
			free(q);
		}
	}
	free(l.v);
}

void api_custom_owners_free(struct api *a)
{
	tdestroy(a->custom_owners, free);
	tdestroy(a->custom_quotas, free);
	a->custom_owners = a->custom_quotas = NULL;
	a->custom_owner_count = 0;
}

void api_custom_expire(struct api *a, double now)
{
	if (now - a->custom_period_start < a->opts.custom_series_ttl_s &&
	    now >= a->custom_period_start)
		return;
	registry_end(a->custom);
	owners_expire(a);
	registry_begin(a->custom, now, 0);
	a->custom_period_start = now;
	a->custom_period++;
}

enum MHD_Result api_handle_ingest(struct api_request *req)
{
	static const char *const fields[] = {"timestamp", "metrics", NULL};
	struct api *a = req->api;
	struct metric_series *stored = NULL;
	struct item *items = NULL;
	json_t *root = NULL, *metrics, *ts_json, *m;
	char err[API_ERROR_MAX], key[API_RATE_KEY_MAX];
	double now = clock_wall_s(), ts = now, series_retry_s = 0;
	size_t n, fresh = 0, idx, owned = 0;
	enum MHD_Result ret;
	int r;

	if (api_json_parse(req->body, req->body_len, API_JSON_MAX_DEPTH, &root, err, sizeof(err)) <
	    0)
		return api_reply_error(req, 400, "%s", err);
	if (api_json_only_fields(root, fields, err, sizeof(err)) < 0) {
		ret = api_reply_error(req, 400, "%s", err);
		goto out;
	}
	ts_json = json_object_get(root, "timestamp");
	if (ts_json) {
		ts = json_number_value(ts_json);
		if (!json_is_number(ts_json) || !isfinite(ts) || ts < now - API_INGEST_MAX_AGE_S ||
		    ts > now + API_INGEST_MAX_AHEAD_S) {
			ret = api_reply_error(req, 400,
					      "timestamp: not unix seconds within the last %.0f s "
					      "(or %.0f s ahead)",
					      API_INGEST_MAX_AGE_S, API_INGEST_MAX_AHEAD_S);
			goto out;
		}
	}
	metrics = json_object_get(root, "metrics");
	n = json_array_size(metrics);
	if (!json_is_array(metrics) || n == 0 || n > API_INGEST_MAX_ITEMS) {
		ret = api_reply_error(req, 400, "metrics: not an array of 1 to %d entries",
				      API_INGEST_MAX_ITEMS);
		goto out;
	}
	items = calloc(n, sizeof(*items));
	stored = calloc(n, sizeof(*stored));
	if (!items || !stored) {
		ret = api_reply_error(req, 500, "out of memory");
		goto out;
	}
	json_array_foreach (metrics, idx, m) {
		if (parse_item(m, idx, &items[idx], err, sizeof(err)) < 0) {
			ret = api_reply_error(req, 400, "%s", err);
			goto out;
		}
	}
	/* the key of the token's sample rate and of its series quota */
	snprintf(key, sizeof(key), "tok:%lld:%.64s", (long long)req->who.token_id, req->who.user);
	{
		char retry[32];
		double retry_after = 1;

		if (api_rate_take_n(&a->ingest_limiter, key, (double)n, clock_mono_s(),
				    &retry_after) < 0) {
			api_audit(a, API_AUDIT_RATE_LIMITED, NULL, req->who.user,
				  "custom samples over %u a second", a->opts.custom_samples_rate);
			snprintf(retry, sizeof(retry), "%.0f", retry_after);
			ret = api_reply_error_header(
			    req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry,
			    "at most %u custom samples a second per token; retry later",
			    a->opts.custom_samples_rate);
			goto out;
		}
	}

	pthread_mutex_lock(&a->lock);
	api_custom_expire(a, now);
	r = count_new(a, items, n, &fresh, err, sizeof(err));
	if (r == 0 && fresh > 0) {
		const struct api_custom_quota *q = quota_find(a, key);

		owned = q ? q->series : 0;
	}
	if (r == 0 && registry_size(a->custom) + fresh > a->opts.custom_max_series) {
		r = error_set(err, sizeof(err), -E2BIG,
			      "the batch would make %zu custom series; the limit is %zu",
			      registry_size(a->custom) + fresh, a->opts.custom_max_series);
	} else if (r == 0 && owned + fresh > a->opts.custom_token_max_series) {
		/* Its series free up when they are not pushed for a period:
		 * the end of this one is the first chance. */
		series_retry_s = a->custom_period_start + a->opts.custom_series_ttl_s - now;
		r = error_set(err, sizeof(err), -EDQUOT,
			      "the batch would make this token own %zu custom series; the limit "
			      "is %zu per token (KPULSE_CUSTOM_TOKEN_MAX_SERIES); series not "
			      "pushed for KPULSE_CUSTOM_SERIES_TTL are freed",
			      owned + fresh, a->opts.custom_token_max_series);
	}
	if (r == -EDQUOT || r == -E2BIG)
		atomic_fetch_add(&a->custom_series_refused[r == -E2BIG], 1);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct metric_series *s;

		r = items[i].type == METRIC_COUNTER
			? registry_set_counter(a->custom, items[i].name, items[i].labels,
					       items[i].nlabels, items[i].value)
			: registry_set_gauge(a->custom, items[i].name, items[i].labels,
					     items[i].nlabels, items[i].value);
		s = r == 0
			? registry_find(a->custom, items[i].name, items[i].labels, items[i].nlabels)
			: NULL;
		/* HELP text for /metrics; kept across rounds, set once. */
		if (r == 0 && !registry_help(a->custom, items[i].name))
			r = registry_describe(a->custom, items[i].name,
					      "Custom metric pushed through POST /api/v1/metrics");
		if (s) {
			metric_series_copy(&stored[i], s);
			if (owner_touch(a, s, key) < 0)
				r = -ENOMEM;
		} else if (r == 0) {
			r = -ENOMEM;
		}
		if (r < 0 && r != -ENOMEM)
			error_set(err, sizeof(err), r, "metrics[%zu]: refused by the registry", i);
	}
	pthread_mutex_unlock(&a->lock);
	if (r == -ENOMEM) {
		ret = api_reply_error(req, 500, "out of memory");
		goto out;
	}
	if (r == -EDQUOT) {
		char retry[32];

		api_audit(a, API_AUDIT_RATE_LIMITED, NULL, req->who.user,
			  "custom series over %zu per token", a->opts.custom_token_max_series);
		snprintf(retry, sizeof(retry), "%.0f", fmax(1, ceil(series_retry_s)));
		ret =
		    api_reply_error_header(req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry, "%s", err);
		goto out;
	}
	if (r < 0) {
		ret = api_reply_error(req, 400, "%s", err);
		goto out;
	}
	atomic_fetch_add(&a->custom_samples_total, n);
	/* A full store buffer drops samples and counts them; the live view
	 * already has the values, so the request still succeeded. */
	r = store_append_series(a->store, ts, stored, n);
	ret = api_reply_json(req, 200,
			     json_pack("{s:I,s:f,s:b}", "accepted", (json_int_t)n, "timestamp", ts,
				       "stored", r == 0));
out:
	free(items);
	free(stored);
	json_decref(root);
	return ret;
}
