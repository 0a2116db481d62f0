// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_llm_answer.c - libFuzzer target on what comes back from an LLM
 * provider: the answer parsers and error readers of the three protocols
 * (llm_openai.c, llm_ollama.c, llm_hf.c), and the evidence trimmer
 * (llm_prompt.c), which reads the caller's JSON. `make fuzz-llm`.
 *
 * The first byte picks the case: its low two bits the protocol (openai,
 * ollama, huggingface), 0x40 the evidence trimmer instead, 0x80 an HTML
 * content type for the error reader. The rest is the body, NUL-terminated
 * as util/http.c hands it over. Besides memory and undefined behaviour,
 * the target checks the promises made about outside text: whatever is
 * kept is valid UTF-8 with no control character (but newlines and tabs
 * in an answer), within its bound, and the trimmed evidence fits its
 * budget.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "util/utf8.h"

static void check_clean(const char *s, size_t max, bool lines)
{
	size_t n = strlen(s);

	if (n > max || !utf8_valid(s, n))
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 || c == 0x7f) && !(lines && (c == '\n' || c == '\t')))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct llm_protocol *const protos[] = {
	    &llm_protocol_openai, &llm_protocol_ollama, &llm_protocol_hf, &llm_protocol_openai};
	const struct llm_protocol *p;
	struct llm_parsed out = {};
	char why[LLM_REASON_MAX], *body;
	size_t len;

	if (size < 1)
		return 0;
	why[0] = '\0';
	len = size - 1;
	body = malloc(len + 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);
	body[len] = '\0';
	if (data[0] & 0x40) {
		char *text = NULL;
		bool trimmed;

		/* the caller's evidence is a NUL-terminated string */
		if (llm_evidence_trim(body, 100, &text, &trimmed, why, sizeof(why)) == 0) {
			if (strlen(text) > 100 * LLM_BYTES_PER_TOKEN)
				__builtin_trap();
			free(text);
		}
		check_clean(why, sizeof(why), false);
		free(body);
		return 0;
	}
	p = protos[data[0] & 3];
	if (p->parse_answer(body, len, &out, why, sizeof(why)) == 0) {
		check_clean(out.text, LLM_ANSWER_MAX, true);
		if (!out.text[0])
			__builtin_trap(); /* an empty answer is refused */
		check_clean(out.model, LLM_MODEL_MAX - 1, false);
		if (out.prompt_tokens < -1 || out.completion_tokens < -1)
			__builtin_trap();
		llm_parsed_clear(&out);
	} else {
		check_clean(why, sizeof(why) - 1, false);
	}
	p->parse_error(body, len, (data[0] & 0x80) ? "text/html" : "application/json", why,
		       sizeof(why));
	check_clean(why, sizeof(why) - 1, false);
	free(body);
	return 0;
}
