/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_api.c - unit tests for the parts of the REST API that need no
 * socket: strict JSON bodies, query numbers, series selectors, custom
 * metric names, the rate limiter and the login throttle, route matching
 * and route flags, the OpenAPI document covering every route, the query
 * cache, and how a published round is shared. tests/api/ drives the real
 * server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "test.h"

static int parse(const char *body, size_t len, char *err, size_t errlen)
{
	json_t *root = NULL;
	int r = api_json_parse(body, len, API_JSON_MAX_DEPTH, &root, err, errlen);

	json_decref(root);
	return r;
}

static int parse_str(const char *body)
{
	char err[256];

	return parse(body, strlen(body), err, sizeof(err));
}

/* ------------------------------------------------------------ JSON bodies */

TEST(json_accepts_a_plain_object)
{
	json_t *root = NULL;
	char err[256];

	CHECK_EQ_INT(api_json_parse("{\"a\":[1,2.5,\"x\"]}", 17, 16, &root, err, sizeof(err)), 0);
	CHECK(json_is_object(root));
	json_decref(root);
}

TEST(json_rejects_duplicate_keys)
{
	CHECK_EQ_INT(parse_str("{\"a\":1,\"a\":2}"), -EINVAL);
}

TEST(json_rejects_nesting_past_the_limit)
{
	char deep[64], err[256];
	size_t n = 0;

	for (int i = 0; i < 17; i++)
		deep[n++] = '[';
	for (int i = 0; i < 17; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	/* The top level must be an object anyway; wrap the arrays. */
	CHECK_EQ_INT(parse_str("{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}"), 0); /* depth 16 */
	CHECK_EQ_INT(parse_str("{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}"), -EINVAL);
	CHECK_EQ_INT(parse(deep, n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "nested deeper") != NULL);
	/* Brackets inside strings do not count. */
	CHECK_EQ_INT(parse_str("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[\"}"), 0);
}

TEST(json_rejects_nul_bytes_raw_and_escaped)
{
	char err[256];

	CHECK_EQ_INT(parse("{\"a\":\"x\0y\"}", 11, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "NUL") != NULL);
	CHECK_EQ_INT(parse_str("{\"a\":\"x\\u0000y\"}"), -EINVAL);
}

TEST(json_rejects_non_finite_and_huge_numbers)
{
	CHECK_EQ_INT(parse_str("{\"a\":NaN}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":Infinity}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":-Infinity}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":1e999}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":99999999999999999999999}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":9223372036854775807}"), 0);
}

TEST(json_rejects_invalid_utf8_trailing_data_and_non_objects)
{
	CHECK_EQ_INT(parse_str("{\"a\":\"\xff\xfe\"}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":\"\xc3\"}"), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":1} x"), -EINVAL);
	CHECK_EQ_INT(parse_str("[1]"), -EINVAL);
	CHECK_EQ_INT(parse_str("\"x\""), -EINVAL);
	CHECK_EQ_INT(parse_str(""), -EINVAL);
	CHECK_EQ_INT(parse_str("{\"a\":\"\xc3\xa9\"}"), 0);
}

TEST(json_only_fields_names_the_unknown_one)
{
	static const char *const allowed[] = {"name", "value", NULL};
	json_t *o = json_pack("{s:i,s:i}", "name", 1, "valeu", 2);
	char err[256];
	int r;

	CHECK(o);
	r = api_json_only_fields(o, allowed, err, sizeof(err));
	json_decref(o);
	CHECK_EQ_INT(r, -EINVAL);
	CHECK_STR(err, "unknown field \"valeu\"");
}

/* ------------------------------------------------------------ query strings */

TEST(numbers_are_finite_decimals_only)
{
	double v = 0;

	CHECK_EQ_INT(api_parse_number("1700000000.5", &v), 0);
	CHECK_NEAR(v, 1700000000.5, 0);
	CHECK_EQ_INT(api_parse_number("-3", &v), 0);
	CHECK_NEAR(v, -3, 0);
	CHECK_EQ_INT(api_parse_number("inf", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number("nan", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number("1e999", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number(" 1", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number("0x10", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number("1s", &v), -EINVAL);
	CHECK_EQ_INT(api_parse_number("", &v), -EINVAL);
}

TEST(selector_parses_name_and_escaped_matchers)
{
	struct store_selector sel;
	char buf[256];

	CHECK_EQ_INT(api_selector_parse("kpulse_x_total", buf, sizeof(buf), &sel), 0);
	CHECK_STR(sel.name, "kpulse_x_total");
	CHECK_EQ_INT(sel.nmatchers, 0);
	CHECK_EQ_INT(api_selector_parse("m{a=\"1\", b=\"q\\\"x\\\\\"}", buf, sizeof(buf), &sel), 0);
	CHECK_STR(sel.name, "m");
	CHECK_EQ_INT(sel.nmatchers, 2);
	CHECK_STR(sel.matchers[0].key, "a");
	CHECK_STR(sel.matchers[0].value, "1");
	CHECK_STR(sel.matchers[1].key, "b");
	CHECK_STR(sel.matchers[1].value, "q\"x\\");
	CHECK_EQ_INT(api_selector_parse("m{}", buf, sizeof(buf), &sel), 0);
}

TEST(selector_refuses_malformed_text)
{
	static const char *const bad[] = {
	    "",
	    "1abc",
	    "m{",
	    "m{a=1}",
	    "m{a=\"1\"",
	    "m{a=\"1\"}x",
	    "m{a=\"1\",a=\"2\"}",
	    "m{1a=\"x\"}",
	    "m x",
	    "m{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\"}",
	    "m{a=\"\\q\"}",
	};
	struct store_selector sel;
	char buf[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(api_selector_parse(bad[i], buf, sizeof(buf), &sel), -EINVAL);
	CHECK_EQ_INT(api_selector_parse("abc", buf, 3, &sel), -EINVAL);
}

TEST(custom_names_stay_out_of_kpulse_and_histogram_suffixes)
{
	CHECK(api_custom_name_valid("app_jobs_total"));
	CHECK(api_custom_name_valid("_x"));
	CHECK(!api_custom_name_valid("kpulse_fake_total"));
	CHECK(!api_custom_name_valid("app_latency_bucket"));
	CHECK(!api_custom_name_valid("app_latency_sum"));
	CHECK(!api_custom_name_valid("app_latency_count"));
	CHECK(!api_custom_name_valid("9lives"));
	CHECK(!api_custom_name_valid("a-b"));
	CHECK(!api_custom_name_valid("a:b"));
	CHECK(!api_custom_name_valid(""));
	CHECK(api_label_key_valid("queue"));
	CHECK(!api_label_key_valid("__name__"));
	CHECK(!api_label_key_valid("a b"));
	CHECK(!api_label_key_valid("0a"));
}

/* ------------------------------------------------------------ rate limits */

TEST(rate_limiter_allows_a_burst_then_refills)
{
	struct api_rate_limiter *l = calloc(1, sizeof(*l));
	double retry = 0;
	int refused = 0;

	CHECK(l);
	CHECK_EQ_INT(api_rate_init(l, 5), 0);
	/* A burst of 2 s worth: 10 requests at once, the 11th waits. */
	for (int i = 0; i < 10; i++)
		refused += api_rate_take(l, "tok:1", 100.0, &retry) < 0;
	CHECK_EQ_INT(refused, 0);
	CHECK_EQ_INT(api_rate_take(l, "tok:1", 100.0, &retry), -EAGAIN);
	CHECK_NEAR(retry, 1, 0);
	/* Another client is not affected. */
	CHECK_EQ_INT(api_rate_take(l, "tok:2", 100.0, &retry), 0);
	/* 0.2 s later one token is back. */
	CHECK_EQ_INT(api_rate_take(l, "tok:1", 100.2, &retry), 0);
	CHECK_EQ_INT(api_rate_take(l, "tok:1", 100.2, &retry), -EAGAIN);
	api_rate_destroy(l);
	free(l);
}

TEST(rate_limiter_memory_is_bounded_under_many_keys)
{
	struct api_rate_limiter *l = calloc(1, sizeof(*l));
	char key[32];
	double retry;

	CHECK(l);
	CHECK_EQ_INT(api_rate_init(l, 1), 0);
	for (int i = 0; i < 3 * API_RATE_SLOTS; i++) {
		snprintf(key, sizeof(key), "ip:%d", i);
		CHECK_EQ_INT(api_rate_take(l, key, 1.0 + i * 1e-6, &retry), 0);
	}
	api_rate_destroy(l);
	free(l);
}

/* Each login costs a PBKDF2, so an address gets ten at once and then one
 * a second, whatever the general limit; on a fake clock, so the test does
 * not depend on how fast anything runs. */
TEST(login_throttle_allows_ten_then_one_a_second)
{
	struct api_rate_limiter *l = calloc(1, sizeof(*l));
	double retry = 0;
	int passed = 0;

	CHECK(l);
	CHECK_EQ_INT(api_login_limiter_init(l), 0);
	for (int i = 0; i < 40; i++)
		passed += api_rate_take(l, "ip:127.0.0.1", 50.0, &retry) == 0;
	CHECK_EQ_INT(passed, 10);
	CHECK_NEAR(retry, 1, 0);
	/* half a second gives nothing back, a whole second one attempt */
	CHECK_EQ_INT(api_rate_take(l, "ip:127.0.0.1", 50.5, &retry), -EAGAIN);
	CHECK_EQ_INT(api_rate_take(l, "ip:127.0.0.1", 51.0, &retry), 0);
	CHECK_EQ_INT(api_rate_take(l, "ip:127.0.0.1", 51.0, &retry), -EAGAIN);
	/* ten seconds refill the whole burst, and no more */
	passed = 0;
	for (int i = 0; i < 40; i++)
		passed += api_rate_take(l, "ip:127.0.0.1", 100.0, &retry) == 0;
	CHECK_EQ_INT(passed, 10);
	/* another address has its own bucket */
	CHECK_EQ_INT(api_rate_take(l, "ip:127.0.0.2", 100.0, &retry), 0);
	api_rate_destroy(l);
	free(l);
}

/* ------------------------------------------------------------ routes */

TEST(routes_match_literal_paths_and_parameters)
{
	struct api_request req = {0};

	CHECK(api_route_match("/api/v1/status", "/api/v1/status", &req));
	CHECK(!api_route_match("/api/v1/status", "/api/v1/status/", &req));
	CHECK(!api_route_match("/api/v1/status", "/api/v1/statu", &req));
	CHECK(api_route_match("/api/v1/auth/tokens/{id}", "/api/v1/auth/tokens/42", &req));
	CHECK_EQ_INT(req.nparams, 1);
	CHECK_STR(req.params[0], "42");
	CHECK(!api_route_match("/api/v1/auth/tokens/{id}", "/api/v1/auth/tokens/", &req));
	CHECK(!api_route_match("/api/v1/auth/tokens/{id}", "/api/v1/auth/tokens/4/2", &req));
}

TEST(every_route_is_in_the_openapi_document_with_its_role)
{
	json_t *doc = api_openapi_build("test");
	int missing = 0;

	CHECK(doc);
	CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct api_route *r = &api_routes[i];
		json_t *item = json_object_get(json_object_get(doc, "paths"), r->pattern);
		char method[8] = "";
		json_t *op;

		for (size_t k = 0; r->method[k] && k < 7; k++)
			method[k] = (char)(r->method[k] | 0x20);
		op = json_object_get(item, method);
		if (!op || !json_string_value(json_object_get(op, "summary")) ||
		    (r->min_role > AUTH_ROLE_NONE) != (json_object_get(op, "security") != NULL))
			missing++;
	}
	json_decref(doc);
	CHECK_EQ_INT(missing, 0);
}

TEST(read_routes_need_viewer_and_admin_routes_need_admin)
{
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct api_route *r = &api_routes[i];

		if (!strncmp(r->pattern, "/api/v1/users", 13) ||
		    !strncmp(r->pattern, "/api/v1/auth/tokens", 19) ||
		    !strcmp(r->pattern, "/api/v1/audit"))
			CHECK_EQ_INT(r->min_role, AUTH_ROLE_ADMIN);
		else if (!strncmp(r->pattern, "/api/v1/", 8) &&
			 strcmp(r->pattern, "/api/v1/auth/login") && !strcmp(r->method, "GET"))
			CHECK_EQ_INT(r->min_role, AUTH_ROLE_VIEWER);
	}
}

TEST(only_flagged_routes_follow_metrics_auth)
{
	struct api_options open, closed;
	int flagged = 0;

	api_options_default(&open);
	api_options_default(&closed);
	closed.metrics_auth = true;
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct api_route *r = &api_routes[i];

		CHECK_EQ_INT(api_route_min_role(r, &open), r->min_role);
		if (r->flags & API_ROUTE_METRICS_AUTH) {
			flagged++;
			CHECK_STR(r->pattern, "/metrics");
			CHECK_EQ_INT(r->min_role, AUTH_ROLE_NONE);
			CHECK_EQ_INT(api_route_min_role(r, &closed), AUTH_ROLE_VIEWER);
		} else {
			CHECK_EQ_INT(api_route_min_role(r, &closed), r->min_role);
		}
	}
	CHECK_EQ_INT(flagged, 1);
}

TEST(loopback_detection)
{
	CHECK(api_host_is_loopback("127.0.0.1"));
	CHECK(api_host_is_loopback("127.1.2.3"));
	CHECK(api_host_is_loopback("::1"));
	CHECK(api_host_is_loopback("localhost"));
	CHECK(!api_host_is_loopback("0.0.0.0"));
	CHECK(!api_host_is_loopback("::"));
	CHECK(!api_host_is_loopback("10.0.0.1"));
	CHECK(!api_host_is_loopback("example.com"));
}

TEST(api_start_refuses_open_metrics_on_a_public_address)
{
	struct api_options o;
	struct api *a = NULL;
	char err[256] = "";

	api_options_default(&o);
	o.listen_host = "0.0.0.0";
	/* The check comes before the store is used, so a dummy pointer is safe. */
	CHECK_EQ_INT(api_start(&o, (struct store *)&o, NULL, &a, err, sizeof(err)), -EPERM);
	CHECK(a == NULL);
	CHECK(strstr(err, "KPULSE_ALLOW_REMOTE_UNAUTHENTICATED") != NULL);
}

/* ------------------------------------------------------------ query cache */

TEST(query_cache_serves_until_the_store_commits_or_a_second_passes)
{
	struct api_query_cache *c = calloc(1, sizeof(*c));
	char *body;
	size_t len = 0;

	CHECK(c);
	CHECK_EQ_INT(api_query_cache_init(c), 0);
	CHECK(api_query_cache_get(c, 7, 10.0, "q1", &len) == NULL);
	api_query_cache_put(c, 7, 10.0, "q1", "{\"a\":1}", 7);
	body = api_query_cache_get(c, 7, 10.9, "q1", &len);
	CHECK(body != NULL);
	CHECK_EQ_INT(len, 7);
	CHECK_STR(body, "{\"a\":1}");
	free(body);
	/* a commit (the flush count moved), a second later, another query,
	 * a clock that stepped back: all miss */
	CHECK(api_query_cache_get(c, 8, 10.5, "q1", &len) == NULL);
	CHECK(api_query_cache_get(c, 7, 11.0, "q1", &len) == NULL);
	CHECK(api_query_cache_get(c, 7, 10.5, "q2", &len) == NULL);
	CHECK(api_query_cache_get(c, 7, 9.0, "q1", &len) == NULL);
	api_query_cache_destroy(c);
	free(c);
}

TEST(query_cache_keeps_only_small_bodies_and_keys)
{
	struct api_query_cache *c = calloc(1, sizeof(*c));
	char *big = malloc(96 * 1024 + 2), key[API_QCACHE_KEY_MAX + 1];
	size_t len = 0;

	CHECK(c && big);
	CHECK_EQ_INT(api_query_cache_init(c), 0);
	memset(big, 'x', 96 * 1024 + 1);
	big[96 * 1024 + 1] = '\0';
	api_query_cache_put(c, 1, 5.0, "big", big, 96 * 1024 + 1);
	CHECK(api_query_cache_get(c, 1, 5.0, "big", &len) == NULL);
	memset(key, 'k', API_QCACHE_KEY_MAX);
	key[API_QCACHE_KEY_MAX] = '\0';
	api_query_cache_put(c, 1, 5.0, key, "{}", 2);
	CHECK(api_query_cache_get(c, 1, 5.0, key, &len) == NULL);
	free(big);
	api_query_cache_destroy(c);
	free(c);
}

/* ------------------------------------------------------------ publishing */

static struct round *test_round(uint64_t seq, double value)
{
	struct registry *r = registry_new();
	struct round *round = NULL;

	if (!r)
		return NULL;
	registry_begin(r, 1700000000.0 + (double)seq, 1.0);
	if (registry_set_gauge(r, "test_value", NULL, 0, value) == 0) {
		registry_end(r);
		round = round_freeze(r, NULL, seq);
	}
	registry_free(r);
	return round;
}

/* The API keeps a reference to the round, not a copy, and lets go of it
 * when the next round replaces it; a reader's reference keeps a replaced
 * round alive. No server is started: only the state publishing uses. */
TEST(published_round_is_shared_and_released_when_replaced)
{
	struct api *a = calloc(1, sizeof(*a));
	struct round *r1 = test_round(1, 1.0), *r2 = test_round(2, 2.0), *got;

	CHECK(a && r1 && r2);
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->stream_lock, NULL);
	CHECK(api_round_get(a) == NULL);
	CHECK_EQ_INT(api_on_round(a, NULL), -EINVAL);
	CHECK_EQ_INT(api_on_round(NULL, r1), -EINVAL);

	CHECK_EQ_INT(api_on_round(a, r1), 0);
	CHECK_EQ_INT(atomic_load(&r1->refs), 2); /* ours and the API's */
	got = api_round_get(a);
	CHECK(got == r1);
	CHECK_EQ_INT(atomic_load(&r1->refs), 3);
	CHECK_EQ_INT(a->rounds, 1);

	/* a reader still holds r1 when r2 replaces it */
	CHECK_EQ_INT(api_on_round(a, r2), 0);
	CHECK_EQ_INT(atomic_load(&r1->refs), 2);
	CHECK_EQ_INT(atomic_load(&r2->refs), 2);
	CHECK_NEAR(registry_find(got->reg, "test_value", NULL, 0)->value, 1.0, 0);
	api_round_put(got);
	CHECK_EQ_INT(atomic_load(&r1->refs), 1);
	got = api_round_get(a);
	CHECK(got == r2);
	api_round_put(got);
	CHECK_EQ_INT(a->rounds, 2);

	round_unref(r1);
	round_unref(r2);
	round_unref(a->round);
	pthread_mutex_destroy(&a->stream_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

TEST_MAIN()
