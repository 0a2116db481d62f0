// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * llm_openai.c - OpenAI-compatible chat completions: OpenAI itself, Groq
 * (the same API under https://api.groq.com/openai/v1, as
 * console.groq.com/docs/openai says) and any compatible server ("compat":
 * vLLM, llama.cpp's server, LocalAI).
 *
 * Followed: the OpenAI API reference, "Create chat completion"
 * (POST {base}/chat/completions):
 *   request  {"model", "messages": [{"role": "system" | "user", "content"}],
 *             "max_completion_tokens" or "max_tokens", "stream": false}.
 *            OpenAI deprecated max_tokens for max_completion_tokens (its
 *            reasoning models refuse max_tokens), and Groq documents
 *            max_completion_tokens too; compatible servers and the Hugging
 *            Face router read max_tokens. No temperature: reasoning models
 *            refuse any but the default.
 *   answer   {"id", "object": "chat.completion", "model", "choices":
 *            [{"index", "message": {"role", "content", "refusal"},
 *            "finish_reason"}], "usage": {"prompt_tokens",
 *            "completion_tokens", "total_tokens"}}; content is null when
 *            the model refused (refusal says why) or called tools;
 *            finish_reason "length" means the answer hit max tokens.
 *   errors   {"error": {"message", "type", "param", "code"}} (the guide
 *            "Error codes"); compatible servers also send {"error":
 *            "text"}, {"message": "text"} or FastAPI's {"detail": ...}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "util/error.h"

/* Providers that name the answer's limit max_completion_tokens. */
static bool new_limit_name(const char *provider)
{
	return provider && (!strcmp(provider, "openai") || !strcmp(provider, "groq"));
}

char *llm_openai_build(const char *provider, const char *model, const char *system,
		       const char *user, unsigned max_tokens)
{
	json_t *req;
	char *body = NULL;

	req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:b, s:I}", "model", model, "messages",
			"role", "system", "content", system, "role", "user", "content", user,
			"stream", 0,
			new_limit_name(provider) ? "max_completion_tokens" : "max_tokens",
			(json_int_t)max_tokens);
	if (req)
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}

/* The words of an {"error": ...} value, as one line into why. */
static void describe_error(const json_t *e, char *why, size_t whylen)
{
	const char *msg = NULL, *code = NULL;
	char line[200], c[64] = "";

	if (json_is_string(e)) {
		msg = json_string_value(e);
	} else if (json_is_object(e)) {
		msg = json_string_value(json_object_get(e, "message"));
		code = json_string_value(json_object_get(e, "code"));
		if (!code)
			code = json_string_value(json_object_get(e, "type"));
	}
	if (!msg) {
		why[0] = '\0';
		return;
	}
	llm_clean_line(line, sizeof(line), msg, strlen(msg));
	if (code)
		llm_clean_line(c, sizeof(c), code, strlen(code));
	error_set(why, whylen, 0, "%s%s%s%s", line, c[0] ? " (" : "", c, c[0] ? ")" : "");
}

int llm_openai_parse_answer(const char *body, size_t len, struct llm_parsed *ret, char *why,
			    size_t whylen)
{
	struct llm_parsed p = {.prompt_tokens = -1, .completion_tokens = -1};
	json_t *root, *choice, *msg, *content, *usage, *e;
	const char *finish, *model;
	bool cut = false;
	char words[200];

	root = llm_json_load_object(body, len, words, sizeof(words));
	if (!root)
		return error_set(why, whylen, -EBADMSG, "malformed answer: %s", words);
	e = json_object_get(root, "error");
	if (e && !json_is_null(e)) {
		describe_error(e, words, sizeof(words));
		json_decref(root);
		return error_set(why, whylen, -EBADMSG, "the answer is an error: %s",
				 words[0] ? words : "(no message)");
	}
	choice = json_array_get(json_object_get(root, "choices"), 0);
	msg = json_object_get(choice, "message");
	if (!json_is_object(choice) || !json_is_object(msg)) {
		json_decref(root);
		return error_set(why, whylen, -EBADMSG,
				 "malformed answer: no choices[0].message object");
	}
	content = json_object_get(msg, "content");
	if (!json_is_string(content)) {
		const char *refusal = json_string_value(json_object_get(msg, "refusal"));

		if (refusal) {
			llm_clean_line(words, sizeof(words), refusal, strlen(refusal));
			error_set(why, whylen, 0, "the model refused: %s", words);
		} else if (json_object_get(msg, "tool_calls")) {
			error_set(why, whylen, 0, "the answer holds tool calls, not text");
		} else {
			error_set(why, whylen, 0,
				  "malformed answer: no choices[0].message.content");
		}
		json_decref(root);
		return -EBADMSG;
	}
	p.text = llm_clean_text(json_string_value(content), json_string_length(content),
				LLM_ANSWER_MAX, &cut);
	if (!p.text) {
		json_decref(root);
		return error_set(why, whylen, -ENOMEM, "out of memory");
	}
	if (!p.text[0]) {
		json_decref(root);
		llm_parsed_clear(&p);
		return error_set(why, whylen, -EBADMSG, "empty answer");
	}
	finish = json_string_value(json_object_get(choice, "finish_reason"));
	p.truncated = cut || (finish && !strcmp(finish, "length"));
	usage = json_object_get(root, "usage");
	p.prompt_tokens = llm_json_tokens(json_object_get(usage, "prompt_tokens"));
	p.completion_tokens = llm_json_tokens(json_object_get(usage, "completion_tokens"));
	model = json_string_value(json_object_get(root, "model"));
	if (model)
		llm_clean_line(p.model, sizeof(p.model), model, strlen(model));
	json_decref(root);
	*ret = p;
	return 0;
}

void llm_openai_parse_error(const char *body, size_t len, const char *content_type, char *why,
			    size_t whylen)
{
	json_t *root, *detail;
	const char *msg;
	size_t line;

	if (!whylen)
		return;
	why[0] = '\0';
	if (!body || !len)
		return;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root)) {
		describe_error(json_object_get(root, "error"), why, whylen);
		if (!why[0] && (msg = json_string_value(json_object_get(root, "message"))))
			llm_clean_line(why, whylen, msg, strlen(msg));
		detail = json_object_get(root, "detail");
		if (!why[0] && json_is_array(detail))
			detail = json_object_get(json_array_get(detail, 0), "msg");
		if (!why[0] && (msg = json_string_value(detail)))
			llm_clean_line(why, whylen, msg, strlen(msg));
		json_decref(root);
		return;
	}
	json_decref(root);
	if (content_type && !strncmp(content_type, "text/html", 9)) {
		error_set(why, whylen, 0, "an HTML page");
		return;
	}
	/* plain text: its first line */
	line = strcspn(body, "\r\n");
	llm_clean_line(why, whylen, body, line < len ? line : len);
}

static int any_model(const char *model, char *why, size_t whylen)
{
	if (!model || !model[0])
		return error_set(why, whylen, -EINVAL, "no model");
	return 0;
}

const struct llm_protocol llm_protocol_openai = {
    .name = "openai",
    .path = "/chat/completions",
    .check_model = any_model,
    .build = llm_openai_build,
    .parse_answer = llm_openai_parse_answer,
    .parse_error = llm_openai_parse_error,
};

const struct llm_protocol *llm_protocol_for(const char *provider)
{
	if (!provider)
		return NULL;
	if (!strcmp(provider, "groq") || !strcmp(provider, "openai") || !strcmp(provider, "compat"))
		return &llm_protocol_openai;
	if (!strcmp(provider, "ollama"))
		return &llm_protocol_ollama;
	if (!strcmp(provider, "huggingface"))
		return &llm_protocol_hf;
	return NULL;
}
