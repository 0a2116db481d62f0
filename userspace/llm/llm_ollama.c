// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * llm_ollama.c - Ollama's native chat API, for local models (no key).
 *
 * Followed: Ollama's API documentation (github.com/ollama/ollama,
 * docs/api.md, "Generate a chat completion"; docs.ollama.com/api/chat):
 *   request  POST {base}/api/chat {"model", "messages": [{"role",
 *            "content"}], "stream": false, "options": {"num_predict"}}.
 *            The endpoint streams one JSON object per line unless the
 *            request says "stream": false, so it always says so.
 *   answer   {"model", "created_at", "message": {"role": "assistant",
 *            "content"}, "done": true, "done_reason", "total_duration",
 *            "load_duration", "prompt_eval_count", "prompt_eval_duration",
 *            "eval_count", "eval_duration"}: the prompt's tokens are
 *            prompt_eval_count, the answer's eval_count; done_reason
 *            "length" means num_predict cut it.
 *   errors   {"error": "text"} with a 4xx or 5xx status ("model ... not
 *            found, try pulling it first").
 * A streamed answer (several objects) is refused as malformed, and so is
 * one that says it is not done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "util/error.h"

static char *ollama_build(const char *provider, const char *model, const char *system,
			  const char *user, unsigned max_tokens)
{
	json_t *req;
	char *body = NULL;

	req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:b, s:{s:I}}", "model", model,
			"messages", "role", "system", "content", system, "role", "user", "content",
			user, "stream", 0, "options", "num_predict", (json_int_t)max_tokens);
	if (req)
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}

static int ollama_parse_answer(const char *body, size_t len, struct llm_parsed *ret, char *why,
			       size_t whylen)
{
	struct llm_parsed p = {.prompt_tokens = -1, .completion_tokens = -1};
	json_t *root, *msg, *content, *done;
	const char *error, *reason, *model;
	bool cut = false;
	char words[200];

	root = llm_json_load_object(body, len, words, sizeof(words));
	if (!root)
		return error_set(why, whylen, -EBADMSG, "malformed answer: %s", words);
	if ((error = json_string_value(json_object_get(root, "error")))) {
		llm_clean_line(words, sizeof(words), error, strlen(error));
		json_decref(root);
		return error_set(why, whylen, -EBADMSG, "the answer is an error: %s", words);
	}
	done = json_object_get(root, "done");
	if (!json_is_true(done)) {
		json_decref(root);
		return error_set(why, whylen, -EBADMSG, "malformed answer: %s",
				 done ? "not done (a streamed part?)" : "no \"done\"");
	}
	msg = json_object_get(root, "message");
	content = json_object_get(msg, "content");
	if (!json_is_object(msg) || !json_is_string(content)) {
		json_decref(root);
		return error_set(why, whylen, -EBADMSG, "malformed answer: no message.content");
	}
	p.text = llm_clean_text(json_string_value(content), json_string_length(content),
				LLM_ANSWER_MAX, &cut);
	if (!p.text) {
		json_decref(root);
		return error_set(why, whylen, -ENOMEM, "out of memory");
	}
	if (!p.text[0]) {
		bool tools = json_object_get(msg, "tool_calls") != NULL;

		json_decref(root);
		llm_parsed_clear(&p);
		return error_set(why, whylen, -EBADMSG, "%s",
				 tools ? "the answer holds tool calls, not text" : "empty answer");
	}
	reason = json_string_value(json_object_get(root, "done_reason"));
	p.truncated = cut || (reason && !strcmp(reason, "length"));
	p.prompt_tokens = llm_json_tokens(json_object_get(root, "prompt_eval_count"));
	p.completion_tokens = llm_json_tokens(json_object_get(root, "eval_count"));
	model = json_string_value(json_object_get(root, "model"));
	if (model)
		llm_clean_line(p.model, sizeof(p.model), model, strlen(model));
	json_decref(root);
	*ret = p;
	return 0;
}

static void ollama_parse_error(const char *body, size_t len, const char *content_type, char *why,
			       size_t whylen)
{
	/* {"error": "text"} is a case of the OpenAI family's reader */
	llm_openai_parse_error(body, len, content_type, why, whylen);
}

static int ollama_check_model(const char *model, char *why, size_t whylen)
{
	/* model:tag, with an optional namespace/ (docs/api.md, "Model names") */
	if (!model || !model[0])
		return error_set(why, whylen, -EINVAL, "no model");
	if (strspn(model, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/") !=
	    strlen(model))
		return error_set(
		    why, whylen, -EINVAL,
		    "is not an Ollama model name (name:tag, letters, digits, . _ - / :)");
	return 0;
}

const struct llm_protocol llm_protocol_ollama = {
    .name = "ollama",
    .path = "/api/chat",
    .check_model = ollama_check_model,
    .build = ollama_build,
    .parse_answer = ollama_parse_answer,
    .parse_error = ollama_parse_error,
};
