// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth_db.c - unit tests for auth/db.c: what a user name, password
 * and role may be, that SQL-looking input stays data, the first admin,
 * changes made by another process, the database file's mode, and that no
 * file stays open between calls.
 */
#include <dirent.h>
#include <errno.h>

#include "auth_fixture.h"

/* ------------------------------------------------------------------------
 * Users
 * ---------------------------------------------------------------------- */

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
 * The file
 * ---------------------------------------------------------------------- */

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
