// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * models_routes.c - what the models predict, over HTTP:
 *   GET /api/v1/forecast     forecasts of stored series with intervals
 *   GET /api/v1/predictions  active time-to-threshold predictions
 * A forecast is fitted on the request's HTTP thread (up to a few hundred
 * milliseconds per series), so at most API_FORECASTS_MAX run at once and
 * the others are told to retry.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "api/api_internal.h"
#include "models/forecast_query.h"
#include "models/threshold.h"
#include "util/clock.h"
#include "util/config.h"

/* The raw tier serves steps below a minute; history is kept this far
 * inside a tier's retention, so the store never falls back to a coarser
 * tier for the oldest steps while it ages. */
#define RAW_STEP_MAX_S	   60.0
#define RETENTION_MARGIN_S 3600.0

static const char *arg(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result api_handle_forecast(struct api_request *req)
{
	const char *series = arg(req, "series"), *horizon = arg(req, "horizon");
	struct api *a = req->api;
	struct forecast_query q = {.horizon_s = a->opts.forecast_horizon_s};
	json_t *out = NULL;
	char buf[1024], err[256];
	double retention;
	int r;

	if (!series)
		return api_reply_error(req, 400, "series is required: NAME or NAME{label=\"v\"}");
	if (api_selector_parse(series, buf, sizeof(buf), &q.selector) < 0)
		return api_reply_error(req, 400,
				       "series: not a selector NAME{label=\"value\",...}");
	if (horizon && (config_parse_duration(horizon, &q.horizon_s) < 0 || q.horizon_s < 1 ||
			q.horizon_s > FORECAST_QUERY_HORIZON_MAX))
		return api_reply_error(
		    req, 400, "horizon: not a duration from 1s to 7d (such as 600, 90m, 6h)");
	q.now = clock_wall_s();
	retention = forecast_query_step(q.horizon_s) < RAW_STEP_MAX_S ? a->opts.retention_raw_s
								      : a->opts.retention_1m_s;
	q.max_history_s = fmax(retention - RETENTION_MARGIN_S, retention / 2);
	if (atomic_fetch_add(&a->forecasts_running, 1) >= API_FORECASTS_MAX) {
		atomic_fetch_sub(&a->forecasts_running, 1);
		return api_reply_error(req, 503, "another forecast is being computed; retry");
	}
	r = forecast_query_run(a->store, &q, &out, err, sizeof(err));
	atomic_fetch_sub(&a->forecasts_running, 1);
	if (r == -ENOENT)
		return api_reply_error(req, 404, "%s", err);
	if (r == -EINVAL || r == -E2BIG)
		return api_reply_error(req, 400, "%s", err);
	if (r < 0)
		return api_reply_errno(req, r, "forecast");
	return api_reply_json(req, 200, out);
}

enum MHD_Result api_handle_predictions(struct api_request *req)
{
	struct api *a = req->api;
	struct threshold_tracker *tr;
	json_t *list;

	pthread_mutex_lock(&a->lock);
	tr = a->predictions;
	pthread_mutex_unlock(&a->lock);
	list = tr ? threshold_tracker_predictions(tr) : json_array();
	if (!list)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(req, 200,
			      json_pack("{s:o, s:I}", "predictions", list, "alerts",
					(json_int_t)(tr ? threshold_tracker_alerts(tr) : 0)));
}
