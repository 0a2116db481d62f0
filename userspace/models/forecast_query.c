// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * forecast_query.c - forecasts of stored series and window means for
 * training (see forecast_query.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/forecast.h"
#include "models/forecast_query.h"
#include "util/error.h"

static const double steps[] = {10, 30, 60, 300, 900, 1800, 3600};

double forecast_query_step(double horizon_s)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (horizon_s / steps[i] <= FORECAST_QUERY_POINTS)
			return steps[i];
	return steps[sizeof(steps) / sizeof(steps[0]) - 1];
}

static json_t *labels_json(const struct store_series_info *info)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < info->nlabels; i++)
		json_object_set_new(o, info->label_keys[i], json_string(info->label_values[i]));
	return o;
}

/* The exact selector of one stored series. */
static void exact_selector(const struct store_series_info *info, struct store_selector *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->name = info->name;
	for (size_t i = 0; i < info->nlabels; i++) {
		sel->matchers[i].key = info->label_keys[i];
		sel->matchers[i].value = info->label_values[i];
	}
	sel->nmatchers = info->nlabels;
}

/*
 * Forecasts one series into obj (adds model, points...). A series the
 * store holds too little of gets an "error" and no points; only memory
 * and store failures return < 0.
 */
static int forecast_one(struct store *st, const struct store_series_info *info,
			const struct forecast_query *q, double step, size_t h, json_t *obj,
			char *err, size_t errlen)
{
	struct store_range_query rq = {0};
	struct store_range_result *res = NULL;
	struct forecast_options fo = {.horizon = h, .step_s = step, .allow_season = true};
	struct forecast_model *m = NULL;
	struct forecast_point *out = NULL;
	double *t = NULL, *v = NULL, *y = NULL, step_got, t_last, history;
	size_t n = 0, ny;
	json_t *points = json_array();
	char desc[FORECAST_DESC_MAX], why[256];
	int rc;

	exact_selector(info, &rq.selector);
	/* whole steps, ending at the one that holds now */
	rq.to = q->now;
	history = (FORECAST_QUERY_HISTORY - 1) * step;
	if (q->max_history_s > 0 && q->max_history_s < history)
		history = floor(q->max_history_s / step) * step;
	rq.from = floor(q->now / step) * step - history;
	rq.step = step;
	rq.agg = info->type == METRIC_COUNTER ? STORE_AGG_RATE : STORE_AGG_AVG;
	json_object_set_new(obj, "aggregation",
			    json_string(info->type == METRIC_COUNTER ? "rate" : "avg"));
	json_object_set_new(obj, "points", points);
	rc = store_query_range(st, &rq, &res);
	if (rc < 0)
		return error_set(err, errlen, rc, "%s: store query failed", info->name);
	if (res->nseries == 1)
		n = res->series[0].npoints;
	t = malloc((n ? n : 1) * sizeof(double));
	v = malloc((n ? n : 1) * sizeof(double));
	if (!t || !v) {
		rc = error_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		t[i] = res->series[0].points[i].ts;
		v[i] = res->series[0].points[i].value;
	}
	if (n < 2 || forecast_regularize(t, v, n, FORECAST_QUERY_HISTORY, &y, &ny, &step_got,
					 &t_last, NULL, why, sizeof(why)) < 0) {
		json_object_set_new(obj, "error",
				    json_string(n < 2 ? "fewer than 2 stored steps" : why));
		rc = 0;
		goto out;
	}
	/* the regular grid of the stored points may be coarser than step
	 * where the store has gaps; forecast at the step asked for */
	if (step_got != step) {
		json_object_set_new(obj, "error",
				    json_string("stored history is too sparse at this step"));
		rc = 0;
		goto out;
	}
	rc = forecast_model_fit(y, ny, &fo, &m, why, sizeof(why));
	if (rc < 0) {
		if (rc == -ENOMEM)
			goto out;
		json_object_set_new(obj, "error", json_string(why));
		rc = 0;
		goto out;
	}
	out = calloc(h, sizeof(*out));
	if (!out) {
		rc = error_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	forecast_model_predict(m, h, out);
	json_object_set_new(obj, "model",
			    json_string(forecast_model_describe(m, desc, sizeof(desc))));
	json_object_set_new(obj, "season_steps",
			    json_integer((json_int_t)forecast_model_season(m)));
	json_object_set_new(obj, "history_points", json_integer((json_int_t)ny));
	json_object_set_new(obj, "last_ts", json_real(t_last));
	json_object_set_new(obj, "last_value", json_real(y[ny - 1]));
	for (size_t k = 0; k < h; k++) {
		json_t *p = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "ts",
				      t_last + (double)(k + 1) * step, "forecast", out[k].forecast,
				      "lo80", out[k].lo80, "hi80", out[k].hi80, "lo95", out[k].lo95,
				      "hi95", out[k].hi95);

		if (!p || json_array_append_new(points, p) < 0) {
			rc = error_set(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	store_range_result_free(res);
	forecast_model_free(m);
	free(out);
	free(t);
	free(v);
	free(y);
	return rc;
}

int forecast_query_run(struct store *st, const struct forecast_query *q, json_t **ret, char *err,
		       size_t errlen)
{
	struct store_series_list *list = NULL;
	json_t *root = NULL, *arr;
	double step;
	size_t h;
	int rc;

	if (!st || !q || !q->selector.name)
		return error_set(err, errlen, -EINVAL, "series: a metric name is required");
	if (!(q->horizon_s >= 1) || q->horizon_s > FORECAST_QUERY_HORIZON_MAX || !isfinite(q->now))
		return error_set(err, errlen, -EINVAL, "horizon: %g s is not 1 s to %g s",
				 q->horizon_s, FORECAST_QUERY_HORIZON_MAX);
	step = forecast_query_step(q->horizon_s);
	h = (size_t)ceil(q->horizon_s / step - 1e-9);
	if (h < 1)
		h = 1;
	rc = store_list_series(st, &q->selector, &list);
	if (rc < 0)
		return error_set(err, errlen, rc, "%s: listing stored series failed",
				 q->selector.name);
	if (list->n == 0) {
		store_series_list_free(list);
		return error_set(err, errlen, -ENOENT, "%s: no stored series matches",
				 q->selector.name);
	}
	if (list->n > FORECAST_QUERY_SERIES_MAX) {
		rc = error_set(err, errlen, -E2BIG,
			       "%s: %zu stored series match, at most %d are forecast at once",
			       q->selector.name, list->n, FORECAST_QUERY_SERIES_MAX);
		store_series_list_free(list);
		return rc;
	}
	root = json_pack("{s:f, s:f, s:I, s:[]}", "horizon_s", q->horizon_s, "step_s", step,
			 "steps", (json_int_t)h, "series");
	if (!root) {
		store_series_list_free(list);
		return error_set(err, errlen, -ENOMEM, "out of memory");
	}
	arr = json_object_get(root, "series");
	for (size_t i = 0; i < list->n; i++) {
		json_t *obj = json_pack("{s:s, s:o}", "name", list->series[i].name, "labels",
					labels_json(&list->series[i]));

		if (!obj || json_array_append_new(arr, obj) < 0) {
			rc = error_set(err, errlen, -ENOMEM, "out of memory");
			goto fail;
		}
		rc = forecast_one(st, &list->series[i], q, step, h, obj, err, errlen);
		if (rc < 0)
			goto fail;
	}
	store_series_list_free(list);
	*ret = root;
	return 0;
fail:
	store_series_list_free(list);
	json_decref(root);
	return rc;
}

int forecast_query_means(struct store *st, const struct forecast_source *src, size_t n, double from,
			 double step, size_t nbuckets, double *means)
{
	for (size_t i = 0; i < n; i++) {
		struct store_range_query rq = {.selector = src[i].selector,
					       .from = from,
					       .to = from + (double)nbuckets * step - 1e-6,
					       .step = step,
					       .agg = src[i].agg,
					       .quantile = src[i].quantile};
		struct store_range_result *res = NULL;
		int rc = store_query_range(st, &rq, &res);

		if (rc < 0)
			return rc;
		if (res->nseries == 1) {
			const struct store_range_series *s = &res->series[0];

			for (size_t p = 0; p < s->npoints; p++) {
				double k = floor((s->points[p].ts - from) / step + 1e-9);

				if (k >= 0 && k < (double)nbuckets && isfinite(s->points[p].value))
					means[(size_t)k * n + i] = s->points[p].value;
			}
		}
		store_range_result_free(res);
	}
	return 0;
}
