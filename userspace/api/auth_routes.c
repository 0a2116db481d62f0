/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth_routes.c - login, API tokens and users over HTTP; the checks and
 * the storage are the auth module's (auth/auth.h). Bodies are parsed with the same strict
 * rules as every other body (api_json_parse, no unknown fields).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define TOKEN_LABEL_MAX 64

/* Parses the body and checks its fields; on failure queues a 400 and
 * returns false with *ret_ret set. */
static bool read_body(struct api_request *req, const char *const *fields, json_t **root,
		      enum MHD_Result *ret_ret)
{
	char err[API_ERROR_MAX];

	if (api_json_parse(req->body, req->body_len, API_JSON_MAX_DEPTH, root, err, sizeof(err)) <
		0 ||
	    api_json_only_fields(*root, fields, err, sizeof(err)) < 0) {
		json_decref(*root);
		*root = NULL;
		*ret_ret = api_reply_error(req, 400, "%s", err);
		return false;
	}
	return true;
}

static bool have_auth(struct api_request *req, enum MHD_Result *ret)
{
	if (req->api->auth)
		return true;
	*ret = api_reply_error(req, 503, "authentication is not configured");
	return false;
}

/* The user's name from "name" (documented) or "username" (login's old
 * spelling); both given and different is a 400 in *ret. */
static bool user_name_field(json_t *root, const char **ret_name, enum MHD_Result *ret,
			    struct api_request *req)
{
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *alias = json_string_value(json_object_get(root, "username"));

	if (name && alias && strcmp(name, alias)) {
		*ret = api_reply_error(req, 400, "name and username differ: send name only");
		return false;
	}
	*ret_name = name ? name : alias;
	return true;
}

enum MHD_Result api_handle_login(struct api_request *req)
{
	/* "name", as users are named everywhere else; "username" kept */
	static const char *const fields[] = {"name", "username", "password", NULL};
	char token[AUTH_TOKEN_MAX], retry[32];
	double expires_at = 0, retry_after = 0;
	const char *user, *password;
	enum MHD_Result ret;
	json_t *root = NULL;
	int r;

	if (!have_auth(req, &ret) || !read_body(req, fields, &root, &ret))
		return ret;
	if (!user_name_field(root, &user, &ret, req))
		goto out;
	password = json_string_value(json_object_get(root, "password"));
	if (!user || !password) {
		ret = api_reply_error(req, 400, "name and password are required strings");
		goto out;
	}
	r = api_login_throttle(req, &retry_after);
	if (r == 0)
		r = auth_login(req->api->auth, user, password, token, sizeof(token), &expires_at,
			       &retry_after);
	if (r == -EAGAIN) {
		snprintf(retry, sizeof(retry), "%.0f", ceil(retry_after > 1 ? retry_after : 1));
		ret = api_reply_error_header(req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry,
					     "too many failed logins; retry later");
		goto out;
	}
	if (r == -EACCES || r == -EINVAL) {
		atomic_fetch_add(&req->api->auth_failures_total, 1);
		ret = api_reply_error(req, 401, "invalid user name or password");
		goto out;
	}
	if (r < 0) {
		ret = api_reply_errno(req, r, "login");
		goto out;
	}
	ret = api_reply_json(req, 200,
			     json_pack("{s:s,s:s,s:f}", "token", token, "token_type", "Bearer",
				       "expires_at", expires_at));
out:
	explicit_bzero(token, sizeof(token));
	json_decref(root);
	return ret;
}

/* Who the caller is, so a client (the dashboard) can show only what its
 * role may use. */
enum MHD_Result api_handle_me(struct api_request *req)
{
	const struct auth_identity *who = &req->who;

	return api_reply_json(
	    req, 200,
	    json_pack("{s:s,s:s,s:o,s:o}", "user", who->user, "role", auth_role_name(who->role),
		      "token_id", who->token_id ? json_integer(who->token_id) : json_null(),
		      "expires_at",
		      who->expires_at > 0 ? json_real(who->expires_at) : json_null()));
}

enum MHD_Result api_handle_token_create(struct api_request *req)
{
	static const char *const fields[] = {"role", "label", NULL};
	const char *role_s, *label;
	char token[AUTH_TOKEN_MAX];
	enum auth_role role;
	enum MHD_Result ret;
	json_t *root = NULL, *label_json;
	int64_t id = 0;
	int r;

	if (!have_auth(req, &ret) || !read_body(req, fields, &root, &ret))
		return ret;
	role_s = json_string_value(json_object_get(root, "role"));
	if (!role_s || auth_role_parse(role_s, &role) < 0) {
		ret = api_reply_error(req, 400, "role: not one of viewer, operator, admin");
		goto out;
	}
	label_json = json_object_get(root, "label");
	label = label_json ? json_string_value(label_json) : "";
	if (!label || strlen(label) > TOKEN_LABEL_MAX) {
		ret = api_reply_error(req, 400, "label: not a string of at most %d bytes",
				      TOKEN_LABEL_MAX);
		goto out;
	}
	r = auth_token_create(req->api->auth, req->who.user, role, label, token, sizeof(token),
			      &id);
	if (r < 0) {
		ret = api_reply_errno(req, r, "token");
		goto out;
	}
	ret = api_reply_json(req, 201,
			     json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "token", token,
				       "role", auth_role_name(role), "label", label));
out:
	explicit_bzero(token, sizeof(token));
	json_decref(root);
	return ret;
}

enum MHD_Result api_handle_token_delete(struct api_request *req)
{
	char *end;
	long long id;
	enum MHD_Result ret;
	int r;

	if (!have_auth(req, &ret))
		return ret;
	errno = 0;
	id = strtoll(req->params[0], &end, 10);
	if (*end || errno || id <= 0 || req->params[0][0] == '+' || req->params[0][0] == ' ')
		return api_reply_error(req, 400, "token id: not a positive whole number");
	r = auth_token_delete(req->api->auth, id);
	if (r == -ENOENT)
		return api_reply_error(req, 404, "no token with id %lld", id);
	if (r < 0)
		return api_reply_errno(req, r, "token");
	return api_reply_json(req, 204, NULL);
}

enum MHD_Result api_handle_users_list(struct api_request *req)
{
	enum MHD_Result ret;
	json_t *users = NULL;
	int r;

	if (!have_auth(req, &ret))
		return ret;
	r = auth_user_list(req->api->auth, &users);
	if (r < 0)
		return api_reply_errno(req, r, "users");
	return api_reply_json(req, 200, json_pack("{s:o}", "users", users));
}

enum MHD_Result api_handle_user_add(struct api_request *req)
{
	static const char *const fields[] = {"name", "username", "password", "role", NULL};
	const char *name, *password, *role_s;
	enum auth_role role;
	enum MHD_Result ret;
	json_t *root = NULL;
	int r;

	if (!have_auth(req, &ret) || !read_body(req, fields, &root, &ret))
		return ret;
	if (!user_name_field(root, &name, &ret, req))
		goto out;
	password = json_string_value(json_object_get(root, "password"));
	role_s = json_string_value(json_object_get(root, "role"));
	if (!name || !password || !role_s || auth_role_parse(role_s, &role) < 0) {
		ret = api_reply_error(req, 400,
				      "name, password and role (viewer, operator, admin) are "
				      "required strings");
		goto out;
	}
	r = auth_user_add(req->api->auth, name, password, role);
	if (r == -EINVAL)
		ret = api_reply_error(req, 400,
				      "name must be [A-Za-z0-9_.-]{1,63} and the password 8 to "
				      "1024 bytes");
	else if (r == -EEXIST)
		ret = api_reply_error(req, 409, "user %s already exists", name);
	else if (r < 0)
		ret = api_reply_errno(req, r, "user");
	else
		ret = api_reply_json(
		    req, 201, json_pack("{s:s,s:s}", "name", name, "role", auth_role_name(role)));
out:
	json_decref(root);
	return ret;
}

enum MHD_Result api_handle_user_delete(struct api_request *req)
{
	enum MHD_Result ret;
	int r;

	if (!have_auth(req, &ret))
		return ret;
	/* An admin removing their own account could lock everyone out. */
	if (!strcmp(req->params[0], req->who.user))
		return api_reply_error(req, 400, "you cannot delete your own account");
	r = auth_user_delete(req->api->auth, req->params[0]);
	if (r == -ENOENT)
		return api_reply_error(req, 404, "no such user");
	if (r < 0)
		return api_reply_errno(req, r, "user");
	return api_reply_json(req, 204, NULL);
}
