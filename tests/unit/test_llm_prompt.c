// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for llm/llm_prompt.c: request checks, the evidence trimmed to its
 * token budget (and never over it), the prompt's sections, and the
 * cleaning of outside text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_provider.h"
#include "test.h"

TEST(tokens_are_estimated_as_bytes_over_three_rounded_up)
{
	CHECK_EQ_INT(llm_estimate_tokens(0), 0);
	CHECK_EQ_INT(llm_estimate_tokens(1), 1);
	CHECK_EQ_INT(llm_estimate_tokens(3), 1);
	CHECK_EQ_INT(llm_estimate_tokens(4), 2);
	CHECK_EQ_INT(llm_estimate_tokens(3000), 1000);
}

TEST(requests_are_checked_with_a_reason)
{
	struct llm_request ok = {.evidence_json = "{\"cpu\": [1, 2]}", .question = "why?"};
	struct llm_request bad_utf8 = {.question = "caf\xc3"};
	struct llm_request bad_json = {.evidence_json = "{\"cpu\": [1, 2}"};
	struct llm_request dup = {.evidence_json = "{\"a\": 1, \"a\": 2}"};
	struct llm_request empty_instr = {.instruction = ""};
	struct llm_request scalar = {.evidence_json = "42"};
	char *long_q = malloc(LLM_QUESTION_MAX + 2), err[256];
	struct llm_request too_long = {.question = long_q};

	CHECK_EQ_INT(llm_request_check(&ok, err, sizeof(err)), 0);
	CHECK_EQ_INT(llm_request_check(&scalar, err, sizeof(err)), 0);
	CHECK_EQ_INT(llm_request_check(&bad_utf8, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "the question is not valid UTF-8");
	CHECK_EQ_INT(llm_request_check(&bad_json, err, sizeof(err)), -EINVAL);
	CHECK(strncmp(err, "the evidence is not JSON: line 1, column 14:", 44) == 0);
	CHECK_EQ_INT(llm_request_check(&dup, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(llm_request_check(&empty_instr, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "the instruction is empty");
	memset(long_q, 'q', LLM_QUESTION_MAX + 1);
	long_q[LLM_QUESTION_MAX + 1] = '\0';
	CHECK_EQ_INT(llm_request_check(&too_long, err, sizeof(err)), -E2BIG);
	CHECK_STR(err, "the question is longer than 4096 bytes");
	CHECK_EQ_INT(llm_request_check(NULL, err, sizeof(err)), -EINVAL);
	free(long_q);
}

TEST(evidence_that_fits_is_sent_compact_and_unchanged)
{
	char *text = NULL, err[256];
	bool trimmed = true;

	CHECK_EQ_INT(llm_evidence_trim("{ \"b\": 1,\n \"a\": [1, 2, \"x\"] }", 100, &text, &trimmed,
				       err, sizeof(err)),
		     0);
	CHECK_STR(text, "{\"b\":1,\"a\":[1,2,\"x\"]}"); /* member order kept */
	CHECK(!trimmed);
	free(text);
}

/* A record like the analysis side will send: a few scalars, a long array
 * of samples, long strings and a wide object. */
static char *big_record(size_t samples, size_t wide)
{
	json_t *root = json_object(), *arr = json_array(), *obj = json_object();
	char key[32], *text;

	json_object_set_new(root, "incident", json_integer(42));
	json_object_set_new(root, "summary", json_string("run-queue latency p99 rose 40x on cpu3"));
	for (size_t i = 0; i < samples; i++)
		json_array_append_new(
		    arr, json_pack("{s:f, s:f}", "ts", 1.7e9 + (double)i, "v", (double)i * 0.5));
	json_object_set_new(root, "samples", arr);
	for (size_t i = 0; i < wide; i++) {
		snprintf(key, sizeof(key), "series_%04zu", i);
		json_object_set_new(obj, key, json_real((double)i));
	}
	json_object_set_new(root, "correlated", obj);
	json_object_set_new(
	    root, "log",
	    json_string("kworker/3:1H-kblockd stalled while flushing the journal "
			"of /dev/nvme0n1p2 for a long time, and then some more..."));
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

TEST(large_evidence_is_trimmed_within_the_budget_keeping_its_head)
{
	static const size_t budgets[] = {100, 300, 1000, 5000};
	char *in = big_record(5000, 300), *text, err[256];
	bool trimmed;

	for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
		json_t *j;

		CHECK_EQ_INT(llm_evidence_trim(in, budgets[i], &text, &trimmed, err, sizeof(err)),
			     0);
		CHECK(trimmed);
		CHECK(llm_estimate_tokens(strlen(text)) <= budgets[i]);
		j = json_loads(text, 0, NULL);
		if (budgets[i] >= 300) {
			json_t *samples = json_object_get(j, "samples");
			size_t n = json_array_size(samples);

			/* still JSON, the head kept, the cut said */
			CHECK(j != NULL);
			CHECK_EQ_INT(json_integer_value(json_object_get(j, "incident")), 42);
			CHECK(n >= 2);
			CHECK_NEAR(
			    json_real_value(json_object_get(json_array_get(samples, 0), "ts")),
			    1.7e9, 0);
			CHECK(strstr(json_string_value(json_array_get(samples, n - 1)),
				     "more items left out]") != NULL);
		}
		json_decref(j);
		free(text);
	}
	free(in);
}

TEST(the_elided_count_adds_up_to_what_was_left_out)
{
	char *in = big_record(1000, 0), *text, err[256];
	size_t kept, left = 0;
	bool trimmed;
	json_t *j, *samples;

	CHECK_EQ_INT(llm_evidence_trim(in, 2000, &text, &trimmed, err, sizeof(err)), 0);
	j = json_loads(text, 0, NULL);
	samples = json_object_get(j, "samples");
	kept = json_array_size(samples) - 1;
	CHECK(sscanf(json_string_value(json_array_get(samples, kept)),
		     "[kpulse: %zu more items left out]", &left) == 1);
	CHECK_EQ_INT(kept + left, 1000);
	json_decref(j);
	free(text);
	free(in);
}

TEST(wide_objects_and_long_strings_are_cut_with_marks)
{
	char *in = big_record(0, 2000), *text, err[256];
	bool trimmed;
	json_t *j;

	CHECK_EQ_INT(llm_evidence_trim(in, 400, &text, &trimmed, err, sizeof(err)), 0);
	CHECK(trimmed);
	CHECK(llm_estimate_tokens(strlen(text)) <= 400);
	j = json_loads(text, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_integer_value(
		  json_object_get(json_object_get(j, "correlated"), "kpulse_elided")) > 1000);
	json_decref(j);
	free(text);
	free(in);

	CHECK_EQ_INT(
	    llm_evidence_trim("{\"log\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
			      30, &text, &trimmed, err, sizeof(err)),
	    0);
	CHECK(strstr(text, "...[cut]") != NULL);
	CHECK(llm_estimate_tokens(strlen(text)) <= 30);
	free(text);
}

TEST(what_no_structure_can_shrink_is_cut_as_text_with_a_note)
{
	char *in = malloc(4000), *text, err[256];
	bool trimmed;

	/* one huge key: no array, string or object to halve */
	strcpy(in, "{\"");
	memset(in + 2, 'k', 3000);
	strcpy(in + 3002, "\": 1}");
	CHECK_EQ_INT(llm_evidence_trim(in, 100, &text, &trimmed, err, sizeof(err)), 0);
	CHECK(trimmed);
	CHECK(strlen(text) <= 300);
	CHECK(strstr(text, "[evidence cut to fit the token budget]") != NULL);
	free(text);
	free(in);
	CHECK_EQ_INT(llm_evidence_trim("{nope", 100, &text, &trimmed, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not JSON") != NULL);
}

TEST(the_prompt_holds_instruction_evidence_reading_and_question)
{
	struct llm_request req = {.evidence_json = "{\"cpu\": 3}",
				  .builtin_reading = "CPU 3 saturated by kworker",
				  .question = "is it the disk?"};
	struct llm_prompt p = {};
	char err[256];

	CHECK_EQ_INT(llm_prompt_build(&req, 3000, &p, err, sizeof(err)), 0);
	CHECK_STR(p.system, LLM_DEFAULT_INSTRUCTION);
	CHECK(strstr(LLM_DEFAULT_INSTRUCTION, "Cause") &&
	      strstr(LLM_DEFAULT_INSTRUCTION, "Evidence") &&
	      strstr(LLM_DEFAULT_INSTRUCTION, "Next steps"));
	CHECK_STR(p.user, "Evidence record (JSON):\n{\"cpu\":3}\n\n"
			  "Built-in analyst's reading:\nCPU 3 saturated by kworker\n\n"
			  "Question: is it the disk?\n");
	CHECK_EQ_INT(p.evidence_tokens, 3);
	CHECK(!p.evidence_trimmed);
	llm_prompt_clear(&p);

	req = (struct llm_request){.instruction = "Be brief."};
	CHECK_EQ_INT(llm_prompt_build(&req, 3000, &p, err, sizeof(err)), 0);
	CHECK_STR(p.system, "Be brief.");
	CHECK_STR(p.user, "Evidence record:\n(none)\n\nBuilt-in analyst's reading:\n(none)\n");
	llm_prompt_clear(&p);

	req = (struct llm_request){.evidence_json = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
						    "19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,"
						    "34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,"
						    "49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,"
						    "64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,"
						    "79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,"
						    "94,95,96,97,98,99,100,101,102,103,104,105,106,"
						    "107,108,109,110,111,112,113,114,115,116,117,"
						    "118,119,120,121,122,123,124,125,126,127,128,"
						    "129,130,131,132,133,134,135,136,137,138,139,"
						    "140,141,142,143,144,145,146,147,148,149,150]"};
	CHECK_EQ_INT(llm_prompt_build(&req, 100, &p, err, sizeof(err)), 0);
	CHECK(p.evidence_trimmed);
	CHECK(p.evidence_tokens <= 100);
	CHECK(strstr(p.user, "Evidence record (JSON, trimmed to fit the prompt):\n[1,2,") ==
	      p.user);
	llm_prompt_clear(&p);
}

TEST(outside_text_is_trimmed_escaped_and_cut_at_a_boundary)
{
	bool cut;
	char *t, line[32];

	static const char in[] = "\n  Cause:\x1b[1m x\r\n\ty \n";

	t = llm_clean_text(in, strlen(in), 100, &cut);
	CHECK_STR(t, "Cause:\\x1b[1m x\n\ty");
	CHECK(!cut);
	free(t);
	t = llm_clean_text("\xc3\xa9t\xc3\xa9", 5, 4, &cut);
	CHECK_STR(t, "\xc3\xa9t");
	CHECK(cut);
	free(t);
	t = llm_clean_text("ab\xff", 3, 100, &cut);
	CHECK_STR(t, "ab\\xff");
	free(t);
	llm_clean_line(line, sizeof(line), "two\nlines\tand\x07 bell ", 21);
	CHECK_STR(line, "two lines and\\x07 bell");
}

TEST_MAIN()
