/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_registry.c - the metric registry: series identity, validation,
 * rounds, ordering, JSON and text output, copies and size limits.
 *
 * Each TEST owns a fixture and frees it after its check function returns,
 * so a failed CHECK (which returns early) leaks nothing.
 */
#include <errno.h>
#include <stdint.h>

#include "registry/registry.h"
#include "test.h"

#define NLABELS(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	struct registry *r;
	struct registry *copy;
	json_t *json;
	char *before; /* JSON snapshots */
	char *after;
	char *text; /* open_memstream buffer */
	size_t text_len;
	FILE *out;
};

static void fixture_free(struct fixture *fx)
{
	registry_free(fx->r);
	registry_free(fx->copy);
	json_decref(fx->json);
	free(fx->before);
	free(fx->after);
	if (fx->out)
		fclose(fx->out);
	free(fx->text);
}

/* Everything observable about the series, as one comparable string. */
static char *snapshot(const struct registry *r)
{
	json_t *j = registry_to_json(r);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

#define REGISTRY_TEST(name)                                                                        \
	static void check_##name(struct fixture *fx, int *failed);                                 \
	TEST(name)                                                                                 \
	{                                                                                          \
		struct fixture fx = {.r = registry_new()};                                         \
		if (fx.r)                                                                          \
			check_##name(&fx, failed);                                                 \
		else                                                                               \
			*failed = 1;                                                               \
		fixture_free(&fx);                                                                 \
	}                                                                                          \
	static void check_##name(struct fixture *fx, int *failed)

/* ---------------------------------------------------------------------------
 * Identity and updates
 */

REGISTRY_TEST(counter_is_created_then_updated)
{
	struct metric_label dev_sda[] = {{"device", "sda"}};
	const struct metric_series *s;

	CHECK_EQ_INT(registry_size(fx->r), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_io_total", dev_sda, 1, 5), 0);
	CHECK_EQ_INT(registry_size(fx->r), 1);
	s = registry_find(fx->r, "kp_io_total", dev_sda, 1);
	CHECK(s);
	CHECK_STR(s->name, "kp_io_total");
	CHECK_EQ_INT(s->type, METRIC_COUNTER);
	CHECK_NEAR(s->value, 5, 0);
	CHECK_STR(metric_series_label(s, "device"), "sda");
	CHECK(!metric_series_label(s, "op"));

	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_io_total", dev_sda, 1, 9), 0);
	CHECK_EQ_INT(registry_size(fx->r), 1);
	CHECK(registry_find(fx->r, "kp_io_total", dev_sda, 1) == s);
	CHECK_NEAR(s->value, 9, 0);
	CHECK(!registry_find(fx->r, "kp_io_total", NULL, 0));
	CHECK(!registry_find(fx->r, "kp_other_total", dev_sda, 1));
}

REGISTRY_TEST(labels_in_any_order_are_one_series)
{
	struct metric_label ab[] = {{"op", "read"}, {"device", "sda"}};
	struct metric_label ba[] = {{"device", "sda"}, {"op", "read"}};
	const struct metric_series *s;

	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_bytes_total", ab, 2, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_bytes_total", ba, 2, 2), 0);
	CHECK_EQ_INT(registry_size(fx->r), 1);
	s = registry_at(fx->r, 0);
	CHECK(s);
	CHECK_NEAR(s->value, 2, 0);
	CHECK_EQ_INT(s->nlabels, 2);
	/* stored sorted by key */
	CHECK_STR(s->label_keys[0], "device");
	CHECK_STR(s->label_values[0], "sda");
	CHECK_STR(s->label_keys[1], "op");
	CHECK_STR(s->label_values[1], "read");
	CHECK(registry_find(fx->r, "kp_bytes_total", ab, 2) == s);
	CHECK(registry_find(fx->r, "kp_bytes_total", ba, 2) == s);
}

static void repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

REGISTRY_TEST(label_value_is_truncated_on_a_utf8_boundary)
{
	char value[200], expect[200];
	struct metric_label l[] = {{"comm", value}};
	const struct metric_series *s;

	/* 62 + 2 bytes: the 2-byte e-acute does not fit in 63, and goes whole */
	repeat(value, 'x', 62);
	strcat(value, "\xc3\xa9");
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_a", l, 1, 1), 0);
	repeat(expect, 'x', 62);
	s = registry_find(fx->r, "kp_a", l, 1); /* found through the same truncation */
	CHECK(s);
	CHECK_STR(s->label_values[0], expect);

	/* 61 + 2 = 63 bytes fit exactly */
	repeat(value, 'x', 61);
	strcat(value, "\xc3\xa9");
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_b", l, 1, 1), 0);
	s = registry_find(fx->r, "kp_b", l, 1);
	CHECK(s);
	CHECK_STR(s->label_values[0], value);
	CHECK_EQ_INT(strlen(s->label_values[0]), 63);

	/* 61 + the 3-byte euro sign: cut before it */
	repeat(value, 'x', 61);
	strcat(value, "\xe2\x82\xac");
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_c", l, 1, 1), 0);
	repeat(expect, 'x', 61);
	CHECK_STR(registry_at(fx->r, 2)->label_values[0], expect);

	/* 60 + a 4-byte emoji: cut before it */
	repeat(value, 'x', 60);
	strcat(value, "\xf0\x9f\x98\x80");
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_d", l, 1, 1), 0);
	repeat(expect, 'x', 60);
	CHECK_STR(registry_at(fx->r, 3)->label_values[0], expect);

	/* plain ASCII keeps 63 bytes; a value differing only past them is the same series */
	repeat(value, 'y', 150);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_e", l, 1, 1), 0);
	value[100] = 'z';
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_e", l, 1, 2), 0);
	CHECK_EQ_INT(registry_size(fx->r), 5);
	repeat(expect, 'y', 63);
	CHECK_STR(registry_at(fx->r, 4)->label_values[0], expect);
	CHECK_NEAR(registry_at(fx->r, 4)->value, 2, 0);
}

REGISTRY_TEST(label_value_bad_bytes_are_escaped)
{
	/* The same rule as events (util/utf8.h): the raw bytes stay readable. */
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"a\xff"
	     "b",
	     "a\\xffb"},
	    {"tab\there\n", "tab\\x09here\\x0a"},
	    {"cut\xc3", "cut\\xc3"},			  /* sequence cut short by the NUL */
	    {"\xc0\xaf", "\\xc0\\xaf"},			  /* overlong '/' */
	    {"\xed\xa0\x80", "\\xed\\xa0\\x80"},	  /* UTF-16 surrogate */
	    {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
	    {"gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f"}, /* valid stays */
	};

	for (size_t i = 0; i < NLABELS(cases); i++) {
		struct metric_label l[] = {{"comm", cases[i].in}};
		const struct metric_series *s;

		registry_begin(fx->r, 1, 1);
		CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_g", l, 1, 1), 0);
		registry_end(fx->r);
		CHECK_EQ_INT(registry_size(fx->r), 1);
		s = registry_at(fx->r, 0);
		CHECK_STR(s->label_values[0], cases[i].out);
		/* and JSON output works with it */
		free(fx->after);
		fx->after = snapshot(fx->r);
		CHECK(fx->after);
	}
}

/* ---------------------------------------------------------------------------
 * Validation: every failure is -EINVAL and leaves the registry as it was
 */

#define CHECK_REJECTED(call)                                                                       \
	do {                                                                                       \
		CHECK_EQ_INT((call), -EINVAL);                                                     \
		free(fx->after);                                                                   \
		fx->after = snapshot(fx->r);                                                       \
		CHECK_STR(fx->after, fx->before);                                                  \
	} while (0)

REGISTRY_TEST(invalid_input_is_rejected_and_changes_nothing)
{
	struct metric_label ok[] = {{"device", "sda"}};
	struct metric_label five[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}};
	struct metric_label dup[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
	struct metric_label null_value[] = {{"a", NULL}};
	char long_name[REGISTRY_NAME_MAX + 1], long_key[REGISTRY_LABEL_KEY_MAX + 1];
	static const char *const bad_names[] = {"", "1abc", "a-b", "a b", "a.b", "\xc3\xa9"};
	static const char *const bad_keys[] = {"", "1k", "k-1", "k:x", "k y"};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {[1] = 1};

	registry_begin(fx->r, 10, 1);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_x_total", ok, 1, 7), 0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 3, 1e-9), 0);
	fx->before = snapshot(fx->r);
	CHECK(fx->before);

	CHECK_REJECTED(registry_set_counter(fx->r, NULL, NULL, 0, 1));
	for (size_t i = 0; i < NLABELS(bad_names); i++)
		CHECK_REJECTED(registry_set_counter(fx->r, bad_names[i], NULL, 0, 1));
	repeat(long_name, 'n', REGISTRY_NAME_MAX);
	CHECK_REJECTED(registry_set_gauge(fx->r, long_name, NULL, 0, 1));

	for (size_t i = 0; i < NLABELS(bad_keys); i++) {
		struct metric_label l[] = {{bad_keys[i], "v"}};

		CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", l, 1, 1));
	}
	{
		struct metric_label l[] = {{NULL, "v"}};

		CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", l, 1, 1));
	}
	repeat(long_key, 'k', REGISTRY_LABEL_KEY_MAX);
	{
		struct metric_label l[] = {{long_key, "v"}};

		CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", l, 1, 1));
	}
	CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", null_value, 1, 1));
	CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", NULL, 1, 1));
	CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", five, 5, 1));
	CHECK_REJECTED(registry_set_counter(fx->r, "kp_x_total", dup, 3, 1));

	/* a name keeps its type, whatever the labels */
	CHECK_REJECTED(registry_set_gauge(fx->r, "kp_x_total", ok, 1, 1));
	CHECK_REJECTED(registry_set_gauge(fx->r, "kp_x_total", NULL, 0, 1));
	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_x_total", ok, 1, slots, 1, 1, 1));
	CHECK_REJECTED(registry_set_counter(fx->r, "kp_h_seconds", NULL, 0, 1));

	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, NULL, 1, 1, 1));
	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 1, 0));
	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 1, -1));
	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 1, NAN));
	CHECK_REJECTED(
	    registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 1, INFINITY));
	/* 2^40 * 1e300 overflows: the top bound would not be a JSON number */
	CHECK_REJECTED(registry_set_histogram(fx->r, "kp_h_seconds", NULL, 0, slots, 1, 1, 1e300));

	CHECK_REJECTED(registry_describe(fx->r, "bad-name", "help"));
	CHECK_REJECTED(registry_describe(fx->r, "kp_x_total", NULL));

	/* a failed new name left no trace: it can still take any type */
	CHECK_REJECTED(registry_set_gauge(fx->r, "kp_new", five, 5, 1));
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_new", NULL, 0, 1), 0);
	CHECK(!registry_help(fx->r, "kp_new"));
}

REGISTRY_TEST(edge_names_and_keys_are_accepted)
{
	char name[REGISTRY_NAME_MAX], key[REGISTRY_LABEL_KEY_MAX];
	struct metric_label four[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};
	struct metric_label empty_value[] = {{"a", ""}};

	repeat(name, 'n', REGISTRY_NAME_MAX - 1);
	repeat(key, 'k', REGISTRY_LABEL_KEY_MAX - 1);
	{
		struct metric_label l[] = {{key, "v"}};

		CHECK_EQ_INT(registry_set_counter(fx->r, name, l, 1, 1), 0);
	}
	CHECK_EQ_INT(registry_set_counter(fx->r, ":kp:colon_9", NULL, 0, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "_kp", NULL, 0, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_four", four, 4, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_empty", empty_value, 1, 1), 0);
	CHECK_EQ_INT(registry_size(fx->r), 5);
}

/* ---------------------------------------------------------------------------
 * Rounds and order
 */

REGISTRY_TEST(round_drops_series_not_set)
{
	struct metric_label x1[] = {{"x", "1"}}, x2[] = {{"x", "2"}};

	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_early", NULL, 0, 1), 0);
	registry_begin(fx->r, 100, 10);
	CHECK_NEAR(registry_timestamp(fx->r), 100, 0);
	CHECK_NEAR(registry_interval(fx->r), 10, 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_c", NULL, 0, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a", x2, 1, 1), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a", x1, 1, 1), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_b", NULL, 0, 1), 0);
	registry_end(fx->r);
	/* kp_early was set before any round began */
	CHECK_EQ_INT(registry_size(fx->r), 4);
	CHECK(!registry_find(fx->r, "kp_early", NULL, 0));

	registry_begin(fx->r, 110, 10);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a", x1, 1, 2), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_c", NULL, 0, 3), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_c", NULL, 0, 4), 0); /* twice is fine */
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), 2);
	CHECK(!registry_find(fx->r, "kp_a", x2, 1));
	CHECK(!registry_find(fx->r, "kp_b", NULL, 0));
	CHECK_STR(registry_at(fx->r, 0)->name, "kp_a");
	CHECK_NEAR(registry_at(fx->r, 0)->value, 2, 0);
	CHECK_STR(registry_at(fx->r, 1)->name, "kp_c");
	CHECK_NEAR(registry_at(fx->r, 1)->value, 4, 0);
	CHECK(!registry_at(fx->r, 2));
	CHECK_NEAR(registry_timestamp(fx->r), 110, 0);

	/* once every series of a name is gone, the name may take another type */
	registry_begin(fx->r, 120, 10);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_b", NULL, 0, 1), 0);
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), 1);
	CHECK_EQ_INT(registry_at(fx->r, 0)->type, METRIC_COUNTER);

	registry_begin(fx->r, 130, 10);
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), 0);
	CHECK(!registry_at(fx->r, 0));
}

REGISTRY_TEST(order_is_name_then_natural_label_values)
{
	static const char *const cpus[] = {"10", "2", "1", "0", "11", "3"};
	static const char *const expect_cpus[] = {"0", "1", "2", "3", "10", "11"};
	struct metric_label user_1[] = {{"mode", "user"}, {"cpu", "1"}};
	struct metric_label sys_1[] = {{"mode", "sys"}, {"cpu", "1"}};
	struct metric_label dev_b[] = {{"device", "nvme10n1"}};
	struct metric_label dev_a[] = {{"device", "nvme2n1"}};

	for (size_t i = 0; i < NLABELS(cpus); i++) {
		struct metric_label l[] = {{"cpu", cpus[i]}};

		CHECK_EQ_INT(registry_set_counter(fx->r, "kp_busy_total", l, 1, (double)i), 0);
	}
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a_total", NULL, 0, 0), 0);
	/* a read between sets sorts; later additions must sort again */
	CHECK_STR(registry_at(fx->r, 0)->name, "kp_a_total");
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_mode_total", user_1, 2, 0), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_mode_total", sys_1, 2, 0), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_dev_total", dev_b, 1, 0), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_dev_total", dev_a, 1, 0), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_0_total", NULL, 0, 0), 0);
	CHECK_EQ_INT(registry_size(fx->r), 12);

	CHECK_STR(registry_at(fx->r, 0)->name, "kp_0_total");
	CHECK_STR(registry_at(fx->r, 1)->name, "kp_a_total");
	for (size_t i = 0; i < NLABELS(expect_cpus); i++) {
		const struct metric_series *s = registry_at(fx->r, 2 + i);

		CHECK_STR(s->name, "kp_busy_total");
		CHECK_STR(metric_series_label(s, "cpu"), expect_cpus[i]);
	}
	CHECK_STR(metric_series_label(registry_at(fx->r, 8), "device"), "nvme2n1");
	CHECK_STR(metric_series_label(registry_at(fx->r, 9), "device"), "nvme10n1");
	/* labels sort by key (cpu, mode), so cpu decides first, then mode */
	CHECK_STR(metric_series_label(registry_at(fx->r, 10), "mode"), "sys");
	CHECK_STR(metric_series_label(registry_at(fx->r, 11), "mode"), "user");
	CHECK(!registry_at(fx->r, 12));
}

/* ---------------------------------------------------------------------------
 * Output
 */

static json_t *metric_at(json_t *top, size_t i)
{
	return json_array_get(json_object_get(top, "metrics"), i);
}

static double number(json_t *j, const char *key)
{
	return json_number_value(json_object_get(j, key));
}

REGISTRY_TEST(json_has_the_documented_shape)
{
	struct metric_label read[] = {{"op", "read"}};
	struct metric_label sda[] = {{"device", "sda"}};
	/* in ns: 1 value in [0, 2), 2 in [8, 16) */
	uint64_t slots[REGISTRY_HIST_SLOTS] = {[0] = 1, [3] = 2};
	uint64_t empty[REGISTRY_HIST_SLOTS] = {0};
	static const double bounds[] = {2e-9, 4e-9, 8e-9, 16e-9};
	static const int cumulative[] = {1, 1, 1, 3};
	json_t *m, *labels, *buckets;
	json_error_t error;

	registry_begin(fx->r, 1700000000.5, 2.0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_x_total", read, 1, 42), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_g", NULL, 0, NAN), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_inf", NULL, 0, -INFINITY), 0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_lat_seconds", sda, 1, slots, 3, 30, 1e-9),
		     0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_empty_seconds", NULL, 0, empty, 0, 0, 1e-9),
		     0);
	registry_end(fx->r);

	/* through text and back: the dump must be valid JSON */
	fx->before = snapshot(fx->r);
	CHECK(fx->before);
	fx->json = json_loads(fx->before, 0, &error);
	CHECK(fx->json);
	CHECK_EQ_INT(json_object_size(fx->json), 3);
	CHECK_NEAR(number(fx->json, "timestamp"), 1700000000.5, 0);
	CHECK_NEAR(number(fx->json, "interval_s"), 2.0, 0);
	CHECK_EQ_INT(json_array_size(json_object_get(fx->json, "metrics")), 5);

	m = metric_at(fx->json, 0);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "kp_empty_seconds");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "histogram");
	CHECK_EQ_INT(json_object_size(json_object_get(m, "labels")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(m, "count")), 0);
	CHECK(json_is_array(json_object_get(m, "buckets")));
	CHECK_EQ_INT(json_array_size(json_object_get(m, "buckets")), 0);

	m = metric_at(fx->json, 1);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "kp_g");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "gauge");
	CHECK_EQ_INT(json_object_size(m), 4);
	CHECK(json_is_null(json_object_get(m, "value")));		       /* NaN */
	CHECK(json_is_null(json_object_get(metric_at(fx->json, 2), "value"))); /* -inf */

	m = metric_at(fx->json, 3);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "kp_lat_seconds");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "histogram");
	CHECK_EQ_INT(json_object_size(m), 6); /* name labels type count sum buckets */
	CHECK_EQ_INT(json_object_size(json_object_get(m, "labels")), 1);
	labels = json_object_get(m, "labels");
	CHECK_STR(json_string_value(json_object_get(labels, "device")), "sda");
	CHECK(json_is_integer(json_object_get(m, "count")));
	CHECK_EQ_INT(json_integer_value(json_object_get(m, "count")), 3);
	CHECK_NEAR(number(m, "sum"), 30e-9, 1e-20);
	CHECK(!json_object_get(m, "value"));
	buckets = json_object_get(m, "buckets");
	CHECK_EQ_INT(json_array_size(buckets), 4); /* slots 0..3, the highest non-empty */
	for (size_t i = 0; i < 4; i++) {
		json_t *b = json_array_get(buckets, i);

		CHECK_EQ_INT(json_array_size(b), 2);
		CHECK_NEAR(json_number_value(json_array_get(b, 0)), bounds[i], 1e-21);
		CHECK(json_is_integer(json_array_get(b, 1)));
		CHECK_EQ_INT(json_integer_value(json_array_get(b, 1)), cumulative[i]);
	}

	m = metric_at(fx->json, 4);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "kp_x_total");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "counter");
	CHECK_EQ_INT(json_object_size(m), 4); /* name labels type value */
	CHECK_STR(json_string_value(json_object_get(json_object_get(m, "labels"), "op")), "read");
	CHECK_NEAR(number(m, "value"), 42, 0);
}

REGISTRY_TEST(json_of_an_empty_registry)
{
	fx->json = registry_to_json(fx->r);
	CHECK(fx->json);
	CHECK(json_is_array(json_object_get(fx->json, "metrics")));
	CHECK_EQ_INT(json_array_size(json_object_get(fx->json, "metrics")), 0);
	CHECK_NEAR(number(fx->json, "timestamp"), 0, 0);
}

static int capture_text(struct fixture *fx)
{
	int err;

	fx->out = open_memstream(&fx->text, &fx->text_len);
	if (!fx->out)
		return -errno;
	err = registry_write_text(fx->r, fx->out);
	fclose(fx->out);
	fx->out = NULL;
	return err;
}

REGISTRY_TEST(text_is_an_aligned_table)
{
	struct metric_label sda[] = {{"dev", "sda"}}, sdb[] = {{"dev", "sdb"}};
	/* 4 values in [8, 16) ns, summing to 48 ns */
	uint64_t slots[REGISTRY_HIST_SLOTS] = {[3] = 4};
	uint64_t empty[REGISTRY_HIST_SLOTS] = {0};
	/* the widest key is kp_b_bytes{dev="sda"}, 21 characters */
	const char *expect = "# kp_a_total: Things counted.\n"
			     "kp_a_total            5\n"
			     "kp_b_bytes{dev=\"sda\"} 1.5\n"
			     "kp_b_bytes{dev=\"sdb\"} -\n"
			     "kp_c_seconds          count=4 mean=1.2e-08 p50=1.2e-08 p99=1.6e-08\n"
			     "kp_d_seconds          count=0 mean=- p50=- p99=-\n"
			     "kp_e                  12345678901\n";

	CHECK_EQ_INT(registry_describe(fx->r, "kp_a_total", "Things counted."), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_e", NULL, 0, 12345678901.0), 0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_d_seconds", NULL, 0, empty, 0, 0, 1e-9), 0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_c_seconds", NULL, 0, slots, 4, 48, 1e-9), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_b_bytes", sdb, 1, NAN), 0);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_b_bytes", sda, 1, 1.5), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a_total", NULL, 0, 5), 0);
	CHECK_EQ_INT(capture_text(fx), 0);
	CHECK_STR(fx->text, expect);
}

REGISTRY_TEST(text_of_an_empty_registry_is_empty)
{
	CHECK_EQ_INT(capture_text(fx), 0);
	CHECK_STR(fx->text, "");
	CHECK_EQ_INT(registry_write_text(fx->r, NULL), -EINVAL);
}

REGISTRY_TEST(help_is_kept_per_name)
{
	CHECK(!registry_help(fx->r, "kp_a_total"));
	CHECK_EQ_INT(registry_describe(fx->r, "kp_a_total", "First."), 0);
	CHECK_STR(registry_help(fx->r, "kp_a_total"), "First.");
	CHECK_EQ_INT(registry_describe(fx->r, "kp_a_total", "Second."), 0);
	CHECK_STR(registry_help(fx->r, "kp_a_total"), "Second.");
	CHECK(!registry_help(fx->r, "kp_b_total"));
	CHECK(!registry_help(fx->r, "bad-name"));
	/* describing is not a series */
	CHECK_EQ_INT(registry_size(fx->r), 0);

	/* help outlives the series of its name, and does not pin their type */
	registry_begin(fx->r, 1, 1);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_a_total", NULL, 0, 1), 0);
	registry_end(fx->r);
	registry_begin(fx->r, 2, 1);
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), 0);
	CHECK_STR(registry_help(fx->r, "kp_a_total"), "Second.");
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_a_total", NULL, 0, 1), 0);
	CHECK_STR(registry_help(fx->r, "kp_a_total"), "Second.");
}

/* ---------------------------------------------------------------------------
 * Copies and scale
 */

REGISTRY_TEST(copy_is_deep_and_independent)
{
	struct metric_label sda[] = {{"device", "sda"}};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {[2] = 3};
	const struct metric_series *s;

	registry_begin(fx->r, 50, 5);
	CHECK_EQ_INT(registry_describe(fx->r, "kp_io_total", "I/Os."), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_io_total", sda, 1, 10), 0);
	CHECK_EQ_INT(registry_set_histogram(fx->r, "kp_lat_seconds", sda, 1, slots, 3, 20, 1e-9),
		     0);
	/* added out of order and never read: the copy must still come out sorted */
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_a", NULL, 0, 1), 0);

	fx->copy = registry_copy(fx->r);
	CHECK(fx->copy);
	CHECK_STR(registry_at(fx->copy, 0)->name, "kp_a");
	fx->before = snapshot(fx->r);
	fx->after = snapshot(fx->copy);
	CHECK_STR(fx->after, fx->before);
	CHECK_NEAR(registry_timestamp(fx->copy), 50, 0);
	CHECK_NEAR(registry_interval(fx->copy), 5, 0);
	CHECK_STR(registry_help(fx->copy, "kp_io_total"), "I/Os.");
	CHECK(registry_help(fx->copy, "kp_io_total") != registry_help(fx->r, "kp_io_total"));
	s = registry_find(fx->copy, "kp_lat_seconds", sda, 1);
	CHECK(s && s != registry_find(fx->r, "kp_lat_seconds", sda, 1));
	CHECK_EQ_INT(s->slots[2], 3);

	/* change the original every way there is; the copy must not move */
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_io_total", sda, 1, 11), 0);
	CHECK_EQ_INT(registry_set_counter(fx->r, "kp_new_total", NULL, 0, 1), 0);
	CHECK_EQ_INT(registry_describe(fx->r, "kp_io_total", "Changed."), 0);
	registry_begin(fx->r, 60, 5);
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), 0);
	free(fx->after);
	fx->after = snapshot(fx->copy);
	CHECK_STR(fx->after, fx->before);
	CHECK_STR(registry_help(fx->copy, "kp_io_total"), "I/Os.");

	/* the copy works as a registry of its own, with the original's rounds */
	CHECK_EQ_INT(registry_set_counter(fx->copy, "kp_io_total", sda, 1, 12), 0);
	CHECK_NEAR(registry_find(fx->copy, "kp_io_total", sda, 1)->value, 12, 0);
	CHECK(!registry_find(fx->r, "kp_io_total", sda, 1));
	CHECK_EQ_INT(registry_set_gauge(fx->copy, "kp_io_total", NULL, 0, 1), -EINVAL);
	registry_end(fx->copy); /* still in the round of time 50: nothing drops */
	CHECK_EQ_INT(registry_size(fx->copy), 3);
}

/*
 * Series that go make room for new ones of either type (a counter's node is
 * smaller than a histogram's): each new series starts from zero, whatever
 * the node it gets held before, and metric_series_copy() gives a whole
 * struct (zero slots for a counter or a gauge) while reading only the
 * node's own bytes, which `make sanitize` checks: a read past the last node
 * of a copy, or past the newest node of a live registry, is an ASan error.
 */
/* Where the copies go: a global, so the compiler keeps every store. */
struct metric_series registry_test_whole;

REGISTRY_TEST(dropped_series_make_room_for_new_ones_of_any_type)
{
	char id[16];
	struct metric_label l[] = {{"id", id}};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {0};
	struct metric_series *whole = &registry_test_whole;
	const struct metric_series *s;

	for (int round = 0; round < 4; round++) {
		registry_begin(fx->r, round, 1);
		/* each round: 100 ids, half of them new, counters and
		 * histograms trading places from one round to the next */
		for (int i = round * 50; i < round * 50 + 100; i++) {
			snprintf(id, sizeof(id), "%d", i);
			slots[i % REGISTRY_HIST_SLOTS] = (uint64_t)i + 1;
			CHECK_EQ_INT((i + round) % 2
					 ? registry_set_counter(fx->r, "kp_c_total", l, 1, i)
					 : registry_set_histogram(fx->r, "kp_h_seconds", l, 1,
								  slots, (uint64_t)i + 1, i, 1e-9),
				     0);
			slots[i % REGISTRY_HIST_SLOTS] = 0;
		}
		/* sorts last: a copy's last node is a cut one */
		CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_z_bytes", NULL, 0, round), 0);
		registry_end(fx->r);
		CHECK_EQ_INT(registry_size(fx->r), 101);
	}
	/* the last round's series: ids 150 to 199 changed type, so all are new */
	for (int i = 150; i < 250; i++) {
		snprintf(id, sizeof(id), "%d", i);
		if ((i + 3) % 2) {
			s = registry_find(fx->r, "kp_c_total", l, 1);
			CHECK(s && s->type == METRIC_COUNTER && s->value == i && !s->hist_count);
		} else {
			s = registry_find(fx->r, "kp_h_seconds", l, 1);
			CHECK(s && s->type == METRIC_HISTOGRAM && s->hist_count == (uint64_t)i + 1);
			for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
				CHECK_EQ_INT(s->slots[k], k == i % REGISTRY_HIST_SLOTS ? i + 1 : 0);
		}
	}
	/* sorted first, so that the copy lays its nodes out in sorted order */
	fx->before = snapshot(fx->r);
	fx->copy = registry_copy(fx->r);
	CHECK(fx->copy);
	fx->after = snapshot(fx->copy);
	CHECK_STR(fx->after, fx->before);
	CHECK_STR(registry_at(fx->copy, 100)->name, "kp_z_bytes");
	for (size_t i = 0; i < registry_size(fx->copy); i++) {
		s = registry_at(fx->copy, i);
		memset(whole, 0xa5, sizeof(*whole));
		metric_series_copy(whole, s);
		CHECK_STR(whole->name, s->name);
		CHECK_EQ_INT(whole->type, s->type);
		CHECK_NEAR(whole->value, s->value, 0);
		CHECK_EQ_INT(whole->hist_count, s->hist_count);
		for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
			CHECK_EQ_INT(whole->slots[k],
				     s->type == METRIC_HISTOGRAM ? s->slots[k] : 0);
	}
	for (size_t i = 0; i < registry_size(fx->r); i++) {
		metric_series_copy(whole, registry_at(fx->r, i));
		CHECK_EQ_INT(whole->nlabels, strcmp(whole->name, "kp_z_bytes") ? 1 : 0);
	}
	/* a lone gauge in a new registry: the slab's uncarved rest after it */
	fx->copy = registry_free(fx->copy);
	fx->copy = registry_new();
	CHECK(fx->copy);
	registry_begin(fx->copy, 5, 1);
	CHECK_EQ_INT(registry_set_gauge(fx->copy, "kp_lone_bytes", NULL, 0, 7), 0);
	metric_series_copy(whole, registry_find(fx->copy, "kp_lone_bytes", NULL, 0));
	CHECK_STR(whole->name, "kp_lone_bytes");
	CHECK_NEAR(whole->value, 7, 0);
	CHECK_EQ_INT(whole->slots[REGISTRY_HIST_SLOTS - 1], 0);
}

#define MANY	   5000
#define MANY_NAMES 50

REGISTRY_TEST(five_thousand_series)
{
	char name[64], id[16];
	struct metric_label l[] = {{"id", id}};

	registry_begin(fx->r, 1, 1);
	/* descending, so that the sort has work to do */
	for (int i = MANY - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "kp_many_%d_total", i % MANY_NAMES);
		snprintf(id, sizeof(id), "%d", i);
		CHECK_EQ_INT(registry_set_counter(fx->r, name, l, 1, i), 0);
	}
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), MANY);
	for (int i = 0; i < MANY; i++) {
		const struct metric_series *s;

		snprintf(name, sizeof(name), "kp_many_%d_total", i % MANY_NAMES);
		snprintf(id, sizeof(id), "%d", i);
		s = registry_find(fx->r, name, l, 1);
		CHECK(s);
		CHECK_NEAR(s->value, i, 0);
	}
	for (size_t i = 1; i < MANY; i++) {
		const struct metric_series *a = registry_at(fx->r, i - 1);
		const struct metric_series *b = registry_at(fx->r, i);
		int c = strcmp(a->name, b->name);

		CHECK(c < 0 || (c == 0 && atoi(a->label_values[0]) < atoi(b->label_values[0])));
	}

	/* a round that keeps the even ids */
	registry_begin(fx->r, 2, 1);
	for (int i = 0; i < MANY; i += 2) {
		snprintf(name, sizeof(name), "kp_many_%d_total", i % MANY_NAMES);
		snprintf(id, sizeof(id), "%d", i);
		CHECK_EQ_INT(registry_set_counter(fx->r, name, l, 1, i + 1), 0);
	}
	registry_end(fx->r);
	CHECK_EQ_INT(registry_size(fx->r), MANY / 2);
	for (int i = 0; i < MANY; i++) {
		const struct metric_series *s;

		snprintf(name, sizeof(name), "kp_many_%d_total", i % MANY_NAMES);
		snprintf(id, sizeof(id), "%d", i);
		s = registry_find(fx->r, name, l, 1);
		if (i % 2) {
			CHECK(!s);
		} else {
			CHECK(s);
			CHECK_NEAR(s->value, i + 1, 0);
		}
	}
}

REGISTRY_TEST(series_count_is_bounded)
{
	char id[16];
	struct metric_label l[] = {{"id", id}};

	for (int i = 0; i < REGISTRY_MAX_SERIES; i++) {
		snprintf(id, sizeof(id), "%d", i);
		CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_g", l, 1, i), 0);
	}
	snprintf(id, sizeof(id), "%d", REGISTRY_MAX_SERIES);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_g", l, 1, 0), -ENOSPC);
	CHECK_EQ_INT(registry_size(fx->r), REGISTRY_MAX_SERIES);
	CHECK(!registry_find(fx->r, "kp_g", l, 1));
	/* existing series still update */
	snprintf(id, sizeof(id), "%d", 7);
	CHECK_EQ_INT(registry_set_gauge(fx->r, "kp_g", l, 1, -1), 0);
	CHECK_NEAR(registry_find(fx->r, "kp_g", l, 1)->value, -1, 0);
}

TEST(null_arguments_are_harmless)
{
	struct metric_label l[] = {{"a", "b"}};

	CHECK(registry_free(NULL) == NULL);
	CHECK_EQ_INT(registry_size(NULL), 0);
	CHECK(!registry_at(NULL, 0));
	CHECK(!registry_find(NULL, "kp", l, 1));
	CHECK(!registry_help(NULL, "kp"));
	CHECK(!registry_copy(NULL));
	CHECK(!registry_to_json(NULL));
	CHECK(!metric_series_label(NULL, "a"));
	CHECK_EQ_INT(registry_set_counter(NULL, "kp", NULL, 0, 1), -EINVAL);
	CHECK_EQ_INT(registry_set_gauge(NULL, "kp", NULL, 0, 1), -EINVAL);
	CHECK_EQ_INT(registry_set_histogram(NULL, "kp", NULL, 0, NULL, 0, 0, 1), -EINVAL);
	CHECK_EQ_INT(registry_describe(NULL, "kp", "h"), -EINVAL);
	CHECK_EQ_INT(registry_write_text(NULL, stdout), -EINVAL);
	registry_begin(NULL, 1, 1);
	registry_end(NULL);
}

TEST_MAIN()
