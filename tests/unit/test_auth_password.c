// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth_password.c - unit tests for auth/password.c: one PBKDF2 per
 * login whether the user exists or not, the stored hash's form and
 * iteration count, and the per-name backoff of failed logins (on the fake
 * clock, so no test waits).
 */
#include <errno.h>

#include <sqlite3.h>

#include "auth_fixture.h"

/* ------------------------------------------------------------------------
 * Hashes
 * ---------------------------------------------------------------------- */

/* Unknown users pay one PBKDF2 too: with many iterations both take time. */
/* Timing must not tell whether a user exists: a login for an unknown name
 * runs one full password derivation, like a wrong password does. Counted
 * rather than timed, so the test does not depend on the machine's load. */
FX_TEST(unknown_user_costs_one_pbkdf2, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	uint64_t before;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	before = auth_password_checks(fx->a);
	CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(auth_password_checks(fx->a) - before, 1);
	CHECK_EQ_INT(login(fx, "nobody", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(auth_password_checks(fx->a) - before, 2);
}

/* The one slow test: the real default, and the stored hash names it. */
FX_TEST(default_iterations_are_600000_and_stored, 0)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *hash;

	fx->opts.pbkdf2_iterations = 0;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	snprintf(path, sizeof(path), "%s/auth.db", fx->dir);
	CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT password_hash FROM users WHERE name = 'alice'",
					-1, &st, NULL),
		     SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	hash = (const char *)sqlite3_column_text(st, 0);
	/* salt: 16 bytes -> 22 characters; hash: 32 bytes -> 43 */
	int ok = hash && !strncmp(hash, "pbkdf2-sha256$600000$", 21) &&
		 strlen(hash) == 21 + 22 + 1 + 43 && hash[21 + 22] == '$';

	if (!ok)
		fprintf(stderr, "  stored hash: %s\n", hash ? hash : "(null)");
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(ok);
}

/* A hash stored with fewer iterations still verifies after the default
 * changes (the count is read from the hash). */
FX_TEST(hash_keeps_its_iteration_count, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	fx->opts.pbkdf2_iterations = 2000;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
}

/* ------------------------------------------------------------------------
 * Login backoff
 * ---------------------------------------------------------------------- */

FX_TEST(backoff_after_three_failures_grows_and_resets, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	double exp = 0, retry = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	/* even the right password waits */
	CHECK_EQ_INT(auth_login(fx->a, "alice", "correct horse", tok, sizeof(tok), &exp, &retry),
		     -EAGAIN);
	CHECK_NEAR(retry, 1, 1e-9);
	fx->now += 0.5;
	CHECK_EQ_INT(auth_login(fx->a, "alice", "wrong horse", tok, sizeof(tok), &exp, &retry),
		     -EAGAIN);
	CHECK_NEAR(retry, 0.5, 1e-9);
	fx->now += 0.5;
	CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(auth_login(fx->a, "alice", "wrong horse", tok, sizeof(tok), &exp, &retry),
		     -EAGAIN);
	CHECK_NEAR(retry, 2, 1e-9);
	fx->now += 2;
	CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(auth_login(fx->a, "alice", "wrong horse", tok, sizeof(tok), &exp, &retry),
		     -EAGAIN);
	CHECK_NEAR(retry, 4, 1e-9);
	/* other accounts are not affected */
	CHECK_EQ_INT(auth_user_add(fx->a, "bob", "bobs password", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "bob", "bobs password", tok, sizeof(tok)), 0);

	fx->now += 4;
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	/* the success reset the count: three more failures before a wait */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EAGAIN);
}

FX_TEST(backoff_caps_at_300s_and_covers_unknown_names, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	double exp = 0, retry = 0;

	for (int i = 0; i < 30; i++) {
		int r = auth_login(fx->a, "ghost", "wrong horse", tok, sizeof(tok), &exp, &retry);

		CHECK(r == -EACCES || r == -EAGAIN);
		if (r == -EAGAIN) {
			CHECK(retry > 0 && retry <= 300);
			fx->now += retry;
		}
	}
	fx->now += 300;
	CHECK_EQ_INT(login(fx, "ghost", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(auth_login(fx->a, "ghost", "wrong horse", tok, sizeof(tok), &exp, &retry),
		     -EAGAIN);
	CHECK_NEAR(retry, 300, 1e-9);
	/* an hour of quiet forgets the name */
	fx->now += 3601;
	CHECK_EQ_INT(login(fx, "ghost", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "ghost", "wrong horse", tok, sizeof(tok)), -EACCES);
}

TEST_MAIN()
