// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * alerts_format.c - the bodies each alert target takes, as their
 * documentation describes them:
 *
 * Slack incoming webhooks (docs.slack.dev, "Sending messages using
 * incoming webhooks"; "Formatting message text"): POST a JSON object with
 * "text" and optional "blocks"; when blocks are given, text is the
 * fallback shown in notifications. Text is mrkdwn, in which only &, < and
 * > are escaped (&amp; &lt; &gt;) and <url|label> is a link; a section
 * block's text holds at most 3000 characters. Slack answers 200 "ok", or
 * a 4xx with a plain-text reason (invalid_payload, no_text,
 * channel_not_found, channel_is_archived, action_prohibited) and 429 with
 * Retry-After when rate limited.
 *
 * PagerDuty Events API v2 (developer.pagerduty.com, events-API-v2,
 * "Send an Alert Event" and the overview's response codes): POST to
 * /v2/enqueue {"routing_key", "event_action": "trigger" | "acknowledge" |
 * "resolve", "dedup_key" (at most 255 characters, correlating triggers and
 * resolves), "payload": {"summary" (at most 1024), "source", "severity"
 * (critical, error, warning, info), "timestamp", "component", "group",
 * "class", "custom_details"}, "links": [{"href", "text"}], "client",
 * "client_url"}; a resolve needs only routing_key, dedup_key and
 * event_action. It answers 202 {"status": "success", "message": "Event
 * processed", "dedup_key"}, 400 {"status": "invalid event", "message",
 * "errors": [...]} (not to be retried), 429 and 5xx (to be retried).
 *
 * The generic webhook is kpulse's own: one flat JSON object per event
 * (alerts.h), signed with HMAC-SHA256 when a secret is set.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alerts/alerts_internal.h"
#include "util/error.h"
#include "util/utf8.h"

void alerts_iso8601(double ts, char buf[32])
{
	long long total_ms = llround(ts * 1000);
	time_t sec = (time_t)(total_ms / 1000);
	unsigned ms = (unsigned)(total_ms % 1000);
	struct tm tm;
	char base[20];

	gmtime_r(&sec, &tm);
	if (!strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(base, sizeof(base), "1970-01-01T00:00:00");
	snprintf(buf, 32, "%s.%03uZ", base, ms);
}

/* ------------------------------------------------------------ Slack */

size_t alerts_slack_escape(char *dst, size_t dstsize, const char *src)
{
	size_t out = 0, len = strlen(src);

	if (!dstsize)
		return 0;
	for (size_t i = 0; i < len;) {
		const char *rep = src[i] == '&'	  ? "&amp;"
				  : src[i] == '<' ? "&lt;"
				  : src[i] == '>' ? "&gt;"
						  : NULL;
		size_t n = rep ? strlen(rep) : utf8_char_len(src + i, len - i);

		if (!n)
			n = 1; /* not expected: the text was sanitized */
		if (out + n >= dstsize)
			break;
		memcpy(dst + out, rep ? rep : src + i, n);
		out += n;
		i += rep ? 1 : n;
	}
	dst[out] = '\0';
	return out;
}

static const char *const slack_emoji[ALERT_KIND_COUNT] = {
    ":rotating_light:", ":arrow_double_up:", ":white_check_mark:"};

static void upper(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < len; i++)
		dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
	dst[i] = '\0';
}

char *alerts_format_slack(const struct alert_msg *m, const char *host)
{
	char sev[16], what[64], title[ALERT_TITLE_MAX * 5], head[512],
	    link[ALERT_LINK_MAX * 5 + 64];
	char section[ALERT_SLACK_SECTION_MAX + 1], fallback[2048], context[1536], ts[32], h[256];
	char dk[ALERT_DEDUP_MAX * 5];
	size_t n, room;
	json_t *body;
	char *out = NULL;

	upper(sev, sizeof(sev), alert_severity_name(m->severity));
	if (m->kind == ALERT_ESCALATE)
		snprintf(what, sizeof(what), "escalated to %s", sev);
	else
		snprintf(what, sizeof(what), "%s", m->kind == ALERT_OPEN ? "opened" : "resolved");
	alerts_slack_escape(h, sizeof(h), host);
	alerts_slack_escape(title, sizeof(title), m->title);
	snprintf(head, sizeof(head), "%s *kpulse incident #%lld %s* (%s) on %s",
		 slack_emoji[m->kind], (long long)m->incident_id, what, sev, h);
	link[0] = '\0';
	if (m->link[0]) {
		char url[ALERT_LINK_MAX * 5];

		alerts_slack_escape(url, sizeof(url), m->link);
		snprintf(link, sizeof(link), "\n<%s|Open incident #%lld>", url,
			 (long long)m->incident_id);
	}
	/* the summary gets what the section has left; a link too long to fit
	 * (over a kilobyte) is left out rather than cut */
	n = (size_t)snprintf(section, sizeof(section), "%s\n*%s*", head, title);
	if (n + strlen(link) + 1 > sizeof(section))
		link[0] = '\0';
	room = sizeof(section) - n - strlen(link) - 1;
	if (m->summary[0] && room > 2) {
		section[n++] = '\n';
		n += alerts_slack_escape(section + n, room, m->summary);
	}
	snprintf(section + n, sizeof(section) - n, "%s", link);

	snprintf(fallback, sizeof(fallback), "[%s] kpulse incident #%lld %s on %s: %s", sev,
		 (long long)m->incident_id, what, h, title);
	alerts_iso8601(m->ts, ts);
	alerts_slack_escape(dk, sizeof(dk), m->dedup_key);
	snprintf(context, sizeof(context), "kpulse \xc2\xb7 %s \xc2\xb7 %s", dk, ts);
	body = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]}", "text", fallback,
			 "blocks", "type", "section", "text", "type", "mrkdwn", "text", section,
			 "type", "context", "elements", "type", "mrkdwn", "text", context);
	if (body)
		out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

/* ------------------------------------------------------------ PagerDuty */

char *alerts_format_pagerduty(const struct alert_msg *m, const char *routing_key,
			      const char *source)
{
	char summary[ALERT_PAGERDUTY_SUMMARY_MAX + 1], ts[32];
	json_t *body, *links;
	char *out = NULL;
	size_t n;

	if (m->kind == ALERT_RESOLVE) {
		body = json_pack("{s:s, s:s, s:s}", "routing_key", routing_key, "dedup_key",
				 m->dedup_key, "event_action", "resolve");
		goto dump;
	}
	n = (size_t)snprintf(summary, sizeof(summary), "[kpulse] %s (incident #%lld)", m->title,
			     (long long)m->incident_id);
	if (n >= sizeof(summary))
		summary[utf8_cut(summary, sizeof(summary) - 1, sizeof(summary) - 1)] = '\0';
	alerts_iso8601(m->ts, ts);
	body = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:s}}, "
			 "s:s}",
			 "routing_key", routing_key, "event_action", "trigger", "dedup_key",
			 m->dedup_key, "payload", "summary", summary, "source", source, "severity",
			 alert_severity_name(m->severity), "timestamp", ts, "component", "kpulse",
			 "class", "incident", "custom_details", "incident_id",
			 (json_int_t)m->incident_id, "kind", alert_kind_name(m->kind), "summary",
			 m->summary, "client", "kpulse");
	if (body && m->link[0]) {
		char text[64];

		snprintf(text, sizeof(text), "kpulse incident #%lld", (long long)m->incident_id);
		links = json_pack("[{s:s, s:s}]", "href", m->link, "text", text);
		if (!links || json_object_set_new(body, "links", links) ||
		    json_object_set_new(body, "client_url", json_string(m->link))) {
			json_decref(body);
			body = NULL;
		}
	}
dump:
	if (body)
		out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

/* ------------------------------------------------------------ webhook */

char *alerts_format_webhook(const struct alert_msg *m, const char *host)
{
	char ts[32], *out = NULL;
	json_t *body;

	alerts_iso8601(m->ts, ts);
	body = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s}", "version", 1,
			 "source", "kpulse", "host", host, "kind", alert_kind_name(m->kind),
			 "incident_id", (json_int_t)m->incident_id, "severity",
			 alert_severity_name(m->severity), "title", m->title, "summary", m->summary,
			 "link", m->link[0] ? json_string(m->link) : json_null(), "dedup_key",
			 m->dedup_key, "timestamp", ts);
	if (body)
		out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

int alerts_sign(const char *secret, const char *body, size_t len, char out[ALERT_SIGNATURE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n = 7;

	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac,
		  &maclen) ||
	    maclen != 32)
		return -EIO;
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < maclen; i++) {
		out[n++] = hex[mac[i] >> 4];
		out[n++] = hex[mac[i] & 15];
	}
	out[n] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

/* ------------------------------------------------------------ answers */

/* s as one clean line into dst: newlines become spaces. */
static void one_line(char *dst, size_t dstsize, const char *s, size_t len)
{
	char tmp[512];
	size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

	n = strnlen(s, n);
	for (size_t i = 0; i < n; i++)
		tmp[i] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
	while (n && tmp[n - 1] == ' ')
		n--;
	utf8_sanitize(dst, dstsize, tmp, n, NULL);
}

void alerts_answer_words(const char *body, size_t len, char *why, size_t whylen)
{
	const char *msg = NULL, *first = NULL;
	json_t *root, *e;

	if (!whylen)
		return;
	why[0] = '\0';
	if (!body || !len)
		return;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root)) {
		e = json_object_get(root, "error");
		msg = json_string_value(e);
		if (!msg)
			msg = json_string_value(json_object_get(e, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(root, "message"));
		first = json_string_value(json_array_get(json_object_get(root, "errors"), 0));
		if (msg && first) {
			char a[160], b[160];

			one_line(a, sizeof(a), msg, strlen(msg));
			one_line(b, sizeof(b), first, strlen(first));
			error_set(why, whylen, 0, "%s: %s", a, b);
		} else if (msg || first) {
			msg = msg ? msg : first;
			one_line(why, whylen, msg, strlen(msg));
		}
		json_decref(root);
		return;
	}
	json_decref(root);
	one_line(why, whylen, body, strcspn(body, "\r\n") < len ? strcspn(body, "\r\n") : len);
}
