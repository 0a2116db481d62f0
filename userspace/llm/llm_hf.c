// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * llm_hf.c - the Hugging Face inference router
 * (https://router.huggingface.co/v1), which routes a chat completion to
 * one of the inference providers serving the model.
 *
 * Followed: Hugging Face's "Inference Providers" documentation, task
 * "Chat Completion": the router speaks the OpenAI chat completions
 * protocol (POST {base}/chat/completions with a Bearer access token, the
 * answer as OpenAI's), so the request and the answer are llm_openai.c's,
 * with "max_tokens" as its specification names the limit. What differs:
 *   - models are Hub ids, "org/name", optionally followed by ":provider"
 *     or a policy such as ":fastest" or ":cheapest" (the changelog
 *     "Inference Providers now fully support OpenAI-compatible API");
 *   - errors come as {"error": "text"} from the router itself, or as the
 *     provider's own ({"error": {"message"}}, {"message"}, {"detail"}),
 *     which is what huggingface.js reads (packages/inference,
 *     utils/request.ts); a 503 carries "estimated_time" while a model
 *     loads, and is tried again like any 503.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "util/error.h"

static bool id_chars(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return n > 0;
}

static int hf_check_model(const char *model, char *why, size_t whylen)
{
	const char *slash = model ? strchr(model, '/') : NULL, *colon;
	size_t org, name;

	if (!slash)
		goto bad;
	colon = strchr(slash, ':');
	org = (size_t)(slash - model);
	name = colon ? (size_t)(colon - slash - 1) : strlen(slash + 1);
	/* providers and policies are lower case: ":cerebras", ":fastest" */
	if (!id_chars(model, org, "._-") || !id_chars(slash + 1, name, "._-") ||
	    (colon &&
	     (!id_chars(colon + 1, strlen(colon + 1), "-") ||
	      strspn(colon + 1, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(colon + 1))))
		goto bad;
	return 0;
bad:
	return error_set(why, whylen, -EINVAL,
			 "is not a Hugging Face model id (org/name, optionally :provider)");
}

static void hf_parse_error(const char *body, size_t len, const char *content_type, char *why,
			   size_t whylen)
{
	json_t *root;
	double eta;

	llm_openai_parse_error(body, len, content_type, why, whylen);
	root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	eta = json_number_value(json_object_get(root, "estimated_time"));
	json_decref(root);
	if (eta > 0 && isfinite(eta) && eta < 1e6) {
		size_t n = strlen(why);

		snprintf(why + n, whylen > n ? whylen - n : 0, "%s(ready in about %.0f s)",
			 n ? " " : "", eta);
	}
}

const struct llm_protocol llm_protocol_hf = {
    .name = "huggingface",
    .path = "/chat/completions",
    .check_model = hf_check_model,
    .build = llm_openai_build,
    .parse_answer = llm_openai_parse_answer,
    .parse_error = hf_parse_error,
};
