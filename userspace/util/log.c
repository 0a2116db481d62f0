/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * log.c - leveled, timestamped log lines on stderr, as text or JSON lines.
 * See log.h for the formats and the threading contract.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "util/log.h"

static _Atomic int log_level = LOG_LEVEL_INFO;
static _Atomic int log_format = LOG_FORMAT_TEXT;
/* Guarded by log_lock; NULL means stderr, looked up at write time so that
 * a later freopen(stderr) is honoured. */
static FILE *log_output;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

const char *const log_level_names[LOG_LEVEL_COUNT] = {
    [LOG_LEVEL_DEBUG] = "debug",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_ERROR] = "error",
};

const char *const log_format_names[LOG_FORMAT_COUNT] = {
    [LOG_FORMAT_TEXT] = "text",
    [LOG_FORMAT_JSON] = "json",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void log_set_level(enum log_level level)
{
	if ((unsigned int)level < ARRAY_SIZE(log_level_names))
		atomic_store(&log_level, level);
}

enum log_level log_get_level(void)
{
	return atomic_load(&log_level);
}

void log_set_format(enum log_format format)
{
	if ((unsigned int)format < ARRAY_SIZE(log_format_names))
		atomic_store(&log_format, format);
}

void log_set_output(FILE *out)
{
	pthread_mutex_lock(&log_lock);
	log_output = out;
	pthread_mutex_unlock(&log_lock);
}

int log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_parse(const char *s, enum log_level *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(log_level_names); i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_format_parse(const char *s, enum log_format *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(log_format_names); i++) {
		if (strcasecmp(s, log_format_names[i]) == 0) {
			*ret = (enum log_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned int)level >= ARRAY_SIZE(log_level_names))
		return "?";
	return log_level_names[level];
}

const char *log_format_name(enum log_format format)
{
	if ((unsigned int)format >= ARRAY_SIZE(log_format_names))
		return "?";
	return log_format_names[format];
}

int log_timestamp_format(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	int n;

	if (!ts || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
		return -EINVAL;
	if (len < LOG_TIMESTAMP_LEN)
		return -ENOSPC;
	if (!gmtime_r(&ts->tv_sec, &tm))
		return -EOVERFLOW;
	/* RFC 3339 wants exactly four year digits. */
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -EOVERFLOW;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts->tv_nsec / 1000000L);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

/*
 * Formats into msg (LOG_MSG_MAX bytes). A cut message ends in "..." and is
 * cut at a UTF-8 character boundary so the JSON path keeps the text.
 */
__attribute__((format(printf, 2, 0))) static void format_message(char *msg, const char *fmt,
								 va_list ap)
{
	int n = vsnprintf(msg, LOG_MSG_MAX, fmt, ap);
	size_t cut;

	if (n < 0) {
		snprintf(msg, LOG_MSG_MAX, "(bad log format string: %s)", fmt);
		return;
	}
	if (n < LOG_MSG_MAX)
		return;
	cut = LOG_MSG_MAX - 4;
	while (cut > 0 && ((unsigned char)msg[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(msg + cut, "...", 4);
}

/* Appends msg to out (room for 2 * strlen(msg) + 1 bytes) keeping the
 * entry on one line: \n and \r become two-character escapes, other
 * control bytes become '?'. */
static void escape_text(char *out, const char *msg)
{
	for (; *msg; msg++) {
		unsigned char ch = (unsigned char)*msg;

		if (ch == '\n') {
			*out++ = '\\';
			*out++ = 'n';
		} else if (ch == '\r') {
			*out++ = '\\';
			*out++ = 'r';
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			*out++ = '?';
		} else {
			*out++ = (char)ch;
		}
	}
	*out = '\0';
}

/* Returns a malloc'ed JSON text without a newline, or NULL on ENOMEM. */
static char *format_json(const char *ts, const char *level, char *msg)
{
	json_t *line = json_object(), *jmsg;
	char *text = NULL;

	if (!line)
		return NULL;
	jmsg = json_string(msg);
	if (!jmsg) {
		/* Not valid UTF-8 (a path or a comm from the kernel can be
		 * anything): keep the ASCII and mark the rest. */
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		jmsg = json_string(msg);
	}
	if (json_object_set_new(line, "ts", json_string(ts)) < 0 ||
	    json_object_set_new(line, "level", json_string(level)) < 0 ||
	    json_object_set_new(line, "msg", jmsg) < 0)
		goto cleanup;
	text = json_dumps(line, JSON_COMPACT);
cleanup:
	json_decref(line);
	return text;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char ts[LOG_TIMESTAMP_LEN], msg[LOG_MSG_MAX], line[2 * LOG_MSG_MAX + 64];
	const char *name = log_level_name(level);
	int saved_errno = errno;
	struct timespec now;
	char *json = NULL;
	FILE *out;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	if (log_timestamp_format(&now, ts, sizeof(ts)) < 0)
		snprintf(ts, sizeof(ts), "1970-01-01T00:00:00.000Z");
	format_message(msg, fmt, ap);

	if (atomic_load(&log_format) == LOG_FORMAT_JSON) {
		json = format_json(ts, name, msg);
		if (!json)
			snprintf(line, sizeof(line),
				 "{\"ts\":\"%s\",\"level\":\"%s\","
				 "\"msg\":\"(log line lost: out of memory)\"}\n",
				 ts, name);
		else
			snprintf(line, sizeof(line), "%s\n", json);
	} else {
		size_t n = (size_t)snprintf(line, sizeof(line), "%s %-5s ", ts, name);

		escape_text(line + n, msg);
		strcat(line + n, "\n");
	}

	pthread_mutex_lock(&log_lock);
	out = log_output ? log_output : stderr;
	if (json && strlen(json) + 2 > sizeof(line)) {
		/* Escaping made the JSON longer than the buffer: write it
		 * directly rather than cut it into invalid JSON. */
		fprintf(out, "%s\n", json);
	} else {
		fputs(line, out);
	}
	fflush(out);
	pthread_mutex_unlock(&log_lock);

	free(json);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define DEFINE_LOG_FN(fn, lvl)                                                                     \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, fmt);                                                                 \
		log_vmsg(lvl, fmt, ap);                                                            \
		va_end(ap);                                                                        \
	}

DEFINE_LOG_FN(log_debug, LOG_LEVEL_DEBUG)
DEFINE_LOG_FN(log_info, LOG_LEVEL_INFO)
DEFINE_LOG_FN(log_warn, LOG_LEVEL_WARN)
DEFINE_LOG_FN(log_error, LOG_LEVEL_ERROR)
