// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * replay.c - `kpulse replay`: runs the daemon's streaming detector over a
 * CSV of `timestamp,value` rows and writes `timestamp,value,anomaly_score`,
 * one row per input row, each score computed before the next row is read
 * by the detector (no look-ahead).
 *
 * The whole input is read and checked before anything is written, and a
 * file output is written beside its target and renamed into place, so a
 * bad input or a failed write leaves no partial output behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "models/detector.h"
#include "util/csv.h"
#include "util/error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kpulse replay --input FILE.csv [--output FILE.csv] [--detector NAME]\n"
		"                     [--explain]\n"
		"\n"
		"Run the streaming anomaly detector the daemon runs over a CSV with the\n"
		"header 'timestamp,value' (timestamps YYYY-MM-DD HH:MM:SS in UTC, or unix\n"
		"seconds; oldest first, repeats kept as they are) and write\n"
		"'timestamp,value,anomaly_score', one row per input row. Each score uses\n"
		"only that row and the rows before it.\n"
		"\n"
		"Options:\n"
		"  --input FILE      the CSV to replay ('-' reads standard input)\n"
		"  --output FILE     where to write (default: standard output)\n"
		"  --detector NAME   stream (the daemon's, default) or ewma (reference)\n"
		"  --explain         add the columns expected, surprise, model and fired\n"
		"                    (S surprise, R out of range, L level shift re-baselined)\n");
}

/*
 * Rows must not go back in time (a detector learns in time order); equal
 * timestamps are kept, each row as a sample (NAB repeats the hour a
 * daylight-saving change skipped). Returns 0 or -EINVAL with err naming
 * the line (the header is line 1 and util/csv refuses blank lines).
 */
static int check_order(const struct csv_series *t, const char *name, char *err, size_t errlen)
{
	for (size_t i = 1; i < t->n; i++) {
		if (t->t[i] < t->t[i - 1]) {
			char now[32], before[32];

			return error_set(
			    err, errlen, -EINVAL,
			    "%s:%zu: timestamp %s goes back in time (after %s); rows "
			    "must be oldest first (equal timestamps are kept)",
			    name, i + 2, csv_format_time(t->t[i], t->time_format, now, sizeof(now)),
			    csv_format_time(t->t[i - 1], t->time_format, before, sizeof(before)));
		}
	}
	return 0;
}

static int write_rows(FILE *out, const struct csv_series *t, enum detector_kind kind, bool explain)
{
	struct detector *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	detector_init(d, kind);
	fprintf(out, "timestamp,value,anomaly_score%s\n",
		explain ? ",expected,surprise,model,fired" : "");
	for (size_t i = 0; i < t->n; i++) {
		struct detector_result res;
		double score = detector_update(d, t->t[i], t->v[i], &res);
		char ts[32];

		/* %.17g gives back the very double that was read */
		fprintf(out, "%s,%.17g,%.9f",
			csv_format_time(t->t[i], t->time_format, ts, sizeof(ts)), t->v[i], score);
		if (explain)
			fprintf(out, ",%.9g,%.6f,%s,%s%s%s", res.expected, res.surprise,
				detector_model_name(res.model),
				res.fired & DETECTOR_FIRED_SURPRISE ? "S" : "",
				res.fired & DETECTOR_FIRED_RANGE ? "R" : "",
				res.fired & DETECTOR_FIRED_SHIFT ? "L" : "");
		fputc('\n', out);
	}
	free(d);
	return ferror(out) ? -EIO : 0;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},	{"output", required_argument, NULL, 'o'},
	    {"detector", required_argument, NULL, 'd'}, {"explain", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},		{0},
	};
	const char *input = NULL, *output = NULL;
	enum detector_kind kind = DETECTOR_STREAM;
	bool explain = false;
	struct csv_series *t = NULL;
	char err[512], tmp[PATH_MAX] = "";
	FILE *in, *out = stdout;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'd':
			if (detector_kind_parse(optarg, &kind)) {
				fprintf(
				    stderr,
				    "kpulse replay: --detector: '%s' is not a detector (stream, "
				    "ewma)\n",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'x':
			explain = true;
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
		fprintf(stderr, "kpulse replay: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!input) {
		fprintf(stderr, "kpulse replay: --input FILE.csv is required\n");
		return EXIT_USAGE;
	}

	in = strcmp(input, "-") ? fopen(input, "re") : stdin;
	if (!in) {
		fprintf(stderr, "kpulse replay: %s: %s\n", input, strerror(errno));
		return 1;
	}
	r = csv_read_series(in, input, CSV_ROWS_DEFAULT, &t, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (!r)
		r = check_order(t, input, err, sizeof(err));
	if (r) {
		fprintf(stderr, "kpulse replay: %s\n", err);
		csv_series_free(t);
		return 1;
	}

	if (output && strcmp(output, "-")) {
		int fd;

		if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", output) >= (int)sizeof(tmp)) {
			fprintf(stderr, "kpulse replay: %s: path too long\n", output);
			goto cleanup;
		}
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			fprintf(stderr, "kpulse replay: %s: cannot create: %s\n", tmp,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			tmp[0] = '\0';
			out = stdout;
			goto cleanup;
		}
	}
	r = write_rows(out, t, kind, explain);
	if (out != stdout) {
		if (fclose(out) && !r)
			r = -errno;
		out = stdout;
		if (!r && rename(tmp, output))
			r = -errno;
	} else if (fflush(stdout) && !r) {
		r = -errno;
	}
	if (r) {
		fprintf(stderr, "kpulse replay: %s: %s\n", output ? output : "standard output",
			strerror(-r));
		goto cleanup;
	}
	tmp[0] = '\0';
	status = 0;
cleanup:
	if (tmp[0])
		unlink(tmp);
	csv_series_free(t);
	return status;
}
