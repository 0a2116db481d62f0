// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * forecast.c - `kpulse forecast`: offline forecasts of a `timestamp,value`
 * CSV, or with --backtest a rolling-origin evaluation of the forecaster
 * against the naive and seasonal naive forecasts on the same file.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/forecast.h"
#include "util/csv.h"

#define CMD "forecast"
/* The rows a CSV may hold: a year at a 5 s step. */
#define INPUT_ROWS_MAX 6500000
#define ORIGINS_MAX    1000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kpulse forecast --input FILE.csv --horizon N [--backtest [--origins K]]\n"
		"\n"
		"Forecast the N steps after the last row of FILE.csv, a CSV with the header\n"
		"`timestamp,value` and timestamps `YYYY-MM-DD HH:MM:SS` (UTC) or unix seconds.\n"
		"The step is the most common interval between rows; repeated timestamps are\n"
		"dropped and missing steps interpolated. Prints the header\n"
		"`timestamp,forecast,lo80,hi80,lo95,hi95` and N rows, timestamps in the\n"
		"input's format.\n"
		"\n"
		"  --input FILE     the series (required)\n"
		"  --horizon N      steps to forecast, 1 to %d (required)\n"
		"  --no-season      never use a daily or weekly seasonal profile\n"
		"  --backtest       instead, forecast from K origins spread over the last 40%%\n"
		"                   of the series and print the mean absolute scaled error\n"
		"                   (MASE) of kpulse, naive and seasonal naive, and the\n"
		"                   coverage of kpulse's 80%% and 95%% intervals\n"
		"  --origins K      backtest origins, 1 to %d (default 20)\n"
		"  --verbose        describe the chosen model on stderr\n",
		FORECAST_HORIZON_MAX, ORIGINS_MAX);
}

/* MASE scale as the evaluation uses it: mean absolute seasonal
 * difference over the prefix, or lag-1 without two seasons. */
static double mase_scale(const double *y, size_t n, size_t season)
{
	double s = 0;

	if (season && n >= 2 * season) {
		for (size_t i = season; i < n; i++)
			s += fabs(y[i] - y[i - season]);
		s /= (double)(n - season);
		if (s > 0)
			return s;
	}
	s = 0;
	for (size_t i = 1; i < n; i++)
		s += fabs(y[i] - y[i - 1]);
	return n > 1 && s > 0 ? s / (double)(n - 1) : NAN;
}

static double snaive_at(const double *y, size_t n, size_t season, size_t k)
{
	size_t lag;

	if (!season || n < season)
		return y[n - 1];
	lag = season * ((k - 1) / season + 1);
	return y[n + k - 1 - lag];
}

static int backtest(const double *y, size_t n, double step_s, size_t h, size_t origins,
		    const struct forecast_options *fo, bool verbose)
{
	size_t season = 0, lo, hi, used = 0;
	double day = 86400 / step_s;
	double mase[3] = {0}, c80 = 0, c95 = 0;
	struct forecast_point *out;
	char err[256], desc[FORECAST_DESC_MAX];

	if (fabs(day - round(day)) < 1e-9 && day >= 2)
		season = (size_t)round(day);
	lo = (size_t)ceil(0.6 * (double)n);
	if (lo < 30)
		lo = 30;
	if (n < h || lo > n - h) {
		fprintf(stderr,
			"kpulse forecast: --backtest needs more than %zu rows for horizon %zu "
			"(have %zu)\n",
			(lo > 30 ? lo : 30) + h, h, n);
		return 1;
	}
	hi = n - h;
	out = calloc(h, sizeof(*out));
	if (!out)
		return 1;
	for (size_t i = 0; i < origins; i++) {
		size_t o = origins == 1 ? hi
					: lo + (size_t)llround((double)(hi - lo) * (double)i /
							       (double)(origins - 1));
		struct forecast_model *m = NULL;
		double scale = mase_scale(y, o, season), e[3] = {0};
		size_t in80 = 0, in95 = 0;

		if (i > 0 && o == lo + (size_t)llround((double)(hi - lo) * (double)(i - 1) /
						       (double)(origins - 1)))
			continue; /* same origin as the previous one */
		if (forecast_model_fit(y, o, fo, &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "kpulse forecast: origin %zu: %s\n", o, err);
			free(out);
			return 1;
		}
		forecast_model_predict(m, h, out);
		if (verbose)
			fprintf(stderr, "origin %zu: %s\n", o,
				forecast_model_describe(m, desc, sizeof(desc)));
		m = forecast_model_free(m);
		for (size_t k = 1; k <= h; k++) {
			double a = y[o + k - 1];

			e[0] += fabs(a - out[k - 1].forecast);
			e[1] += fabs(a - y[o - 1]);
			e[2] += fabs(a - snaive_at(y, o, season, k));
			in80 += a >= out[k - 1].lo80 && a <= out[k - 1].hi80;
			in95 += a >= out[k - 1].lo95 && a <= out[k - 1].hi95;
		}
		if (!isfinite(scale))
			continue;
		for (int j = 0; j < 3; j++)
			mase[j] += e[j] / (double)h / scale;
		c80 += (double)in80 / (double)h;
		c95 += (double)in95 / (double)h;
		used++;
	}
	free(out);
	if (!used) {
		fprintf(stderr, "kpulse forecast: the series is constant: no scale for MASE\n");
		return 1;
	}
	printf("backtest: rows=%zu step=%gs horizon=%zu origins=%zu season=%zu\n", n, step_s, h,
	       used, season);
	printf("method,mase,rel_snaive,cov80,cov95\n");
	printf("kpulse,%.4f,%.4f,%.4f,%.4f\n", mase[0] / (double)used, mase[0] / mase[2],
	       c80 / (double)used, c95 / (double)used);
	printf("naive,%.4f,%.4f,,\n", mase[1] / (double)used, mase[1] / mase[2]);
	printf("snaive,%.4f,1.0000,,\n", mase[2] / (double)used);
	return 0;
}

int cmd_forecast(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'}, {"horizon", required_argument, NULL, 'H'},
	    {"backtest", no_argument, NULL, 'b'},    {"origins", required_argument, NULL, 'o'},
	    {"no-season", no_argument, NULL, 'S'},   {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	const char *input = NULL;
	unsigned long horizon = 0, origins = 20;
	bool do_backtest = false, verbose = false;
	struct forecast_options fo = {.allow_season = true};
	struct csv_series *cs = NULL;
	struct forecast_model *m = NULL;
	struct forecast_point *out = NULL;
	double *y = NULL, step_s, t_last;
	size_t n, filled;
	char err[512], desc[FORECAST_DESC_MAX];
	int c, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'H':
			if (cli_parse_uint(CMD, "--horizon", optarg, 1, FORECAST_HORIZON_MAX,
					   &horizon) < 0)
				return EXIT_USAGE;
			break;
		case 'o':
			if (cli_parse_uint(CMD, "--origins", optarg, 1, ORIGINS_MAX, &origins) < 0)
				return EXIT_USAGE;
			break;
		case 'b':
			do_backtest = true;
			break;
		case 'S':
			fo.allow_season = false;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse forecast: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!input || !horizon) {
		fprintf(stderr, "kpulse forecast: --input and --horizon are required\n");
		return EXIT_USAGE;
	}
	if (csv_load_series(input, INPUT_ROWS_MAX, &cs, err, sizeof(err)) < 0) {
		fprintf(stderr, "kpulse forecast: %s\n", err);
		return 1;
	}
	if (cs->n == 0) {
		fprintf(stderr, "kpulse forecast: %s: no rows after the header\n", input);
		goto out;
	}
	if (cs->n == 1) {
		/* one row: no step to infer */
		fprintf(stderr, "kpulse forecast: %s: one row is not enough to infer the step\n",
			input);
		goto out;
	}
	if (forecast_regularize(cs->t, cs->v, cs->n, INPUT_ROWS_MAX, &y, &n, &step_s, &t_last,
				&filled, err, sizeof(err)) < 0) {
		fprintf(stderr, "kpulse forecast: %s: %s\n", input, err);
		goto out;
	}
	fo.horizon = horizon;
	fo.step_s = step_s;
	if (do_backtest) {
		status = backtest(y, n, step_s, horizon, origins, &fo, verbose);
		goto out;
	}
	if (forecast_model_fit(y, n, &fo, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "kpulse forecast: %s: %s\n", input, err);
		goto out;
	}
	out = calloc(horizon, sizeof(*out));
	if (!out) {
		fprintf(stderr, "kpulse forecast: out of memory\n");
		goto out;
	}
	forecast_model_predict(m, horizon, out);
	if (verbose)
		fprintf(stderr, "kpulse forecast: %zu steps of %gs (%zu filled), model: %s\n", n,
			step_s, filled, forecast_model_describe(m, desc, sizeof(desc)));
	printf("timestamp,forecast,lo80,hi80,lo95,hi95\n");
	for (size_t k = 0; k < horizon; k++) {
		char ts[40];

		csv_format_time(t_last + (double)(k + 1) * step_s, cs->time_format, ts, sizeof(ts));
		printf("%s,%.12g,%.12g,%.12g,%.12g,%.12g\n", ts, out[k].forecast, out[k].lo80,
		       out[k].hi80, out[k].lo95, out[k].hi95);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kpulse forecast: writing the output failed\n");
		goto out;
	}
	status = 0;
out:
	free(out);
	free(y);
	forecast_model_free(m);
	csv_series_free(cs);
	return status;
}
