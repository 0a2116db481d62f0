/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth_internal.h - what the files of the auth module share and nothing
 * outside userspace/auth/ may include: struct auth and the helpers each
 * file offers the others.
 *
 *   auth.c      opening and closing, roles and names, login, checking a
 *               credential and the cache of recently checked ones
 *   db.c        DATA_DIR/auth.db: the file, the schema, the connection that
 *               is open only during a call, and the users
 *   password.c  PBKDF2 hashes and the per-name login backoff
 *   jwt.c       the JWT secret; issuing and verifying HS256 JWTs
 *   tokens.c    long-lived API tokens, kept only as SHA-256 hashes
 *
 * Locks: db_lock guards the SQLite connection, backoff_lock the backoff
 * table, idcache_lock the credential cache. No function holds two of them
 * at once, and none is held during a PBKDF2.
 *
 * Secrets (passwords, hashes, token text, the JWT secret) are wiped with
 * OPENSSL_cleanse() from every buffer that held them before it goes away.
 */
#ifndef KPULSE_AUTH_INTERNAL_H
#define KPULSE_AUTH_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "auth/auth.h"

#define AUTH_PATH_MAX 4096

/* "pbkdf2-sha256$ITERATIONS$SALT$HASH" fits easily */
#define AUTH_PASSWORD_HASH_MAX 160
/* a stored hash asking for more is corrupt, not slow on purpose */
#define AUTH_PBKDF2_ITERATIONS_MAX 10000000u

/* "kpt_" and 43 base64url characters of 32 random bytes */
#define AUTH_API_TOKEN_PREFIX "kpt_"

#define AUTH_BACKOFF_SLOTS 4096
/* a backoff key: "NAME" or "NAME CLIENT" (auth_login_from()) */
#define AUTH_BACKOFF_KEY_MAX (AUTH_NAME_MAX + 128)

/*
 * A verified credential is trusted again without the database for
 * AUTH_IDCACHE_TTL_S (by the auth clock). Changes made through this
 * process (user deleted or demoted, token deleted) take effect at once;
 * changes made by another process (`kpulse user` on the same data dir)
 * within AUTH_IDCACHE_TTL_S. Keys are SHA-256 digests of the credential,
 * never the credential itself.
 */
#define AUTH_IDCACHE_SLOTS 64
#define AUTH_IDCACHE_TTL_S 1.0

struct auth_backoff_slot {
	char name[AUTH_BACKOFF_KEY_MAX]; /* "" when free */
	unsigned failures;		 /* attempts not (yet) known to have succeeded */
	double last_s;			 /* last attempt */
	double until_s;			 /* no attempt before this */
};

struct auth_idcache_slot {
	unsigned char key[SHA256_DIGEST_LENGTH];
	double fetched;
	uint64_t gen;
	bool used;
	struct auth_identity id;
};

struct auth {
	pthread_mutex_t db_lock; /* the SQLite connection */
	sqlite3 *db;		 /* open only while db_lock is held */
	char db_path[AUTH_PATH_MAX];

	unsigned char secret[AUTH_SECRET_MAX];
	size_t secret_len;

	double token_ttl_s;
	double (*clock)(void *);
	void *clock_ctx;
	unsigned pbkdf2_iterations;
	/* what an unknown user's password is checked against: random, so no
	 * password matches, and costs what a real hash of today costs */
	char dummy_hash[AUTH_PASSWORD_HASH_MAX];

	pthread_mutex_t backoff_lock;
	struct auth_backoff_slot backoff[AUTH_BACKOFF_SLOTS];
	uint64_t password_checks; /* atomic */

	/* Recently verified credentials, so a busy API client does not cost
	 * a database read per request (see auth.c). */
	pthread_mutex_t idcache_lock;
	struct auth_idcache_slot idcache[AUTH_IDCACHE_SLOTS];
	uint64_t idcache_gen; /* bumped by every change to users and tokens */
};

/* One row of the users table. */
struct auth_user_record {
	enum auth_role role;
	double created_at; /* seconds, to the microsecond (whole seconds in older files) */
	char password_hash[AUTH_PASSWORD_HASH_MAX];
};

/* ------------------------------------------------------------ auth.c */

/* Now by the auth clock (the options' clock, else the wall clock). */
double auth_now(const struct auth *a);
/* viewer, operator or admin (not none). */
bool auth_role_valid(enum auth_role r);
/* A role read back from the database; anything unexpected grants nothing. */
enum auth_role auth_role_from_db(const unsigned char *s);
/* Forgets every cached credential: call before changing users or tokens. */
void auth_cache_invalidate(struct auth *a);
/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void auth_hex_encode(const unsigned char *in, size_t n, char *out);

/* Now to the microsecond: the time stamp of accounts and of JWTs (iat), so
 * an account re-created within the same second is newer than the tokens
 * of the one before. */
double auth_now_us(const struct auth *a);

/* ------------------------------------------------------------ db.c */

/* Creates DATA_DIR/auth.db (0600) and its tables, or checks an existing
 * one's schema version; keeps no connection open. -errno and err. */
int auth_db_open(struct auth *a, const char *data_dir, char *err, size_t errlen);
/* Takes db_lock and opens the connection; on an open failure a->db stays
 * NULL and every statement below fails with -EIO. */
void auth_db_acquire(struct auth *a);
/* Closes the connection and releases db_lock. */
void auth_db_release(struct auth *a);
/* A SQLite result code as 0 or a negative errno. */
int auth_db_errno(int rc);
/* Under db_lock. */
int auth_db_prepare(struct auth *a, const char *sql, sqlite3_stmt **st);
int auth_db_begin(struct auth *a);
/* Commits when err is 0, else rolls back; returns err or the commit's. */
int auth_db_end(struct auth *a, int err);
/* Under db_lock. 0, -ENOENT when there is no such user, or -errno. */
int auth_db_user_lookup(struct auth *a, const char *name, struct auth_user_record *ret);

/* ------------------------------------------------------------ password.c */

/* AUTH_PASSWORD_MIN..AUTH_PASSWORD_MAX bytes. */
bool auth_password_valid(const char *pw);
/* A new salted hash of pw in the stored form. 0, -EIO (no randomness),
 * -ENOMEM or -ENOBUFS (outlen). */
int auth_password_hash(const char *pw, unsigned iterations, char *out, size_t outlen);
/* Fills a->dummy_hash with a random hash at a->pbkdf2_iterations. */
int auth_password_dummy_init(struct auth *a);
/* Runs one PBKDF2 whatever happens, so a malformed or dummy hash costs the
 * same time as a real one; only a well-formed stored hash can match. */
bool auth_password_matches(struct auth *a, const char *stored, const char *pw);
/*
 * Counts a login attempt for name as failed before the password is
 * checked, so guesses sent in parallel cannot all slip in before the first
 * one fails. 0, or -EAGAIN and *retry_after_s while the name is backing
 * off. auth_backoff_clear() after a success.
 */
int auth_backoff_begin(struct auth *a, const char *name, double now, double *retry_after_s);
void auth_backoff_clear(struct auth *a, const char *name);

/* ------------------------------------------------------------ jwt.c */

/* The JWT secret: configured (KPULSE_JWT_SECRET), else read from
 * DATA_DIR/jwt.secret, else generated there. -errno and err. */
int auth_secret_load(struct auth *a, const char *data_dir, const char *configured, char *err,
		     size_t errlen);
/* A JWT for user with role, issued at now; -ENOBUFS when it does not fit
 * in len bytes, -EIO, -ENOMEM. *ret_expires_at only on success. */
int auth_jwt_issue(struct auth *a, const char *user, enum auth_role role, double now, char *token,
		   size_t len, double *ret_expires_at);
/* 0 and the identity of a valid JWT of a current account, -EACCES, or a
 * server fault (-EIO, -EBUSY, -ENOMEM). */
int auth_jwt_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret);

/* ------------------------------------------------------------ tokens.c */

/* As auth_jwt_verify() for an API token (AUTH_API_TOKEN_PREFIX...). */
int auth_api_token_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret);

#endif /* KPULSE_AUTH_INTERNAL_H */
