// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * auth.c - who may use the REST API: opening the module (data dir, JWT
 * secret, auth.db), roles and user names, login, and auth_check() with the
 * cache of recently verified credentials. The storage, the hashes, the
 * JWTs and the API tokens are the other files' (see auth_internal.h).
 *
 * Contracts: every credential is checked against the current account
 * record, so a role change or a deletion takes effect at the next request,
 * also when another process (`kpulse user`) made it (within
 * AUTH_IDCACHE_TTL_S). Login answers the same, and as slowly, for an
 * unknown user as for a wrong password. Cryptography is OpenSSL's; the
 * module only frames it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth/auth_internal.h"
#include "util/clock.h"
#include "util/error.h"

#define TOKEN_TTL_MIN_S 1.0
#define TOKEN_TTL_MAX_S (30.0 * 86400)

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */

double auth_now(const struct auth *a)
{
	if (a->clock)
		return a->clock(a->clock_ctx);
	return clock_wall_s();
}

double auth_now_us(const struct auth *a)
{
	return floor(auth_now(a) * 1e6) / 1e6;
}

bool auth_user_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, AUTH_NAME_MAX);
	if (n == 0 || n >= AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

bool auth_role_valid(enum auth_role r)
{
	return r == AUTH_ROLE_VIEWER || r == AUTH_ROLE_OPERATOR || r == AUTH_ROLE_ADMIN;
}

const char *auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ROLE_VIEWER:
		return "viewer";
	case AUTH_ROLE_OPERATOR:
		return "operator";
	case AUTH_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

int auth_role_parse(const char *s, enum auth_role *ret)
{
	static const enum auth_role roles[] = {AUTH_ROLE_VIEWER, AUTH_ROLE_OPERATOR,
					       AUTH_ROLE_ADMIN};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (!strcmp(s, auth_role_name(roles[i]))) {
			*ret = roles[i];
			return 0;
		}
	}
	return -EINVAL;
}

enum auth_role auth_role_from_db(const unsigned char *s)
{
	enum auth_role r;

	return s && auth_role_parse((const char *)s, &r) == 0 ? r : AUTH_ROLE_NONE;
}

void auth_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* ------------------------------------------------------------------------
 * The cache of verified credentials
 * ---------------------------------------------------------------------- */

void auth_cache_invalidate(struct auth *a)
{
	__atomic_add_fetch(&a->idcache_gen, 1, __ATOMIC_SEQ_CST);
}

static bool idcache_get(struct auth *a, const unsigned char *key, double now,
			struct auth_identity *ret)
{
	struct auth_idcache_slot *slot = &a->idcache[key[0] % AUTH_IDCACHE_SLOTS];
	uint64_t gen = __atomic_load_n(&a->idcache_gen, __ATOMIC_SEQ_CST);
	bool hit;

	pthread_mutex_lock(&a->idcache_lock);
	hit = slot->used && slot->gen == gen && now >= slot->fetched &&
	      now - slot->fetched < AUTH_IDCACHE_TTL_S &&
	      (slot->id.expires_at == 0 || now < slot->id.expires_at) &&
	      !memcmp(slot->key, key, sizeof(slot->key));
	if (hit)
		*ret = slot->id;
	pthread_mutex_unlock(&a->idcache_lock);
	return hit;
}

static void idcache_put(struct auth *a, const unsigned char *key, double now, uint64_t gen,
			const struct auth_identity *id)
{
	struct auth_idcache_slot *slot = &a->idcache[key[0] % AUTH_IDCACHE_SLOTS];

	pthread_mutex_lock(&a->idcache_lock);
	memcpy(slot->key, key, sizeof(slot->key));
	slot->fetched = now;
	slot->gen = gen;
	slot->used = true;
	slot->id = *id;
	pthread_mutex_unlock(&a->idcache_lock);
}

/* ------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------- */

void auth_options_default(struct auth_options *o)
{
	*o = (struct auth_options){
	    .token_ttl_s = 3600,
	    .pbkdf2_iterations = AUTH_PBKDF2_ITERATIONS,
	};
}

int auth_open(const char *data_dir, const struct auth_options *o, struct auth **ret, char *err,
	      size_t errlen)
{
	struct auth_options defaults;
	struct auth *a;
	int r;

	if (!data_dir || !*data_dir || !ret)
		return error_set(err, errlen, -EINVAL, "no data dir given");
	if (!o) {
		auth_options_default(&defaults);
		o = &defaults;
	}
	if (!(o->token_ttl_s >= TOKEN_TTL_MIN_S && o->token_ttl_s <= TOKEN_TTL_MAX_S))
		return error_set(err, errlen, -EINVAL, "token lifetime %g s is outside %g s..%g s",
				 o->token_ttl_s, TOKEN_TTL_MIN_S, TOKEN_TTL_MAX_S);
	if (o->pbkdf2_iterations > AUTH_PBKDF2_ITERATIONS_MAX)
		return error_set(err, errlen, -EINVAL, "%u PBKDF2 iterations is more than %u",
				 o->pbkdf2_iterations, AUTH_PBKDF2_ITERATIONS_MAX);

	a = calloc(1, sizeof(*a));
	if (!a)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	pthread_mutex_init(&a->db_lock, NULL);
	pthread_mutex_init(&a->backoff_lock, NULL);
	pthread_mutex_init(&a->idcache_lock, NULL);
	a->token_ttl_s = o->token_ttl_s;
	a->clock = o->clock;
	a->clock_ctx = o->clock_ctx;
	a->pbkdf2_iterations = o->pbkdf2_iterations ? o->pbkdf2_iterations : AUTH_PBKDF2_ITERATIONS;

	r = auth_password_dummy_init(a);
	if (r) {
		error_set(err, errlen, r, "cannot generate random bytes");
		goto fail;
	}
	if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
		r = error_set(err, errlen, -errno, "data dir %s: cannot create it: %s", data_dir,
			      strerror(errno));
		goto fail;
	}
	r = auth_secret_load(a, data_dir, o->jwt_secret, err, errlen);
	if (r)
		goto fail;
	r = auth_db_open(a, data_dir, err, errlen);
	if (r)
		goto fail;
	*ret = a;
	return 0;
fail:
	auth_close(a);
	return r;
}

struct auth *auth_close(struct auth *a)
{
	if (!a)
		return NULL;
	sqlite3_close_v2(a->db);
	pthread_mutex_destroy(&a->db_lock);
	pthread_mutex_destroy(&a->backoff_lock);
	pthread_mutex_destroy(&a->idcache_lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Login
 * ---------------------------------------------------------------------- */

int auth_login(struct auth *a, const char *user, const char *password, char *token, size_t len,
	       double *expires_at, double *retry_after_s)
{
	return auth_login_from(a, user, password, NULL, token, len, expires_at, retry_after_s);
}

int auth_login_from(struct auth *a, const char *user, const char *password, const char *client,
		    char *token, size_t len, double *expires_at, double *retry_after_s)
{
	char key[AUTH_BACKOFF_KEY_MAX];
	struct auth_user_record rec;
	bool known, ok;
	double now, expires, retry = 0;
	int err;

	if (!a || !token || !expires_at)
		return -EINVAL;
	/* an invalid name cannot exist, so refusing it at once tells nothing */
	if (!auth_user_name_valid(user) || !password ||
	    strnlen(password, AUTH_PASSWORD_MAX + 1) > AUTH_PASSWORD_MAX)
		return -EACCES;
	/* per account and client: guesses from elsewhere cannot lock the
	 * account's owner out */
	snprintf(key, sizeof(key), "%s%s%.*s", user, client ? " " : "",
		 (int)(sizeof(key) - AUTH_NAME_MAX - 1), client ? client : "");
	now = auth_now(a);
	err = auth_backoff_begin(a, key, now, &retry);
	if (err) {
		if (retry_after_s)
			*retry_after_s = retry;
		return err;
	}

	auth_db_acquire(a);
	err = auth_db_user_lookup(a, user, &rec);
	auth_db_release(a);
	if (err && err != -ENOENT)
		return err;
	known = err == 0 && rec.role != AUTH_ROLE_NONE;
	ok = auth_password_matches(a, known ? rec.password_hash : a->dummy_hash, password);
	OPENSSL_cleanse(rec.password_hash, sizeof(rec.password_hash));
	if (!known || !ok)
		return -EACCES;

	auth_backoff_clear(a, key);
	/* the lifetime starts at issue, not when the login began: the PBKDF2
	 * in between takes a second or more on a slow or sanitized build */
	err = auth_jwt_issue(a, user, rec.role, auth_now_us(a), token, len, &expires);
	if (err)
		return err;
	*expires_at = expires;
	return 0;
}

/* ------------------------------------------------------------------------
 * Checking credentials
 * ---------------------------------------------------------------------- */

int auth_check(struct auth *a, const char *bearer, struct auth_identity *ret)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	struct auth_identity id = {0};
	const char *tok = bearer;
	uint64_t gen;
	double now;
	size_t n;
	int err;

	if (!a || !ret)
		return -EINVAL;
	if (!bearer)
		return -EACCES;
	/* the scheme is case-insensitive (RFC 7235) */
	if (!strncasecmp(tok, "Bearer ", 7)) {
		tok += 7;
		while (*tok == ' ')
			tok++;
	}
	n = strnlen(tok, AUTH_TOKEN_MAX + 1);
	if (n == 0 || n > AUTH_TOKEN_MAX)
		return -EACCES;
	SHA256((const unsigned char *)tok, n, key);
	now = auth_now(a);
	if (idcache_get(a, key, now, ret))
		return 0;
	/* read before verifying: a change racing the check invalidates the
	 * entry this check would store */
	gen = __atomic_load_n(&a->idcache_gen, __ATOMIC_SEQ_CST);
	if (!strncmp(tok, AUTH_API_TOKEN_PREFIX, strlen(AUTH_API_TOKEN_PREFIX)))
		err = auth_api_token_verify(a, tok, n, &id);
	else
		err = auth_jwt_verify(a, tok, n, &id);
	if (err)
		return err;
	idcache_put(a, key, now, gen, &id);
	*ret = id;
	return 0;
}
