/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * llm_provider.h - the one interface every protocol file of llm/
 * implements, and what the files of llm/ share. Nothing outside
 * userspace/llm/ includes it but llm/'s tests and the fuzz target.
 *
 *   llm.c         the router: providers, breakers, retries, cache, status
 *   llm_prompt.c  request checks, evidence trimming, the prompt, and the
 *                 cleaning of outside text (answers, error messages)
 *   llm_openai.c  OpenAI-compatible chat completions (groq, openai, compat)
 *   llm_ollama.c  Ollama's native /api/chat
 *   llm_hf.c      the Hugging Face inference router
 *
 * A protocol only turns a prompt into a request body and an HTTP answer
 * into text: it sends nothing (the router does, through util/http.h), so
 * the parsers can be fuzzed alone. Answers come from outside: they are
 * parsed strictly (jansson, duplicate keys refused, no NUL), bounded, and
 * cleaned before anything of them is kept.
 */
#ifndef KPULSE_LLM_PROVIDER_H
#define KPULSE_LLM_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "llm/llm.h"

/* An answer as a protocol read it. */
struct llm_parsed {
	char *text;		   /* owned; cleaned (llm_clean_text) */
	bool truncated;		   /* the provider stopped at its limit, or the text was cut */
	char model[LLM_MODEL_MAX]; /* as reported, one clean line; "" when not */
	int64_t prompt_tokens;	   /* -1: not reported */
	int64_t completion_tokens;
};

void llm_parsed_clear(struct llm_parsed *p);

struct llm_protocol {
	const char *name; /* "openai", "ollama", "huggingface" */
	const char *path; /* appended to the provider's base URL */
	/* A configured model: 0, or -EINVAL with why. */
	int (*check_model)(const char *model, char *why, size_t whylen);
	/* The JSON request body (the caller frees it) asking model to answer
	 * the system and user messages in at most max_tokens; provider says
	 * which field names that limit. NULL on ENOMEM. */
	char *(*build)(const char *provider, const char *model, const char *system,
		       const char *user, unsigned max_tokens);
	/* A 2xx body: 0 and *ret, or -EBADMSG with why (one line). */
	int (*parse_answer)(const char *body, size_t len, struct llm_parsed *ret, char *why,
			    size_t whylen);
	/* The server's own words in a non-2xx answer, as one clean line in
	 * why ("" when it said nothing readable). */
	void (*parse_error)(const char *body, size_t len, const char *content_type, char *why,
			    size_t whylen);
};

extern const struct llm_protocol llm_protocol_openai;
extern const struct llm_protocol llm_protocol_ollama;
extern const struct llm_protocol llm_protocol_hf;

/* The protocol a provider name (config_llm_names) speaks; NULL if none. */
const struct llm_protocol *llm_protocol_for(const char *provider);

/* ---------------------------------------- llm_openai.c, shared with hf */

char *llm_openai_build(const char *provider, const char *model, const char *system,
		       const char *user, unsigned max_tokens);
int llm_openai_parse_answer(const char *body, size_t len, struct llm_parsed *ret, char *why,
			    size_t whylen);
/* Error bodies of the OpenAI family: {"error": {"message", "code"}},
 * {"error": "text"}, {"message": "text"}, {"detail": "text"}, or text. */
void llm_openai_parse_error(const char *body, size_t len, const char *content_type, char *why,
			    size_t whylen);

/* ------------------------------------------ llm_prompt.c: outside text */

/*
 * Outside JSON (an answer): strict (duplicate keys refused, no NUL in
 * strings), must be an object. NULL with why on any failure.
 */
json_t *llm_json_load_object(const char *body, size_t len, char *why, size_t whylen);

/*
 * A new string of outside text made safe to keep: valid UTF-8, control
 * characters but newlines and tabs escaped (utf8_sanitize_text), leading
 * and trailing blanks trimmed, at most max bytes (cut at a character
 * boundary, *ret_cut set). NULL on ENOMEM.
 */
char *llm_clean_text(const char *s, size_t len, size_t max, bool *ret_cut);

/* Outside text as one clean line in dst (dstsize bytes): newlines become
 * spaces, other control characters and invalid bytes are escaped. */
void llm_clean_line(char *dst, size_t dstsize, const char *s, size_t len);

/* A JSON integer >= 0 as tokens; -1 for anything else. */
int64_t llm_json_tokens(const json_t *v);

/* ------------------------------------------ llm_prompt.c: the prompt */

struct llm_prompt {
	char *system; /* owned */
	char *user;   /* owned */
	size_t evidence_tokens;
	bool evidence_trimmed;
};

/* Builds the two messages of req (checked first) with the evidence
 * trimmed to budget_tokens. Returns 0, -EINVAL / -E2BIG / -ENOMEM with
 * one line in err. */
int llm_prompt_build(const struct llm_request *req, size_t budget_tokens, struct llm_prompt *ret,
		     char *err, size_t errlen);
void llm_prompt_clear(struct llm_prompt *p);

#endif /* KPULSE_LLM_PROVIDER_H */
