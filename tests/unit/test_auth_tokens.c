// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth_tokens.c - unit tests for auth/tokens.c: API tokens are
 * created, checked and deleted, only their SHA-256 is stored, their role
 * never exceeds the owner's current one, labels are checked, and each
 * owner's count is bounded.
 */
#include <errno.h>
#include <stdlib.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "auth_fixture.h"

/* How many rows of api_tokens have a column equal to s. */
static int token_rows_matching(const char *dir, const char *s, char *sha_hex_out)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	snprintf(path, sizeof(path), "%s/auth.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM api_tokens WHERE owner = ?1 OR role = ?1 "
			       "OR label = ?1 OR token_sha256 = ?1 OR instr(token_sha256, ?1)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sha_hex_out &&
	    sqlite3_prepare_v2(db, "SELECT token_sha256 FROM api_tokens", -1, &st, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		snprintf(sha_hex_out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

FX_TEST(api_token_create_check_delete_and_only_the_hash_is_kept, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], stored[65] = "", want[65];
	unsigned char md[32];
	struct auth_identity id;
	int64_t tid = 0;
	json_t *list = NULL;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_OPERATOR), 0);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_OPERATOR, "ci", tok, sizeof(tok), &tid), 0);
	CHECK(tid > 0);
	CHECK_EQ_INT(strlen(tok), AUTH_API_TOKEN_LEN);
	CHECK(!strncmp(tok, "kpt_", 4));
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_STR(id.user, "alice");
	CHECK_EQ_INT(id.role, AUTH_ROLE_OPERATOR);
	CHECK_EQ_INT(id.token_id, tid);

	/* the database holds the SHA-256 of the token, never the token */
	CHECK_EQ_INT(token_rows_matching(fx->dir, tok, stored), 0);
	CHECK_EQ_INT(token_rows_matching(fx->dir, tok + 4, NULL), 0);
	SHA256((unsigned char *)tok, strlen(tok), md);
	for (int i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02x", md[i]);
	CHECK_STR(stored, want);
	CHECK_EQ_INT(auth_token_list(fx->a, NULL, &list), 0);
	char *dump = json_dumps(list, JSON_COMPACT);

	json_decref(list);
	CHECK(dump && !strstr(dump, tok + 4) && !strstr(dump, want) && strstr(dump, "\"ci\""));
	free(dump);

	/* a near miss fails */
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check(fx, "kpt_", NULL), -EACCES);

	CHECK_EQ_INT(auth_token_delete(fx->a, tid), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(auth_token_delete(fx->a, tid), -ENOENT);
}

FX_TEST(api_token_role_is_capped_by_the_owner, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], vtok[AUTH_TOKEN_MAX + 1] = "untouched";
	struct auth_identity id;
	int64_t tid = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_OPERATOR), 0);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_ADMIN, "", vtok, sizeof(vtok), &tid),
	    -EPERM);
	CHECK_STR(vtok, "untouched");
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "nobody", AUTH_ROLE_VIEWER, "", vtok, sizeof(vtok), &tid),
	    -ENOENT);
	CHECK_EQ_INT(auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "", vtok, 47, &tid),
		     -ENOBUFS);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "a\nb", vtok, sizeof(vtok), &tid),
	    -EINVAL);
	CHECK_EQ_INT(auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "\xff\xfe", vtok,
				       sizeof(vtok), &tid),
		     -EINVAL);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_NONE, "", vtok, sizeof(vtok), &tid),
	    -EINVAL);
	CHECK_STR(vtok, "untouched");

	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_OPERATOR, NULL, tok, sizeof(tok), &tid), 0);
	CHECK_EQ_INT(auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "read only", vtok,
				       sizeof(vtok), NULL),
		     0);
	CHECK_EQ_INT(check(fx, vtok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);

	/* demoting the owner lowers the token */
	CHECK_EQ_INT(auth_user_set_role(fx->a, "alice", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);
	/* promoting the owner does not raise it above its own role */
	CHECK_EQ_INT(auth_user_set_role(fx->a, "alice", AUTH_ROLE_ADMIN), 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_OPERATOR);

	/* deleting the owner ends the token, also for a namesake */
	CHECK_EQ_INT(auth_user_delete(fx->a, "alice"), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_ADMIN), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(check(fx, vtok, NULL), -EACCES);
}

FX_TEST(api_tokens_per_owner_are_limited, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	int64_t tid = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	for (int i = 0; i < AUTH_TOKENS_PER_OWNER; i++)
		CHECK_EQ_INT(
		    auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "", tok, sizeof(tok), &tid),
		    0);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "", tok, sizeof(tok), &tid),
	    -ENOSPC);
	CHECK_EQ_INT(auth_token_delete(fx->a, tid), 0);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, "", tok, sizeof(tok), &tid), 0);
}

TEST_MAIN()
