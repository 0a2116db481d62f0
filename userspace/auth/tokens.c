// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tokens.c - long-lived API tokens for scripts and scrapers: created by an
 * admin for an owner, listed, deleted, and verified on use.
 *
 * Contracts: a token is "kpt_" and the base64url of 32 random bytes. Its
 * text is returned once, by auth_token_create(); auth.db keeps only its
 * SHA-256, so neither a database copy nor a listing reveals it. A token
 * never grants more than its owner has now: the role checked is the lower
 * of the token's and the owner's current one, and deleting the owner
 * deletes the tokens (db.c). Each owner holds at most
 * AUTH_TOKENS_PER_OWNER tokens.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/auth_internal.h"
#include "util/base64url.h"
#include "util/utf8.h"

#define API_TOKEN_RANDOM_BYTES 32

_Static_assert(sizeof(AUTH_API_TOKEN_PREFIX) - 1 + BASE64URL_LEN(API_TOKEN_RANDOM_BYTES) ==
		   AUTH_API_TOKEN_LEN,
	       "AUTH_API_TOKEN_LEN is the prefix and the random part");

static void token_sha256_hex(const char *tok, size_t n, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)tok, n, md);
	auth_hex_encode(md, sizeof(md), out);
}

/* At most AUTH_LABEL_MAX bytes of UTF-8 (it comes back in JSON) without
 * control characters. */
static bool label_valid(const char *label)
{
	size_t n = strnlen(label, AUTH_LABEL_MAX + 1);

	if (n > AUTH_LABEL_MAX || !utf8_valid(label, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
			return false;
	return true;
}

int auth_token_create(struct auth *a, const char *owner, enum auth_role role, const char *label,
		      char *token, size_t len, int64_t *ret_id)
{
	unsigned char rnd[API_TOKEN_RANDOM_BYTES];
	char tok[AUTH_API_TOKEN_LEN + 1];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	struct auth_user_record rec;
	sqlite3_stmt *st = NULL;
	int64_t count = 0, id = 0;
	int err, rc;

	if (!label)
		label = "";
	if (!a || !token || !auth_user_name_valid(owner) || !auth_role_valid(role) ||
	    !label_valid(label))
		return -EINVAL;
	if (len <= AUTH_API_TOKEN_LEN)
		return -ENOBUFS;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	memcpy(tok, AUTH_API_TOKEN_PREFIX, strlen(AUTH_API_TOKEN_PREFIX));
	base64url_encode(rnd, sizeof(rnd), tok + strlen(AUTH_API_TOKEN_PREFIX),
			 sizeof(tok) - strlen(AUTH_API_TOKEN_PREFIX));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	token_sha256_hex(tok, strlen(tok), hex);

	auth_db_acquire(a);
	err = auth_db_begin(a);
	if (err)
		goto unlock;
	err = auth_db_user_lookup(a, owner, &rec);
	OPENSSL_cleanse(rec.password_hash, sizeof(rec.password_hash));
	if (!err && role > rec.role)
		err = -EPERM;
	if (!err)
		err = auth_db_prepare(a, "SELECT count(*) FROM api_tokens WHERE owner = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			count = sqlite3_column_int64(st, 0);
		else
			err = auth_db_errno(rc);
		sqlite3_finalize(st);
		if (!err && count >= AUTH_TOKENS_PER_OWNER)
			err = -ENOSPC;
	}
	if (!err)
		err = auth_db_prepare(a,
				      "INSERT INTO api_tokens (owner, role, label, token_sha256, "
				      "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
				      &st);
	if (!err) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, hex, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)floor(auth_now(a)));
		err = auth_db_errno(sqlite3_step(st));
		id = sqlite3_last_insert_rowid(a->db);
		sqlite3_finalize(st);
	}
	err = auth_db_end(a, err);
unlock:
	auth_db_release(a);
	if (!err) {
		memcpy(token, tok, strlen(tok) + 1);
		if (ret_id)
			*ret_id = id;
	}
	OPENSSL_cleanse(tok, sizeof(tok));
	return err;
}

int auth_token_delete(struct auth *a, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a)
		return -EINVAL;
	auth_cache_invalidate(a);
	auth_db_acquire(a);
	err = auth_db_prepare(a, "DELETE FROM api_tokens WHERE id = ?1", &st);
	if (!err) {
		sqlite3_bind_int64(st, 1, id);
		err = auth_db_errno(sqlite3_step(st));
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
		sqlite3_finalize(st);
	}
	auth_db_release(a);
	return err;
}

int auth_token_list(struct auth *a, const char *owner, json_t **ret)
{
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int err, rc;

	if (!a || !ret)
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	auth_db_acquire(a);
	err = auth_db_prepare(a,
			      "SELECT id, owner, role, label, created_at FROM api_tokens "
			      "WHERE ?1 IS NULL OR owner = ?1 ORDER BY id",
			      &st);
	if (!err)
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *t = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id",
				      (json_int_t)sqlite3_column_int64(st, 0), "owner",
				      (const char *)sqlite3_column_text(st, 1), "role",
				      auth_role_name(auth_role_from_db(sqlite3_column_text(st, 2))),
				      "label", (const char *)sqlite3_column_text(st, 3),
				      "created_at", (json_int_t)sqlite3_column_int64(st, 4));

		if (!t || json_array_append_new(arr, t))
			err = -ENOMEM;
	}
	if (!err && rc != SQLITE_DONE)
		err = auth_db_errno(rc);
	sqlite3_finalize(st);
	auth_db_release(a);
	if (err) {
		json_decref(arr);
		return err;
	}
	*ret = arr;
	return 0;
}

int auth_api_token_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret)
{
	const size_t prefix = strlen(AUTH_API_TOKEN_PREFIX);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned char rnd[API_TOKEN_RANDOM_BYTES];
	sqlite3_stmt *st = NULL;
	enum auth_role token_role, owner_role;
	size_t rndlen;
	int err, rc;

	if (n != AUTH_API_TOKEN_LEN ||
	    base64url_decode(tok + prefix, n - prefix, rnd, sizeof(rnd), &rndlen) ||
	    rndlen != API_TOKEN_RANDOM_BYTES)
		return -EACCES;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	token_sha256_hex(tok, n, hex);

	auth_db_acquire(a);
	err = auth_db_prepare(a,
			      "SELECT t.id, t.owner, t.role, u.role FROM api_tokens t "
			      "JOIN users u ON u.name = t.owner WHERE t.token_sha256 = ?1",
			      &st);
	if (!err) {
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			token_role = auth_role_from_db(sqlite3_column_text(st, 2));
			owner_role = auth_role_from_db(sqlite3_column_text(st, 3));
			ret->role = token_role < owner_role ? token_role : owner_role;
			ret->token_id = sqlite3_column_int64(st, 0);
			snprintf(ret->user, sizeof(ret->user), "%s",
				 (const char *)sqlite3_column_text(st, 1));
			err = ret->role == AUTH_ROLE_NONE ? -EACCES : 0;
		} else {
			err = rc == SQLITE_DONE ? -EACCES : auth_db_errno(rc);
		}
		sqlite3_finalize(st);
	}
	auth_db_release(a);
	return err;
}
