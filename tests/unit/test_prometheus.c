/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_prometheus.c - unit tests for export/prometheus: HELP and TYPE lines,
 * label escaping, value formatting, and histograms as cumulative buckets
 * ending in +Inf with _sum and _count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/prometheus.h"
#include "registry/registry.h"
#include "test.h"

static char *render(const struct registry *r)
{
	const struct registry *regs[2] = {r, NULL};
	char *text = NULL;
	size_t len = 0;

	if (prometheus_render(regs, 2, "default help", &text, &len) < 0)
		return NULL;
	if (strlen(text) != len) {
		free(text);
		return NULL;
	}
	return text;
}

TEST(counter_gets_help_type_and_escaped_labels)
{
	struct registry *r = registry_new();
	struct metric_label l[] = {{"path", "a\"b\\c"}};
	char *text;
	int ok;

	CHECK(r);
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_counter(r, "app_requests_total", l, 1, 7), 0);
	CHECK_EQ_INT(registry_describe(r, "app_requests_total", "Requests\nserved \\ all"), 0);
	registry_end(r);
	text = render(r);
	registry_free(r);
	CHECK(text);
	ok = strcmp(text, "# HELP app_requests_total Requests\\nserved \\\\ all\n"
			  "# TYPE app_requests_total counter\n"
			  "app_requests_total{path=\"a\\\"b\\\\c\"} 7\n") == 0;
	if (!ok)
		fprintf(stderr, "  got:\n%s", text);
	free(text);
	CHECK(ok);
}

TEST(family_without_help_gets_the_default_and_one_header)
{
	struct registry *r = registry_new();
	struct metric_label a = {"cpu", "0"}, b = {"cpu", "1"};
	char *text;
	int ok;

	CHECK(r);
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_gauge(r, "x_load", &a, 1, 0.5), 0);
	CHECK_EQ_INT(registry_set_gauge(r, "x_load", &b, 1, NAN), 0);
	registry_end(r);
	text = render(r);
	registry_free(r);
	CHECK(text);
	ok = strcmp(text, "# HELP x_load default help\n# TYPE x_load gauge\n"
			  "x_load{cpu=\"0\"} 0.5\nx_load{cpu=\"1\"} NaN\n") == 0;
	if (!ok)
		fprintf(stderr, "  got:\n%s", text);
	free(text);
	CHECK(ok);
}

TEST(histogram_buckets_are_cumulative_and_end_in_inf)
{
	struct registry *r = registry_new();
	struct metric_label l = {"device", "vda"};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {0};
	char *text;
	int ok;

	CHECK(r);
	slots[0] = 1; /* [0, 2) */
	slots[2] = 3; /* [4, 8) */
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_histogram(r, "io_seconds", &l, 1, slots, 4, 20, 0.5), 0);
	registry_end(r);
	text = render(r);
	registry_free(r);
	CHECK(text);
	ok = strcmp(text, "# HELP io_seconds default help\n# TYPE io_seconds histogram\n"
			  "io_seconds_bucket{device=\"vda\",le=\"1\"} 1\n"
			  "io_seconds_bucket{device=\"vda\",le=\"2\"} 1\n"
			  "io_seconds_bucket{device=\"vda\",le=\"4\"} 4\n"
			  "io_seconds_bucket{device=\"vda\",le=\"+Inf\"} 4\n"
			  "io_seconds_sum{device=\"vda\"} 10\n"
			  "io_seconds_count{device=\"vda\"} 4\n") == 0;
	if (!ok)
		fprintf(stderr, "  got:\n%s", text);
	free(text);
	CHECK(ok);
}

TEST(values_are_formatted_to_read_back_exactly)
{
	char buf[32];

	CHECK_STR(prometheus_format_value(0, buf), "0");
	CHECK_STR(prometheus_format_value(12345678901234, buf), "12345678901234");
	CHECK_STR(prometheus_format_value(1.5e-9, buf), "1.5e-09");
	CHECK_STR(prometheus_format_value(INFINITY, buf), "+Inf");
	CHECK_STR(prometheus_format_value(-INFINITY, buf), "-Inf");
	CHECK_STR(prometheus_format_value(NAN, buf), "NaN");
	CHECK(strtod(prometheus_format_value(0.1 + 0.2, buf), NULL) == 0.1 + 0.2);
}

TEST(empty_and_null_registries_render_nothing)
{
	struct registry *r = registry_new();
	char *text;

	CHECK(r);
	text = render(r);
	registry_free(r);
	CHECK(text);
	CHECK_STR(text, "");
	free(text);
}

TEST_MAIN()
