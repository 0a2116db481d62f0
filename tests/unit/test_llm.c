// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for llm/llm.c, the router, against tests/fakes/fake_llm.py on
 * 127.0.0.1: provider order and fallback, every call ending within its
 * timeout, bounded retries honouring Retry-After, the circuit breaker
 * opening and closing, cache hits on repeat, all providers failing, no
 * key in any output, concurrency limits and cancellation. Time bounds are
 * generous: they check that a wait happened or that a bound held, never
 * how fast the machine is. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_proc.h"
#include "llm/llm.h"
#include "test.h"
#include "util/clock.h"
#include "util/redact.h"

#define GROQ_KEY   "gsk_TESTKEY_9f8e7d6c5b4a3210zyxw"
#define OPENAI_KEY "sk-proj-TESTKEY-0123456789abcdefABCDEF"
#define HF_KEY	   "hf_TESTKEYabcdefghijklmnopqrstuv"

static const char *const fake_args[] = {"--key", "groq=" GROQ_KEY, "--key", "openai=" OPENAI_KEY,
					"--key", "hf=" HF_KEY,	   NULL};

/* A provider of name served by the fake under path (a base URL). */
static void add(struct llm_options *o, const struct fake *f, const char *name, const char *path,
		const char *model, const char *key)
{
	struct llm_provider_options *p = &o->providers[o->nproviders++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d%s", f->port, path);
	snprintf(p->model, sizeof(p->model), "%s", model);
	snprintf(p->key, sizeof(p->key), "%s", key ? key : "");
}

static void add_groq(struct llm_options *o, const struct fake *f)
{
	add(o, f, "groq", "/groq/openai/v1", "llama-3.3-70b-versatile", GROQ_KEY);
}

static void add_ollama(struct llm_options *o, const struct fake *f)
{
	add(o, f, "ollama", "/ollama", "llama3.2", NULL);
}

static void add_hf(struct llm_options *o, const struct fake *f)
{
	add(o, f, "huggingface", "/hf/v1", "meta-llama/Llama-3.1-8B-Instruct", HF_KEY);
}

/* Options for quick tests: short timeout and backoff. */
static void quick(struct llm_options *o)
{
	llm_options_default(o);
	o->timeout_s = 5;
	o->backoff_s = 0.05;
}

static const struct llm_request request = {
    .evidence_json = "{\"incident\": 7, \"series\": \"kpulse_sched_runqueue_latency_seconds\"}",
    .builtin_reading = "Run-queue latency rose on CPU 3.",
    .question = "What should I check first?",
};

static int new_router(const struct llm_options *o, struct llm_router **r)
{
	char err[256];
	int e = llm_router_new(o, r, err, sizeof(err));

	if (e)
		fprintf(stderr, "  llm_router_new: %s\n", err);
	return e;
}

/* ------------------------------------------------------------ order */

TEST(the_first_provider_answers_with_its_provenance)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};
	json_t *rec, *req;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	quick(&o);
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(a.text && strstr(a.text, "a fake cause from groq") != NULL);
	CHECK_STR(a.provider, "groq");
	CHECK_STR(a.model, "llama-3.3-70b-versatile");
	CHECK(a.prompt_tokens > 0 && a.completion_tokens > 0);
	CHECK(!a.cached && !a.all_failed && !a.truncated);
	CHECK_EQ_INT(a.nfailures, 0);
	CHECK(a.latency_s > 0 && a.latency_s < 5);
	CHECK(a.evidence_tokens > 0 && !a.evidence_trimmed);
	CHECK_EQ_INT(fake_requests(&f, "ollama"), 0);

	/* what went on the wire: the key as a Bearer token, the prompt */
	rec = fake_received(&f);
	req = json_array_get(rec, 0);
	CHECK_STR(json_string_value(json_object_get(req, "path")),
		  "/groq/openai/v1/chat/completions");
	CHECK_STR(
	    json_string_value(json_object_get(json_object_get(req, "headers"), "authorization")),
	    "Bearer " GROQ_KEY);
	CHECK(strstr(json_string_value(json_object_get(req, "raw")),
		     "Run-queue latency rose on CPU 3.") != NULL);
	json_decref(rec);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(each_protocol_gets_an_answer_from_its_endpoint)
{
	static const struct {
		const char *name, *path, *model, *key, *target, *reported;
	} cases[] = {
	    {"groq", "/groq/openai/v1", "llama-3.3-70b-versatile", GROQ_KEY, "groq",
	     "llama-3.3-70b-versatile"},
	    {"openai", "/openai/v1/", "gpt-4o-mini", OPENAI_KEY, "openai",
	     "gpt-4o-mini-2024-07-18"},
	    {"ollama", "/ollama", "llama3.2", NULL, "ollama", "llama3.2"},
	    {"huggingface", "/hf/v1", "meta-llama/Llama-3.1-8B-Instruct:fastest", HF_KEY, "hf",
	     "meta-llama/Llama-3.1-8B-Instruct:fastest"},
	    {"compat", "/compat/v1", "qwen2.5", NULL, "compat", "qwen2.5"},
	};
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_router *r = NULL;
		struct llm_answer a = {};
		struct llm_options o;
		char want[64];
		json_t *rec, *hdrs;

		quick(&o);
		add(&o, &f, cases[i].name, cases[i].path, cases[i].model, cases[i].key);
		CHECK_EQ_INT(new_router(&o, &r), 0);
		CHECK_EQ_INT(fake_reset(&f), 0);
		CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
		if (!a.text)
			fprintf(stderr, "  %s: %s\n", cases[i].name, a.failures[0].reason);
		snprintf(want, sizeof(want), "a fake cause from %s", cases[i].target);
		CHECK(a.text && strstr(a.text, want));
		CHECK_STR(a.provider, cases[i].name);
		CHECK_STR(a.model, cases[i].reported);
		CHECK(a.prompt_tokens > 0);
		rec = fake_received(&f);
		hdrs = json_object_get(json_array_get(rec, 0), "headers");
		/* no key, no Authorization header at all */
		CHECK((json_object_get(hdrs, "authorization") != NULL) == (cases[i].key != NULL));
		CHECK_STR(json_string_value(json_object_get(hdrs, "content-type")),
			  "application/json");
		json_decref(rec);
		llm_answer_clear(&a);
		llm_router_free(r);
	}
	fake_stop(&f);
}

TEST(a_failing_provider_falls_through_to_the_next_with_its_reason)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error500\"}"), 0);
	quick(&o);
	add_groq(&o, &f);
	add_hf(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_STR(a.provider, "huggingface");
	CHECK_EQ_INT(a.nfailures, 1);
	CHECK_STR(a.failures[0].provider, "groq");
	CHECK_STR(a.failures[0].reason, "HTTP 500: The server had an error while processing your "
					"request. Sorry about that! (server_error) (3 tries)");
	/* bounded: one try and two retries, no more */
	CHECK_EQ_INT(fake_requests(&f, "groq"), 3);
	CHECK_EQ_INT(fake_requests(&f, "ollama"), 0);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(retries_wait_for_retry_after_then_succeed)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};
	double t0, dt;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error429\","
				      "\"retry_after\":\"1\",\"count\":2}"),
		     0);
	quick(&o);
	o.timeout_s = 20;
	add_groq(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	t0 = clock_mono_s();
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	dt = clock_mono_s() - t0;
	CHECK_STR(a.provider, "groq");
	CHECK_EQ_INT(fake_requests(&f, "groq"), 3);
	/* two waits of the server's second, not the 0.05 s backoff */
	CHECK(dt >= 1.9 && dt < 15);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(a_retry_after_beyond_the_timeout_is_not_waited_for)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};
	double t0, dt;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error429\","
				      "\"retry_after\":\"120\"}"),
		     0);
	quick(&o);
	o.timeout_s = 3;
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	t0 = clock_mono_s();
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	dt = clock_mono_s() - t0;
	CHECK_STR(a.provider, "ollama");
	CHECK_EQ_INT(fake_requests(&f, "groq"), 1);
	CHECK(strstr(a.failures[0].reason, "HTTP 429: Rate limit reached for requests") ==
	      a.failures[0].reason);
	CHECK(strstr(a.failures[0].reason, "no retry: waiting 120.0 s would pass the 3 s timeout"));
	CHECK(dt < 3);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(a_provider_that_never_answers_ends_within_its_timeout)
{
	static const char *const modes[] = {"hang", "slow"};
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	for (size_t i = 0; i < 2; i++) {
		struct llm_router *r = NULL;
		struct llm_answer a = {};
		struct llm_options o;
		char spec[128];
		double t0, dt;

		snprintf(spec, sizeof(spec), "{\"target\":\"groq\",\"mode\":\"%s\",\"delay\":30}",
			 modes[i]);
		CHECK_EQ_INT(fake_control(&f, spec), 0);
		quick(&o);
		o.timeout_s = 2;
		add_groq(&o, &f);
		add_ollama(&o, &f);
		CHECK_EQ_INT(new_router(&o, &r), 0);
		t0 = clock_mono_s();
		CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
		dt = clock_mono_s() - t0;
		CHECK_STR(a.provider, "ollama");
		CHECK(strstr(a.failures[0].reason, "timed out after"));
		/* the whole ask: groq's 2 s, then ollama's answer */
		CHECK(dt >= 1.9 && dt < 10);
		llm_answer_clear(&a);
		llm_router_free(r);
	}
	fake_stop(&f);
}

TEST(bad_answers_fall_through_without_retries_and_all_failing_keeps_the_builtin)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"malformed\"}"), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"hf\",\"mode\":\"notjson\"}"), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"wrongshape\"}"), 0);
	quick(&o);
	add_groq(&o, &f);
	add_hf(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(a.all_failed);
	CHECK(a.text == NULL);
	CHECK_EQ_INT(a.nfailures, 3);
	CHECK_STR(a.failures[0].provider, "groq");
	CHECK(strstr(a.failures[0].reason, "malformed answer: not JSON") == a.failures[0].reason);
	CHECK_STR(a.failures[1].provider, "huggingface");
	CHECK(strstr(a.failures[1].reason, "malformed answer: not JSON") == a.failures[1].reason);
	CHECK_STR(a.failures[2].provider, "ollama");
	CHECK_STR(a.failures[2].reason, "malformed answer: no message.content");
	/* another try would read the same: none was made */
	CHECK_EQ_INT(fake_requests(&f, "groq"), 1);
	CHECK_EQ_INT(fake_requests(&f, "hf"), 1);
	CHECK_EQ_INT(fake_requests(&f, "ollama"), 1);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(an_answer_with_control_characters_is_cleaned_and_a_huge_one_refused)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"control\",\"count\":1}"), 0);
	quick(&o);
	add_groq(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_STR(a.text, "Cause:\\x1b[2J\\x1b[31m red\\x07 bell\nEvidence:\tok");
	llm_answer_clear(&a);

	/* bigger than LLM_RESPONSE_MAX: refused, nothing kept */
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"huge\",\"size\":2000000}"),
		     0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(a.all_failed);
	CHECK(strstr(a.failures[0].reason, "answer longer than 1048576 bytes"));
	llm_answer_clear(&a);

	/* bigger than LLM_ANSWER_MAX only: kept, cut, marked */
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"huge\",\"size\":100000}"),
		     0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_EQ_INT(strlen(a.text), LLM_ANSWER_MAX);
	CHECK(a.truncated);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

/* ------------------------------------------------------------ breaker */

static enum llm_breaker_state breaker_of(struct llm_router *r, size_t i)
{
	struct llm_provider_status s;

	llm_router_provider_status(r, i, &s);
	return s.breaker;
}

TEST(the_breaker_opens_skips_then_a_probe_closes_it)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_provider_status s;
	struct llm_options o;
	struct fake f = {};
	json_t *st;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error500\"}"), 0);
	quick(&o);
	o.retries = 0;
	o.breaker_failures = 2;
	o.breaker_cooldown_s = 1;
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
		CHECK_STR(a.provider, "ollama");
		llm_answer_clear(&a);
	}
	CHECK_EQ_INT(fake_requests(&f, "groq"), 2);
	CHECK_EQ_INT(breaker_of(r, 0), LLM_BREAKER_OPEN);
	st = llm_router_status_json(r);
	CHECK_STR(json_string_value(json_object_get(
		      json_array_get(json_object_get(st, "providers"), 0), "breaker")),
		  "open");
	json_decref(st);

	/* open: skipped, not called */
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_STR(a.provider, "ollama");
	CHECK(strstr(a.failures[0].reason, "skipped: circuit breaker open for another") ==
	      a.failures[0].reason);
	CHECK_EQ_INT(fake_requests(&f, "groq"), 2);
	llm_answer_clear(&a);

	/* after the cooldown one ask probes it; it answers: closed */
	clock_sleep_s(1.2);
	CHECK_EQ_INT(breaker_of(r, 0), LLM_BREAKER_HALF_OPEN);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"ok\"}"), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_STR(a.provider, "groq");
	CHECK_EQ_INT(breaker_of(r, 0), LLM_BREAKER_CLOSED);
	llm_answer_clear(&a);
	CHECK_EQ_INT(llm_router_provider_status(r, 0, &s), 0);
	CHECK_EQ_INT(s.consecutive_failures, 0);
	CHECK_EQ_INT(s.calls, 3);
	CHECK_EQ_INT(s.failures, 2);
	CHECK_EQ_INT(s.answers, 1);
	CHECK_EQ_INT(s.skipped, 1);
	CHECK(strstr(s.last_error, "HTTP 500") == s.last_error);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(a_failed_probe_opens_the_breaker_again)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct fake f = {};

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error500\"}"), 0);
	quick(&o);
	o.retries = 0;
	o.breaker_failures = 1;
	o.breaker_cooldown_s = 1;
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	llm_answer_clear(&a);
	CHECK_EQ_INT(breaker_of(r, 0), LLM_BREAKER_OPEN);
	clock_sleep_s(1.2);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0); /* the probe, which fails */
	CHECK_STR(a.provider, "ollama");
	llm_answer_clear(&a);
	CHECK_EQ_INT(fake_requests(&f, "groq"), 2);
	CHECK_EQ_INT(breaker_of(r, 0), LLM_BREAKER_OPEN);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_EQ_INT(fake_requests(&f, "groq"), 2);
	llm_answer_clear(&a);
	llm_router_free(r);
	fake_stop(&f);
}

/* ------------------------------------------------------------ cache */

struct cache_fixture {
	char dir[64], path[128];
	struct store *s;
	double now;
};

static double fixed_clock(void *ctx)
{
	return ((struct cache_fixture *)ctx)->now;
}

static int cache_open(struct cache_fixture *c)
{
	struct store_options so;
	char err[256];

	snprintf(c->dir, sizeof(c->dir), "/tmp/kpulse-llm-XXXXXX");
	if (!mkdtemp(c->dir))
		return -errno;
	snprintf(c->path, sizeof(c->path), "%s/kpulse.db", c->dir);
	store_options_default(&so);
	so.maintenance_interval_s = 0;
	c->now = 1.7e9;
	return store_open(c->path, &so, &c->s, err, sizeof(err));
}

static void cache_close(struct cache_fixture *c)
{
	char p[192];

	c->s = store_close(c->s);
	snprintf(p, sizeof(p), "%s-wal", c->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", c->path);
	unlink(p);
	unlink(c->path);
	rmdir(c->dir);
}

/* True when the file at path holds needle anywhere. */
static bool file_holds(const char *path, const char *needle)
{
	static char buf[1 << 22];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
}

TEST(a_repeat_is_answered_from_the_cache_until_it_expires)
{
	struct cache_fixture c = {};
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_request other = request;
	struct llm_options o;
	struct fake f = {};
	char wal[160];

	CHECK_EQ_INT(cache_open(&c), 0);
	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	quick(&o);
	o.cache = c.s;
	o.cache_ttl_s = 600;
	o.clock = fixed_clock;
	o.clock_ctx = &c;
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(!a.cached);
	llm_answer_clear(&a);

	/* the same prompt again: from the cache, marked, with its provenance */
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(a.cached);
	CHECK_STR(a.provider, "groq");
	CHECK_STR(a.model, "llama-3.3-70b-versatile");
	CHECK(strstr(a.text, "a fake cause from groq") != NULL);
	CHECK(a.prompt_tokens > 0);
	CHECK_EQ_INT(fake_requests(&f, "groq"), 1);
	llm_answer_clear(&a);

	/* even with groq down now: the cached answer stands */
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error500\"}"), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(a.cached);
	llm_answer_clear(&a);

	/* another question is another prompt: not cached; groq (down, three
	 * tries) then ollama */
	other.question = "And then?";
	CHECK_EQ_INT(llm_ask(r, &other, &a), 0);
	CHECK(!a.cached);
	CHECK_STR(a.provider, "ollama");
	CHECK_EQ_INT(fake_requests(&f, "groq"), 4);
	llm_answer_clear(&a);

	/* past the TTL: asked again */
	c.now += 601;
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"ok\"}"), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK(!a.cached);
	CHECK_STR(a.provider, "groq");
	CHECK_EQ_INT(fake_requests(&f, "groq"), 5);
	llm_answer_clear(&a);

	/* the database holds prompts and answers, never a key */
	CHECK(file_holds(c.path, "Run-queue latency rose") ||
	      file_holds((snprintf(wal, sizeof(wal), "%s-wal", c.path), wal),
			 "Run-queue latency rose"));
	snprintf(wal, sizeof(wal), "%s-wal", c.path);
	CHECK(!file_holds(c.path, GROQ_KEY) && !file_holds(wal, GROQ_KEY));
	CHECK(!file_holds(c.path, "TESTKEY") && !file_holds(wal, "TESTKEY"));
	llm_router_free(r);
	fake_stop(&f);
	cache_close(&c);
}

/* ------------------------------------------------------------ keys */

TEST(no_key_appears_in_reasons_status_answers_or_metrics)
{
	static const char *const keys[] = {GROQ_KEY, OPENAI_KEY, HF_KEY};
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct registry *reg = registry_new();
	struct fake f = {};
	char *dump;
	json_t *st;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	/* a careless server quotes the Authorization header back */
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"echo_key\"}"), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"openai\",\"mode\":\"ok\",\"answer\":"
				      "\"Your key is " OPENAI_KEY " and hf is " HF_KEY "\"}"),
		     0);
	quick(&o);
	add_groq(&o, &f);
	add(&o, &f, "openai", "/openai/v1", "gpt-4o-mini", OPENAI_KEY);
	add_hf(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	CHECK_STR(a.provider, "openai");
	/* the reason keeps the server's words, not the key */
	CHECK(strstr(a.failures[0].reason, "HTTP 401: Incorrect API key provided: Bearer "
					   "[redacted]"));
	CHECK(!redact_found(a.failures[0].reason, keys, 3));
	CHECK_STR(a.text, "Your key is [redacted] and hf is [redacted]");

	st = llm_router_status_json(r);
	dump = json_dumps(st, 0);
	CHECK(dump && !redact_found(dump, keys, 3));
	CHECK(strstr(dump, "\"has_key\": true") != NULL);
	free(dump);
	json_decref(st);
	registry_begin(reg, 1.7e9, 1);
	CHECK_EQ_INT(llm_router_fill_registry(r, reg), 0);
	registry_end(reg);
	st = registry_to_json(reg);
	dump = json_dumps(st, 0);
	CHECK(dump && !redact_found(dump, keys, 3));
	free(dump);
	json_decref(st);
	llm_answer_clear(&a);
	llm_router_free(r);
	registry_free(reg);
	fake_stop(&f);
}

TEST(bad_provider_settings_are_refused_naming_the_setting_not_the_key)
{
	static const struct {
		const char *name, *url, *model, *key, *msg;
	} bad[] = {
	    {"groq", "http://10.1.2.3/openai/v1", "m", GROQ_KEY,
	     "KPULSE_LLM_GROQ_KEY: refusing to send a key over plain http to http://10.1.2.3; "
	     "use https or a loopback address"},
	    {"huggingface", "https://router.huggingface.co/v1", "gpt-4o", HF_KEY,
	     "KPULSE_LLM_HUGGINGFACE_MODEL: \"gpt-4o\" is not a Hugging Face model id"},
	    {"compat", "", "m", "", "KPULSE_LLM_COMPAT_URL: provider compat needs a URL"},
	    {"compat", "http://127.0.0.1:8000/v1", "", "",
	     "KPULSE_LLM_COMPAT_MODEL: \"\" no model"},
	    {"ollama", "ftp://127.0.0.1/", "llama3.2", "",
	     "KPULSE_LLM_OLLAMA_URL: not an http:// or https:// base URL"},
	    {"openai", "https://api.openai.com/v1?x=1", "gpt-4o-mini", "",
	     "KPULSE_LLM_OPENAI_URL: not an http:// or https:// base URL without query"},
	    {"anthropic", "https://api.anthropic.com/v1", "claude", "",
	     "unknown LLM provider \"anthropic\""},
	};
	struct llm_router *r = NULL;
	struct llm_options o;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		llm_options_default(&o);
		o.nproviders = 1;
		snprintf(o.providers[0].name, LLM_NAME_MAX, "%s", bad[i].name);
		snprintf(o.providers[0].url, CONFIG_URL_MAX, "%s", bad[i].url);
		snprintf(o.providers[0].model, LLM_MODEL_MAX, "%s", bad[i].model);
		snprintf(o.providers[0].key, CONFIG_SECRET_MAX, "%s", bad[i].key);
		CHECK_EQ_INT(llm_router_new(&o, &r, err, sizeof(err)), -EINVAL);
		CHECK(r == NULL);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, err);
			CHECK(0);
		}
		CHECK(strstr(err, "TESTKEY") == NULL);
	}
	/* a key over https, or plain http to this machine, is fine; twice is not */
	llm_options_default(&o);
	o.nproviders = 2;
	snprintf(o.providers[0].name, LLM_NAME_MAX, "groq");
	snprintf(o.providers[0].url, CONFIG_URL_MAX, "https://api.groq.com/openai/v1");
	snprintf(o.providers[0].model, LLM_MODEL_MAX, "m");
	snprintf(o.providers[0].key, CONFIG_SECRET_MAX, GROQ_KEY);
	o.providers[1] = o.providers[0];
	snprintf(o.providers[1].url, CONFIG_URL_MAX, "http://[::1]:8080/v1");
	CHECK_EQ_INT(llm_router_new(&o, &r, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "LLM provider groq is listed twice");
	snprintf(o.providers[1].name, LLM_NAME_MAX, "compat");
	CHECK_EQ_INT(llm_router_new(&o, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(llm_router_provider_count(r), 2);
	r = llm_router_free(r);
}

/* ------------------------------------------------------------ threads */

struct asker {
	struct llm_router *r;
	int err;
	struct llm_answer a;
};

static void *ask_thread(void *arg)
{
	struct asker *k = arg;

	k->err = llm_ask(k->r, &request, &k->a);
	return NULL;
}

TEST(concurrent_asks_are_limited_and_cancel_ends_them)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct asker k = {};
	struct fake f = {};
	pthread_t t;
	double t0;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"hang\"}"), 0);
	quick(&o);
	o.timeout_s = 60;
	o.max_concurrent = 1;
	add_groq(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	k.r = r;
	pthread_create(&t, NULL, ask_thread, &k);
	/* wait until the first ask is in flight */
	for (int i = 0; i < 200 && fake_requests(&f, "groq") < 1; i++)
		clock_sleep_s(0.05);
	CHECK_EQ_INT(llm_ask(r, &request, &a), -EBUSY);
	t0 = clock_mono_s();
	llm_router_cancel(r);
	pthread_join(t, NULL);
	CHECK_EQ_INT(k.err, -ECANCELED);
	CHECK(clock_mono_s() - t0 < 10);
	CHECK_EQ_INT(llm_ask(r, &request, &a), -ECANCELED);
	llm_router_free(r);
	fake_stop(&f);
}

TEST(asks_from_many_threads_are_all_answered)
{
	struct llm_router *r = NULL;
	struct llm_options o;
	struct asker k[4] = {};
	struct fake f = {};
	pthread_t t[4];
	json_t *st;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	quick(&o);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	for (int i = 0; i < 4; i++) {
		k[i].r = r;
		pthread_create(&t[i], NULL, ask_thread, &k[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(k[i].err, 0);
		CHECK_STR(k[i].a.provider, "ollama");
		llm_answer_clear(&k[i].a);
	}
	st = llm_router_status_json(r);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(st, "asks"), "answered")),
		     4);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "in_flight")), 0);
	json_decref(st);
	llm_router_free(r);
	fake_stop(&f);
}

/* ------------------------------------------------------------ the rest */

TEST(no_provider_and_bad_requests_are_refused_before_any_call)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_request bad = {.evidence_json = "{not json"};
	struct llm_options o;

	quick(&o);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_router_provider_count(r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), -ENODEV);
	llm_router_free(r);
	quick(&o);
	o.nproviders = 1;
	snprintf(o.providers[0].name, LLM_NAME_MAX, "ollama");
	snprintf(o.providers[0].url, CONFIG_URL_MAX, "http://127.0.0.1:9/");
	snprintf(o.providers[0].model, LLM_MODEL_MAX, "llama3.2");
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &bad, &a), -EINVAL);
	CHECK_EQ_INT(llm_ask(r, NULL, &a), -EINVAL);
	CHECK(a.text == NULL && !a.all_failed);
	llm_router_free(r);
}

TEST(options_follow_the_configuration_in_its_order)
{
	struct kpulse_config c;
	struct llm_options o;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_PROVIDERS", "ollama,groq", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_GROQ_KEY", GROQ_KEY, err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_TIMEOUT", "7", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_CACHE_TTL", "1h", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_OPENAI_KEY", OPENAI_KEY, err, sizeof(err)), 0);
	llm_options_from_config(&c, &o);
	/* a key of a provider not listed is still kept out of outputs */
	CHECK_EQ_INT(o.nother_keys, 1);
	CHECK_STR(o.other_keys[0], OPENAI_KEY);
	CHECK_EQ_INT(o.nproviders, 2);
	CHECK_STR(o.providers[0].name, "ollama");
	CHECK_STR(o.providers[0].url, "http://127.0.0.1:11434");
	CHECK_STR(o.providers[0].key, "");
	CHECK_STR(o.providers[1].name, "groq");
	CHECK_STR(o.providers[1].model, "llama-3.3-70b-versatile");
	CHECK_STR(o.providers[1].key, GROQ_KEY);
	CHECK_NEAR(o.timeout_s, 7, 0);
	CHECK_NEAR(o.cache_ttl_s, 3600, 0);
	CHECK_EQ_INT(o.retries, 2);
	CHECK_EQ_INT(o.breaker_failures, 3);
	CHECK(o.cache == NULL);
}

TEST(metrics_count_asks_calls_and_breakers)
{
	struct llm_router *r = NULL;
	struct llm_answer a = {};
	struct llm_options o;
	struct registry *reg = registry_new();
	struct fake f = {};
	struct metric_label groq = {"provider", "groq"}, answered = {"result", "answered"};
	const struct metric_series *m;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", fake_args), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"groq\",\"mode\":\"error500\"}"), 0);
	quick(&o);
	o.retries = 1;
	o.breaker_failures = 1;
	add_groq(&o, &f);
	add_ollama(&o, &f);
	CHECK_EQ_INT(new_router(&o, &r), 0);
	CHECK_EQ_INT(llm_ask(r, &request, &a), 0);
	llm_answer_clear(&a);
	CHECK_EQ_INT(llm_describe(reg), 0);
	registry_begin(reg, 1.7e9, 1);
	CHECK_EQ_INT(llm_router_fill_registry(r, reg), 0);
	registry_end(reg);
	m = registry_find(reg, "kpulse_llm_asks_total", &answered, 1);
	CHECK(m && m->value == 1);
	m = registry_find(reg, "kpulse_llm_calls_total", &groq, 1);
	CHECK(m && m->value == 1);
	m = registry_find(reg, "kpulse_llm_tries_total", &groq, 1);
	CHECK(m && m->value == 2);
	m = registry_find(reg, "kpulse_llm_call_failures_total", &groq, 1);
	CHECK(m && m->value == 1);
	m = registry_find(reg, "kpulse_llm_breaker_open", &groq, 1);
	CHECK(m && m->value == 1);
	CHECK(registry_help(reg, "kpulse_llm_breaker_open") != NULL);
	llm_router_free(r);
	registry_free(reg);
	fake_stop(&f);
}

TEST_MAIN()
