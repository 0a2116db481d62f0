// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_events.c - ring-buffer records to JSON, and malformed records. */
#include <errno.h>
#include <stdint.h>

#include "test.h"
#include "kpulse_abi.h"
#include "collection/events.h"

TEST(exit_event_decodes_code_signal_and_lifetime)
{
	struct kp_event_proc e = {};
	json_t *o;

	e.hdr.type = KP_EV_EXIT;
	e.hdr.pid = 1234;
	e.hdr.ts_ns = 2000000000ULL;
	strcpy(e.hdr.comm, "sleep");
	e.ppid = 1;
	e.exit_code = 42 << 8;
	e.lifetime_ns = 1500000000ULL;
	e.min_flt = 300;
	e.maj_flt = 2;
	o = event_to_json(&e, sizeof(e), 100.0);
	CHECK(o);
	CHECK_STR(json_string_value(json_object_get(o, "type")), "exit");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "pid")), 1234);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "ppid")), 1);
	CHECK_STR(json_string_value(json_object_get(o, "comm")), "sleep");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "exit_code")), 42);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "signal")), 0);
	CHECK_NEAR(json_real_value(json_object_get(o, "lifetime_s")), 1.5, 1e-9);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "minor_faults")), 300);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "major_faults")), 2);
	CHECK_NEAR(json_real_value(json_object_get(o, "timestamp")), 102.0, 1e-9);
	json_decref(o);
}

TEST(process_with_invalid_utf8_name_is_recorded_with_the_bytes_escaped)
{
	/* Any task can rename itself with prctl(PR_SET_NAME) to any bytes:
	 * an overlong NUL, a lone continuation byte, a control character and
	 * a name that fills the whole field without a NUL. */
	static const struct {
		const char *comm, *want;
	} cases[] = {
	    {"ev\xc0\x80il", "ev\\xc0\\x80il"},
	    {"\x80x\x1b[2J", "\\x80x\\x1b[2J"},
	    {"\xe2\x82\xac-ok", "\xe2\x82\xac-ok"},
	    {"0123456789abcde\xff", "0123456789abcde\\xff"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kp_event_proc e = {.hdr = {.type = KP_EV_EXEC, .pid = 7}, .ppid = 1};
		json_t *o;

		memcpy(e.hdr.comm, cases[i].comm, strnlen(cases[i].comm, sizeof(e.hdr.comm)));
		o = event_to_json(&e, sizeof(e), 0);
		CHECK(o);
		CHECK_STR(json_string_value(json_object_get(o, "comm")), cases[i].want);
		json_decref(o);
	}
}

TEST(killed_process_reports_its_signal)
{
	struct kp_event_proc e = {.hdr = {.type = KP_EV_EXIT, .pid = 5}, .exit_code = 9};
	json_t *o = event_to_json(&e, sizeof(e), 0);

	CHECK(o);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "signal")), 9);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "exit_code")), 0);
	json_decref(o);
}

TEST(tcp_close_event_formats_addresses)
{
	struct kp_event_tcp_close e = {};
	json_t *o;

	e.hdr.type = KP_EV_TCP_CLOSE;
	e.tuple.family = 2;
	e.tuple.sport = 40000;
	e.tuple.dport = 5201;
	memcpy(e.tuple.saddr, (uint8_t[]){127, 0, 0, 1}, 4);
	memcpy(e.tuple.daddr, (uint8_t[]){10, 254, 0, 2}, 4);
	e.bytes_sent = 1000;
	o = event_to_json(&e, sizeof(e), 0);
	CHECK(o);
	CHECK_STR(json_string_value(json_object_get(o, "saddr")), "127.0.0.1");
	CHECK_STR(json_string_value(json_object_get(o, "daddr")), "10.254.0.2");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "dport")), 5201);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "bytes_sent")), 1000);
	CHECK_STR(json_string_value(json_object_get(o, "family")), "ipv4");
	json_decref(o);
}

TEST(oom_event_carries_memcg)
{
	struct kp_event_oom e = {.hdr = {.type = KP_EV_OOM_KILL, .pid = 77}};
	json_t *o;

	strcpy(e.hdr.comm, "hog");
	strcpy(e.memcg, "kpt-oom");
	e.rss_pages = 100;
	o = event_to_json(&e, sizeof(e), 0);
	CHECK(o);
	CHECK_STR(json_string_value(json_object_get(o, "memcg")), "kpt-oom");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "rss_pages")), 100);
	json_decref(o);
}

TEST(short_or_unknown_records_are_rejected)
{
	struct kp_event_proc e = {.hdr = {.type = KP_EV_EXIT}};
	struct kp_event_hdr h = {.type = 999};

	errno = 0;
	CHECK(event_to_json(&e, sizeof(e) - 1, 0) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(event_to_json(&h, sizeof(h), 0) == NULL);
	h.type = 0;
	CHECK(event_to_json(&h, sizeof(h), 0) == NULL);
	CHECK(event_to_json(&h, 3, 0) == NULL);
}

TEST(unterminated_or_invalid_utf8_comm_is_made_safe)
{
	struct kp_event_proc e = {.hdr = {.type = KP_EV_EXEC}};
	json_t *o;

	memset(e.hdr.comm, 'a', sizeof(e.hdr.comm)); /* no NUL */
	e.hdr.comm[3] = (char)0xff;
	e.hdr.comm[4] = '\n';
	o = event_to_json(&e, sizeof(e), 0);
	CHECK(o);
	CHECK_STR(json_string_value(json_object_get(o, "comm")), "aaa\\xff\\x0aaaaaaaaaaaa");
	json_decref(o);
}

TEST(type_names)
{
	CHECK_STR(event_type_name(KP_EV_OOM_KILL), "oom_kill");
	CHECK_STR(event_type_name(KP_EV_SLOW_IO), "slow_io");
	CHECK(event_type_name(KP_EV_TYPE_MAX) == NULL);
}

TEST_MAIN()
