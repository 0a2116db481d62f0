// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth.c - unit tests for api/auth: passwords and login backoff, the
 * JWT checks (pinned algorithm, signature, expiry, shape, size), API tokens,
 * the JWT secret file, and that the current account record decides.
 * Each test works in a temporary data dir of its own, removed afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "api/auth.h"
#include "test.h"

#define TEST_SECRET "unit-test-secret-0123456789abcdef0123"
#define T0	    1700000000.0

struct fx {
	char dir[64];
	double now;
	struct auth_options opts;
	struct auth *a;
	char err[256];
};

static double fake_clock(void *ctx)
{
	return *(double *)ctx;
}

static void rm_rf(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A data dir and options (fake clock, fast PBKDF2, fixed secret); the
 * auth itself is opened by fx_open so tests can change the options. */
static int fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/kpulse-test-auth-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -errno;
	fx->now = T0;
	auth_options_default(&fx->opts);
	fx->opts.clock = fake_clock;
	fx->opts.clock_ctx = &fx->now;
	fx->opts.pbkdf2_iterations = 1000;
	fx->opts.jwt_secret = TEST_SECRET;
	return 0;
}

static int fx_open(struct fx *fx)
{
	fx->a = auth_close(fx->a);
	return auth_open(fx->dir, &fx->opts, &fx->a, fx->err, sizeof(fx->err));
}

static void fx_fini(struct fx *fx)
{
	fx->a = auth_close(fx->a);
	rm_rf(fx->dir);
}

/* A test body runs between fx_init and fx_fini, so the data dir goes away
 * even when a CHECK fails. open_auth says whether fx->a is opened first. */
#define FX_TEST(name, open_auth)                                                                   \
	static void body_##name(int *failed, struct fx *fx);                                       \
	TEST(name)                                                                                 \
	{                                                                                          \
		struct fx fx;                                                                      \
		if (fx_init(&fx) || ((open_auth) && fx_open(&fx))) {                               \
			fprintf(stderr, "  setup failed: %s\n", fx.err);                           \
			*failed = 1;                                                               \
			fx_fini(&fx);                                                              \
			return;                                                                    \
		}                                                                                  \
		body_##name(failed, &fx);                                                          \
		fx_fini(&fx);                                                                      \
	}                                                                                          \
	static void body_##name(int *failed, struct fx *fx)

/* ------------------------------------------------------------------------
 * Helpers that forge tokens the way an attacker would
 * ---------------------------------------------------------------------- */

static void b64url(const void *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

/* header.payload.signature, signed with HMAC-SHA256 under key, or with
 * an empty signature when key is NULL. */
static void forge_jwt(const char *header, const char *payload, const char *key, char *out,
		      size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char *h = malloc(2 * strlen(header) + 8), *p = malloc(2 * strlen(payload) + 8);
	char sig[64] = "";

	b64url(header, strlen(header), h);
	b64url(payload, strlen(payload), p);
	snprintf(out, outlen, "%s.%s", h, p);
	if (key) {
		HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)out, strlen(out), mac,
		     &maclen);
		b64url(mac, maclen, sig);
	}
	snprintf(out + strlen(out), outlen - strlen(out), ".%s", sig);
	free(h);
	free(p);
}

static void claims(char *out, size_t len, const char *sub, double iat, double exp)
{
	snprintf(out, len,
		 "{\"sub\":\"%s\",\"role\":\"admin\",\"iat\":%.0f,\"exp\":%.0f,\"jti\":\"x\"}", sub,
		 iat, exp);
}

static int check(struct fx *fx, const char *tok, struct auth_identity *id)
{
	struct auth_identity scratch;

	return auth_check(fx->a, tok, id ? id : &scratch);
}

static int login(struct fx *fx, const char *user, const char *pw, char *tok, size_t len)
{
	double exp = 0, retry = 0;

	return auth_login(fx->a, user, pw, tok, len, &exp, &retry);
}

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

/* ------------------------------------------------------------------------
 * Users and login
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

FX_TEST(user_name_password_and_role_validation, 1)
{
	char name63[64], name64[65], longpw[1026];

	memset(name63, 'a', 63);
	name63[63] = '\0';
	memset(name64, 'b', 64);
	name64[64] = '\0';
	memset(longpw, 'p', 1025);
	longpw[1025] = '\0';

	CHECK_EQ_INT(auth_user_add(fx->a, name63, "12345678", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, "A-z_0.9", "12345678", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, name64, "12345678", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "", "12345678", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, NULL, "12345678", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "a b", "12345678", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "a/b", "12345678", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "\xc3\xa9t\xc3\xa9", "12345678", AUTH_ROLE_VIEWER),
		     -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "carol", "1234567", AUTH_ROLE_VIEWER), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "carol", longpw, AUTH_ROLE_VIEWER), -EINVAL);
	longpw[1024] = '\0';
	CHECK_EQ_INT(auth_user_add(fx->a, "carol", longpw, AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, "dave", "12345678", AUTH_ROLE_NONE), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "dave", "12345678", (enum auth_role)7), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "carol", "12345678", AUTH_ROLE_ADMIN), -EEXIST);
	CHECK_EQ_INT(auth_user_delete(fx->a, "dave"), -ENOENT);
	CHECK_EQ_INT(auth_user_set_role(fx->a, "dave", AUTH_ROLE_ADMIN), -ENOENT);
	CHECK_EQ_INT(auth_user_set_role(fx->a, "carol", AUTH_ROLE_NONE), -EINVAL);

	json_t *list = NULL;

	CHECK_EQ_INT(auth_user_list(fx->a, &list), 0);
	CHECK_EQ_INT(json_array_size(list), 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "name")), "A-z_0.9");
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "role")), "viewer");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(list, 1), "created_at")),
		     (long long)T0);
	CHECK(json_object_get(json_array_get(list, 1), "password_hash") == NULL);
	json_decref(list);
}

FX_TEST(sql_looking_names_are_refused_and_labels_kept_literally, 1)
{
	const char *evil = "x'); DROP TABLE users; --";
	char tok[AUTH_TOKEN_MAX + 1];
	json_t *list = NULL;
	int64_t id = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, evil, "12345678", AUTH_ROLE_ADMIN), -EINVAL);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "' OR '1'='1", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice' --", "anything", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "alice", "' OR '1'='1", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(login(fx, "alice", "' OR '1'='2", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(
	    auth_token_create(fx->a, "alice", AUTH_ROLE_VIEWER, evil, tok, sizeof(tok), &id), 0);
	CHECK_EQ_INT(auth_token_list(fx->a, "alice", &list), 0);
	CHECK_EQ_INT(json_array_size(list), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "label")), evil);
	json_decref(list);
	CHECK_EQ_INT(auth_user_list(fx->a, &list), 0);
	CHECK_EQ_INT(json_array_size(list), 1);
	json_decref(list);
}

FX_TEST(ensure_admin_creates_admin_only_once, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	struct auth_identity id;
	json_t *list = NULL;

	CHECK_EQ_INT(auth_ensure_admin(fx->a, "short"), -EINVAL);
	CHECK_EQ_INT(auth_ensure_admin(fx->a, NULL), -EINVAL);
	CHECK_EQ_INT(auth_ensure_admin(fx->a, "first admin pw"), 0);
	CHECK_EQ_INT(auth_ensure_admin(fx->a, "second admin pw"), 0);
	CHECK_EQ_INT(auth_ensure_admin(fx->a, NULL), 0); /* not needed any more */
	CHECK_EQ_INT(login(fx, "admin", "second admin pw", tok, sizeof(tok)), -EACCES);
	CHECK_EQ_INT(login(fx, "admin", "first admin pw", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_ADMIN);
	CHECK_EQ_INT(auth_user_list(fx->a, &list), 0);
	CHECK_EQ_INT(json_array_size(list), 1);
	json_decref(list);

	/* with any user present, nothing is created */
	CHECK_EQ_INT(auth_user_delete(fx->a, "admin"), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, "viewer1", "viewer pw 1", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(auth_ensure_admin(fx->a, "third admin pw"), 0);
	CHECK_EQ_INT(login(fx, "admin", "third admin pw", tok, sizeof(tok)), -EACCES);
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
 * JWT verification
 * ---------------------------------------------------------------------- */

FX_TEST(jwt_forged_with_the_secret_is_accepted_as_a_control, 1)
{
	char pay[256], tok[AUTH_TOKEN_MAX * 2];
	struct auth_identity id;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pay, TEST_SECRET, tok, sizeof(tok));
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	/* the role claim is ignored: the account's role counts */
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, sizeof(tok));
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
}

FX_TEST(jwt_with_other_algorithms_is_rejected, 1)
{
	static const char *headers[] = {
	    "{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"None\"}",
	    "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"hs256\"}",
	    "{\"alg\":\"HS256\\u0000\"}",
	    "{\"typ\":\"JWT\"}",
	    "{\"alg\":null}",
	    "{\"alg\":[\"HS256\"]}",
	    "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
	    "{\"alg\":\"HS256\",\"typ\":\"JWS+x\"}",
	    "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}",
	    "[\"HS256\"]",
	    "",
	};
	char pay[256], tok[AUTH_TOKEN_MAX * 2];

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_ADMIN), 0);
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		/* correctly signed with our secret: only the header is wrong */
		forge_jwt(headers[i], pay, TEST_SECRET, tok, sizeof(tok));
		if (check(fx, tok, NULL) != -EACCES)
			fprintf(stderr, "  accepted header %s\n", headers[i]);
		CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
		/* and the classic alg=none form with no signature at all */
		forge_jwt(headers[i], pay, NULL, tok, sizeof(tok));
		CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	}
}

FX_TEST(jwt_with_a_bad_signature_is_rejected, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], pay[256], forged[AUTH_TOKEN_MAX * 2];
	char *sig;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	sig = strrchr(tok, '.') + 1;
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	sig[5] = '\0'; /* truncated */
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);

	/* signed with another key */
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\"}", pay, "another-secret-0123456789abcdef0123", forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);

	/* a payload swapped under a valid signature */
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
	char other[64];

	b64url("{\"sub\":\"admin\"}", 15, other);
	snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - tok), tok, other, dot2);
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
}

FX_TEST(jwt_expiry_and_issue_time_are_enforced, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], pay[256], forged[AUTH_TOKEN_MAX * 2];
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	fx->now = T0 + 3599.5;
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	fx->now = T0 + 3600;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	fx->now = T0 + 1e6;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	fx->now = T0;

	/* missing exp, non-numeric exp */
	forge_jwt(hdr, "{\"sub\":\"alice\",\"iat\":1700000000}", TEST_SECRET, forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	forge_jwt(hdr, "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":\"1800000000\"}", TEST_SECRET,
		  forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* missing sub, bad sub */
	forge_jwt(hdr, "{\"iat\":1700000000,\"exp\":1800000000}", TEST_SECRET, forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	forge_jwt(hdr, "{\"sub\":\"alice\\u0000x\",\"iat\":1700000000,\"exp\":1800000000}",
		  TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* issued in the future: 30 s of skew is tolerated, 61 s is not */
	claims(pay, sizeof(pay), "alice", T0 + 30, T0 + 600);
	forge_jwt(hdr, pay, TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), 0);
	claims(pay, sizeof(pay), "alice", T0 + 61, T0 + 600);
	forge_jwt(hdr, pay, TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* the ttl option is honoured */
	fx->opts.token_ttl_s = 60;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	fx->now = T0 + 61;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
}

FX_TEST(jwt_of_the_wrong_shape_is_rejected, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], bad[AUTH_TOKEN_MAX * 4];
	char *pay;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	/* two parts, four parts, empty parts */
	snprintf(bad, sizeof(bad), "%.*s", (int)(strrchr(tok, '.') - tok), tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s.", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s.%s", tok, strrchr(tok, '.') + 1);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	CHECK_EQ_INT(check(fx, "..", NULL), -EACCES);
	CHECK_EQ_INT(check(fx, "a.b.c", NULL), -EACCES);
	/* characters outside base64url, padding, whitespace */
	CHECK_EQ_INT(check(fx, "!!!!.@@@@.####", NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s=", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s ", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s", tok);
	pay = strchr(bad, '.') + 1;
	pay[3] = '+';
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	/* payload that is not JSON, or not an object */
	char notjson[64], sig_input[128];
	unsigned char mac[32];
	unsigned maclen;
	char sig[64], h[64];

	b64url("{\"alg\":\"HS256\"}", 15, h);
	b64url("[1,2,3]", 7, notjson);
	snprintf(sig_input, sizeof(sig_input), "%s.%s", h, notjson);
	HMAC(EVP_sha256(), TEST_SECRET, (int)strlen(TEST_SECRET), (unsigned char *)sig_input,
	     strlen(sig_input), mac, &maclen);
	b64url(mac, maclen, sig);
	snprintf(bad, sizeof(bad), "%s.%s", sig_input, sig);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
}

FX_TEST(oversize_token_is_rejected_even_when_signed, 1)
{
	char *pay = malloc(4096), *tok = malloc(8192);
	int r_big, r_small;

	CHECK(pay && tok);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	/* ~1100 bytes of token: otherwise valid */
	snprintf(pay, 4096,
		 "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1800000000,\"pad\":\"%0800d\"}", 0);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, 8192);
	r_big = strlen(tok) > AUTH_TOKEN_MAX ? check(fx, tok, NULL) : 1;
	/* the same with a short pad passes, so size alone decided */
	snprintf(pay, 4096,
		 "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1800000000,\"pad\":\"%0400d\"}", 0);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, 8192);
	r_small = check(fx, tok, NULL);
	memset(tok, 'A', 100000 > 8191 ? 8191 : 100000);
	tok[8191] = '\0';
	int r_huge = check(fx, tok, NULL);

	free(pay);
	free(tok);
	CHECK_EQ_INT(r_big, -EACCES);
	CHECK_EQ_INT(r_small, 0);
	CHECK_EQ_INT(r_huge, -EACCES);
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

/* Changes made through another connection (`kpulse user` while the daemon
 * runs) are seen at once. */
FX_TEST(changes_from_another_process_are_seen, 1)
{
	char tok[AUTH_TOKEN_MAX + 1];
	struct auth *other = NULL;
	struct auth_identity id;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_OPERATOR), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(auth_open(fx->dir, &fx->opts, &other, fx->err, sizeof(fx->err)), 0);
	int r1 = auth_user_set_role(other, "alice", AUTH_ROLE_VIEWER);
	int r2 = check(fx, tok, &id);
	int r3 = auth_user_delete(other, "alice");
	/* another process's change is seen within the credential cache's
	 * lifetime (one second), not necessarily at once */
	fx->now += 1.0;
	int r4 = check(fx, tok, NULL);

	auth_close(other);
	CHECK_EQ_INT(r1, 0);
	CHECK_EQ_INT(r2, 0);
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);
	CHECK_EQ_INT(r3, 0);
	CHECK_EQ_INT(r4, -EACCES);
}

/* ------------------------------------------------------------------------
 * API tokens
 * ---------------------------------------------------------------------- */

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

/* ------------------------------------------------------------------------
 * Files: the secret and the database
 * ---------------------------------------------------------------------- */

static int file_mode(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

FX_TEST(secret_file_is_created_0600_and_reused, 0)
{
	char tok[AUTH_TOKEN_MAX + 1], path[128], buf[128];
	ssize_t n;
	int fd;

	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(file_mode(fx->dir, "jwt.secret"), 0600);
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK_EQ_INT(n, 65);
	buf[n] = '\0';
	CHECK_EQ_INT(strspn(buf, "0123456789abcdef"), 64);

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	/* a restart reads the same secret: old tokens still check */
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	/* a token signed with a configured secret does not, and back */
	fx->opts.jwt_secret = TEST_SECRET;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	/* and the file's secret is the one in the file */
	char pay[256], forged[AUTH_TOKEN_MAX * 2];

	buf[64] = '\0';
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\"}", pay, buf, forged, sizeof(forged));
	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, forged, NULL), 0);
}

FX_TEST(secret_file_readable_by_others_is_refused, 0)
{
	char path[128];

	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	fx->a = auth_close(fx->a);
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	CHECK_EQ_INT(chmod(path, 0640), 0);
	CHECK_EQ_INT(fx_open(fx), -EPERM);
	CHECK(fx->a == NULL);
	CHECK(strstr(fx->err, "jwt.secret") && strstr(fx->err, "readable"));
	CHECK_EQ_INT(chmod(path, 0604), 0);
	CHECK_EQ_INT(fx_open(fx), -EPERM);
	CHECK_EQ_INT(chmod(path, 0600), 0);
	CHECK_EQ_INT(fx_open(fx), 0);
}

FX_TEST(short_secrets_are_refused, 0)
{
	char path[128];
	int fd;

	fx->opts.jwt_secret = "0123456789abcdef0123456789abcde"; /* 31 bytes */
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	CHECK(fx->a == NULL);
	CHECK(strstr(fx->err, "KPULSE_JWT_SECRET") && strstr(fx->err, "32"));
	fx->opts.jwt_secret = "";
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	fx->opts.jwt_secret = "0123456789abcdef0123456789abcdef";
	CHECK_EQ_INT(fx_open(fx), 0);

	/* a secret file that is too short is refused, not extended */
	fx->a = auth_close(fx->a);
	fx->opts.jwt_secret = NULL;
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, "tooshort\n", 9), 9);
	close(fd);
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
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

FX_TEST(database_is_0600_and_data_dir_is_created, 0)
{
	char sub[256];
	struct auth *a = NULL;

	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(file_mode(fx->dir, "auth.db"), 0600);
	/* the WAL files exist only while a call runs; when they do, they
	 * carry the database's mode */
	CHECK(file_mode(fx->dir, "auth.db-wal") == -1 || file_mode(fx->dir, "auth.db-wal") == 0600);
	CHECK(file_mode(fx->dir, "auth.db-shm") == -1 || file_mode(fx->dir, "auth.db-shm") == 0600);

	/* a database left with a wider mode is narrowed */
	fx->a = auth_close(fx->a);
	snprintf(sub, sizeof(sub), "%s/auth.db", fx->dir);
	CHECK_EQ_INT(chmod(sub, 0644), 0);
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(file_mode(fx->dir, "auth.db"), 0600);

	/* a missing data dir is created */
	snprintf(sub, sizeof(sub), "%s/sub", fx->dir);
	int r = auth_open(sub, &fx->opts, &a, fx->err, sizeof(fx->err));
	int m = file_mode(sub, "auth.db");

	auth_close(a);
	rm_rf(sub);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(m, 0600);
}

FX_TEST(close_accepts_null, 0)
{
	CHECK(auth_close(NULL) == NULL);
}

/* ------------------------------------------------------------------------
 * Threads
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

/* Between calls no file of the data dir stays open, so an operator can
 * unmount it (say, to repair a file system that went read-only). */
FX_TEST(no_file_stays_open_between_calls, 1)
{
	char link[300], target[512];
	struct dirent *e;
	DIR *d;
	int held = 0;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	while ((e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		held += strstr(target, fx->dir) != NULL;
	}
	closedir(d);
	CHECK_EQ_INT(held, 0);
}

TEST_MAIN()
