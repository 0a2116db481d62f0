// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for store/store_llm.c: the LLM answer cache keeps every field,
 * forgets expired answers, replaces by key, stays bounded, and refuses
 * bad entries. */
#include <errno.h>
#include <string.h>

#include "test_store_fixture.h"

static void key_of(unsigned char key[STORE_LLM_KEY_BYTES], unsigned char seed)
{
	for (int i = 0; i < STORE_LLM_KEY_BYTES; i++)
		key[i] = (unsigned char)(seed * 31 + i);
}

static struct store_llm_entry entry(const char *answer, double created, double ttl)
{
	return (struct store_llm_entry){
	    .provider = "groq",
	    .model = "llama-3.3-70b-versatile",
	    .prompt = "system: explain\nuser: evidence {\"cpu\": 1}",
	    .answer = (char *)answer,
	    .prompt_tokens = 120,
	    .completion_tokens = -1,
	    .latency_s = 1.25,
	    .created_ts = created,
	    .expires_ts = created + ttl,
	};
}

STORE_TEST(a_stored_answer_comes_back_with_every_field)
{
	unsigned char key[STORE_LLM_KEY_BYTES];
	struct store_llm_entry in = entry("Cause: \xc3\xa9t\xc3\xa9\nNext steps: -", T0, 3600);
	struct store_llm_entry out = {};

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), 0);
	key_of(key, 1);
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &in), 0);
	CHECK_EQ_INT(store_llm_cache_get(f->s, key, T0 + 10, &out), 0);
	CHECK_STR(out.provider, "groq");
	CHECK_STR(out.model, "llama-3.3-70b-versatile");
	CHECK_STR(out.prompt, in.prompt);
	CHECK_STR(out.answer, in.answer);
	CHECK_EQ_INT(out.prompt_tokens, 120);
	CHECK_EQ_INT(out.completion_tokens, -1); /* not reported stays not reported */
	CHECK_NEAR(out.latency_s, 1.25, 0);
	CHECK_NEAR(out.created_ts, T0, 0);
	CHECK_NEAR(out.expires_ts, T0 + 3600, 0);
	store_llm_entry_clear(&out);
	CHECK(out.answer == NULL);
	CHECK_EQ_INT(sql_int(f->db, "SELECT completion_tokens IS NULL FROM llm_cache"), 1);
}

STORE_TEST(an_expired_or_unknown_key_is_not_found)
{
	unsigned char key[STORE_LLM_KEY_BYTES], other[STORE_LLM_KEY_BYTES];
	struct store_llm_entry in = entry("old", T0, 60);
	struct store_llm_entry out = {};

	CHECK_EQ_INT(fx_open(f), 0);
	key_of(key, 2);
	key_of(other, 3);
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &in), 0);
	CHECK_EQ_INT(store_llm_cache_get(f->s, key, T0 + 59, &out), 0);
	store_llm_entry_clear(&out);
	CHECK_EQ_INT(store_llm_cache_get(f->s, key, T0 + 60, &out), -ENOENT);
	CHECK_EQ_INT(store_llm_cache_get(f->s, other, T0, &out), -ENOENT);
	CHECK(out.answer == NULL);
}

STORE_TEST(a_put_replaces_by_key_and_drops_expired_rows)
{
	unsigned char k1[STORE_LLM_KEY_BYTES], k2[STORE_LLM_KEY_BYTES];
	struct store_llm_entry a = entry("first", T0, 60), b = entry("second", T0 + 30, 600);
	struct store_llm_entry c = entry("third", T0 + 100, 600), out = {};

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	key_of(k1, 4);
	key_of(k2, 5);
	CHECK_EQ_INT(store_llm_cache_put(f->s, k1, &a), 0);
	CHECK_EQ_INT(store_llm_cache_put(f->s, k1, &b), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), 1);
	CHECK_EQ_INT(store_llm_cache_get(f->s, k1, T0 + 31, &out), 0);
	CHECK_STR(out.answer, "second");
	store_llm_entry_clear(&out);

	/* an entry that expired before a later put is deleted by that put */
	a.created_ts = T0 + 40;
	a.expires_ts = T0 + 50;
	CHECK_EQ_INT(store_llm_cache_put(f->s, k2, &a), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), 2);
	CHECK_EQ_INT(store_llm_cache_put(f->s, k1, &c), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), 1);
}

STORE_TEST(the_table_keeps_the_newest_entries_up_to_its_bound)
{
	unsigned char key[STORE_LLM_KEY_BYTES];
	struct store_llm_entry e = entry("newest", T0 + 20000, 3600);
	char sql[512];

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	/* fill to the bound with the test's own connection, oldest first */
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
		 "INSERT INTO llm_cache SELECT randomblob(32), 'p', 'm', 'q', 'a', NULL, NULL, 1, "
		 "%f + i, %f + 100000 FROM n",
		 STORE_LLM_MAX_ENTRIES, T0, T0);
	CHECK_EQ_INT(sql_exec(f->db, sql), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), STORE_LLM_MAX_ENTRIES);
	key_of(key, 6);
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &e), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache"), STORE_LLM_MAX_ENTRIES);
	/* the oldest (created T0 + 1) went, the new one stays */
	CHECK_NEAR(sql_double(f->db, "SELECT min(created_ts) FROM llm_cache"), T0 + 2, 1e-6);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM llm_cache WHERE answer = 'newest'"), 1);
}

STORE_TEST(bad_entries_and_arguments_are_refused)
{
	unsigned char key[STORE_LLM_KEY_BYTES];
	struct store_llm_entry e = entry("x", T0, 60), out = {};

	CHECK_EQ_INT(fx_open(f), 0);
	key_of(key, 7);
	e.answer = NULL;
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &e), -EINVAL);
	e = entry("x", T0, 60);
	e.expires_ts = T0 - 1;
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &e), -EINVAL);
	e = entry("x", T0, 60);
	e.latency_s = NAN;
	CHECK_EQ_INT(store_llm_cache_put(f->s, key, &e), -EINVAL);
	CHECK_EQ_INT(store_llm_cache_put(f->s, NULL, &e), -EINVAL);
	CHECK_EQ_INT(store_llm_cache_get(f->s, key, NAN, &out), -EINVAL);
	CHECK_EQ_INT(store_llm_cache_get(NULL, key, T0, &out), -EINVAL);
}

TEST_MAIN()
