// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * db.c - DATA_DIR/auth.db, the database of users and API tokens: the file
 * (mode 0600, created before SQLite opens it), the schema and its version,
 * the connection, and the users themselves (add, delete, set a role, list,
 * the first admin). The API tokens' rows are tokens.c's.
 *
 * Contracts: no connection is kept between calls. auth_db_acquire() opens
 * one under db_lock and auth_db_release() closes it, so the data dir holds
 * no open file while kpulse idles (an operator can unmount it to repair a
 * file system that went read-only). Every commit is durable (synchronous =
 * FULL) and deleted hashes are overwritten (secure_delete). Writes that
 * must agree with a count (AUTH_USERS_MAX, the first admin) decide inside
 * one transaction or statement, so a second process racing this one
 * cannot slip past the check.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth_internal.h"
#include "util/error.h"

#define AUTH_DB_FILENAME     "auth.db"
#define AUTH_SCHEMA_VERSION  1
#define AUTH_BUSY_TIMEOUT_MS 5000

/* ------------------------------------------------------------------------
 * The file and the connection
 * ---------------------------------------------------------------------- */

int auth_db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS api_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  label TEXT NOT NULL DEFAULT '',"
    "  token_sha256 TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);"
    "PRAGMA user_version = 1;";

/* Creates the file with mode 0600 (or narrows an existing one) before
 * SQLite opens it; SQLite gives its -wal and -shm files the same mode. */
static int db_file_prepare(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return error_set(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		ret = error_set(err, errlen, -EINVAL, "%s is not a regular file", path);
	else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0)
		ret = error_set(err, errlen, -errno, "cannot chmod 600 %s: %s", path,
				strerror(errno));
	close(fd);
	return ret;
}

static int db_int_query(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!db)
		return SQLITE_IOERR; /* the connection could not be opened */
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int auth_db_open(struct auth *a, const char *data_dir, char *err, size_t errlen)
{
	char path[AUTH_PATH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t version = 0;
	int rc, ret;

	if (snprintf(path, sizeof(path), "%s/%s", data_dir, AUTH_DB_FILENAME) >= (int)sizeof(path))
		return error_set(err, errlen, -ENAMETOOLONG, "data dir %s: path too long",
				 data_dir);
	ret = db_file_prepare(path, err, errlen);
	if (ret)
		return ret;
	/* SQLite's unix VFS opens its files with O_CLOEXEC itself */
	rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(a->db, 1);
	sqlite3_busy_timeout(a->db, AUTH_BUSY_TIMEOUT_MS);

	rc = sqlite3_prepare_v2(a->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);

		rc = mode && !strcmp((const char *)mode, "wal") ? SQLITE_OK : SQLITE_CANTOPEN;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		goto fail;
	/* few writes, and each one is an account: make every commit durable,
	 * and overwrite deleted hashes instead of leaving them in free pages */
	rc = sqlite3_exec(a->db, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;", NULL,
			  NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = db_int_query(a->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK)
		goto fail;
	if (version > AUTH_SCHEMA_VERSION)
		return error_set(err, errlen, -EPROTO,
				 "%s has schema version %lld, newer than this kpulse (%d)", path,
				 (long long)version, AUTH_SCHEMA_VERSION);
	if (version < AUTH_SCHEMA_VERSION) {
		rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(a->db, schema_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = error_set(err, errlen, auth_db_errno(rc),
					"cannot create the tables in %s: %s", path,
					sqlite3_errmsg(a->db));
			sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
			return ret;
		}
	}
	/* No connection is kept between calls (see auth_db_acquire()). */
	snprintf(a->db_path, sizeof(a->db_path), "%s", path);
	sqlite3_close_v2(a->db);
	a->db = NULL;
	return 0;
fail:
	return error_set(err, errlen, auth_db_errno(rc) ? auth_db_errno(rc) : -EIO,
			 "cannot open %s: %s", path,
			 a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
}

/*
 * The connection lives only while db_lock is held: auth calls are rare
 * next to what a connection costs to keep, and an open file in the data
 * dir would keep an operator from unmounting it to repair a file system
 * that went read-only (the store closes its files on such errors too).
 */
void auth_db_acquire(struct auth *a)
{
	pthread_mutex_lock(&a->db_lock);
	if (sqlite3_open_v2(a->db_path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close_v2(a->db);
		a->db = NULL;
		return;
	}
	sqlite3_extended_result_codes(a->db, 1);
	sqlite3_busy_timeout(a->db, AUTH_BUSY_TIMEOUT_MS);
	/* few writes, and each one is an account: make every commit durable,
	 * and overwrite deleted hashes instead of leaving them in free pages */
	sqlite3_exec(a->db, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;", NULL, NULL,
		     NULL);
}

void auth_db_release(struct auth *a)
{
	sqlite3_close_v2(a->db);
	a->db = NULL;
	pthread_mutex_unlock(&a->db_lock);
}

int auth_db_prepare(struct auth *a, const char *sql, sqlite3_stmt **st)
{
	if (!a->db)
		return -EIO;
	return auth_db_errno(sqlite3_prepare_v2(a->db, sql, -1, st, NULL));
}

int auth_db_begin(struct auth *a)
{
	if (!a->db)
		return -EIO;
	return auth_db_errno(sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
}

int auth_db_end(struct auth *a, int err)
{
	if (!err) {
		err = auth_db_errno(sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL));
		if (!err)
			return 0;
	}
	if (a->db && !sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* ------------------------------------------------------------------------
 * Users
 * ---------------------------------------------------------------------- */

int auth_db_user_lookup(struct auth *a, const char *name, struct auth_user_record *ret)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = auth_db_prepare(
	    a, "SELECT role, created_at, password_hash FROM users WHERE name = ?1", &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 2);

		ret->role = auth_role_from_db(sqlite3_column_text(st, 0));
		ret->created_at = sqlite3_column_double(st, 1);
		snprintf(ret->password_hash, sizeof(ret->password_hash), "%s",
			 h ? (const char *)h : "");
		err = 0;
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : auth_db_errno(rc);
	}
	sqlite3_finalize(st);
	return err;
}

int auth_user_add(struct auth *a, const char *name, const char *password, enum auth_role role)
{
	char hash[AUTH_PASSWORD_HASH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t users = 0;
	int err;

	if (!a || !auth_user_name_valid(name) || !auth_password_valid(password) ||
	    !auth_role_valid(role))
		return -EINVAL;
	err = auth_password_hash(password, a->pbkdf2_iterations, hash, sizeof(hash));
	if (err)
		return err;

	auth_db_acquire(a);
	err = auth_db_begin(a);
	if (err)
		goto out;
	err = auth_db_errno(db_int_query(a->db, "SELECT count(*) FROM users", &users));
	if (!err && users >= AUTH_USERS_MAX)
		err = -ENOSPC;
	if (!err)
		err = auth_db_prepare(a,
				      "INSERT INTO users (name, role, password_hash, created_at) "
				      "VALUES (?1, ?2, ?3, ?4)",
				      &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 4, auth_now_us(a));
		err = auth_db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	err = auth_db_end(a, err);
out:
	auth_db_release(a);
	OPENSSL_cleanse(hash, sizeof(hash));
	return err;
}

int auth_user_delete(struct auth *a, const char *name)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a || !auth_user_name_valid(name))
		return -EINVAL;
	auth_cache_invalidate(a);
	auth_db_acquire(a);
	err = auth_db_begin(a);
	if (err)
		goto out;
	/* tokens go with their owner: a new account of the same name must
	 * not inherit them */
	err = auth_db_prepare(a, "DELETE FROM api_tokens WHERE owner = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		err = auth_db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	if (!err)
		err = auth_db_prepare(a, "DELETE FROM users WHERE name = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		err = auth_db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
	}
	err = auth_db_end(a, err);
out:
	auth_db_release(a);
	return err;
}

int auth_user_set_role(struct auth *a, const char *name, enum auth_role role)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a || !auth_user_name_valid(name) || !auth_role_valid(role))
		return -EINVAL;
	auth_cache_invalidate(a);
	auth_db_acquire(a);
	err = auth_db_prepare(a, "UPDATE users SET role = ?2 WHERE name = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		err = auth_db_errno(sqlite3_step(st));
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
		sqlite3_finalize(st);
	}
	auth_db_release(a);
	return err;
}

int auth_user_list(struct auth *a, json_t **ret)
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
	err = auth_db_prepare(a, "SELECT name, role, created_at FROM users ORDER BY name", &st);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *u =
		    json_pack("{s:s, s:s, s:I}", "name", (const char *)sqlite3_column_text(st, 0),
			      "role", auth_role_name(auth_role_from_db(sqlite3_column_text(st, 1))),
			      "created_at", (json_int_t)sqlite3_column_int64(st, 2));

		if (!u || json_array_append_new(arr, u))
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

int auth_ensure_admin(struct auth *a, const char *password)
{
	char hash[AUTH_PASSWORD_HASH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t users = 0;
	int err;

	if (!a)
		return -EINVAL;
	auth_db_acquire(a);
	err = auth_db_errno(db_int_query(a->db, "SELECT count(*) FROM users", &users));
	auth_db_release(a);
	if (err || users > 0)
		return err;
	if (!auth_password_valid(password))
		return -EINVAL;
	err = auth_password_hash(password, a->pbkdf2_iterations, hash, sizeof(hash));
	if (err)
		return err;
	/* one statement decides, so a second process racing us adds nothing */
	auth_db_acquire(a);
	err = auth_db_prepare(
	    a,
	    "INSERT INTO users (name, role, password_hash, created_at) "
	    "SELECT 'admin', 'admin', ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM users)",
	    &st);
	if (!err) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, auth_now_us(a));
		err = auth_db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	auth_db_release(a);
	OPENSSL_cleanse(hash, sizeof(hash));
	return err;
}
