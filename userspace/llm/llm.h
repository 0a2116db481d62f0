/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * llm.h - explanations of incidents by large language models: a router
 * over the configured providers, asked in order, each behind a circuit
 * breaker, with answers cached in the store. The incident side (analysis/)
 * calls llm_ask() with the evidence record and the built-in analyst's
 * reading; when every provider fails, the answer says so with a reason per
 * provider and the caller keeps the built-in text.
 *
 * Protocols (one file each, behind llm_provider.h):
 *   groq, openai, compat  OpenAI-compatible chat completions (llm_openai.c)
 *   ollama                Ollama's native /api/chat, no key (llm_ollama.c)
 *   huggingface           the Hugging Face inference router (llm_hf.c)
 *
 * One ask:
 *   1. The request is checked (llm_request_check) and the prompt built:
 *      the instruction as the system message; the evidence (trimmed to the
 *      token budget), the built-in reading and the question as the user
 *      message (llm_prompt.c).
 *   2. The cache: for each provider in order, the SHA-256 of its name,
 *      model and the prompt; the first fresh entry is the answer
 *      (cached = true). A cache error is not an ask's failure.
 *   3. The providers in order. One whose breaker is open is skipped (the
 *      reason says for how long). A call gets timeout_s in all: its tries
 *      (at most 1 + retries) share it. A try that fails for a reason that
 *      may pass (connection refused or reset, 408, 429, 5xx) is tried again
 *      after a backoff of 0.5 s, 1 s (less up to a quarter, at random) or
 *      after the server's Retry-After, unless that wait would pass the
 *      call's deadline. Other failures (4xx, a malformed answer, a
 *      timeout) end the provider's call at once.
 *   4. The first answer is cleaned (valid UTF-8, control characters
 *      escaped, newlines kept, at most LLM_ANSWER_MAX bytes, any key
 *      removed), stored in the cache, and returned.
 * So an ask ends within about timeout_s per provider tried (plus the cache
 * lookups); llm_router_cancel() ends the calls in flight within a second.
 *
 * The breaker of each provider: closed; open after breaker_failures
 * failed calls in a row (skipped for breaker_cooldown_s); then half-open:
 * one ask probes it while others still skip it; the probe's success closes
 * it, its failure opens it again for another cooldown.
 *
 * Keys: given in the options, copied, wiped at free; sent only in the
 * Authorization header; removed (util/redact.h) from every reason, status,
 * answer and error this module returns; never stored. A key is refused
 * for a plain-http URL that leaves the machine.
 *
 * Threads: llm_ask() may run on any number of threads at once (at most
 * max_concurrent asks; more get -EBUSY); the status functions too.
 * Nothing here logs.
 */
#ifndef KPULSE_LLM_H
#define KPULSE_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/registry.h"
#include "store/store.h"
#include "util/config.h"

#define LLM_MAX_PROVIDERS CONFIG_LLM_COUNT
#define LLM_NAME_MAX	  32
#define LLM_MODEL_MAX	  CONFIG_MODEL_MAX
/* One provider's failure, one line. */
#define LLM_REASON_MAX 256
/* Longest answer text kept (bytes, after cleaning); longer ones are cut at
 * a character boundary and marked truncated. */
#define LLM_ANSWER_MAX (32 * 1024)
/* Longest HTTP answer read from a provider. */
#define LLM_RESPONSE_MAX (1024 * 1024)

/* Request limits (bytes of UTF-8). */
#define LLM_INSTRUCTION_MAX (8 * 1024)
#define LLM_EVIDENCE_MAX    (4 * 1024 * 1024)
#define LLM_READING_MAX	    (16 * 1024)
#define LLM_QUESTION_MAX    (4 * 1024)

/*
 * Tokens are estimated, not counted: no tokenizer of any provider's model
 * is here. One token per LLM_BYTES_PER_TOKEN bytes of UTF-8, rounded up.
 * BPE vocabularies take about 4 bytes of English prose per token, but
 * JSON's punctuation and digits split finer (about 3), and the evidence is
 * JSON, so the estimate errs on the side of a shorter prompt.
 */
#define LLM_BYTES_PER_TOKEN 3

/* The instruction used when a request gives none. */
extern const char LLM_DEFAULT_INSTRUCTION[];

struct llm_request {
	const char *instruction;     /* system message; NULL: LLM_DEFAULT_INSTRUCTION */
	const char *evidence_json;   /* the evidence record: JSON text; NULL: none */
	const char *builtin_reading; /* the built-in analyst's text; NULL: none */
	const char *question;	     /* an operator's question; NULL: none */
};

/* Why one provider gave no answer. */
struct llm_failure {
	char provider[LLM_NAME_MAX];
	char reason[LLM_REASON_MAX]; /* "HTTP 429: Rate limit reached (after 3 tries)" */
};

struct llm_answer {
	/* The answer, owned (llm_answer_clear frees it); NULL when every
	 * provider failed. */
	char *text;
	bool truncated;		     /* the provider stopped at its limit, or we cut it */
	char provider[LLM_NAME_MAX]; /* who answered: "groq" */
	char model[LLM_MODEL_MAX];   /* as the provider reported it, else as configured */
	double latency_s;	     /* this ask, from the call to the answer */
	int64_t prompt_tokens;	     /* as the provider reported them; -1: not reported */
	int64_t completion_tokens;
	bool cached;	 /* answered from the store's cache */
	bool all_failed; /* no provider answered: keep the built-in text */
	/* Every provider that did not answer, in the order asked (also those
	 * tried before the one that answered). */
	struct llm_failure failures[LLM_MAX_PROVIDERS];
	size_t nfailures;
	size_t evidence_tokens; /* estimated, as sent */
	bool evidence_trimmed;	/* the evidence did not fit the budget */
};

/* Frees text and zeroes *a; accepts NULL. */
void llm_answer_clear(struct llm_answer *a);

/* One provider as configured. */
struct llm_provider_options {
	char name[LLM_NAME_MAX];     /* one of config_llm_names: says the protocol */
	char url[CONFIG_URL_MAX];    /* base URL ("https://api.groq.com/openai/v1") */
	char model[LLM_MODEL_MAX];   /* model name */
	char key[CONFIG_SECRET_MAX]; /* "" sends no Authorization header */
};

struct llm_options {
	struct llm_provider_options providers[LLM_MAX_PROVIDERS]; /* in the order asked */
	size_t nproviders;					  /* 0: llm_ask gives -ENODEV */
	double timeout_s;	   /* one provider's call, its retries included; 30 */
	unsigned retries;	   /* further tries of a call, 0..2; 2 */
	unsigned token_budget;	   /* evidence tokens; 3000 */
	unsigned max_tokens;	   /* longest answer asked for; 1024 */
	double cache_ttl_s;	   /* 0: no cache; 86400 */
	unsigned breaker_failures; /* failed calls in a row that open it; 3 */
	double breaker_cooldown_s; /* 60 */
	unsigned max_concurrent;   /* asks at once; 4 */
	double backoff_s;	   /* first retry's backoff (doubling); 0.5 */
	/* Keys of providers not asked (configured but not listed): kept out of
	 * every output all the same, since the process knows them. */
	char other_keys[LLM_MAX_PROVIDERS][CONFIG_SECRET_MAX];
	size_t nother_keys;
	struct store *cache;	    /* borrowed; NULL: no cache */
	double (*clock)(void *ctx); /* wall clock (cache expiry); NULL: real */
	void *clock_ctx;
};

/* Every field at its default, no provider. */
void llm_options_default(struct llm_options *o);

/*
 * The options from the configuration: providers in the order of
 * KPULSE_LLM_PROVIDERS, each with its URL, model and key; the keys of the
 * providers not listed in other_keys; the numbers of the KPULSE_LLM_*
 * options. cache stays NULL (the caller lends its store).
 */
void llm_options_from_config(const struct kpulse_config *c, struct llm_options *o);

struct llm_router;

/*
 * Makes a router. Checks every provider: a known name, a valid URL, a
 * model (a Hugging Face one must read org/name[:provider]), a compat
 * provider with a URL and model, and no key over plain http to another
 * machine. Returns 0 and *ret, or -EINVAL / -ENOMEM with one line in err
 * naming the setting (KPULSE_LLM_<NAME>_...) and never quoting a key.
 */
int llm_router_new(const struct llm_options *o, struct llm_router **ret, char *err, size_t errlen);

/* Wipes the keys and frees. Call it once every ask has returned
 * (llm_router_cancel() first makes that quick). Accepts NULL; returns
 * NULL. */
struct llm_router *llm_router_free(struct llm_router *r);

/* Ends every call in flight within about a second (-ECANCELED) and makes
 * later asks return -ECANCELED at once: for a stopping daemon. */
void llm_router_cancel(struct llm_router *r);

/* Providers configured (0: no LLM, the built-in analyst alone). */
size_t llm_router_provider_count(const struct llm_router *r);

/*
 * Checks a request without asking anything: every text valid UTF-8 with
 * no NUL and within its limit, the evidence a JSON value. Returns 0 or
 * -EINVAL / -E2BIG with one line in err.
 */
int llm_request_check(const struct llm_request *req, char *err, size_t errlen);

/*
 * Asks the providers (see the top of this file). Returns 0 with *ret
 * filled either way: ret->text when one answered, or ret->all_failed with
 * a reason per provider. Otherwise, with *ret untouched: -EINVAL / -E2BIG
 * (llm_request_check would say why), -ENODEV (no provider configured),
 * -EBUSY (max_concurrent asks already run), -ECANCELED (the router was
 * cancelled), -ENOMEM.
 */
int llm_ask(struct llm_router *r, const struct llm_request *req, struct llm_answer *ret);

/* ------------------------------------------------------------ prompts */

/* Estimated tokens of len bytes (see LLM_BYTES_PER_TOKEN). */
size_t llm_estimate_tokens(size_t len);

/*
 * The evidence as it goes into the prompt: compact JSON of at most
 * budget_tokens estimated tokens. When it does not fit, the longest
 * arrays are halved first (keeping their head and a last element saying
 * how many were left out), then long strings cut, then the largest
 * objects halved (keeping their first members and a "kpulse_elided"
 * count), and as a last resort the text is cut at a character boundary
 * with a closing note. Returns 0 and *ret_text (the caller frees it),
 * *ret_trimmed; -EINVAL (not JSON, with the line and column in err) or
 * -ENOMEM.
 */
int llm_evidence_trim(const char *evidence_json, size_t budget_tokens, char **ret_text,
		      bool *ret_trimmed, char *err, size_t errlen);

/* ------------------------------------------------------------ status */

enum llm_breaker_state {
	LLM_BREAKER_CLOSED,
	LLM_BREAKER_OPEN,
	LLM_BREAKER_HALF_OPEN,
};

/* "closed", "open", "half_open" */
const char *llm_breaker_state_name(enum llm_breaker_state s);

/* A consistent copy of one provider's state; no key in it. */
struct llm_provider_status {
	char name[LLM_NAME_MAX];
	char protocol[16]; /* "openai", "ollama", "huggingface" */
	char model[LLM_MODEL_MAX];
	char origin[128]; /* scheme://host[:port] of its URL */
	bool has_key;
	enum llm_breaker_state breaker;
	double open_remaining_s; /* while open: seconds until a probe may go */
	uint64_t consecutive_failures;
	uint64_t calls;	     /* provider calls (each of 1 + retries tries at most) */
	uint64_t failures;   /* calls that ended without an answer */
	uint64_t tries;	     /* HTTP requests sent */
	uint64_t answers;    /* calls that answered */
	uint64_t cache_hits; /* asks answered from its cached answers */
	uint64_t skipped;    /* asks that skipped it while its breaker was open */
	double last_latency_s;
	double last_success_ts; /* unix seconds; 0: never */
	double last_failure_ts;
	char last_error[LLM_REASON_MAX]; /* "" none */
};

/* Provider i (in the order asked). Returns 0, or -ERANGE past the end. */
int llm_router_provider_status(struct llm_router *r, size_t i, struct llm_provider_status *ret);

/*
 * The state for /api/v1/status: {"providers": [{"name", "protocol",
 * "model", "origin", "has_key", "breaker", "open_remaining_s",
 * "consecutive_failures", "calls", "failures", "tries", "answers",
 * "cache_hits", "skipped", "last_latency_s", "last_success_ts",
 * "last_failure_ts", "last_error"}], "asks": {"answered", "cached",
 * "all_failed", "rejected"}, "in_flight"}. NULL on ENOMEM.
 */
json_t *llm_router_status_json(struct llm_router *r);

/* Help texts of the series below, once at start. Returns 0 or -ENOMEM. */
int llm_describe(struct registry *reg);

/*
 * Adds the router's series to the round reg has open, for /metrics:
 * kpulse_llm_asks_total{result}, and per provider kpulse_llm_calls_total,
 * kpulse_llm_call_failures_total, kpulse_llm_tries_total,
 * kpulse_llm_cache_hits_total, kpulse_llm_breaker_open (1 open or
 * half-open), kpulse_llm_consecutive_failures,
 * kpulse_llm_last_latency_seconds. Returns 0 or -ENOMEM (some may miss).
 */
int llm_router_fill_registry(struct llm_router *r, struct registry *reg);

#endif /* KPULSE_LLM_H */
