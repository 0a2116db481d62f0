// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for llm/llm_openai.c, llm_ollama.c and llm_hf.c: the request bodies
 * each protocol builds, and the strict reading of answers and errors,
 * against bodies shaped as the providers' documentation shows them. */
#include <errno.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "test.h"

static int parse(const struct llm_protocol *proto, const char *body, struct llm_parsed *p,
		 char *why, size_t whylen)
{
	return proto->parse_answer(body, strlen(body), p, why, whylen);
}

/* ------------------------------------------------------------ requests */

TEST(openai_family_requests_name_model_messages_and_no_stream)
{
	static const struct {
		const char *provider, *limit, *other;
	} cases[] = {
	    {"openai", "max_completion_tokens", "max_tokens"},
	    {"groq", "max_completion_tokens", "max_tokens"},
	    {"compat", "max_tokens", "max_completion_tokens"},
	    {"huggingface", "max_tokens", "max_completion_tokens"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct llm_protocol *proto = llm_protocol_for(cases[i].provider);
		char *body =
		    proto->build(cases[i].provider, "m-1", "sys \"q\"", "user\n\xc3\xa9", 512);
		json_t *j = json_loads(body, 0, NULL), *msgs = json_object_get(j, "messages");

		CHECK(j != NULL);
		CHECK_STR(json_string_value(json_object_get(j, "model")), "m-1");
		CHECK(json_is_false(json_object_get(j, "stream")));
		CHECK_EQ_INT(json_integer_value(json_object_get(j, cases[i].limit)), 512);
		CHECK(json_object_get(j, cases[i].other) == NULL);
		CHECK(json_object_get(j, "temperature") == NULL);
		CHECK_EQ_INT(json_array_size(msgs), 2);
		CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
			  "system");
		CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
			  "sys \"q\"");
		CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
			  "user");
		CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
			  "user\n\xc3\xa9");
		json_decref(j);
		free(body);
	}
	CHECK_STR(llm_protocol_for("huggingface")->path, "/chat/completions");
	CHECK_STR(llm_protocol_for("groq")->path, "/chat/completions");
}

TEST(ollama_requests_say_stream_false_and_num_predict)
{
	char *body = llm_protocol_ollama.build("ollama", "llama3.2", "s", "u", 300);
	json_t *j = json_loads(body, 0, NULL);

	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "model")), "llama3.2");
	CHECK(json_is_false(json_object_get(j, "stream")));
	CHECK_EQ_INT(
	    json_integer_value(json_object_get(json_object_get(j, "options"), "num_predict")), 300);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "messages")), 2);
	CHECK_STR(llm_protocol_ollama.path, "/api/chat");
	json_decref(j);
	free(body);
}

TEST(provider_names_map_to_their_protocols)
{
	CHECK(llm_protocol_for("groq") == &llm_protocol_openai);
	CHECK(llm_protocol_for("openai") == &llm_protocol_openai);
	CHECK(llm_protocol_for("compat") == &llm_protocol_openai);
	CHECK(llm_protocol_for("ollama") == &llm_protocol_ollama);
	CHECK(llm_protocol_for("huggingface") == &llm_protocol_hf);
	CHECK(llm_protocol_for("anthropic") == NULL);
	CHECK(llm_protocol_for(NULL) == NULL);
}

/* ------------------------------------------------------------ answers */

/* The answer of the API reference's example, abridged. */
static const char openai_answer[] =
    "{\"id\": \"chatcmpl-123\", \"object\": \"chat.completion\", \"created\": 1677652288,"
    " \"model\": \"gpt-4o-mini-2024-07-18\", \"system_fingerprint\": \"fp_44709d6fcb\","
    " \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\","
    " \"content\": \"\\n\\nCause: disk.\\nNext steps:\\n- check\", \"refusal\": null},"
    " \"logprobs\": null, \"finish_reason\": \"stop\"}],"
    " \"usage\": {\"prompt_tokens\": 9, \"completion_tokens\": 12, \"total_tokens\": 21}}";

TEST(an_openai_answer_gives_text_model_and_tokens)
{
	struct llm_parsed p = {};
	char why[256];

	CHECK_EQ_INT(parse(&llm_protocol_openai, openai_answer, &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "Cause: disk.\nNext steps:\n- check"); /* blanks trimmed */
	CHECK_STR(p.model, "gpt-4o-mini-2024-07-18");
	CHECK_EQ_INT(p.prompt_tokens, 9);
	CHECK_EQ_INT(p.completion_tokens, 12);
	CHECK(!p.truncated);
	llm_parsed_clear(&p);
	CHECK(p.text == NULL);
}

TEST(finish_reason_length_marks_the_answer_truncated)
{
	struct llm_parsed p = {};
	char why[256];

	CHECK_EQ_INT(parse(&llm_protocol_openai,
			   "{\"choices\":[{\"message\":{\"content\":\"half\"},"
			   "\"finish_reason\":\"length\"}]}",
			   &p, why, sizeof(why)),
		     0);
	CHECK(p.truncated);
	CHECK_EQ_INT(p.prompt_tokens, -1); /* no usage: not reported */
	CHECK_STR(p.model, "");
	llm_parsed_clear(&p);
}

TEST(openai_answers_without_text_are_refused_with_the_reason)
{
	static const struct {
		const char *body, *why;
	} bad[] = {
	    {"{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"}}]}",
	     "the model refused: I can't"},
	    {"{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}",
	     "the answer holds tool calls, not text"},
	    {"{\"choices\":[]}", "malformed answer: no choices[0].message object"},
	    {"{\"choices\":[{\"message\":{}}]}", "malformed answer: no choices[0].message.content"},
	    {"{\"choices\":[{\"message\":{\"content\":\"  \\n \"}}]}", "empty answer"},
	    {"{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"error\":{\"message\":\"quota\","
	     "\"code\":\"insufficient_quota\"}}",
	     "the answer is an error: quota (insufficient_quota)"},
	    {"[1,2]", "malformed answer: not a JSON object"},
	    {"{\"choices\": [{\"message\": {\"content\": \"cut sh", "malformed answer: not JSON"},
	    {"{\"a\":1,\"a\":2}", "malformed answer: not JSON"},
	    {"{\"choices\":[{\"message\":{\"content\":\"nul\\u0000inside\"}}]}",
	     "malformed answer: not JSON"},
	    {"", "malformed answer: not JSON"},
	};
	struct llm_parsed p = {};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(&llm_protocol_openai, bad[i].body, &p, why, sizeof(why)),
			     -EBADMSG);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, why);
			CHECK(0);
		}
		CHECK(p.text == NULL);
	}
}

TEST(answer_text_is_cleaned_bounded_and_its_tokens_checked)
{
	struct llm_parsed p = {};
	char why[256], *big, *body;
	size_t n = LLM_ANSWER_MAX + 100;

	CHECK_EQ_INT(
	    parse(&llm_protocol_openai,
		  "{\"choices\":[{\"message\":{\"content\":\"a\\u001b[2Jb\\r\\nc\\td\\u0007"
		  "\"}}],\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":\"7\"}}",
		  &p, why, sizeof(why)),
	    0);
	CHECK_STR(p.text, "a\\x1b[2Jb\nc\td\\x07");
	CHECK_EQ_INT(p.prompt_tokens, -1);
	CHECK_EQ_INT(p.completion_tokens, -1);
	llm_parsed_clear(&p);

	big = malloc(n + 1);
	body = malloc(n + 64);
	memset(big, 'x', n);
	big[n] = '\0';
	snprintf(body, n + 64, "{\"choices\":[{\"message\":{\"content\":\"%s\"}}]}", big);
	CHECK_EQ_INT(parse(&llm_protocol_openai, body, &p, why, sizeof(why)), 0);
	CHECK_EQ_INT(strlen(p.text), LLM_ANSWER_MAX);
	CHECK(p.truncated);
	llm_parsed_clear(&p);
	free(big);
	free(body);
}

/* The answer of Ollama's docs/api.md, "Chat request (No streaming)". */
static const char ollama_answer[] =
    "{\"model\": \"llama3.2\", \"created_at\": \"2023-12-12T14:13:43.416799Z\","
    " \"message\": {\"role\": \"assistant\", \"content\": \"Hello! How are you today?\"},"
    " \"done\": true, \"total_duration\": 5191566416, \"load_duration\": 2154458,"
    " \"prompt_eval_count\": 26, \"prompt_eval_duration\": 383809000, \"eval_count\": 298,"
    " \"eval_duration\": 4799921000}";

TEST(an_ollama_answer_gives_text_model_and_eval_counts)
{
	struct llm_parsed p = {};
	char why[256];

	CHECK_EQ_INT(parse(&llm_protocol_ollama, ollama_answer, &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "Hello! How are you today?");
	CHECK_STR(p.model, "llama3.2");
	CHECK_EQ_INT(p.prompt_tokens, 26);
	CHECK_EQ_INT(p.completion_tokens, 298);
	CHECK(!p.truncated);
	llm_parsed_clear(&p);
	CHECK_EQ_INT(parse(&llm_protocol_ollama,
			   "{\"message\":{\"content\":\"cut\"},\"done\":true,"
			   "\"done_reason\":\"length\"}",
			   &p, why, sizeof(why)),
		     0);
	CHECK(p.truncated);
	llm_parsed_clear(&p);
}

TEST(streamed_unfinished_and_error_ollama_answers_are_refused)
{
	static const struct {
		const char *body, *why;
	} bad[] = {
	    /* what /api/chat sends when stream is not false: NDJSON */
	    {"{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n"
	     "{\"model\":\"m\",\"message\":{\"content\":\"\"},\"done\":true}\n",
	     "malformed answer: not JSON"},
	    {"{\"message\":{\"content\":\"a\"},\"done\":false}",
	     "malformed answer: not done (a streamed part?)"},
	    {"{\"message\":{\"content\":\"a\"}}", "malformed answer: no \"done\""},
	    {"{\"done\":true}", "malformed answer: no message.content"},
	    {"{\"error\":\"model \\\"x\\\" not found, try pulling it first\"}",
	     "the answer is an error: model \"x\" not found, try pulling it first"},
	    {"{\"message\":{\"content\":\"\",\"tool_calls\":[{}]},\"done\":true}",
	     "the answer holds tool calls, not text"},
	};
	struct llm_parsed p = {};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(&llm_protocol_ollama, bad[i].body, &p, why, sizeof(why)),
			     -EBADMSG);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, why);
			CHECK(0);
		}
	}
}

/* ------------------------------------------------------------ errors */

TEST(error_bodies_of_each_family_become_one_line)
{
	static const struct {
		const struct llm_protocol *proto;
		const char *body, *ctype, *why;
	} cases[] = {
	    {&llm_protocol_openai,
	     "{\"error\": {\"message\": \"Rate limit reached for requests\", \"type\": "
	     "\"requests\", \"param\": null, \"code\": \"rate_limit_exceeded\"}}",
	     "application/json", "Rate limit reached for requests (rate_limit_exceeded)"},
	    {&llm_protocol_openai,
	     "{\"error\": {\"message\": \"The server had an error\", \"type\": \"server_error\"}}",
	     "application/json", "The server had an error (server_error)"},
	    {&llm_protocol_openai,
	     "{\"detail\": [{\"loc\": [\"body\"], \"msg\": \"field required\"}]}",
	     "application/json", "field required"},
	    {&llm_protocol_openai, "{\"message\": \"Sambanova says no\"}", "application/json",
	     "Sambanova says no"},
	    {&llm_protocol_openai, "<html><body>502 Bad Gateway</body></html>", "text/html",
	     "an HTML page"},
	    {&llm_protocol_openai, "upstream connect error\nor disconnect", "text/plain",
	     "upstream connect error"},
	    {&llm_protocol_openai, "", "text/plain", ""},
	    {&llm_protocol_ollama, "{\"error\":\"llama runner process has terminated\"}",
	     "application/json", "llama runner process has terminated"},
	    {&llm_protocol_hf,
	     "{\"error\": \"Model is currently loading\", \"estimated_time\": 20.0}",
	     "application/json", "Model is currently loading (ready in about 20 s)"},
	    {&llm_protocol_hf, "{\"error\": \"Invalid credentials in Authorization header\"}",
	     "application/json", "Invalid credentials in Authorization header"},
	    {&llm_protocol_hf, "{\"error\": {\"message\": \"provider quota\", \"code\": 402}}",
	     "application/json", "provider quota"},
	    {&llm_protocol_openai, "{\"error\": \"line\\nbreak \\u001b[31m\"}", "application/json",
	     "line break \\x1b[31m"},
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].proto->parse_error(cases[i].body, strlen(cases[i].body), cases[i].ctype,
					    why, sizeof(why));
		if (strcmp(why, cases[i].why) != 0) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, why);
			CHECK(0);
		}
	}
}

/* ------------------------------------------------------------ models */

TEST(model_names_are_checked_per_protocol)
{
	static const char *const hf_ok[] = {"meta-llama/Llama-3.1-8B-Instruct",
					    "openai/gpt-oss-120b:cerebras",
					    "deepseek-ai/DeepSeek-R1:fastest", "Qwen/Qwen2.5-7B"};
	static const char *const hf_bad[] = {
	    "gpt-4o", "org/", "/name", "org/name:", "a/b/c", "org/na me", "org/name:Upper", ""};
	char why[256];

	for (size_t i = 0; i < sizeof(hf_ok) / sizeof(hf_ok[0]); i++)
		CHECK_EQ_INT(llm_protocol_hf.check_model(hf_ok[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(hf_bad) / sizeof(hf_bad[0]); i++)
		CHECK_EQ_INT(llm_protocol_hf.check_model(hf_bad[i], why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "org/name") != NULL);
	CHECK_EQ_INT(llm_protocol_ollama.check_model("library/llama3.2:3b-q4_1", why, sizeof(why)),
		     0);
	CHECK_EQ_INT(llm_protocol_ollama.check_model("llama 3", why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(llm_protocol_openai.check_model("gpt-4o-mini", why, sizeof(why)), 0);
	CHECK_EQ_INT(llm_protocol_openai.check_model("", why, sizeof(why)), -EINVAL);
}

TEST_MAIN()
