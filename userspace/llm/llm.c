// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * llm.c - the router: providers in order, each behind a circuit breaker,
 * calls with a total timeout and bounded retries, the answer cache in the
 * store, and the state for /api/v1/status and /metrics. The contract is
 * at the top of llm.h.
 *
 * Locking: r->lock guards every provider's breaker and counters and the
 * router's counters; it is never held across an HTTP call or the cache.
 * Waits between tries sleep on r->cond, so llm_router_cancel() wakes them.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "llm/llm_provider.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/http.h"
#include "util/redact.h"

/* Below this, a try is not worth starting. */
#define MIN_TRY_S 0.05

struct provider {
	struct llm_provider_options o; /* the key lives here: wiped at free */
	const struct llm_protocol *proto;
	char endpoint[CONFIG_URL_MAX + 32];
	char origin[HTTP_ORIGIN_MAX];
	char auth[CONFIG_SECRET_MAX + 32]; /* "Authorization: Bearer KEY" or "" */
	/* --- under lock --- */
	enum llm_breaker_state state;
	double open_until; /* monotonic */
	bool probing;	   /* half-open: a probe is in flight */
	uint64_t consecutive, calls, failures, tries, answers, cache_hits, skipped;
	double last_latency_s, last_success_ts, last_failure_ts;
	char last_error[LLM_REASON_MAX];
};

struct llm_router {
	struct llm_options o;
	struct provider p[LLM_MAX_PROVIDERS];
	size_t n;
	const char *secrets[2 * LLM_MAX_PROVIDERS]; /* the keys in p[] and o.other_keys */
	size_t nsecrets;
	atomic_bool cancel;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: waits between tries */
	/* --- under lock --- */
	unsigned in_flight;
	uint64_t answered, cached, all_failed, rejected, cache_errors;
};

/* ------------------------------------------------------------ options */

void llm_options_default(struct llm_options *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_s = 30;
	o->retries = 2;
	o->token_budget = 3000;
	o->max_tokens = 1024;
	o->cache_ttl_s = 86400;
	o->breaker_failures = 3;
	o->breaker_cooldown_s = 60;
	o->max_concurrent = 4;
	o->backoff_s = 0.5;
}

void llm_options_from_config(const struct kpulse_config *c, struct llm_options *o)
{
	const char *p = c->llm_providers;

	llm_options_default(o);
	/* config_set stored the list checked and without blanks: "groq,ollama" */
	while (*p && o->nproviders < LLM_MAX_PROVIDERS) {
		size_t len = strcspn(p, ",");

		for (size_t i = 0; i < CONFIG_LLM_COUNT; i++) {
			struct llm_provider_options *po = &o->providers[o->nproviders];

			if (strlen(config_llm_names[i]) != len ||
			    strncmp(p, config_llm_names[i], len))
				continue;
			snprintf(po->name, sizeof(po->name), "%s", config_llm_names[i]);
			snprintf(po->url, sizeof(po->url), "%s", c->llm[i].url);
			snprintf(po->model, sizeof(po->model), "%s", c->llm[i].model);
			snprintf(po->key, sizeof(po->key), "%s", c->llm[i].key);
			o->nproviders++;
			break;
		}
		p += len + (p[len] == ',');
	}
	for (size_t i = 0; i < CONFIG_LLM_COUNT; i++) {
		bool listed = false;

		for (size_t j = 0; j < o->nproviders; j++)
			listed |= !strcmp(o->providers[j].name, config_llm_names[i]);
		if (!listed && c->llm[i].key[0])
			snprintf(o->other_keys[o->nother_keys++], CONFIG_SECRET_MAX, "%s",
				 c->llm[i].key);
	}
	o->timeout_s = c->llm_timeout_s;
	o->retries = c->llm_retries;
	o->token_budget = c->llm_token_budget;
	o->max_tokens = c->llm_max_tokens;
	o->cache_ttl_s = c->llm_cache_ttl_s;
	o->breaker_failures = c->llm_breaker_failures;
	o->breaker_cooldown_s = c->llm_breaker_cooldown_s;
}

/* ------------------------------------------------------------ lifecycle */

/* "KPULSE_LLM_GROQ" for messages naming the setting. */
static void setting_prefix(const char *name, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "KPULSE_LLM_");

	for (size_t i = 0; name[i] && n + 1 < len; i++)
		buf[n++] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	buf[n < len ? n : len - 1] = '\0';
}

static int provider_init(struct provider *p, const struct llm_provider_options *po, char *err,
			 size_t errlen)
{
	char pre[64], why[160];
	size_t blen;

	setting_prefix(po->name, pre, sizeof(pre));
	p->o = *po;
	p->proto = llm_protocol_for(po->name);
	if (!p->proto)
		return error_set(err, errlen, -EINVAL,
				 "unknown LLM provider \"%.*s\" (known: groq, openai, ollama, "
				 "huggingface, compat)",
				 LLM_NAME_MAX, po->name);
	if (!po->url[0])
		return error_set(err, errlen, -EINVAL, "%s_URL: provider %s needs a URL", pre,
				 po->name);
	if (!http_url_origin(po->url, p->origin, sizeof(p->origin)) || strpbrk(po->url, "?#"))
		return error_set(err, errlen, -EINVAL,
				 "%s_URL: not an http:// or https:// base URL without query", pre);
	if (p->proto->check_model(po->model, why, sizeof(why)))
		return error_set(err, errlen, -EINVAL, "%s_MODEL: \"%.*s\" %s", pre, 64, po->model,
				 why);
	if (po->key[0] && !strncasecmp(po->url, "http:", 5) && !http_url_is_loopback(po->url))
		return error_set(err, errlen, -EINVAL,
				 "%s_KEY: refusing to send a key over plain http to %s; use https "
				 "or a loopback address",
				 pre, p->origin);
	blen = strlen(po->url);
	while (blen && po->url[blen - 1] == '/')
		blen--;
	snprintf(p->endpoint, sizeof(p->endpoint), "%.*s%s", (int)blen, po->url, p->proto->path);
	if (po->key[0])
		snprintf(p->auth, sizeof(p->auth), "Authorization: Bearer %s", po->key);
	p->last_latency_s = NAN;
	return 0;
}

int llm_router_new(const struct llm_options *o, struct llm_router **ret, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct llm_router *r;
	int e;

	if (!o || !ret || o->nproviders > LLM_MAX_PROVIDERS || !(o->timeout_s > 0) ||
	    o->retries > 2 || o->token_budget < 1 || !o->max_tokens || !(o->cache_ttl_s >= 0) ||
	    !o->breaker_failures || !(o->breaker_cooldown_s > 0) || !o->max_concurrent ||
	    !(o->backoff_s >= 0))
		return error_set(err, errlen, -EINVAL, "bad LLM router options");
	r = calloc(1, sizeof(*r));
	if (!r)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	r->o = *o;
	memset(r->o.providers, 0, sizeof(r->o.providers)); /* keys live in r->p only */
	for (size_t i = 0; i < o->nother_keys && i < LLM_MAX_PROVIDERS; i++)
		if (r->o.other_keys[i][0])
			r->secrets[r->nsecrets++] = r->o.other_keys[i];
	for (size_t i = 0; i < o->nproviders; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(o->providers[i].name, o->providers[j].name)) {
				e = error_set(err, errlen, -EINVAL,
					      "LLM provider %s is listed twice",
					      o->providers[i].name);
				goto fail;
			}
		}
		e = provider_init(&r->p[i], &o->providers[i], err, errlen);
		if (e)
			goto fail;
		r->n++;
		if (r->p[i].o.key[0])
			r->secrets[r->nsecrets++] = r->p[i].o.key;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	*ret = r;
	return 0;
fail:
	explicit_bzero(r, sizeof(*r));
	free(r);
	return e;
}

struct llm_router *llm_router_free(struct llm_router *r)
{
	if (!r)
		return NULL;
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	explicit_bzero(r, sizeof(*r));
	free(r);
	return NULL;
}

void llm_router_cancel(struct llm_router *r)
{
	if (!r)
		return;
	atomic_store(&r->cancel, true);
	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

size_t llm_router_provider_count(const struct llm_router *r)
{
	return r ? r->n : 0;
}

void llm_answer_clear(struct llm_answer *a)
{
	if (!a)
		return;
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------ helpers */

static double wall_now(const struct llm_router *r)
{
	return r->o.clock ? r->o.clock(r->o.clock_ctx) : clock_wall_s();
}

/* Scrubs every key of the router out of text (size bytes), in place;
 * when memory runs out, nothing of the text is kept. */
static void scrub(const struct llm_router *r, char *text, size_t size)
{
	char *tmp;

	if (!r->nsecrets || !text[0])
		return;
	tmp = malloc(size);
	if (tmp)
		redact_secrets(tmp, size, text, r->secrets, r->nsecrets, NULL);
	snprintf(text, size, "%s", tmp ? tmp : REDACT_MARK);
	free(tmp);
}

static void add_failure(const struct llm_router *r, struct llm_answer *a, const struct provider *p,
			const char *reason)
{
	struct llm_failure *f;

	if (a->nfailures >= LLM_MAX_PROVIDERS)
		return;
	f = &a->failures[a->nfailures++];
	snprintf(f->provider, sizeof(f->provider), "%s", p->o.name);
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	scrub(r, f->reason, sizeof(f->reason));
}

/* SHA-256 of provider, model and the prompt, NUL-separated (none of them
 * holds a NUL). */
static int cache_key(const struct provider *p, const struct llm_prompt *pr,
		     unsigned char key[STORE_LLM_KEY_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, p->o.name, strlen(p->o.name) + 1) &&
	     EVP_DigestUpdate(ctx, p->o.model, strlen(p->o.model) + 1) &&
	     EVP_DigestUpdate(ctx, pr->system, strlen(pr->system) + 1) &&
	     EVP_DigestUpdate(ctx, pr->user, strlen(pr->user)) &&
	     EVP_DigestFinal_ex(ctx, key, &len) && len == STORE_LLM_KEY_BYTES;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* Sleeps s seconds unless cancelled first: 0, or -ECANCELED. */
static int wait_cancellable(struct llm_router *r, double s)
{
	struct timespec until;
	double t = clock_mono_s() + s;

	until.tv_sec = (time_t)t;
	until.tv_nsec = (long)((t - floor(t)) * 1e9);
	pthread_mutex_lock(&r->lock);
	while (!atomic_load(&r->cancel) && clock_mono_s() < t)
		if (pthread_cond_timedwait(&r->cond, &r->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->lock);
	return atomic_load(&r->cancel) ? -ECANCELED : 0;
}

/* The wait before try attempt + 1: base doubling, less up to a quarter
 * (so that asks that failed together do not come back together). */
static double backoff(const struct llm_router *r, unsigned attempt)
{
	unsigned seed = (unsigned)(clock_mono_s() * 1e6) ^ (unsigned)(uintptr_t)&seed;
	double jitter = 1 - 0.25 * (double)(rand_r(&seed) % 1000) / 1000;

	return r->o.backoff_s * (double)(1u << attempt) * jitter;
}

/* ------------------------------------------------------------ breaker */

/* May p be called now? When not, why says so. Under lock. */
static bool admit(struct llm_router *r, struct provider *p, double now, char *why, size_t whylen)
{
	if (p->state == LLM_BREAKER_OPEN && now >= p->open_until) {
		p->state = LLM_BREAKER_HALF_OPEN;
		p->probing = false;
	}
	switch (p->state) {
	case LLM_BREAKER_CLOSED:
		return true;
	case LLM_BREAKER_HALF_OPEN:
		if (!p->probing) {
			p->probing = true; /* this ask is the probe */
			return true;
		}
		error_set(why, whylen, 0,
			  "skipped: circuit breaker half-open, a probe is in flight");
		break;
	case LLM_BREAKER_OPEN:
		error_set(
		    why, whylen, 0,
		    "skipped: circuit breaker open for another %.0f s after %llu failed calls "
		    "in a row",
		    ceil(p->open_until - now), (unsigned long long)p->consecutive);
		break;
	}
	p->skipped++;
	return false;
}

/* The outcome of a call. Under lock. */
static void record(struct llm_router *r, struct provider *p, bool ok, const char *reason,
		   double latency_s, double wall)
{
	double now = clock_mono_s();

	p->calls++;
	p->last_latency_s = latency_s;
	if (ok) {
		p->answers++;
		p->consecutive = 0;
		p->state = LLM_BREAKER_CLOSED;
		p->probing = false;
		p->last_success_ts = wall;
		return;
	}
	p->failures++;
	p->consecutive++;
	p->last_failure_ts = wall;
	snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
	if (p->state == LLM_BREAKER_HALF_OPEN || p->consecutive >= r->o.breaker_failures) {
		p->state = LLM_BREAKER_OPEN;
		p->open_until = now + r->o.breaker_cooldown_s;
		p->probing = false;
	}
}

/* ------------------------------------------------------------ one call */

struct call {
	const char *body;
	size_t body_len;
	struct llm_parsed answer;
	char why[LLM_REASON_MAX];
};

/* Is a transport failure worth another try? */
static bool transport_retryable(int err)
{
	return err == -ECONNREFUSED || err == -ECONNRESET || err == -EIO;
}

/*
 * Calls p with up to 1 + retries tries within timeout_s. Returns 0 with
 * c->answer, or a negative errno with c->why (-ECANCELED: not the
 * provider's fault).
 */
static int call_provider(struct llm_router *r, struct provider *p, struct call *c)
{
	const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
	double deadline = clock_mono_s() + r->o.timeout_s;
	char msg[LLM_REASON_MAX], words[200];
	unsigned attempt;
	int err = -EIO;

	if (p->auth[0])
		headers[1] = p->auth;
	for (attempt = 0;; attempt++) {
		struct http_response resp = {};
		double remaining = deadline - clock_mono_s(), wait;
		struct http_request req = {
		    .method = "POST",
		    .url = p->endpoint,
		    .headers = headers,
		    .body = c->body,
		    .body_len = c->body_len,
		    .timeout_s = remaining,
		    .max_response_bytes = LLM_RESPONSE_MAX,
		    .cancel = &r->cancel,
		};
		bool retry;

		pthread_mutex_lock(&r->lock);
		p->tries++;
		pthread_mutex_unlock(&r->lock);
		err = http_perform(&req, &resp, msg, sizeof(msg));
		if (err == -ECANCELED) {
			error_set(c->why, sizeof(c->why), 0, "cancelled");
			return err;
		}
		if (err) {
			snprintf(c->why, sizeof(c->why), "%s", msg);
			retry = transport_retryable(err);
			wait = backoff(r, attempt);
		} else if (resp.status >= 200 && resp.status <= 299) {
			err = p->proto->parse_answer(resp.body, resp.body_len, &c->answer, words,
						     sizeof(words));
			if (err)
				error_set(c->why, sizeof(c->why), 0, "%s", words);
			http_response_clear(&resp);
			if (!err || err == -ENOMEM)
				return err;
			return -EBADMSG; /* another try would read the same */
		} else {
			p->proto->parse_error(resp.body, resp.body_len, resp.content_type, words,
					      sizeof(words));
			error_set(c->why, sizeof(c->why), 0, "HTTP %ld%s%s", resp.status,
				  words[0] ? ": " : "", words);
			retry = http_status_retryable(resp.status);
			wait = resp.retry_after_s >= 0 ? resp.retry_after_s : backoff(r, attempt);
			err = -EPROTO;
		}
		http_response_clear(&resp);
		if (!retry || attempt >= r->o.retries || err == -ETIMEDOUT)
			break;
		if (clock_mono_s() + wait + MIN_TRY_S >= deadline) {
			size_t n = strlen(c->why);

			snprintf(c->why + n, sizeof(c->why) - n,
				 " (no retry: waiting %.1f s would pass the %.0f s timeout)", wait,
				 r->o.timeout_s);
			return err;
		}
		if (wait_cancellable(r, wait) < 0) {
			error_set(c->why, sizeof(c->why), 0, "cancelled");
			return -ECANCELED;
		}
	}
	if (attempt > 0) {
		size_t n = strlen(c->why);

		snprintf(c->why + n, sizeof(c->why) - n, " (%u tries)", attempt + 1);
	}
	return err;
}

/* ------------------------------------------------------------ ask */

/* The answer from the cache, for the first provider that has one. */
static bool from_cache(struct llm_router *r, const struct llm_prompt *pr,
		       unsigned char keys[][STORE_LLM_KEY_BYTES], struct llm_answer *a)
{
	double now = wall_now(r);

	for (size_t i = 0; i < r->n; i++) {
		struct store_llm_entry e = {};
		int err = store_llm_cache_get(r->o.cache, keys[i], now, &e);

		if (err == -ENOENT)
			continue;
		if (err) {
			pthread_mutex_lock(&r->lock);
			r->cache_errors++;
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		a->text = e.answer;
		e.answer = NULL;
		snprintf(a->provider, sizeof(a->provider), "%s", r->p[i].o.name);
		snprintf(a->model, sizeof(a->model), "%s", e.model);
		a->prompt_tokens = e.prompt_tokens;
		a->completion_tokens = e.completion_tokens;
		a->cached = true;
		store_llm_entry_clear(&e);
		pthread_mutex_lock(&r->lock);
		r->p[i].cache_hits++;
		pthread_mutex_unlock(&r->lock);
		return true;
	}
	return false;
}

static void to_cache(struct llm_router *r, const struct provider *p, const struct llm_prompt *pr,
		     const unsigned char key[STORE_LLM_KEY_BYTES], const struct llm_answer *a,
		     double latency_s)
{
	size_t len = strlen(pr->system) + strlen(pr->user) + 3;
	char *prompt = malloc(len);
	double now = wall_now(r);
	struct store_llm_entry e = {
	    .provider = (char *)p->o.name,
	    .model = (char *)a->model,
	    .prompt = prompt,
	    .answer = a->text,
	    .prompt_tokens = a->prompt_tokens,
	    .completion_tokens = a->completion_tokens,
	    .latency_s = latency_s,
	    .created_ts = now,
	    .expires_ts = now + r->o.cache_ttl_s,
	};
	int err = -ENOMEM;

	if (prompt) {
		snprintf(prompt, len, "%s\n\n%s", pr->system, pr->user);
		err = store_llm_cache_put(r->o.cache, key, &e);
	}
	free(prompt);
	if (err) {
		pthread_mutex_lock(&r->lock);
		r->cache_errors++;
		pthread_mutex_unlock(&r->lock);
	}
}

/* Cleans what a provider said into the answer: keys out of the text. */
static int take_answer(struct llm_router *r, const struct provider *p, struct call *c,
		       struct llm_answer *a)
{
	size_t len = strlen(c->answer.text) + 1;
	char *text = malloc(len);

	if (!text)
		return -ENOMEM;
	redact_secrets(text, len, c->answer.text, r->secrets, r->nsecrets, NULL);
	a->text = text;
	a->truncated = c->answer.truncated;
	snprintf(a->provider, sizeof(a->provider), "%s", p->o.name);
	snprintf(a->model, sizeof(a->model), "%s",
		 c->answer.model[0] ? c->answer.model : p->o.model);
	scrub(r, a->model, sizeof(a->model));
	a->prompt_tokens = c->answer.prompt_tokens;
	a->completion_tokens = c->answer.completion_tokens;
	return 0;
}

int llm_ask(struct llm_router *r, const struct llm_request *req, struct llm_answer *ret)
{
	unsigned char keys[LLM_MAX_PROVIDERS][STORE_LLM_KEY_BYTES];
	bool use_cache = r && r->o.cache && r->o.cache_ttl_s > 0;
	struct llm_answer a = {.prompt_tokens = -1, .completion_tokens = -1};
	double start = clock_mono_s();
	struct llm_prompt pr = {};
	int err;

	if (!r || !req || !ret)
		return -EINVAL;
	if (atomic_load(&r->cancel))
		return -ECANCELED;
	if (!r->n)
		return -ENODEV;
	err = llm_prompt_build(req, r->o.token_budget, &pr, NULL, 0);
	if (err) {
		pthread_mutex_lock(&r->lock);
		r->rejected++;
		pthread_mutex_unlock(&r->lock);
		return err;
	}
	pthread_mutex_lock(&r->lock);
	if (r->in_flight >= r->o.max_concurrent) {
		r->rejected++;
		pthread_mutex_unlock(&r->lock);
		llm_prompt_clear(&pr);
		return -EBUSY;
	}
	r->in_flight++;
	pthread_mutex_unlock(&r->lock);

	a.evidence_tokens = pr.evidence_tokens;
	a.evidence_trimmed = pr.evidence_trimmed;
	for (size_t i = 0; use_cache && i < r->n; i++)
		if (cache_key(&r->p[i], &pr, keys[i]) < 0)
			use_cache = false;
	if (use_cache && from_cache(r, &pr, keys, &a)) {
		a.latency_s = clock_mono_s() - start;
		pthread_mutex_lock(&r->lock);
		r->cached++;
		goto done;
	}

	for (size_t i = 0; i < r->n; i++) {
		struct provider *p = &r->p[i];
		struct call c = {};
		char why[LLM_REASON_MAX];
		double t0;
		bool ok;

		pthread_mutex_lock(&r->lock);
		ok = admit(r, p, clock_mono_s(), why, sizeof(why));
		pthread_mutex_unlock(&r->lock);
		if (!ok) {
			add_failure(r, &a, p, why);
			continue;
		}
		c.body =
		    p->proto->build(p->o.name, p->o.model, pr.system, pr.user, r->o.max_tokens);
		if (!c.body) {
			err = -ENOMEM;
			pthread_mutex_lock(&r->lock);
			p->probing = false;
			pthread_mutex_unlock(&r->lock);
			goto fail;
		}
		c.body_len = strlen(c.body);
		t0 = clock_mono_s();
		err = call_provider(r, p, &c);
		free((char *)c.body);
		scrub(r, c.why, sizeof(c.why));
		if (err == -ECANCELED || err == -ENOMEM) {
			llm_parsed_clear(&c.answer);
			pthread_mutex_lock(&r->lock);
			p->probing = false;
			pthread_mutex_unlock(&r->lock);
			goto fail;
		}
		if (!err)
			err = take_answer(r, p, &c, &a);
		llm_parsed_clear(&c.answer);
		pthread_mutex_lock(&r->lock);
		record(r, p, !err, c.why, clock_mono_s() - t0, wall_now(r));
		pthread_mutex_unlock(&r->lock);
		if (err == -ENOMEM)
			goto fail;
		if (!err) {
			a.latency_s = clock_mono_s() - start;
			if (use_cache)
				to_cache(r, p, &pr, keys[i], &a, clock_mono_s() - t0);
			pthread_mutex_lock(&r->lock);
			r->answered++;
			goto done;
		}
		add_failure(r, &a, p, c.why);
	}
	a.all_failed = true;
	a.latency_s = clock_mono_s() - start;
	pthread_mutex_lock(&r->lock);
	r->all_failed++;
done:
	r->in_flight--;
	pthread_mutex_unlock(&r->lock);
	llm_prompt_clear(&pr);
	*ret = a;
	return 0;
fail:
	llm_answer_clear(&a);
	llm_prompt_clear(&pr);
	pthread_mutex_lock(&r->lock);
	r->in_flight--;
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* ------------------------------------------------------------ status */

const char *llm_breaker_state_name(enum llm_breaker_state s)
{
	switch (s) {
	case LLM_BREAKER_CLOSED:
		return "closed";
	case LLM_BREAKER_OPEN:
		return "open";
	case LLM_BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}

int llm_router_provider_status(struct llm_router *r, size_t i, struct llm_provider_status *ret)
{
	struct llm_provider_status s = {};
	struct provider *p;
	double now = clock_mono_s();

	if (!r || i >= r->n)
		return -ERANGE;
	p = &r->p[i];
	snprintf(s.name, sizeof(s.name), "%s", p->o.name);
	snprintf(s.protocol, sizeof(s.protocol), "%s", p->proto->name);
	snprintf(s.model, sizeof(s.model), "%s", p->o.model);
	snprintf(s.origin, sizeof(s.origin), "%s", p->origin);
	s.has_key = p->o.key[0] != '\0';
	pthread_mutex_lock(&r->lock);
	s.breaker = p->state;
	/* an open breaker whose time is up is half-open for the next ask */
	if (s.breaker == LLM_BREAKER_OPEN && now >= p->open_until)
		s.breaker = LLM_BREAKER_HALF_OPEN;
	s.open_remaining_s = s.breaker == LLM_BREAKER_OPEN ? p->open_until - now : 0;
	s.consecutive_failures = p->consecutive;
	s.calls = p->calls;
	s.failures = p->failures;
	s.tries = p->tries;
	s.answers = p->answers;
	s.cache_hits = p->cache_hits;
	s.skipped = p->skipped;
	s.last_latency_s = p->last_latency_s;
	s.last_success_ts = p->last_success_ts;
	s.last_failure_ts = p->last_failure_ts;
	snprintf(s.last_error, sizeof(s.last_error), "%s", p->last_error);
	pthread_mutex_unlock(&r->lock);
	*ret = s;
	return 0;
}

/* JSON has no NaN: null instead. */
static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *llm_router_status_json(struct llm_router *r)
{
	json_t *root = json_object(), *list = json_array(), *asks;
	int bad = !root || !list;

	for (size_t i = 0; !bad && r && i < r->n; i++) {
		struct llm_provider_status s;
		json_t *o;

		llm_router_provider_status(r, i, &s);
		o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, "
			      "s:I, s:o, s:o, s:o, s:s}",
			      "name", s.name, "protocol", s.protocol, "model", s.model, "origin",
			      s.origin, "has_key", s.has_key, "breaker",
			      llm_breaker_state_name(s.breaker), "open_remaining_s",
			      s.open_remaining_s, "consecutive_failures",
			      (json_int_t)s.consecutive_failures, "calls", (json_int_t)s.calls,
			      "failures", (json_int_t)s.failures, "tries", (json_int_t)s.tries,
			      "answers", (json_int_t)s.answers, "cache_hits",
			      (json_int_t)s.cache_hits, "skipped", (json_int_t)s.skipped,
			      "last_latency_s", number_or_null(s.last_latency_s), "last_success_ts",
			      s.last_success_ts > 0 ? json_real(s.last_success_ts) : json_null(),
			      "last_failure_ts",
			      s.last_failure_ts > 0 ? json_real(s.last_failure_ts) : json_null(),
			      "last_error", s.last_error);
		bad |= !o || json_array_append_new(list, o);
	}
	if (bad || !r) {
		json_decref(root);
		json_decref(list);
		return bad ? NULL
			   : json_pack("{s:[], s:{}, s:i}", "providers", "asks", "in_flight", 0);
	}
	pthread_mutex_lock(&r->lock);
	asks = json_pack("{s:I, s:I, s:I, s:I, s:I}", "answered", (json_int_t)r->answered, "cached",
			 (json_int_t)r->cached, "all_failed", (json_int_t)r->all_failed, "rejected",
			 (json_int_t)r->rejected, "cache_errors", (json_int_t)r->cache_errors);
	bad = json_object_set_new(root, "in_flight", json_integer(r->in_flight));
	pthread_mutex_unlock(&r->lock);
	bad |= json_object_set_new(root, "providers", list);
	bad |= json_object_set_new(root, "asks", asks);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static const struct {
	const char *name, *help;
} series_help[] = {
    {"kpulse_llm_asks_total",
     "Asks for an LLM explanation, by result: answered, cached, all_failed (the built-in "
     "reading stood), rejected (bad request or too many at once)"},
    {"kpulse_llm_calls_total", "Calls to an LLM provider (each of one try and its retries)"},
    {"kpulse_llm_call_failures_total", "Calls to an LLM provider that ended without an answer"},
    {"kpulse_llm_tries_total", "HTTP requests sent to an LLM provider"},
    {"kpulse_llm_cache_hits_total", "Asks answered from a provider's cached answer"},
    {"kpulse_llm_breaker_open",
     "1 while a provider's circuit breaker is open or half-open (skipped or probed), else 0"},
    {"kpulse_llm_consecutive_failures", "Failed calls in a row of a provider"},
    {"kpulse_llm_last_latency_seconds", "Duration of a provider's last call"},
};

int llm_describe(struct registry *reg)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(series_help) / sizeof(series_help[0]); i++)
		err |= registry_describe(reg, series_help[i].name, series_help[i].help);
	return err ? -ENOMEM : 0;
}

int llm_router_fill_registry(struct llm_router *r, struct registry *reg)
{
	static const char *const results[] = {"answered", "cached", "all_failed", "rejected"};
	uint64_t counts[4];
	int err = 0;

	if (!r || !reg)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	counts[0] = r->answered;
	counts[1] = r->cached;
	counts[2] = r->all_failed;
	counts[3] = r->rejected;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < 4; i++) {
		struct metric_label l = {"result", results[i]};

		err |= registry_set_counter(reg, "kpulse_llm_asks_total", &l, 1, (double)counts[i]);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct metric_label l = {"provider", r->p[i].o.name};
		struct llm_provider_status s;

		llm_router_provider_status(r, i, &s);
		err |= registry_set_counter(reg, "kpulse_llm_calls_total", &l, 1, (double)s.calls);
		err |= registry_set_counter(reg, "kpulse_llm_call_failures_total", &l, 1,
					    (double)s.failures);
		err |= registry_set_counter(reg, "kpulse_llm_tries_total", &l, 1, (double)s.tries);
		err |= registry_set_counter(reg, "kpulse_llm_cache_hits_total", &l, 1,
					    (double)s.cache_hits);
		err |= registry_set_gauge(reg, "kpulse_llm_breaker_open", &l, 1,
					  s.breaker == LLM_BREAKER_CLOSED ? 0 : 1);
		err |= registry_set_gauge(reg, "kpulse_llm_consecutive_failures", &l, 1,
					  (double)s.consecutive_failures);
		if (isfinite(s.last_latency_s))
			err |= registry_set_gauge(reg, "kpulse_llm_last_latency_seconds", &l, 1,
						  s.last_latency_s);
	}
	return err ? -ENOMEM : 0;
}
