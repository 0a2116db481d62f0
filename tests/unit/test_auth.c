// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth.c - unit tests for auth/auth.c: role names, options, login and
 * auth_check() (the Bearer scheme, that the current account record
 * decides), the credential cache, and checks from many threads. The other
 * auth files have test_auth_db.c, test_auth_password.c, test_auth_jwt.c
 * and test_auth_tokens.c. Each test works in a temporary data dir of its
 * own, removed afterwards (auth_fixture.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>

#include "auth_fixture.h"

/* ------------------------------------------------------------------------
 * Roles, options
 * ---------------------------------------------------------------------- */

TEST(role_names_parse_back)
{
	enum auth_role r = AUTH_ROLE_NONE;

	CHECK_EQ_INT(auth_role_parse("viewer", &r), 0);
	CHECK_EQ_INT(r, AUTH_ROLE_VIEWER);
	CHECK_EQ_INT(auth_role_parse("operator", &r), 0);
	CHECK_EQ_INT(r, AUTH_ROLE_OPERATOR);
	CHECK_EQ_INT(auth_role_parse("admin", &r), 0);
	CHECK_EQ_INT(r, AUTH_ROLE_ADMIN);
	CHECK_STR(auth_role_name(AUTH_ROLE_OPERATOR), "operator");
	CHECK_STR(auth_role_name(AUTH_ROLE_NONE), "none");
	r = AUTH_ROLE_VIEWER;
	CHECK_EQ_INT(auth_role_parse("Admin", &r), -EINVAL);
	CHECK_EQ_INT(auth_role_parse("none", &r), -EINVAL);
	CHECK_EQ_INT(auth_role_parse("", &r), -EINVAL);
	CHECK_EQ_INT(auth_role_parse(NULL, &r), -EINVAL);
	CHECK_EQ_INT(r, AUTH_ROLE_VIEWER); /* untouched on failure */
}

TEST(options_default_values)
{
	struct auth_options o;

	memset(&o, 0xff, sizeof(o));
	auth_options_default(&o);
	CHECK_NEAR(o.token_ttl_s, 3600, 0);
	CHECK(o.jwt_secret == NULL);
	CHECK(o.clock == NULL);
	CHECK_EQ_INT(o.pbkdf2_iterations, 600000);
}

FX_TEST(bad_options_are_refused, 0)
{
	fx->opts.token_ttl_s = 0;
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	fx->opts.token_ttl_s = NAN;
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	fx->opts.token_ttl_s = 3600;
	fx->opts.pbkdf2_iterations = 100000000;
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	CHECK(fx->a == NULL);
	CHECK_EQ_INT(auth_open(NULL, &fx->opts, &fx->a, NULL, 0), -EINVAL);
}

FX_TEST(close_accepts_null, 0)
{
	CHECK(auth_close(NULL) == NULL);
}

/* ------------------------------------------------------------------------
 * Login and checking
 * ---------------------------------------------------------------------- */

FX_TEST(login_ok_gives_a_jwt_that_checks, 1)
{
	struct auth_identity id;
	char tok[AUTH_TOKEN_MAX + 1];
	double exp = 0, retry = -1;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_OPERATOR), 0);
	CHECK_EQ_INT(auth_login(fx->a, "alice", "correct horse", tok, sizeof(tok), &exp, &retry),
		     0);
	CHECK_NEAR(exp, T0 + 3600, 1e-9);
	CHECK_NEAR(retry, -1, 0); /* written only while backing off */
	CHECK(strlen(tok) > 20 && strncmp(tok, "eyJ", 3) == 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_STR(id.user, "alice");
	CHECK_EQ_INT(id.role, AUTH_ROLE_OPERATOR);
	CHECK_EQ_INT(id.token_id, 0);

	char bearer[AUTH_TOKEN_MAX + 16];

	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	CHECK_EQ_INT(check(fx, bearer, NULL), 0);
	snprintf(bearer, sizeof(bearer), "bearer  %s", tok);
	CHECK_EQ_INT(check(fx, bearer, NULL), 0);
	CHECK_EQ_INT(check(fx, "Bearer ", NULL), -EACCES);
	CHECK_EQ_INT(check(fx, "", NULL), -EACCES);
	CHECK_EQ_INT(check(fx, NULL, NULL), -EACCES);
	/* too small a buffer */
	CHECK_EQ_INT(auth_login(fx->a, "alice", "correct horse", tok, 16, &exp, &retry), -ENOBUFS);
}

/* Each reading of this clock is 10 s after the one before. */
static double stepping_clock(void *ctx)
{
	double *now = ctx;

	*now += 10;
	return *now;
}

/* A login token's lifetime counts from when it is issued, after the
 * password check, not from when the login began: with a PBKDF2 that takes
 * longer than the lifetime, the token would be born expired. */
FX_TEST(token_lifetime_starts_when_it_is_issued, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	double exp = 0, retry = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	fx->opts.clock = stepping_clock;
	CHECK_EQ_INT(fx_open(fx), 0);
	fx->now = T0;
	CHECK_EQ_INT(auth_login(fx->a, "alice", "correct horse", tok, sizeof(tok), &exp, &retry),
		     0);
	/* read once when the login began (T0 + 10), once at issue (T0 + 20) */
	CHECK_NEAR(fx->now, T0 + 20, 0);
	CHECK_NEAR(exp, T0 + 20 + 3600, 0);
}

FX_TEST(wrong_password_and_unknown_user_fail_alike, 1)
{
	char tok[AUTH_TOKEN_MAX + 1] = "untouched";

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "mallory", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "alice", "", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "no such/name", "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, NULL, "wrong horse", tok, sizeof(tok)), -EACCES);
	CHECK_STR(tok, "untouched");
}

/* ------------------------------------------------------------------------
 * The account record decides
 * ---------------------------------------------------------------------- */

FX_TEST(role_change_and_deletion_take_effect_on_old_tokens, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], tok2[AUTH_TOKEN_MAX + 1];
	struct auth_identity id;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_ADMIN), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_ADMIN);
	CHECK_EQ_INT(auth_user_set_role(fx->a, "alice", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);

	CHECK_EQ_INT(auth_user_delete(fx->a, "alice"), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(auth_user_delete(fx->a, "alice"), -ENOENT);

	/* a new account of the same name does not revive the old token */
	fx->now += 5;
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "new password", AUTH_ROLE_ADMIN), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok2, sizeof(tok2)), -EACCES);
	CHECK_EQ_INT(login(fx, "alice", "new password", tok2, sizeof(tok2)), 0);
	CHECK_EQ_INT(check(fx, tok2, &id), 0);
}

/* ------------------------------------------------------------------------
 * The credential cache and threads
 * ---------------------------------------------------------------------- */

struct check_thread {
	struct fx *fx;
	const char *tok;
	int bad;
};

static void *check_many(void *arg)
{
	struct check_thread *t = arg;
	struct auth_identity id;

	for (int i = 0; i < 200; i++)
		if (auth_check(t->fx->a, t->tok, &id) || id.role != AUTH_ROLE_OPERATOR)
			t->bad++;
	return NULL;
}

FX_TEST(checks_from_many_threads_agree, 1)
{
	char jwt[AUTH_TOKEN_MAX + 1], api[AUTH_TOKEN_MAX + 1];
	struct check_thread t[4];
	pthread_t th[4];

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_OPERATOR), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", jwt, sizeof(jwt)), 0);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_OPERATOR, "", api, sizeof(api), NULL), 0);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct check_thread){fx, i % 2 ? jwt : api, 0};
		CHECK_EQ_INT(pthread_create(&th[i], NULL, check_many, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(t[i].bad, 0);
}

/* A credential verified once is trusted from memory for a second, but
 * never past a JWT's exp, and never after this process deleted its user. */
FX_TEST(credential_cache_respects_expiry_and_local_changes, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	uint64_t before;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	fx->now = T0 + 3599.9;
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	fx->now = T0 + 3600.0; /* within the cache second, but expired */
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	fx->now = T0;
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	before = auth_password_checks(fx->a);
	CHECK_EQ_INT(auth_user_delete(fx->a, "alice"), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	CHECK_EQ_INT(auth_password_checks(fx->a), before);
}

TEST_MAIN()
