// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * registry_format.c - the registry as JSON (`kpulse dump --json`, the API's
 * live view) and as a readable table (`kpulse dump`). Reads the registry
 * through its public functions only; see registry.h for both formats.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "registry/hist.h"
#include "registry/registry.h"

/* ---------------------------------------------------------------------------
 * JSON
 */

/* JSON has no NaN or infinity (jansson's json_real() refuses them); null
 * tells every consumer "no value" and keeps the line parseable. */
static json_t *json_number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *labels_to_json(const struct metric_series *s)
{
	json_t *labels = json_object();

	if (!labels)
		return NULL;
	for (size_t i = 0; i < s->nlabels; i++) {
		if (json_object_set_new(labels, s->label_keys[i],
					json_string(s->label_values[i]))) {
			json_decref(labels);
			return NULL;
		}
	}
	return labels;
}

static json_t *buckets_to_json(const struct metric_series *s)
{
	json_t *buckets = json_array();
	size_t top = REGISTRY_HIST_SLOTS;
	uint64_t cumulative = 0;

	if (!buckets)
		return NULL;
	while (top > 0 && s->slots[top - 1] == 0)
		top--;
	for (size_t i = 0; i < top; i++) {
		cumulative += s->slots[i];
		if (json_array_append_new(buckets,
					  json_pack("[f, I]", hist_log2_upper_bound(i) * s->scale,
						    (json_int_t)cumulative))) {
			json_decref(buckets);
			return NULL;
		}
	}
	return buckets;
}

/* json_object_set_new() fails on a NULL value, so one check per field
 * covers the allocation of the value too. */
static json_t *series_to_json(const struct metric_series *s)
{
	json_t *m = json_object();

	if (!m)
		return NULL;
	if (json_object_set_new(m, "name", json_string(s->name)) ||
	    json_object_set_new(m, "labels", labels_to_json(s)) ||
	    json_object_set_new(m, "type", json_string(metric_type_name(s->type))))
		goto fail;
	if (s->type == METRIC_HISTOGRAM) {
		if (json_object_set_new(m, "count", json_integer((json_int_t)s->hist_count)) ||
		    json_object_set_new(m, "sum", json_number_or_null(s->hist_sum)) ||
		    json_object_set_new(m, "buckets", buckets_to_json(s)))
			goto fail;
	} else if (json_object_set_new(m, "value", json_number_or_null(s->value))) {
		goto fail;
	}
	return m;

fail:
	json_decref(m);
	return NULL;
}

json_t *registry_to_json(const struct registry *r)
{
	json_t *top, *metrics;

	if (!r)
		return NULL;
	top = json_object();
	metrics = json_array();
	if (!top || !metrics ||
	    json_object_set_new(top, "timestamp", json_number_or_null(registry_timestamp(r))) ||
	    json_object_set_new(top, "interval_s", json_number_or_null(registry_interval(r))))
		goto fail;
	for (size_t i = 0; i < registry_size(r); i++) {
		if (json_array_append_new(metrics, series_to_json(registry_at(r, i))))
			goto fail;
	}
	if (json_object_set_new(top, "metrics", metrics)) {
		metrics = NULL; /* set_new released it */
		goto fail;
	}
	return top;

fail:
	json_decref(metrics);
	json_decref(top);
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Text
 */

/* Longest name{k="v",...}: name, braces, and per label key, '=', two quotes,
 * value and ',' (each *_MAX already counts a NUL, which leaves room). */
#define SERIES_KEY_TEXT_MAX                                                                        \
	(REGISTRY_NAME_MAX + 2 +                                                                   \
	 REGISTRY_MAX_LABELS * (REGISTRY_LABEL_KEY_MAX + REGISTRY_LABEL_VALUE_MAX + 2))
/* Past this width one ragged line reads better than a table pushed right. */
#define TEXT_KEY_COLUMN_MAX 80

static int series_key_text(const struct metric_series *s, char buf[SERIES_KEY_TEXT_MAX])
{
	int len = snprintf(buf, SERIES_KEY_TEXT_MAX, "%s", s->name);

	for (size_t i = 0; i < s->nlabels; i++)
		len += snprintf(buf + len, SERIES_KEY_TEXT_MAX - len, "%c%s=\"%s\"", i ? ',' : '{',
				s->label_keys[i], s->label_values[i]);
	if (s->nlabels)
		len += snprintf(buf + len, SERIES_KEY_TEXT_MAX - len, "}");
	return len;
}

/* Whole numbers (counters mostly) in full, others to 6 significant digits,
 * "-" for no value. */
static const char *number_text(char buf[32], double v)
{
	if (isnan(v))
		snprintf(buf, 32, "-");
	else if (v == nearbyint(v) && fabs(v) < 1e15)
		snprintf(buf, 32, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
	else
		snprintf(buf, 32, "%.6g", v);
	return buf;
}

int registry_write_text(const struct registry *r, FILE *out)
{
	char key[SERIES_KEY_TEXT_MAX], num[4][32];
	const char *prev_name = NULL;
	int width = 0;

	if (!r || !out)
		return -EINVAL;
	for (size_t i = 0; i < registry_size(r); i++) {
		int len = series_key_text(registry_at(r, i), key);

		if (len > width)
			width = len;
	}
	if (width > TEXT_KEY_COLUMN_MAX)
		width = TEXT_KEY_COLUMN_MAX;

	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);

		if (!prev_name || strcmp(prev_name, s->name) != 0) {
			const char *help = registry_help(r, s->name);

			if (help)
				fprintf(out, "# %s: %s\n", s->name, help);
			prev_name = s->name;
		}
		series_key_text(s, key);
		if (s->type == METRIC_HISTOGRAM) {
			double mean = s->hist_count ? s->hist_sum / (double)s->hist_count : NAN;
			double p50 = hist_log2_quantile(s->slots, REGISTRY_HIST_SLOTS, 0.5);
			double p99 = hist_log2_quantile(s->slots, REGISTRY_HIST_SLOTS, 0.99);

			fprintf(out, "%-*s count=%" PRIu64 " mean=%s p50=%s p99=%s\n", width, key,
				s->hist_count, number_text(num[0], mean),
				number_text(num[1], p50 * s->scale),
				number_text(num[2], p99 * s->scale));
		} else {
			fprintf(out, "%-*s %s\n", width, key, number_text(num[3], s->value));
		}
	}
	if (fflush(out) == EOF)
		return errno > 0 ? -errno : -EIO;
	return ferror(out) ? -EIO : 0;
}
