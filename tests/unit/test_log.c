/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_log.c - unit tests for util/log: level and format names, the RFC 3339
 * timestamp, the text and JSON line formats, level filtering, and that
 * lines from concurrent threads stay whole.
 *
 * Output is captured in a static buffer through fmemopen(); capture_end()
 * closes the stream and resets the logger before any CHECK runs, so a
 * failed check leaks nothing and leaves no state to the next test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "test.h"
#include "util/log.h"

static char capture_buf[256 * 1024];
static FILE *capture_file;

static int capture_begin(enum log_level level, enum log_format format)
{
	memset(capture_buf, 0, sizeof(capture_buf));
	/* One byte short so the text always ends in a NUL. */
	capture_file = fmemopen(capture_buf, sizeof(capture_buf) - 1, "w");
	if (!capture_file)
		return -errno;
	log_set_output(capture_file);
	log_set_level(level);
	log_set_format(format);
	return 0;
}

static const char *capture_end(void)
{
	log_set_output(NULL);
	log_set_level(LOG_LEVEL_INFO);
	log_set_format(LOG_FORMAT_TEXT);
	if (capture_file)
		fclose(capture_file);
	capture_file = NULL;
	return capture_buf;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" within 60 s of now. */
static int is_recent_timestamp(const char *ts)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm tm = {0};
	time_t t;

	for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
		if (pattern[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != pattern[i])
			return 0;
	}
	if (!strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	t = timegm(&tm);
	return t > time(NULL) - 60 && t < time(NULL) + 60;
}

TEST(level_parse_accepts_the_four_names_in_any_case)
{
	enum log_level l = LOG_LEVEL_ERROR;

	CHECK_EQ_INT(log_level_parse("debug", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_DEBUG);
	CHECK_EQ_INT(log_level_parse("info", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_INFO);
	CHECK_EQ_INT(log_level_parse("warn", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_WARN);
	CHECK_EQ_INT(log_level_parse("error", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_ERROR);
	CHECK_EQ_INT(log_level_parse("DEBUG", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_DEBUG);
}

TEST(level_parse_rejects_other_words_and_leaves_ret_alone)
{
	enum log_level l = LOG_LEVEL_WARN;

	CHECK_EQ_INT(log_level_parse("warning", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse("", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse("info ", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse("trace", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse(NULL, &l), -EINVAL);
	CHECK_EQ_INT(l, LOG_LEVEL_WARN);
}

TEST(format_parse_accepts_text_and_json_only)
{
	enum log_format f = LOG_FORMAT_JSON;

	CHECK_EQ_INT(log_format_parse("text", &f), 0);
	CHECK_EQ_INT(f, LOG_FORMAT_TEXT);
	CHECK_EQ_INT(log_format_parse("JSON", &f), 0);
	CHECK_EQ_INT(f, LOG_FORMAT_JSON);
	CHECK_EQ_INT(log_format_parse("xml", &f), -EINVAL);
	CHECK_EQ_INT(log_format_parse("", &f), -EINVAL);
	CHECK_EQ_INT(log_format_parse(NULL, &f), -EINVAL);
	CHECK_EQ_INT(f, LOG_FORMAT_JSON);
}

TEST(names_round_trip_and_unknown_values_print_as_question_mark)
{
	CHECK_STR(log_level_name(LOG_LEVEL_DEBUG), "debug");
	CHECK_STR(log_level_name(LOG_LEVEL_INFO), "info");
	CHECK_STR(log_level_name(LOG_LEVEL_WARN), "warn");
	CHECK_STR(log_level_name(LOG_LEVEL_ERROR), "error");
	CHECK_STR(log_level_name((enum log_level)42), "?");
	CHECK_STR(log_format_name(LOG_FORMAT_TEXT), "text");
	CHECK_STR(log_format_name(LOG_FORMAT_JSON), "json");
	CHECK_STR(log_format_name((enum log_format) - 1), "?");
}

TEST(timestamp_is_rfc3339_utc_with_truncated_milliseconds)
{
	char buf[LOG_TIMESTAMP_LEN];
	struct timespec ts = {.tv_sec = 1795887601, .tv_nsec = 123999999};

	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "2026-11-28T17:40:01.123Z");
	ts = (struct timespec){.tv_sec = 0, .tv_nsec = 999999999};
	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "1970-01-01T00:00:00.999Z");
	ts = (struct timespec){.tv_sec = 253402300799, .tv_nsec = 0};
	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "9999-12-31T23:59:59.000Z");
}

TEST(timestamp_rejects_bad_input_without_touching_the_buffer)
{
	char buf[LOG_TIMESTAMP_LEN] = "untouched";
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 0};

	CHECK_EQ_INT(log_timestamp_format(&ts, buf, LOG_TIMESTAMP_LEN - 1), -ENOSPC);
	ts.tv_nsec = 1000000000L;
	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), -EINVAL);
	ts.tv_nsec = -1;
	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), -EINVAL);
	ts = (struct timespec){.tv_sec = 253402300800, .tv_nsec = 0};
	CHECK_EQ_INT(log_timestamp_format(&ts, buf, sizeof(buf)), -EOVERFLOW);
	CHECK_STR(buf, "untouched");
}

TEST(text_line_is_timestamp_padded_level_and_message)
{
	const char *out;
	int r;

	r = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
	if (r == 0) {
		log_info("collector started interval_s=%d name=%s", 1, "blockio");
		log_warn("w");
		log_error("e");
		log_debug("d");
	}
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(count_lines(out), 4);
	CHECK(is_recent_timestamp(out));
	CHECK(starts_with(out + 24, " info  collector started interval_s=1 name=blockio\n"));
	out = strchr(out, '\n') + 1;
	CHECK(is_recent_timestamp(out));
	CHECK(starts_with(out + 24, " warn  w\n"));
	out = strchr(out, '\n') + 1;
	CHECK(starts_with(out + 24, " error e\n"));
	out = strchr(out, '\n') + 1;
	CHECK(starts_with(out + 24, " debug d\n"));
	CHECK_STR(strchr(out, '\n'), "\n");
}

TEST(text_line_escapes_line_breaks_and_control_bytes)
{
	const char *out;
	int r;

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	if (r == 0)
		log_info("a\nb\rc\x01"
			 "d\te");
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(count_lines(out), 1);
	CHECK_STR(out + 24, " info  a\\nb\\rc?d\te\n");
}

TEST(json_line_parses_with_ts_level_msg_and_escapes)
{
	const char *msg = "quote \" backslash \\ newline \n tab \t ctl \x01 utf8 \xc3\xa9";
	json_error_t jerr;
	json_t *line = NULL;
	const char *out;
	int r, ok;

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	if (r == 0)
		log_warn("%s", msg);
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(count_lines(out), 1);
	CHECK(out[strlen(out) - 1] == '\n');
	/* Key order is part of the format: ts first, for sort and grep. */
	CHECK(starts_with(out, "{\"ts\":\""));
	CHECK(strstr(out, "\",\"level\":\"warn\",\"msg\":\"") != NULL);

	line = json_loads(out, 0, &jerr);
	ok = line && json_is_object(line) && json_object_size(line) == 3 &&
	     json_is_string(json_object_get(line, "ts")) &&
	     is_recent_timestamp(json_string_value(json_object_get(line, "ts"))) &&
	     json_is_string(json_object_get(line, "level")) &&
	     strcmp(json_string_value(json_object_get(line, "level")), "warn") == 0 &&
	     json_is_string(json_object_get(line, "msg")) &&
	     strcmp(json_string_value(json_object_get(line, "msg")), msg) == 0;
	json_decref(line);
	CHECK(ok);
}

TEST(json_line_stays_valid_for_a_message_that_is_not_utf8)
{
	json_t *line = NULL;
	const char *out;
	int r, ok;

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	if (r == 0)
		log_info("comm=%s", "bad\xff\xfe");
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	line = json_loads(out, 0, NULL);
	ok = line && strcmp(json_string_value(json_object_get(line, "msg")), "comm=bad??") == 0;
	json_decref(line);
	CHECK(ok);
}

TEST(level_filter_drops_lines_below_the_level)
{
	const char *out;
	int r, warn_enabled = 0, info_enabled = 1;

	r = capture_begin(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	if (r == 0) {
		warn_enabled = log_enabled(LOG_LEVEL_WARN);
		info_enabled = log_enabled(LOG_LEVEL_INFO);
		log_debug("dropped debug");
		log_info("dropped info");
		log_warn("kept warn");
		log_error("kept error");
		log_msg(LOG_LEVEL_INFO, "dropped too");
		log_msg(LOG_LEVEL_ERROR, "kept via log_msg");
	}
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(warn_enabled, 1);
	CHECK_EQ_INT(info_enabled, 0);
	CHECK_EQ_INT(count_lines(out), 3);
	CHECK(strstr(out, "dropped") == NULL);
	CHECK(strstr(out, " warn  kept warn\n") != NULL);
	CHECK(strstr(out, " error kept error\n") != NULL);
	CHECK(strstr(out, " error kept via log_msg\n") != NULL);
}

TEST(default_level_is_info_and_bad_levels_are_ignored)
{
	log_set_level(LOG_LEVEL_INFO);
	CHECK_EQ_INT(log_get_level(), LOG_LEVEL_INFO);
	log_set_level((enum log_level)99);
	CHECK_EQ_INT(log_get_level(), LOG_LEVEL_INFO);
	CHECK(!log_enabled(LOG_LEVEL_DEBUG));
	CHECK(log_enabled(LOG_LEVEL_INFO));
}

TEST(logging_preserves_errno)
{
	const char *out;
	int r, after_written = 0, after_dropped = 0;

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	if (r == 0) {
		errno = ENOENT;
		log_error("open failed: %s", strerror(errno));
		after_written = errno;
		errno = EAGAIN;
		log_debug("dropped");
		after_dropped = errno;
	}
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(after_written, ENOENT);
	CHECK_EQ_INT(after_dropped, EAGAIN);
	CHECK_EQ_INT(count_lines(out), 1);
}

TEST(a_failing_output_neither_crashes_nor_changes_errno)
{
	int after = 0;
	FILE *f;

	/* Every write to /dev/full fails with ENOSPC inside the logger. */
	f = fopen("/dev/full", "we");
	if (f) {
		log_set_output(f);
		errno = EPERM;
		log_error("this line goes nowhere");
		after = errno;
		log_set_output(NULL);
		fclose(f);
	}
	CHECK(f != NULL);
	CHECK_EQ_INT(after, EPERM);
}

TEST(long_message_is_cut_with_ellipsis_on_a_character_boundary)
{
	static char msg[3 * LOG_MSG_MAX];
	const char *out, *text;
	json_t *line = NULL;
	size_t len = 0;
	int r;

	/* Two-byte characters, one byte off, so a naive cut splits one. */
	msg[0] = 'x';
	for (size_t i = 1; i + 2 < sizeof(msg); i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);
	msg[sizeof(msg) - 2] = '\0';

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	if (r == 0)
		log_info("%s", msg);
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(count_lines(out), 1);
	line = json_loads(out, 0, NULL);
	text = line ? json_string_value(json_object_get(line, "msg")) : NULL;
	if (text)
		len = strlen(text);
	r = text && len < LOG_MSG_MAX && len > LOG_MSG_MAX - 8 &&
	    strcmp(text + len - 3, "...") == 0 && strchr(text, '?') == NULL;
	json_decref(line);
	CHECK(r);
}

TEST(json_line_longer_than_the_line_buffer_after_escaping_stays_whole)
{
	static char msg[LOG_MSG_MAX];
	json_t *line = NULL;
	const char *out;
	int r, ok;

	/* Each control byte becomes six ("\u0001"): about 24 KiB of JSON. */
	memset(msg, '\x01', sizeof(msg) - 1);
	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	if (r == 0)
		log_info("%s", msg);
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(count_lines(out), 1);
	CHECK(strlen(out) > 6 * (LOG_MSG_MAX - 8));
	line = json_loads(out, 0, NULL);
	ok = line && strlen(json_string_value(json_object_get(line, "msg"))) == LOG_MSG_MAX - 1;
	json_decref(line);
	CHECK(ok);
}

TEST(default_output_is_stderr)
{
	char buf[256] = "";
	int fd, saved = -1, r = -1;
	ssize_t n = -1;

	fd = memfd_create("test_log_stderr", MFD_CLOEXEC);
	if (fd >= 0) {
		fflush(stderr);
		saved = dup(STDERR_FILENO);
	}
	if (saved >= 0) {
		r = dup2(fd, STDERR_FILENO);
		log_set_output(NULL);
		log_error("to stderr");
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	}
	if (fd >= 0)
		close(fd);
	CHECK(r >= 0);
	CHECK(n > 24);
	buf[n] = '\0';
	CHECK(is_recent_timestamp(buf));
	CHECK_STR(buf + 24, " error to stderr\n");
}

#define THREADS		 4
#define LINES_PER_THREAD 300

static void *log_from_thread(void *arg)
{
	int id = (int)(long)arg;

	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_info("thread=%d line=%d padding=%s", id, i, "abcdefghijklmnopqrstuvwxyz");
	return NULL;
}

TEST(lines_from_concurrent_threads_stay_whole)
{
	int seen[THREADS] = {0}, bad = 0, r, started = 0;
	pthread_t threads[THREADS];
	const char *out, *p;

	r = capture_begin(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	for (int t = 0; r == 0 && t < THREADS; t++) {
		if (pthread_create(&threads[t], NULL, log_from_thread, (void *)(long)t) != 0)
			break;
		started++;
	}
	for (int t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	out = capture_end();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(started, THREADS);
	CHECK_EQ_INT(count_lines(out), THREADS * LINES_PER_THREAD);
	for (p = out; *p; p = strchr(p, '\n') + 1) {
		int id, line, n = 0;

		if (!is_recent_timestamp(p) ||
		    sscanf(p + 24, " info  thread=%d line=%d padding=abcdefghijklmnopqrstuvwxyz%n",
			   &id, &line, &n) != 2 ||
		    n == 0 || p[24 + n] != '\n' || id < 0 || id >= THREADS || line != seen[id]++) {
			bad++;
			break;
		}
	}
	CHECK_EQ_INT(bad, 0);
	for (int t = 0; t < THREADS; t++)
		CHECK_EQ_INT(seen[t], LINES_PER_THREAD);
}

TEST_MAIN()
