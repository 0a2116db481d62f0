/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth.h - who may use kpulse's API: users and their roles, passwords,
 * JWTs and API tokens. The REST API (userspace/api/) checks every request
 * with auth_check(); `kpulse user` (userspace/cli/user.c) manages accounts
 * on the same data dir. Neither needs the other.
 *
 * Users and API tokens live in DATA_DIR/auth.db (SQLite, mode 0600).
 * Passwords: PBKDF2-HMAC-SHA256, 600,000 iterations, 16-byte random salt
 * (OpenSSL libcrypto), compared in constant time, stored as
 * "pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64url without padding), so a
 * hash keeps verifying when the default iteration count changes. Login
 * returns an HS256 JWT signed with a server secret (KPULSE_JWT_SECRET, or
 * generated at first start into DATA_DIR/jwt.secret with mode 0600); the
 * algorithm is pinned, `exp` is required, `nbf` is honoured, and a token
 * issued before its account was (re)created is refused (both times to the
 * microsecond). API tokens are random bearer strings
 * shown once and stored as SHA-256 hashes. Failed logins for an account
 * back off exponentially; answers never say whether a user exists.
 *
 * The module's files (see auth_internal.h): auth.c (open, login, check),
 * db.c (auth.db and the users), password.c (hashes, backoff), jwt.c (the
 * secret and JWTs), tokens.c (API tokens).
 *
 * Thread safety: every function may be called from any thread (the HTTP
 * server's pool) except auth_close().
 */
#ifndef KPULSE_AUTH_H
#define KPULSE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_VIEWER = 1,	/* read */
	AUTH_ROLE_OPERATOR = 2, /* viewer + act on incidents, run analyses */
	AUTH_ROLE_ADMIN = 3,	/* everything, users and tokens */
};

#define AUTH_NAME_MAX	       64    /* with its NUL: names are 1..63 of [A-Za-z0-9_.-] */
#define AUTH_TOKEN_MAX	       1024  /* longest credential auth_check() looks at */
#define AUTH_PASSWORD_MIN      8     /* bytes */
#define AUTH_PASSWORD_MAX      1024  /* bytes */
#define AUTH_SECRET_MIN	       32    /* bytes of KPULSE_JWT_SECRET */
#define AUTH_SECRET_MAX	       1024  /* bytes */
#define AUTH_LABEL_MAX	       128   /* bytes of an API token's label */
#define AUTH_USERS_MAX	       10000 /* accounts in auth.db */
#define AUTH_TOKENS_PER_OWNER  100   /* API tokens per account */
#define AUTH_API_TOKEN_LEN     47    /* "kpt_" + 43 base64url characters */
#define AUTH_PBKDF2_ITERATIONS 600000

struct auth_options {
	double token_ttl_s;	 /* JWT lifetime; default 3600 */
	const char *jwt_secret;	 /* NULL: read/generate DATA_DIR/jwt.secret */
	double (*clock)(void *); /* NULL: real time; tests fake it */
	void *clock_ctx;
	unsigned pbkdf2_iterations; /* 0: 600000; tests may lower it */
};

struct auth_identity {
	char user[AUTH_NAME_MAX];
	enum auth_role role;
	int64_t token_id;  /* API token id, 0 for a JWT */
	double expires_at; /* a JWT's exp; 0 for API tokens (no expiry) */
};

struct auth;

void auth_options_default(struct auth_options *o);
/* Opens (creating when missing) DATA_DIR, DATA_DIR/auth.db and the JWT
 * secret. -EINVAL bad options (short secret, ttl outside 1 s..30 days),
 * -EPERM a secret file readable by group or others, else an errno from
 * the file system or SQLite; err says which and why. *ret only on 0. */
int auth_open(const char *data_dir, const struct auth_options *o, struct auth **ret, char *err,
	      size_t errlen);
struct auth *auth_close(struct auth *a);

const char *auth_role_name(enum auth_role r);
int auth_role_parse(const char *s, enum auth_role *ret);

/* A name auth_user_add() would take: [A-Za-z0-9_.-]{1,63}. */
bool auth_user_name_valid(const char *name);

/* -EEXIST, -EINVAL (name [A-Za-z0-9_.-]{1,63}, password 8..1024 bytes, role),
 * -ENOSPC AUTH_USERS_MAX reached. Runs one PBKDF2 (outside any lock). */
int auth_user_add(struct auth *a, const char *name, const char *password, enum auth_role role);
/* Also deletes the user's API tokens. -ENOENT */
int auth_user_delete(struct auth *a, const char *name);
/* Takes effect at the next auth_check() of every JWT and API token the user
 * holds. -ENOENT, -EINVAL */
int auth_user_set_role(struct auth *a, const char *name, enum auth_role role);
/* [{"name","role","created_at"}] */
int auth_user_list(struct auth *a, json_t **ret);
/* Creates `admin` with this password when there is no user yet; 0 when done
 * or not needed. */
int auth_ensure_admin(struct auth *a, const char *password);

/* 0 and a JWT; -EACCES bad credentials (same for unknown users, and as
 * slow: an unknown user still costs one PBKDF2); -EAGAIN while the account
 * is backing off (*retry_after_s set, the only case it is written);
 * -ENOBUFS token too small. After 3 failures in a row a name waits 1 s,
 * then 2, 4 ... up to 300 s between attempts; a success resets it, and so
 * does an hour without attempts. Tracked in memory per name, known or not,
 * in a table of 4096 names (the least recently tried is dropped). */
int auth_login(struct auth *a, const char *user, const char *password, char *token, size_t len,
	       double *expires_at, double *retry_after_s);
/* auth_login() with the backoff kept per account and client (an address:
 * "ip:127.0.0.1"; NULL: per account), so failures from one client never
 * make the account wait for another. */
int auth_login_from(struct auth *a, const char *user, const char *password, const char *client,
		    char *token, size_t len, double *expires_at, double *retry_after_s);

/* A long-lived API token for owner with role; the token text is returned
 * once, only its hash is kept. len must be > AUTH_API_TOKEN_LEN (else
 * -ENOBUFS). -ENOENT no such owner, -EPERM role above the owner's,
 * -EINVAL bad role or label (<= AUTH_LABEL_MAX bytes, no control
 * characters; NULL is ""), -ENOSPC the owner has AUTH_TOKENS_PER_OWNER. */
int auth_token_create(struct auth *a, const char *owner, enum auth_role role, const char *label,
		      char *token, size_t len, int64_t *ret_id);
int auth_token_delete(struct auth *a, int64_t id); /* -ENOENT */
/* [{"id","owner","role","label","created_at"}], of one owner or (NULL) all;
 * never the token text, which is not kept. */
int auth_token_list(struct auth *a, const char *owner, json_t **ret);

/* Checks "Bearer ..." credentials (a JWT or an API token; the bare token
 * without the scheme is accepted here, for tools; the REST API refuses a
 * header without "Bearer "). 0 and the identity, or -EACCES
 * (missing, malformed, longer than AUTH_TOKEN_MAX, bad signature, expired,
 * other alg, alg none, deleted user or token). The role is always the
 * user's current one (for an API token, the lower of the token's and the
 * owner's). Other negative errnos (-EIO, -EBUSY, -ENOMEM) are server
 * faults, not a verdict on the credentials. */
int auth_check(struct auth *a, const char *bearer, struct auth_identity *ret);

/* Password verifications run so far: each is one full PBKDF2, whether the
 * user exists or not. For metrics, and for tests of that promise. */
uint64_t auth_password_checks(struct auth *a);

#endif /* KPULSE_AUTH_H */
