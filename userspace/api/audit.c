/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * audit.c - the API's security log: failed logins, accounts backing off,
 * refused logins, bad tokens, 429s, slow clients cut off, foreign Host
 * headers, and every token and user change. Each event is counted (GET
 * /metrics: kpulse_api_security_events_total{event="..."}) and logged as
 * one line
 *
 *	security: login_failed client=127.0.0.9 user=admin invalid password
 *
 * with the client address and the user name, never a password or token.
 * Names and details come from outside, so they are sanitized (utf8.h).
 *
 * Contracts: an attacker must not be able to flood the log, so events
 * other than changes are held to AUDIT_LINES_PER_S lines a second each;
 * the lines left out are counted and reported with the next line of
 * that kind. Changes (tokens, users) are always logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/utf8.h"

#define AUDIT_LINES_PER_S 5

static const char *const names[API_AUDIT_EVENTS] = {
    [API_AUDIT_LOGIN_FAILED] = "login_failed",	 [API_AUDIT_LOGIN_BACKOFF] = "login_backoff",
    [API_AUDIT_LOGIN_BUSY] = "login_busy",	 [API_AUDIT_BAD_TOKEN] = "bad_token",
    [API_AUDIT_RATE_LIMITED] = "rate_limited",	 [API_AUDIT_SLOW_CLIENT] = "slow_client",
    [API_AUDIT_BAD_HOST] = "bad_host",		 [API_AUDIT_TOKEN_CREATED] = "token_created",
    [API_AUDIT_TOKEN_REVOKED] = "token_revoked", [API_AUDIT_USER_ADDED] = "user_added",
    [API_AUDIT_USER_DELETED] = "user_deleted",
};

const char *api_audit_event_name(enum api_audit_event ev)
{
	return ev < API_AUDIT_EVENTS ? names[ev] : "unknown";
}

int api_audit_init(struct api_audit *au)
{
	return -pthread_mutex_init(&au->lock, NULL);
}

void api_audit_destroy(struct api_audit *au)
{
	pthread_mutex_destroy(&au->lock);
}

static bool is_change(enum api_audit_event ev)
{
	return ev >= API_AUDIT_TOKEN_CREATED;
}

/* Whether a line may be written now; *ret_left_out: lines not written
 * since the last one. */
static bool budget(struct api_audit *au, enum api_audit_event ev, uint64_t *ret_left_out)
{
	double now = clock_mono_s();
	bool ok;

	*ret_left_out = 0;
	if (is_change(ev))
		return true;
	pthread_mutex_lock(&au->lock);
	if (now - au->second[ev] >= 1.0) {
		au->second[ev] = now;
		au->lines[ev] = 0;
	}
	ok = au->lines[ev] < AUDIT_LINES_PER_S;
	if (ok) {
		au->lines[ev]++;
		*ret_left_out = au->suppressed[ev];
		au->suppressed[ev] = 0;
	} else {
		au->suppressed[ev]++;
	}
	pthread_mutex_unlock(&au->lock);
	return ok;
}

void api_audit(struct api *a, enum api_audit_event ev, const char *client, const char *user,
	       const char *fmt, ...)
{
	char detail[API_ERROR_MAX], safe_detail[API_ERROR_MAX], safe_user[AUTH_NAME_MAX * 4];
	char safe_client[API_RATE_KEY_MAX * 4], more[64] = "";
	uint64_t left_out;
	va_list ap;

	if (ev >= API_AUDIT_EVENTS)
		return;
	atomic_fetch_add(&a->audit.total[ev], 1);
	if (!budget(&a->audit, ev, &left_out))
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	utf8_sanitize(safe_detail, sizeof(safe_detail), detail, strlen(detail), NULL);
	if (client && !strncmp(client, "ip:", 3))
		client += 3;
	utf8_sanitize(safe_client, sizeof(safe_client), client ? client : "-",
		      strlen(client ? client : "-"), NULL);
	/* a name from a login body may be anything: cut it to a name's size */
	utf8_sanitize(safe_user, sizeof(safe_user), user ? user : "-",
		      strnlen(user ? user : "-", AUTH_NAME_MAX), NULL);
	if (left_out)
		snprintf(more, sizeof(more), " (%llu more %s not logged)",
			 (unsigned long long)left_out, names[ev]);
	log_msg(is_change(ev) ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
		"security: %s client=%s user=%s %s%s", names[ev], safe_client, safe_user,
		safe_detail, more);
}
