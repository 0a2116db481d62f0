/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_config_env.c - unit tests for util/config's sources: .env files, the
 * environment, the order of precedence, and that the committed .env.example
 * is what the option table generates. (test_config.c has the table and the
 * value forms.)
 *
 * .env files are written under a fresh mkdtemp directory that load_env_text()
 * removes before returning, so a failed CHECK leaves nothing behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "util/config.h"

#define DAY 86400.0

static bool config_equal(const struct kpulse_config *a, const struct kpulse_config *b)
{
	for (size_t i = 0; i < config_option_count; i++)
		if (!config_option_equal(&config_options[i], a, b))
			return false;
	return true;
}

/*
 * Writes len bytes of text to <tmpdir>/.env, loads it into c, and removes
 * the file and directory. err gets the loader's message with the directory
 * cut off, so it starts ".env:LINE: ". Returns the loader's result, or
 * -EIO when the file could not be set up (distinct from all loader errors
 * the tests expect).
 */
static int load_env_text(struct kpulse_config *c, const char *text, size_t len, char *err,
			 size_t errlen)
{
	char dir[] = "/tmp/kpulse-test-config-XXXXXX", path[sizeof(dir) + 8], msg[512] = "";
	FILE *f;
	int r = -EIO;

	if (!mkdtemp(dir))
		return -EIO;
	snprintf(path, sizeof(path), "%s/.env", dir);
	f = fopen(path, "we");
	if (f) {
		bool written = fwrite(text, 1, len, f) == len;

		if (fclose(f) == 0 && written)
			r = config_load_env_file(c, path, true, msg, sizeof(msg));
		unlink(path);
	}
	rmdir(dir);
	if (strncmp(msg, dir, strlen(dir)) == 0)
		snprintf(err, errlen, "%s", msg + strlen(dir) + 1);
	else
		snprintf(err, errlen, "%s", msg);
	return r;
}

static int load_env_string(struct kpulse_config *c, const char *text, char *err, size_t errlen)
{
	return load_env_text(c, text, strlen(text), err, errlen);
}

/* ---------------------------------------------------------------------- */
/* .env files                                                             */
/* ---------------------------------------------------------------------- */

TEST(env_file_reads_comments_export_quotes_and_crlf)
{
	static const char text[] = "# kpulse settings\n"
				   "\n"
				   "   \t\n"
				   "export KPULSE_INTERVAL=2.5\n"
				   "KPULSE_DATA_DIR='/var/lib/kp \"data\" #1'\n"
				   "KPULSE_LISTEN=\"[::1]:9000\"   # the API\n"
				   "  KPULSE_TOP_K = 20 # twenty\n"
				   "KPULSE_LOG_LEVEL=debug\r\n"
				   "KPULSE_RETENTION_RAW=\"36h\"\n"
				   "OTHER_TOOL=anything goes \"here\n"
				   "PATH=/usr/bin\n"
				   "export\tKPULSE_LOG_FORMAT='json'\n"
				   "KPULSE_SLOW_IO_MS=100\n"
				   "KPULSE_SLOW_IO_MS=120\n";
	struct kpulse_config c;
	char err[512] = "";

	config_defaults(&c);
	CHECK_EQ_INT(load_env_string(&c, text, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_NEAR(c.interval_s, 2.5, 0);
	CHECK_STR(c.data_dir, "/var/lib/kp \"data\" #1");
	CHECK_STR(c.listen_host, "::1");
	CHECK_EQ_INT(c.listen_port, 9000);
	CHECK_EQ_INT(c.top_k, 20);
	CHECK_EQ_INT(c.log_level, LOG_LEVEL_DEBUG);
	CHECK_NEAR(c.retention_raw_s, 36 * 3600, 0);
	CHECK_EQ_INT(c.log_format, LOG_FORMAT_JSON);
	CHECK_EQ_INT(c.slow_io_ms, 120);
	/* Untouched options keep their defaults. */
	CHECK_NEAR(c.flush_interval_s, 1.0, 0);
	CHECK_EQ_INT(c.buffer_max_samples, 1000000);
}

TEST(env_file_hash_needs_a_blank_before_it_to_start_a_comment)
{
	struct kpulse_config c;
	char err[512];

	config_defaults(&c);
	CHECK_EQ_INT(load_env_string(&c, "KPULSE_DATA_DIR=/d#1 # c\n", err, sizeof(err)), 0);
	CHECK_STR(c.data_dir, "/d#1");
	CHECK_EQ_INT(load_env_string(&c, "KPULSE_RETENTION_1M=45d#x\n", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "\"45d#x\"") != NULL);
}

TEST(env_file_double_quotes_unescape_quote_and_backslash_only)
{
	struct kpulse_config c;
	char err[512];

	config_defaults(&c);
	CHECK_EQ_INT(
	    load_env_string(&c, "KPULSE_DATA_DIR=\"/a \\\"b\\\" c\\\\d\\n\"\n", err, sizeof(err)),
	    0);
	CHECK_STR(c.data_dir, "/a \"b\" c\\d\\n");
	CHECK_EQ_INT(load_env_string(&c, "KPULSE_DATA_DIR='/x\\y'\n", err, sizeof(err)), 0);
	CHECK_STR(c.data_dir, "/x\\y");
}

TEST(env_file_last_line_without_newline_and_bom_are_read)
{
	struct kpulse_config c;
	char err[512];

	config_defaults(&c);
	CHECK_EQ_INT(load_env_string(&c, "\xef\xbb\xbfKPULSE_TOP_K=3\nKPULSE_SLOW_IO_MS=9", err,
				     sizeof(err)),
		     0);
	CHECK_EQ_INT(c.top_k, 3);
	CHECK_EQ_INT(c.slow_io_ms, 9);
	CHECK_EQ_INT(load_env_string(&c, "", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 3);
}

struct bad_env {
	const char *text, *want_err;
};

TEST(env_file_errors_name_file_line_and_cause)
{
	static const struct bad_env cases[] = {
	    {"# ok\nKPULSE_TOP_K=abc\n",
	     ".env:2: KPULSE_TOP_K: \"abc\" is not a whole number between 1 and 1000"},
	    {"KPULSE_TOP_K=\n",
	     ".env:1: KPULSE_TOP_K: \"\" is not a whole number between 1 and 1000"},
	    {"KPULSE_TOP_K= # nothing\n",
	     ".env:1: KPULSE_TOP_K: \"\" is not a whole number between 1 and 1000"},
	    {"KPULSE_TOP_K=''\n",
	     ".env:1: KPULSE_TOP_K: \"\" is not a whole number between 1 and 1000"},
	    {"\n\nKPULSE_NOPE=1\n",
	     ".env:3: unknown key KPULSE_NOPE (.env.example lists the known ones)"},
	    {"export KPULSE_interval=1\n",
	     ".env:1: unknown key KPULSE_interval (.env.example lists the known ones)"},
	    {"KPULSE_DATA_DIR='/data\n", ".env:1: unterminated ' quote"},
	    {"KPULSE_DATA_DIR=\"/data\n", ".env:1: unterminated \" quote"},
	    {"KPULSE_DATA_DIR=\"/data\\\"\n", ".env:1: unterminated \" quote"},
	    {"OTHER='not ours but broken\n", ".env:1: unterminated ' quote"},
	    {"KPULSE_TOP_K=\"5\" x\n", ".env:1: unexpected text after the closing quote"},
	    {"KPULSE_TOP_K 5\n", ".env:1: expected KEY=VALUE"},
	    {"=5\n", ".env:1: expected KEY=VALUE"},
	    {"1KPULSE=5\n", ".env:1: expected KEY=VALUE"},
	    {"KPULSE-TOP-K=5\n", ".env:1: expected KEY=VALUE"},
	    {"export\n", ".env:1: expected KEY=VALUE"},
	};
	struct kpulse_config def, c;

	config_defaults(&def);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";

		config_defaults(&c);
		CHECK_EQ_INT(load_env_string(&c, cases[i].text, err, sizeof(err)), -EINVAL);
		CHECK_STR(err, cases[i].want_err);
		CHECK(config_equal(&c, &def));
	}
}

TEST(env_file_refuses_long_lines_and_nul_bytes)
{
	static char text[CONFIG_LINE_MAX + 64];
	struct kpulse_config def, c;
	char err[512];
	size_t n;

	config_defaults(&def);
	config_defaults(&c);
	/* Exactly CONFIG_LINE_MAX bytes, also with CRLF: accepted. */
	n = (size_t)snprintf(text, sizeof(text), "OTHER=");
	memset(text + n, 'x', CONFIG_LINE_MAX - n);
	memcpy(text + CONFIG_LINE_MAX, "\r\nKPULSE_TOP_K=4\n", 18);
	CHECK_EQ_INT(load_env_string(&c, text, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 4);

	/* One byte more: refused, whatever the key. */
	config_defaults(&c);
	memset(text + n, 'x', CONFIG_LINE_MAX + 1 - n);
	memcpy(text + CONFIG_LINE_MAX + 1, "\nKPULSE_TOP_K=4\n", 17);
	CHECK_EQ_INT(load_env_string(&c, text, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, ".env:1: line longer than 4096 bytes");
	CHECK(config_equal(&c, &def));

	CHECK_EQ_INT(
	    load_env_text(&c, "KPULSE_TOP_K=4\nKPULSE_DATA_DIR=/a\0b\n", 36, err, sizeof(err)),
	    -EINVAL);
	CHECK_STR(err, ".env:2: line holds a NUL byte");
	CHECK(config_equal(&c, &def));
}

TEST(env_file_is_all_or_nothing)
{
	struct kpulse_config def, c;
	char err[512];

	config_defaults(&def);
	config_defaults(&c);
	CHECK_EQ_INT(load_env_string(&c,
				     "KPULSE_TOP_K=99\nKPULSE_INTERVAL=5\nKPULSE_SLOW_IO_MS=oops\n",
				     err, sizeof(err)),
		     -EINVAL);
	CHECK(config_equal(&c, &def));
}

TEST(env_file_missing_is_fine_unless_it_must_exist)
{
	struct kpulse_config def, c;
	char dir[] = "/tmp/kpulse-test-config-XXXXXX", path[64], err[512] = "";
	int r_optional = 1, r_required = 1, r_dir = 1;

	config_defaults(&def);
	config_defaults(&c);
	if (mkdtemp(dir)) {
		snprintf(path, sizeof(path), "%s/missing.env", dir);
		r_optional = config_load_env_file(&c, path, false, err, sizeof(err));
		r_required = config_load_env_file(&c, path, true, err, sizeof(err));
		/* A directory opens but cannot be read as a file. */
		r_dir = config_load_env_file(&c, dir, false, NULL, 0);
		rmdir(dir);
	}
	CHECK_EQ_INT(r_optional, 0);
	CHECK_EQ_INT(r_required, -ENOENT);
	CHECK(strstr(err, "missing.env: No such file or directory") != NULL);
	CHECK_EQ_INT(r_dir, -EISDIR);
	CHECK(config_equal(&c, &def));
}

/* ---------------------------------------------------------------------- */
/* The environment and precedence                                         */
/* ---------------------------------------------------------------------- */

TEST(environ_applies_kpulse_entries_and_ignores_the_rest)
{
	char *envp[] = {
	    "PATH=/usr/bin",
	    "KPULSE_TOP_K=7",
	    "KPULSE_BIN=/usr/sbin/kpulse",
	    "KPULSE_LISTEN=[::]:1234",
	    "KPULSE_NO_EQUALS_SIGN",
	    "NOT_KPULSE_TOP_K=1",
	    "KPULSE_LOG_FORMAT=json",
	    NULL,
	};
	struct kpulse_config c;
	char err[256] = "";

	config_defaults(&c);
	CHECK_EQ_INT(config_load_environ(&c, envp, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 7);
	CHECK_STR(c.listen_host, "::");
	CHECK_EQ_INT(c.listen_port, 1234);
	CHECK_EQ_INT(c.log_format, LOG_FORMAT_JSON);
	CHECK_EQ_INT(config_load_environ(&c, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 7);
}

TEST(environ_bad_value_fails_whole_and_names_the_variable)
{
	char *envp[] = {"KPULSE_TOP_K=7", "KPULSE_INTERVAL=abc", NULL};
	struct kpulse_config def, c;
	char err[256] = "";

	config_defaults(&def);
	config_defaults(&c);
	CHECK_EQ_INT(config_load_environ(&c, envp, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_INTERVAL: \"abc\" is not a number of seconds between 0.1 and 3600");
	CHECK(config_equal(&c, &def));
}

TEST(precedence_env_file_then_environment_then_flags)
{
	char *envp[] = {"KPULSE_TOP_K=30", "KPULSE_SLOW_IO_MS=200", NULL};
	struct kpulse_config c;
	char err[512] = "";

	config_defaults(&c);
	CHECK_EQ_INT(load_env_string(&c,
				     "KPULSE_INTERVAL=2\nKPULSE_TOP_K=20\nKPULSE_SLOW_IO_MS=100\n",
				     err, sizeof(err)),
		     0);
	CHECK_EQ_INT(config_load_environ(&c, envp, err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "--slow-io-ms", "300", err, sizeof(err)), 0);
	CHECK_NEAR(c.interval_s, 2, 0);		/* only the file set it */
	CHECK_EQ_INT(c.top_k, 30);		/* environment over file */
	CHECK_EQ_INT(c.slow_io_ms, 300);	/* flag over both */
	CHECK_NEAR(c.flush_interval_s, 1.0, 0); /* nobody: default */
}

/* ---------------------------------------------------------------------- */
/* .env.example                                                           */
/* ---------------------------------------------------------------------- */

static char generated[65536], committed[65536];

/* The committed file sits at the repository root, two levels above this
 * source file; __FILE__ is relative to where make runs the compiler. */
static int read_committed_example(void)
{
	const char *suffix = "tests/unit/test_config_env.c";
	char path[PATH_MAX];
	size_t root_len = strlen(__FILE__) - strlen(suffix), n;
	FILE *f;

	snprintf(path, sizeof(path), "%.*s.env.example", (int)root_len, __FILE__);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(committed, 1, sizeof(committed) - 1, f);
	committed[n] = '\0';
	fclose(f);
	return 0;
}

static int write_generated_example(void)
{
	FILE *f;
	int r;

	memset(generated, 0, sizeof(generated));
	f = fmemopen(generated, sizeof(generated) - 1, "w");
	if (!f)
		return -errno;
	r = config_write_env_example(f);
	fclose(f);
	return r;
}

TEST(committed_env_example_is_what_the_table_generates)
{
	CHECK_EQ_INT(write_generated_example(), 0);
	CHECK_EQ_INT(read_committed_example(), 0);
	/* On failure: regenerate .env.example from config_write_env_example(). */
	CHECK_STR(committed, generated);
}

TEST(env_example_lists_every_option_with_default_and_flag)
{
	CHECK_EQ_INT(write_generated_example(), 0);
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];
		char line[1024], help[512];

		config_option_help(opt, help, sizeof(help));
		if (opt->flag)
			snprintf(line, sizeof(line), "\n# %s.\n# Flag: --%s %s\n%s=%s\n", help,
				 opt->flag, opt->value_name, opt->env, opt->default_value);
		else
			snprintf(line, sizeof(line), "\n# %s.\n# %s\n%s=%s\n", help,
				 CONFIG_NO_FLAG_NOTE, opt->env, opt->default_value);
		CHECK(strstr(generated, line) != NULL);
	}
}

TEST(env_example_loads_back_to_the_defaults)
{
	struct kpulse_config def, c;
	char err[512] = "";

	config_defaults(&def);
	config_defaults(&c);
	/* Move every option off its default first. */
	CHECK_EQ_INT(config_set(&c, "KPULSE_INTERVAL", "5", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_DATA_DIR", "/elsewhere", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FLUSH_INTERVAL", "5", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_RETENTION_RAW", "1h", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_RETENTION_1M", "1h", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_RETENTION_1H", "1h", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_RETENTION_EVENTS", "1h", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_SLOW_IO_MS", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LISTEN", "[::1]:1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_LEVEL", "error", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_FORMAT", "json", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_BUFFER_MAX_SAMPLES", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ADMIN_PASSWORD", "password1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_JWT_SECRET", "0123456789abcdef0123456789abcdef", err,
				sizeof(err)),
		     0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOKEN_TTL", "5m", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_METRICS_AUTH", "on", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALLOW_REMOTE_UNAUTHENTICATED", "on", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_MAX_CONNECTIONS", "4", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_MAX_BODY_BYTES", "1024", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_RATE_LIMIT", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_CUSTOM_MAX_SERIES", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TLS_CERT", "/c.pem", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TLS_KEY", "/k.pem", err, sizeof(err)), 0);
	CHECK(!config_equal(&c, &def));
	CHECK_EQ_INT(write_generated_example(), 0);
	CHECK_EQ_INT(load_env_string(&c, generated, err, sizeof(err)), 0);
	CHECK(config_equal(&c, &def));
}

TEST_MAIN()
