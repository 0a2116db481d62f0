// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for alerts/alerts_format.c: the Slack, PagerDuty and webhook
 * bodies as their documentation describes them, Slack's escaping and
 * limits, the webhook signature, and the words of a target's answer. */
#include <string.h>

#include "alerts/alerts_internal.h"
#include "test.h"

static struct alert_msg msg(enum alert_kind kind, enum alert_severity sev)
{
	struct alert_msg m = {
	    .kind = kind, .incident_id = 42, .severity = sev, .ts = 1437122578.315};

	snprintf(m.title, sizeof(m.title), "Run-queue latency <!channel> & co");
	snprintf(m.summary, sizeof(m.summary), "p99 rose 40x\non cpu3 > 10 ms");
	snprintf(m.link, sizeof(m.link), "https://kpulse.example/incidents/42?a=1&b=2");
	snprintf(m.dedup_key, sizeof(m.dedup_key), "kpulse/host1/incident/42");
	return m;
}

TEST(timestamps_are_iso_8601_utc_with_milliseconds)
{
	char buf[32];

	alerts_iso8601(1437122578.315, buf);
	CHECK_STR(buf, "2015-07-17T08:42:58.315Z");
	alerts_iso8601(0, buf);
	CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
}

TEST(slack_escapes_only_amp_lt_gt_and_never_cuts_an_entity)
{
	char out[64];

	alerts_slack_escape(out, sizeof(out), "a<b>&c \xc3\xa9 *bold*");
	CHECK_STR(out, "a&lt;b&gt;&amp;c \xc3\xa9 *bold*");
	alerts_slack_escape(out, 8, "ab&cd");
	CHECK_STR(out, "ab&amp;");
	alerts_slack_escape(out, 7, "ab&cd");
	CHECK_STR(out, "ab");
}

TEST(a_slack_message_has_fallback_text_and_mrkdwn_blocks)
{
	struct alert_msg m = msg(ALERT_OPEN, ALERT_CRITICAL);
	char *body = alerts_format_slack(&m, "host1");
	json_t *j = json_loads(body, 0, NULL), *blocks = json_object_get(j, "blocks");
	const char *text, *section;

	CHECK(j != NULL);
	text = json_string_value(json_object_get(j, "text"));
	CHECK_STR(text, "[CRITICAL] kpulse incident #42 opened on host1: Run-queue latency "
			"&lt;!channel&gt; &amp; co");
	CHECK_EQ_INT(json_array_size(blocks), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(blocks, 0), "type")), "section");
	section = json_string_value(
	    json_object_get(json_object_get(json_array_get(blocks, 0), "text"), "text"));
	CHECK_STR(json_string_value(
		      json_object_get(json_object_get(json_array_get(blocks, 0), "text"), "type")),
		  "mrkdwn");
	CHECK_STR(section, ":rotating_light: *kpulse incident #42 opened* (CRITICAL) on host1\n"
			   "*Run-queue latency &lt;!channel&gt; &amp; co*\n"
			   "p99 rose 40x\non cpu3 &gt; 10 ms\n"
			   "<https://kpulse.example/incidents/42?a=1&amp;b=2|Open incident #42>");
	CHECK(strstr(json_string_value(json_object_get(
			 json_array_get(json_object_get(json_array_get(blocks, 1), "elements"), 0),
			 "text")),
		     "kpulse/host1/incident/42") != NULL);
	json_decref(j);
	free(body);
}

TEST(slack_escalations_and_resolutions_say_so)
{
	struct alert_msg m = msg(ALERT_ESCALATE, ALERT_CRITICAL);
	char *body = alerts_format_slack(&m, "h");

	CHECK(strstr(body, ":arrow_double_up: *kpulse incident #42 escalated to CRITICAL*"));
	free(body);
	m = msg(ALERT_RESOLVE, ALERT_WARNING);
	body = alerts_format_slack(&m, "h");
	CHECK(strstr(body, ":white_check_mark: *kpulse incident #42 resolved* (WARNING)"));
	free(body);
}

TEST(a_long_summary_keeps_the_section_within_slacks_3000_characters)
{
	struct alert_msg m = msg(ALERT_OPEN, ALERT_WARNING);
	char *body;
	json_t *j;
	const char *section;

	memset(m.summary, '&', sizeof(m.summary) - 1); /* 5 bytes each once escaped */
	m.summary[sizeof(m.summary) - 1] = '\0';
	body = alerts_format_slack(&m, "h");
	j = json_loads(body, 0, NULL);
	section = json_string_value(json_object_get(
	    json_object_get(json_array_get(json_object_get(j, "blocks"), 0), "text"), "text"));
	CHECK(section != NULL);
	CHECK(strlen(section) <= ALERT_SLACK_SECTION_MAX);
	/* the link survives at the end; no entity is cut */
	CHECK(strstr(section, "|Open incident #42>") != NULL);
	CHECK(strstr(section, "&amp;&amp;\n<https://") != NULL);
	json_decref(j);
	free(body);
}

TEST(a_pagerduty_trigger_has_every_required_field)
{
	struct alert_msg m = msg(ALERT_OPEN, ALERT_WARNING);
	char *body = alerts_format_pagerduty(&m, "0123456789abcdef0123456789abcdef", "host1");
	json_t *j = json_loads(body, 0, NULL), *p = json_object_get(j, "payload");

	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "routing_key")),
		  "0123456789abcdef0123456789abcdef");
	CHECK_STR(json_string_value(json_object_get(j, "event_action")), "trigger");
	CHECK_STR(json_string_value(json_object_get(j, "dedup_key")), "kpulse/host1/incident/42");
	CHECK_STR(json_string_value(json_object_get(p, "summary")),
		  "[kpulse] Run-queue latency <!channel> & co (incident #42)");
	CHECK_STR(json_string_value(json_object_get(p, "source")), "host1");
	CHECK_STR(json_string_value(json_object_get(p, "severity")), "warning");
	CHECK_STR(json_string_value(json_object_get(p, "timestamp")), "2015-07-17T08:42:58.315Z");
	CHECK_STR(json_string_value(json_object_get(p, "component")), "kpulse");
	CHECK_EQ_INT(json_integer_value(
			 json_object_get(json_object_get(p, "custom_details"), "incident_id")),
		     42);
	CHECK_STR(json_string_value(
		      json_object_get(json_array_get(json_object_get(j, "links"), 0), "href")),
		  m.link);
	CHECK_STR(json_string_value(json_object_get(j, "client")), "kpulse");
	json_decref(j);
	free(body);
}

TEST(a_pagerduty_resolve_is_routing_key_dedup_key_and_action_only)
{
	struct alert_msg m = msg(ALERT_RESOLVE, ALERT_CRITICAL);
	char *body = alerts_format_pagerduty(&m, "0123456789abcdef0123456789abcdef", "host1");

	CHECK_STR(body, "{\"routing_key\":\"0123456789abcdef0123456789abcdef\","
			"\"dedup_key\":\"kpulse/host1/incident/42\",\"event_action\":\"resolve\"}");
	free(body);
}

TEST(a_pagerduty_summary_is_cut_to_1024)
{
	struct alert_msg m = msg(ALERT_OPEN, ALERT_CRITICAL);
	char *body;
	json_t *j;

	memset(m.title, 'x', sizeof(m.title) - 1);
	m.title[sizeof(m.title) - 1] = '\0';
	/* the title alone cannot pass the limit; a link is the rest's problem */
	body = alerts_format_pagerduty(&m, "k", "h");
	j = json_loads(body, 0, NULL);
	CHECK(strlen(json_string_value(json_object_get(json_object_get(j, "payload"),
						       "summary"))) <= ALERT_PAGERDUTY_SUMMARY_MAX);
	json_decref(j);
	free(body);
}

TEST(the_webhook_body_is_flat_and_its_signature_an_hmac)
{
	struct alert_msg m = msg(ALERT_ESCALATE, ALERT_CRITICAL);
	char *body = alerts_format_webhook(&m, "host1"), sig[ALERT_SIGNATURE_MAX];
	json_t *j = json_loads(body, 0, NULL);

	CHECK_EQ_INT(json_integer_value(json_object_get(j, "version")), 1);
	CHECK_STR(json_string_value(json_object_get(j, "source")), "kpulse");
	CHECK_STR(json_string_value(json_object_get(j, "host")), "host1");
	CHECK_STR(json_string_value(json_object_get(j, "kind")), "escalate");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "incident_id")), 42);
	CHECK_STR(json_string_value(json_object_get(j, "severity")), "critical");
	CHECK_STR(json_string_value(json_object_get(j, "title")), m.title);
	CHECK_STR(json_string_value(json_object_get(j, "summary")), m.summary);
	CHECK_STR(json_string_value(json_object_get(j, "dedup_key")), m.dedup_key);
	CHECK_STR(json_string_value(json_object_get(j, "timestamp")), "2015-07-17T08:42:58.315Z");
	json_decref(j);
	free(body);
	m.link[0] = '\0';
	body = alerts_format_webhook(&m, "h");
	CHECK(strstr(body, "\"link\":null") != NULL);
	free(body);

	/* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
	CHECK_EQ_INT(alerts_sign("Jefe", "what do ya want for nothing?", 28, sig), 0);
	CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(the_words_of_a_targets_answer_become_one_line)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
	    {"channel_not_found", "channel_not_found"},
	    {"invalid_payload\nmore", "invalid_payload"},
	    {"{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
	     "\"errors\":[\"'payload.summary' is missing\"]}",
	     "Event object is invalid: 'payload.summary' is missing"},
	    {"{\"status\":\"throttle event\",\"message\":\"Requests are arriving too quickly\"}",
	     "Requests are arriving too quickly"},
	    {"{\"error\":\"refused\"}", "refused"},
	    {"{\"error\":{\"message\":\"nope\"}}", "nope"},
	    {"", ""},
	    {"bad \x1b[31m\xff", "bad \\x1b[31m\\xff"},
	};
	char why[ALERT_ERROR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		alerts_answer_words(cases[i].body, strlen(cases[i].body), why, sizeof(why));
		if (strcmp(why, cases[i].why)) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, why);
			CHECK(0);
		}
	}
}

TEST_MAIN()
