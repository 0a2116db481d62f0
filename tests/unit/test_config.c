/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_config.c - unit tests for util/config: the option table, every
 * default, and every valid and invalid value form. (test_config_env.c has
 * the .env and environment loaders, precedence and .env.example.)
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

/* Every option of the table holds the same value in a and b. */
static bool config_equal(const struct kpulse_config *a, const struct kpulse_config *b)
{
	for (size_t i = 0; i < config_option_count; i++)
		if (!config_option_equal(&config_options[i], a, b))
			return false;
	return true;
}

/* ---------------------------------------------------------------------- */
/* Defaults and the option table                                          */
/* ---------------------------------------------------------------------- */

TEST(defaults_have_every_documented_value)
{
	struct kpulse_config c;

	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	CHECK_NEAR(c.interval_s, 1.0, 0);
	CHECK_STR(c.data_dir, "./data");
	CHECK_NEAR(c.flush_interval_s, 1.0, 0);
	CHECK_NEAR(c.retention_raw_s, 24 * 3600, 0);
	CHECK_NEAR(c.retention_1m_s, 30 * DAY, 0);
	CHECK_NEAR(c.retention_1h_s, 365 * DAY, 0);
	CHECK_NEAR(c.retention_events_s, 7 * DAY, 0);
	CHECK_EQ_INT(c.slow_io_ms, 50);
	CHECK_EQ_INT(c.top_k, 10);
	CHECK_STR(c.listen, "127.0.0.1:9876");
	CHECK_STR(c.listen_host, "127.0.0.1");
	CHECK_EQ_INT(c.listen_port, 9876);
	CHECK_EQ_INT(c.log_level, LOG_LEVEL_INFO);
	CHECK_EQ_INT(c.log_format, LOG_FORMAT_TEXT);
	CHECK_EQ_INT(c.buffer_max_samples, 1000000);
	CHECK_STR(c.admin_password, "");
	CHECK_STR(c.jwt_secret, "");
	CHECK_NEAR(c.token_ttl_s, 3600, 0);
	CHECK(!c.metrics_auth);
	CHECK(!c.allow_remote_unauthenticated);
	CHECK_EQ_INT(c.api_max_connections, 256);
	CHECK_EQ_INT(c.api_max_body_bytes, 1048576);
	CHECK_EQ_INT(c.api_rate_limit, 50);
	CHECK_EQ_INT(c.custom_max_series, 1000);
	CHECK_EQ_INT(c.custom_token_max_series, 0); /* a quarter of the cap */
	CHECK_STR(c.tls_cert, "");
	CHECK_STR(c.tls_key, "");
	CHECK_STR(c.fs_types_include, "zfs");
	CHECK_STR(c.fs_types_exclude, "squashfs,erofs,iso9660");
	CHECK_STR(c.fs_mount_exclude, "");
	CHECK_EQ_INT(c.max_filesystems, 64);
	CHECK_EQ_INT(c.max_interfaces, 128);
	CHECK_EQ_INT(c.max_block_devices, 128);
	CHECK_NEAR(c.tcp_states_interval_s, 10, 0);
}

TEST(model_options_have_their_defaults_and_ranges)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_NEAR(c.forecast_horizon_s, 3600, 0);
	CHECK_NEAR(c.predict_window_s, 3600, 0);
	CHECK_NEAR(c.predict_min_history_s, 300, 0);
	CHECK_NEAR(c.predict_horizon_s, 86400, 0);
	CHECK_STR(c.predict_limits, "");
	CHECK_NEAR(c.multivar_window_s, 60, 0);
	CHECK_NEAR(c.multivar_history_s, 86400, 0);
	CHECK_NEAR(c.multivar_retrain_s, 3600, 0);
	CHECK_EQ_INT(
	    config_set(&c, "KPULSE_PREDICT_LIMITS", "kpulse_a>1,kpulse_b<2", err, sizeof(err)), 0);
	CHECK_STR(c.predict_limits, "kpulse_a>1,kpulse_b<2");
	CHECK_EQ_INT(config_set(&c, "--predict-horizon", "2d", err, sizeof(err)), 0);
	CHECK_NEAR(c.predict_horizon_s, 172800, 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_MULTIVAR_RETRAIN", "10s", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "KPULSE_MULTIVAR_RETRAIN"));
}

TEST(option_table_is_complete_and_consistent)
{
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];
		char flag[64];

		CHECK(opt->env && strncmp(opt->env, "KPULSE_", 7) == 0);
		/* no flag only for secrets: they come from the environment or .env */
		CHECK(opt->flag ? opt->flag[0] != '\0' && opt->flag[0] != '-'
				: opt->kind == CONFIG_SECRET);
		CHECK(opt->value_name && opt->value_name[0] != '\0');
		/* Only secrets, lists, optional paths and URLs, strings (which
		 * accept "" as "none") may default to empty. */
		CHECK(opt->default_value &&
		      (opt->default_value[0] != '\0' || opt->kind == CONFIG_SECRET ||
		       opt->kind == CONFIG_CHOICES || opt->kind == CONFIG_PATHS ||
		       opt->kind == CONFIG_NAMES || opt->kind == CONFIG_STRING ||
		       ((opt->kind == CONFIG_PATH || opt->kind == CONFIG_URL) && opt->min == 0)));
		/* The field matches the kind the row says. */
		switch (opt->kind) {
		case CONFIG_SECONDS:
		case CONFIG_NUMBER:
		case CONFIG_DURATION:
			CHECK_EQ_INT(opt->size, sizeof(double));
			break;
		case CONFIG_UINT:
			CHECK(opt->size == sizeof(uint32_t) || opt->size == sizeof(uint64_t));
			CHECK(opt->max <= (opt->size == sizeof(uint32_t) ? UINT32_MAX : 1e15));
			break;
		case CONFIG_BOOL:
			CHECK_EQ_INT(opt->size, sizeof(bool));
			break;
		case CONFIG_ENUM:
			CHECK_EQ_INT(opt->size, sizeof(int));
			CHECK(opt->names && opt->nnames > 0);
			break;
		case CONFIG_CHOICES:
			CHECK(opt->names && opt->nnames > 0);
			CHECK(opt->size > 1);
			break;
		default:
			CHECK(opt->size > 1);
			CHECK(opt->offset + opt->size <= sizeof(struct kpulse_config));
		}
		CHECK(opt->min <= opt->max || opt->kind == CONFIG_PATH ||
		      opt->kind == CONFIG_LISTEN);
		CHECK(opt->help && opt->help[0] != '\0' && !strchr(opt->help, '\n'));
		CHECK(opt->help[strlen(opt->help) - 1] != '.');
		CHECK(config_option_find(opt->env) == opt);
		if (opt->flag) {
			snprintf(flag, sizeof(flag), "--%s", opt->flag);
			CHECK(config_option_find(flag) == opt);
		}
	}
	CHECK_STR(config_option_find("--slow-io-ms")->env, "KPULSE_SLOW_IO_MS");
	CHECK(config_option_find("KPULSE_NOPE") == NULL);
	CHECK(config_option_find("interval") == NULL);
	CHECK(config_option_find("kpulse_interval") == NULL);
	CHECK(config_option_find(NULL) == NULL);
}

TEST(table_default_strings_are_what_config_defaults_sets)
{
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	for (size_t i = 0; i < config_option_count; i++) {
		memset(&c, 0, sizeof(c));
		config_defaults(&c);
		/* Move the option away from its default, then back. */
		CHECK_EQ_INT(config_set(&c, "KPULSE_INTERVAL", "7", err, sizeof(err)), 0);
		CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "77", err, sizeof(err)), 0);
		CHECK_EQ_INT(config_set(&c, "KPULSE_LISTEN", "[::1]:1", err, sizeof(err)), 0);
		CHECK_EQ_INT(config_set(&c, "KPULSE_INTERVAL", "1.0", err, sizeof(err)), 0);
		CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "10", err, sizeof(err)), 0);
		CHECK_EQ_INT(config_set(&c, "KPULSE_LISTEN", "127.0.0.1:9876", err, sizeof(err)),
			     0);
		CHECK_EQ_INT(config_set(&c, config_options[i].env, config_options[i].default_value,
					err, sizeof(err)),
			     0);
		CHECK(config_equal(&c, &def));
	}
}

/* ---------------------------------------------------------------------- */
/* config_set: values that are accepted                                   */
/* ---------------------------------------------------------------------- */

struct good_double {
	const char *key, *value;
	double want;
	size_t offset;
};

TEST(set_accepts_numbers_and_durations_in_range)
{
	static const struct good_double cases[] = {
	    {"KPULSE_INTERVAL", "0.1", 0.1, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_INTERVAL", "3600", 3600, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_INTERVAL", "2.5", 2.5, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_INTERVAL", ".5", 0.5, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_INTERVAL", "1e2", 100, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_INTERVAL", "007", 7, offsetof(struct kpulse_config, interval_s)},
	    {"KPULSE_FLUSH_INTERVAL", "0.1", 0.1, offsetof(struct kpulse_config, flush_interval_s)},
	    {"KPULSE_FLUSH_INTERVAL", "60", 60, offsetof(struct kpulse_config, flush_interval_s)},
	    {"KPULSE_RETENTION_RAW", "90s", 90, offsetof(struct kpulse_config, retention_raw_s)},
	    {"KPULSE_RETENTION_RAW", "15m", 900, offsetof(struct kpulse_config, retention_raw_s)},
	    {"KPULSE_RETENTION_RAW", "1.5h", 5400, offsetof(struct kpulse_config, retention_raw_s)},
	    {"KPULSE_RETENTION_RAW", "3600", 3600, offsetof(struct kpulse_config, retention_raw_s)},
	    {"KPULSE_RETENTION_RAW", "1s", 1, offsetof(struct kpulse_config, retention_raw_s)},
	    {"KPULSE_RETENTION_1M", "30d", 30 * DAY,
	     offsetof(struct kpulse_config, retention_1m_s)},
	    {"KPULSE_RETENTION_1H", "3650d", 3650 * DAY,
	     offsetof(struct kpulse_config, retention_1h_s)},
	    {"KPULSE_RETENTION_EVENTS", "48h", 2 * DAY,
	     offsetof(struct kpulse_config, retention_events_s)},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kpulse_config c;
		double got;

		config_defaults(&c);
		CHECK_EQ_INT(config_set(&c, cases[i].key, cases[i].value, err, sizeof(err)), 0);
		memcpy(&got, (char *)&c + cases[i].offset, sizeof(got));
		CHECK_NEAR(got, cases[i].want, 1e-9);
	}
}

TEST(set_accepts_whole_numbers_at_both_ends_of_their_range)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_SLOW_IO_MS", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.slow_io_ms, 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_SLOW_IO_MS", "600000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.slow_io_ms, 600000);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 1);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.top_k, 1000);
	CHECK_EQ_INT(config_set(&c, "KPULSE_BUFFER_MAX_SAMPLES", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.buffer_max_samples, 1000);
	CHECK_EQ_INT(config_set(&c, "KPULSE_BUFFER_MAX_SAMPLES", "100000000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.buffer_max_samples, 100000000);
}

TEST(set_accepts_strings_levels_and_formats)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_DATA_DIR", "/var/lib/kpulse data", err, sizeof(err)),
		     0);
	CHECK_STR(c.data_dir, "/var/lib/kpulse data");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_LEVEL", "debug", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.log_level, LOG_LEVEL_DEBUG);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_LEVEL", "ERROR", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.log_level, LOG_LEVEL_ERROR);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_LEVEL", "warn", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.log_level, LOG_LEVEL_WARN);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_FORMAT", "json", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.log_format, LOG_FORMAT_JSON);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_FORMAT", "text", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.log_format, LOG_FORMAT_TEXT);
}

struct good_listen {
	const char *value, *host;
	int port;
};

TEST(set_accepts_listen_addresses_and_splits_host_and_port)
{
	static const struct good_listen cases[] = {
	    {"127.0.0.1:9876", "127.0.0.1", 9876},
	    {"0.0.0.0:1", "0.0.0.0", 1},
	    {"localhost:80", "localhost", 80},
	    {"metrics-1.example.com:65535", "metrics-1.example.com", 65535},
	    {"[::1]:8080", "::1", 8080},
	    {"[::]:9876", "::", 9876},
	    {"[fe80::1:2]:443", "fe80::1:2", 443},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kpulse_config c;

		config_defaults(&c);
		CHECK_EQ_INT(config_set(&c, "KPULSE_LISTEN", cases[i].value, err, sizeof(err)), 0);
		CHECK_STR(c.listen, cases[i].value);
		CHECK_STR(c.listen_host, cases[i].host);
		CHECK_EQ_INT(c.listen_port, cases[i].port);
	}
}

TEST(set_accepts_flag_names_and_names_them_in_errors)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "--slow-io-ms", "75", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.slow_io_ms, 75);
	CHECK_EQ_INT(config_set(&c, "--retention-events", "2d", err, sizeof(err)), 0);
	CHECK_NEAR(c.retention_events_s, 2 * DAY, 0);
	CHECK_EQ_INT(config_set(&c, "--slow-io-ms", "slow", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "--slow-io-ms: \"slow\" is not a whole number between 0 "
		       "and 600000");
	CHECK_EQ_INT(c.slow_io_ms, 75);
}

/* ---------------------------------------------------------------------- */
/* config_set: values that are refused                                    */
/* ---------------------------------------------------------------------- */

TEST(bad_value_message_names_option_value_and_what_it_accepts)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_INTERVAL", "abc", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_INTERVAL: \"abc\" is not a number of seconds between 0.1 and 3600");
	CHECK_EQ_INT(config_set(&c, "KPULSE_FLUSH_INTERVAL", "61", err, sizeof(err)), -EINVAL);
	CHECK_STR(err,
		  "KPULSE_FLUSH_INTERVAL: \"61\" is not a number of seconds between 0.1 and 60");
	CHECK_EQ_INT(config_set(&c, "KPULSE_RETENTION_RAW", "10x", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_RETENTION_RAW: \"10x\" is not a duration between 1s and 3650d "
		       "(a number with unit s, m, h or d, like 90s, 15m, 24h, 30d)");
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "0", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_TOP_K: \"0\" is not a whole number between 1 and 1000");
	CHECK_EQ_INT(config_set(&c, "KPULSE_BUFFER_MAX_SAMPLES", "", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_BUFFER_MAX_SAMPLES: \"\" is not a whole number between 1000 and "
		       "100000000");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LISTEN", "::1:80", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_LISTEN: \"::1:80\" is not HOST:PORT or [IPV6]:PORT with a port from "
		       "1 to 65535");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_LEVEL", "verbose", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_LOG_LEVEL: \"verbose\" is not one of debug, info, warn, error");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LOG_FORMAT", "xml", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_LOG_FORMAT: \"xml\" is not one of text, json");
	CHECK_EQ_INT(config_set(&c, "KPULSE_DATA_DIR", "", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_DATA_DIR: \"\" is not a non-empty path shorter than 4096 bytes");
}

struct bad_value {
	const char *key, *value;
};

TEST(set_refuses_every_bad_form_and_leaves_config_unchanged)
{
	static const struct bad_value cases[] = {
	    /* not a number, junk, empty, whitespace, signs, specials */
	    {"KPULSE_INTERVAL", "abc"},
	    {"KPULSE_INTERVAL", ""},
	    {"KPULSE_INTERVAL", "1x"},
	    {"KPULSE_INTERVAL", "1s"},
	    {"KPULSE_INTERVAL", "1 "},
	    {"KPULSE_INTERVAL", " 1"},
	    {"KPULSE_INTERVAL", "1,5"},
	    {"KPULSE_INTERVAL", "1.2.3"},
	    {"KPULSE_INTERVAL", "+1"},
	    {"KPULSE_INTERVAL", "-1"},
	    {"KPULSE_INTERVAL", "nan"},
	    {"KPULSE_INTERVAL", "inf"},
	    {"KPULSE_INTERVAL", "infinity"},
	    {"KPULSE_INTERVAL", "0x10"},
	    {"KPULSE_INTERVAL", "."},
	    {"KPULSE_INTERVAL", "1e"},
	    {"KPULSE_INTERVAL", "1e999"},
	    /* out of range */
	    {"KPULSE_INTERVAL", "0.09"},
	    {"KPULSE_INTERVAL", "0"},
	    {"KPULSE_INTERVAL", "3600.001"},
	    {"KPULSE_FLUSH_INTERVAL", "0.05"},
	    {"KPULSE_FLUSH_INTERVAL", "60.5"},
	    /* durations: unit, junk, range, overflow */
	    {"KPULSE_RETENTION_RAW", ""},
	    {"KPULSE_RETENTION_RAW", "h"},
	    {"KPULSE_RETENTION_RAW", "10x"},
	    {"KPULSE_RETENTION_RAW", "10ms"},
	    {"KPULSE_RETENTION_RAW", "10 h"},
	    {"KPULSE_RETENTION_RAW", "10H"},
	    {"KPULSE_RETENTION_RAW", "1hh"},
	    {"KPULSE_RETENTION_RAW", "1h30m"},
	    {"KPULSE_RETENTION_RAW", "-1h"},
	    {"KPULSE_RETENTION_RAW", "0"},
	    {"KPULSE_RETENTION_RAW", "0.5s"},
	    {"KPULSE_RETENTION_1M", "3651d"},
	    {"KPULSE_RETENTION_1H", "1e308d"},
	    {"KPULSE_RETENTION_EVENTS", "nan"},
	    {"KPULSE_RETENTION_EVENTS", "infd"},
	    /* whole numbers */
	    {"KPULSE_SLOW_IO_MS", ""},
	    {"KPULSE_SLOW_IO_MS", "abc"},
	    {"KPULSE_SLOW_IO_MS", "-1"},
	    {"KPULSE_SLOW_IO_MS", "+5"},
	    {"KPULSE_SLOW_IO_MS", " 5"},
	    {"KPULSE_SLOW_IO_MS", "1.5"},
	    {"KPULSE_SLOW_IO_MS", "5ms"},
	    {"KPULSE_SLOW_IO_MS", "600001"},
	    {"KPULSE_SLOW_IO_MS", "18446744073709551616"},
	    {"KPULSE_SLOW_IO_MS", "99999999999999999999999999"},
	    {"KPULSE_TOP_K", "0"},
	    {"KPULSE_TOP_K", "1001"},
	    {"KPULSE_TOP_K", "10abc"},
	    {"KPULSE_TOP_K", "0x10"},
	    {"KPULSE_BUFFER_MAX_SAMPLES", "999"},
	    {"KPULSE_BUFFER_MAX_SAMPLES", "100000001"},
	    {"KPULSE_BUFFER_MAX_SAMPLES", "1e6"},
	    /* listen addresses */
	    {"KPULSE_LISTEN", ""},
	    {"KPULSE_LISTEN", "localhost"},
	    {"KPULSE_LISTEN", ":9876"},
	    {"KPULSE_LISTEN", "127.0.0.1:"},
	    {"KPULSE_LISTEN", "127.0.0.1:0"},
	    {"KPULSE_LISTEN", "127.0.0.1:65536"},
	    {"KPULSE_LISTEN", "127.0.0.1:80x"},
	    {"KPULSE_LISTEN", "127.0.0.1:-80"},
	    {"KPULSE_LISTEN", "::1:9876"},
	    {"KPULSE_LISTEN", "[::1]9876"},
	    {"KPULSE_LISTEN", "[::1]:"},
	    {"KPULSE_LISTEN", "[::1"},
	    {"KPULSE_LISTEN", "[]:80"},
	    {"KPULSE_LISTEN", "[localhost]:80"},
	    {"KPULSE_LISTEN", "[127.0.0.1]:80"},
	    {"KPULSE_LISTEN", "999.1.1.1:80"},
	    {"KPULSE_LISTEN", "1.2.3:80"},
	    {"KPULSE_LISTEN", "host_name:80"},
	    {"KPULSE_LISTEN", "-bad:80"},
	    {"KPULSE_LISTEN", "bad-:80"},
	    {"KPULSE_LISTEN", "a..b:80"},
	    {"KPULSE_LISTEN", "a.b.:80"},
	    {"KPULSE_LISTEN", "host name:80"},
	    /* words */
	    {"KPULSE_LOG_LEVEL", ""},
	    {"KPULSE_LOG_LEVEL", "warning"},
	    {"KPULSE_LOG_LEVEL", "info "},
	    {"KPULSE_LOG_FORMAT", ""},
	    {"KPULSE_LOG_FORMAT", "xml"},
	    {"KPULSE_DATA_DIR", ""},
	};
	struct kpulse_config def, c;

	config_defaults(&def);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "", prefix[64];
		int r;

		config_defaults(&c);
		r = config_set(&c, cases[i].key, cases[i].value, err, sizeof(err));
		if (r != -EINVAL)
			fprintf(stderr, "  accepted %s=\"%s\"\n", cases[i].key, cases[i].value);
		CHECK_EQ_INT(r, -EINVAL);
		CHECK(config_equal(&c, &def));
		snprintf(prefix, sizeof(prefix), "%s: \"", cases[i].key);
		CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
		CHECK(strstr(err, "\" is not ") != NULL);
		CHECK(strchr(err, '\n') == NULL);
	}
}

TEST(set_refuses_a_path_too_long_for_the_buffer)
{
	static char path[CONFIG_PATH_MAX + 1];
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	config_defaults(&c);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	CHECK_EQ_INT(config_set(&c, "KPULSE_DATA_DIR", path, err, sizeof(err)), -EINVAL);
	CHECK(config_equal(&c, &def));
	path[CONFIG_PATH_MAX - 1] = '\0';
	CHECK_EQ_INT(config_set(&c, "KPULSE_DATA_DIR", path, err, sizeof(err)), 0);
	CHECK_EQ_INT(strlen(c.data_dir), CONFIG_PATH_MAX - 1);
}

TEST(error_quotes_at_most_64_bytes_and_no_control_bytes)
{
	struct kpulse_config c;
	char value[200], err[512], want[256];

	config_defaults(&c);
	memset(value, '9', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", value, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "KPULSE_TOP_K: \"%.64s...\" is not a whole number between 1 and 1000", value);
	CHECK_STR(err, want);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "1\n2\x1b", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_TOP_K: \"1?2?\" is not a whole number between 1 and 1000");
	/* A short buffer gets a cut message, and no buffer at all is fine. */
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "x", err, 10), -EINVAL);
	CHECK_STR(err, "KPULSE_TO");
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", "x", NULL, 0), -EINVAL);
}

TEST(set_refuses_unknown_keys_and_null_values)
{
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_NOPE", "1", err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "KPULSE_NOPE: unknown option");
	CHECK_EQ_INT(config_set(&c, "--nope", "1", err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "--nope: unknown option");
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOP_K", NULL, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_TOP_K: \"\" is not a whole number between 1 and 1000");
	CHECK(config_equal(&c, &def));
}

/* ---------------------------------------------------------------------- */
/* config_parse_duration                                                  */
/* ---------------------------------------------------------------------- */

TEST(parse_duration_reads_units_and_plain_seconds)
{
	double s = -1;

	CHECK_EQ_INT(config_parse_duration("90s", &s), 0);
	CHECK_NEAR(s, 90, 0);
	CHECK_EQ_INT(config_parse_duration("15m", &s), 0);
	CHECK_NEAR(s, 900, 0);
	CHECK_EQ_INT(config_parse_duration("24h", &s), 0);
	CHECK_NEAR(s, 86400, 0);
	CHECK_EQ_INT(config_parse_duration("30d", &s), 0);
	CHECK_NEAR(s, 30 * DAY, 0);
	CHECK_EQ_INT(config_parse_duration("45", &s), 0);
	CHECK_NEAR(s, 45, 0);
	CHECK_EQ_INT(config_parse_duration("0.25m", &s), 0);
	CHECK_NEAR(s, 15, 0);
	CHECK_EQ_INT(config_parse_duration("0", &s), 0);
	CHECK_NEAR(s, 0, 0);
}

TEST(parse_duration_refuses_malformed_and_huge_values_without_writing)
{
	double s = 123;

	CHECK_EQ_INT(config_parse_duration("", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration(NULL, &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("d", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("5w", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("5 d", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("5dd", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("-5s", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("nan", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("inf", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("0x1p3", &s), -EINVAL);
	CHECK_EQ_INT(config_parse_duration("1e999", &s), -ERANGE);
	CHECK_EQ_INT(config_parse_duration("1e307d", &s), -ERANGE);
	CHECK_NEAR(s, 123, 0);
}

/* ---------------------------------------------------------------------- */
/* REST API options                                                       */
/* ---------------------------------------------------------------------- */

TEST(api_options_accept_their_ranges_and_booleans)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "--token-ttl", "30d", err, sizeof(err)), 0);
	CHECK_NEAR(c.token_ttl_s, 30 * DAY, 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_TOKEN_TTL", "1s", err, sizeof(err)), 0);
	CHECK_NEAR(c.token_ttl_s, 1, 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_METRICS_AUTH", "ON", err, sizeof(err)), 0);
	CHECK(c.metrics_auth);
	CHECK_EQ_INT(config_set(&c, "KPULSE_METRICS_AUTH", "false", err, sizeof(err)), 0);
	CHECK(!c.metrics_auth);
	CHECK_EQ_INT(config_set(&c, "--allow-remote-unauthenticated", "yes", err, sizeof(err)), 0);
	CHECK(c.allow_remote_unauthenticated);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_MAX_CONNECTIONS", "10000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.api_max_connections, 10000);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_MAX_BODY_BYTES", "67108864", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.api_max_body_bytes, 67108864);
	CHECK_EQ_INT(config_set(&c, "KPULSE_API_RATE_LIMIT", "100000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.api_rate_limit, 100000);
	CHECK_EQ_INT(config_set(&c, "KPULSE_CUSTOM_MAX_SERIES", "1", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.custom_max_series, 1);
	CHECK_EQ_INT(config_set(&c, "KPULSE_CUSTOM_TOKEN_MAX_SERIES", "250", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.custom_token_max_series, 250);
	CHECK(config_set(&c, "KPULSE_CUSTOM_TOKEN_MAX_SERIES", "100001", err, sizeof(err)) < 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ADMIN_PASSWORD", "eight888", err, sizeof(err)), 0);
	CHECK_STR(c.admin_password, "eight888");
	CHECK_EQ_INT(config_set(&c, "KPULSE_ADMIN_PASSWORD", "", err, sizeof(err)), 0);
	CHECK_STR(c.admin_password, "");
}

TEST(api_options_refuse_bad_values_and_never_quote_secrets)
{
	static const char *const bad[][2] = {
	    {"KPULSE_TOKEN_TTL", "0"},
	    {"KPULSE_TOKEN_TTL", "31d"},
	    {"KPULSE_TOKEN_TTL", "1w"},
	    {"KPULSE_METRICS_AUTH", "maybe"},
	    {"KPULSE_METRICS_AUTH", ""},
	    {"KPULSE_API_MAX_CONNECTIONS", "3"},
	    {"KPULSE_API_MAX_BODY_BYTES", "1023"},
	    {"KPULSE_API_RATE_LIMIT", "0"},
	    {"KPULSE_CUSTOM_MAX_SERIES", "100001"},
	    {"KPULSE_JWT_SECRET", "short"},
	};
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = def;
		CHECK_EQ_INT(config_set(&c, bad[i][0], bad[i][1], err, sizeof(err)), -EINVAL);
		CHECK(config_equal(&c, &def));
	}
	c = def;
	CHECK_EQ_INT(config_set(&c, "KPULSE_ADMIN_PASSWORD", "s3cret!", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "s3cret") == NULL);
	CHECK_STR(err, "KPULSE_ADMIN_PASSWORD: the value is not empty or 8 to 1024 bytes");
	CHECK_EQ_INT(config_set(&c, "KPULSE_JWT_SECRET", "tooshortsecret", err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "tooshort") == NULL);
}

TEST(tls_options_take_paths_or_empty_and_refuse_too_long_ones)
{
	static char path[CONFIG_PATH_MAX + 1];
	struct kpulse_config c, before;
	char err[256];

	config_defaults(&c);
	/* Only the form is checked here; the files are read by api_start(). */
	CHECK_EQ_INT(config_set(&c, "KPULSE_TLS_CERT", "/etc/kpulse/cert.pem", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(config_set(&c, "--tls-key", "key.pem", err, sizeof(err)), 0);
	CHECK_STR(c.tls_cert, "/etc/kpulse/cert.pem");
	CHECK_STR(c.tls_key, "key.pem");
	CHECK_EQ_INT(config_set(&c, "KPULSE_TLS_KEY", "", err, sizeof(err)), 0);
	CHECK_STR(c.tls_key, "");

	memset(path, 'a', sizeof(path) - 1);
	before = c;
	CHECK_EQ_INT(config_set(&c, "KPULSE_TLS_CERT", path, err, sizeof(err)), -EINVAL);
	CHECK(config_equal(&c, &before));
	CHECK(strncmp(err, "KPULSE_TLS_CERT: \"", 18) == 0);
	CHECK(strstr(err, "is not empty or a path shorter than 4096 bytes") != NULL);
}

TEST(llm_providers_take_known_names_once_in_order_stored_without_blanks)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_STR(c.llm_providers, "");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_PROVIDERS", "groq,ollama", err, sizeof(err)), 0);
	CHECK_STR(c.llm_providers, "groq,ollama");
	CHECK_EQ_INT(config_set(&c, "--llm-providers", " Ollama , compat,huggingface ,openai,groq",
				err, sizeof(err)),
		     0);
	CHECK_STR(c.llm_providers, "ollama,compat,huggingface,openai,groq");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_PROVIDERS", "", err, sizeof(err)), 0);
	CHECK_STR(c.llm_providers, "");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_PROVIDERS", "  ", err, sizeof(err)), 0);
	CHECK_STR(c.llm_providers, "");
}

TEST(llm_providers_refuse_unknown_repeated_and_empty_names)
{
	static const char *const bad[] = {"groq,groq", "gpt",	      "groq,,ollama", "groq,",
					  ",groq",     "ollama;groq", "GROQ,groq"};
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = def;
		CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_PROVIDERS", bad[i], err, sizeof(err)),
			     -EINVAL);
		CHECK(config_equal(&c, &def));
	}
	CHECK_STR(err, "KPULSE_LLM_PROVIDERS: \"GROQ,groq\" is not a comma-separated list of "
		       "groq, openai, ollama, huggingface, compat (each at most once)");
}

TEST(urls_must_be_http_or_https_with_a_host)
{
	struct kpulse_config def, c;
	char err[256];

	config_defaults(&def);
	c = def;
	CHECK_STR(c.llm[CONFIG_LLM_GROQ].url, "https://api.groq.com/openai/v1");
	CHECK_STR(c.llm[CONFIG_LLM_OLLAMA].url, "http://127.0.0.1:11434");
	CHECK_STR(c.alert_pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
	CHECK_EQ_INT(
	    config_set(&c, "KPULSE_LLM_OLLAMA_URL", "http://[::1]:11434", err, sizeof(err)), 0);
	CHECK_STR(c.llm[CONFIG_LLM_OLLAMA].url, "http://[::1]:11434");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_COMPAT_URL", "", err, sizeof(err)), 0);
	/* a required URL may not be empty, an optional one may */
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_GROQ_URL", "", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "KPULSE_LLM_GROQ_URL: \"\" is not an http:// or https:// URL with a host");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_COMPAT_URL", "ftp://x/v1", err, sizeof(err)),
		     -EINVAL);
	CHECK_STR(err, "KPULSE_LLM_COMPAT_URL: \"ftp://x/v1\" is not empty or an http:// or "
		       "https:// URL with a host");
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_COMPAT_URL", "localhost:8000", err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_PAGERDUTY_URL", "http://a b/", err, sizeof(err)),
		     -EINVAL);
}

TEST(keys_and_secret_urls_come_only_from_the_environment_or_env_file)
{
	static const char *const env_only[] = {
	    "KPULSE_LLM_GROQ_KEY",	"KPULSE_LLM_OPENAI_KEY",       "KPULSE_LLM_HUGGINGFACE_KEY",
	    "KPULSE_LLM_COMPAT_KEY",	"KPULSE_ALERT_SLACK_URL",      "KPULSE_ALERT_PAGERDUTY_KEY",
	    "KPULSE_ALERT_WEBHOOK_URL", "KPULSE_ALERT_WEBHOOK_SECRET",
	};
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	for (size_t i = 0; i < sizeof(env_only) / sizeof(env_only[0]); i++) {
		const struct config_option *opt = config_option_find(env_only[i]);

		CHECK(opt != NULL);
		CHECK(opt->flag == NULL);
		CHECK_EQ_INT(opt->kind, CONFIG_SECRET);
	}
	CHECK(config_option_find("--llm-groq-key") == NULL);
	CHECK_EQ_INT(config_set(&c, "--llm-groq-key", "gsk_0123456789", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "gsk_") == NULL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_GROQ_KEY", "gsk_0123456789", err, sizeof(err)), 0);
	CHECK_STR(c.llm[CONFIG_LLM_GROQ].key, "gsk_0123456789");
	/* the Ollama provider has no key at all */
	CHECK(config_option_find("KPULSE_LLM_OLLAMA_KEY") == NULL);
}

TEST(refused_keys_are_never_quoted_back)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_OPENAI_KEY", "sk-short", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_OPENAI_KEY", "sk-7", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "sk-7") == NULL);
	CHECK_STR(err, "KPULSE_LLM_OPENAI_KEY: the value is not empty or 8 to 1024 bytes");
	CHECK_EQ_INT(
	    config_set(&c, "KPULSE_ALERT_PAGERDUTY_KEY", "R0UT1NGKEYTOOSHORT", err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "R0UT1NG") == NULL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_PAGERDUTY_KEY",
				"0123456789abcdef0123456789abcdef", err, sizeof(err)),
		     0);
}

TEST(llm_and_alert_numbers_and_severities_have_their_defaults_and_ranges)
{
	struct kpulse_config c;
	char err[256];

	config_defaults(&c);
	CHECK_NEAR(c.llm_timeout_s, 30, 0);
	CHECK_EQ_INT(c.llm_retries, 2);
	CHECK_EQ_INT(c.llm_token_budget, 3000);
	CHECK_NEAR(c.llm_cache_ttl_s, 86400, 0);
	CHECK_EQ_INT(c.llm_breaker_failures, 3);
	CHECK_NEAR(c.llm_breaker_cooldown_s, 60, 0);
	CHECK_EQ_INT(c.alert_min_severity, 1);	     /* warning */
	CHECK_EQ_INT(c.alert_slack_min_severity, 0); /* default */
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_RETRIES", "3", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_LLM_CACHE_TTL", "0", err, sizeof(err)), 0);
	CHECK_NEAR(c.llm_cache_ttl_s, 0, 0);
	CHECK_EQ_INT(
	    config_set(&c, "KPULSE_ALERT_SLACK_MIN_SEVERITY", "critical", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.alert_slack_min_severity, 3);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_MIN_SEVERITY", "default", err, sizeof(err)),
		     -EINVAL);
}

TEST(filesystem_lists_take_names_or_absolute_paths_and_refuse_the_rest)
{
	static char big[CONFIG_LIST_MAX + 1];
	struct kpulse_config c, before;
	char err[256];

	config_defaults(&c);
	CHECK_EQ_INT(
	    config_set(&c, "KPULSE_FS_TYPES_INCLUDE", "zfs,nfs4,fuse.sshfs", err, sizeof(err)), 0);
	CHECK_STR(c.fs_types_include, "zfs,nfs4,fuse.sshfs");
	CHECK_EQ_INT(config_set(&c, "--fs-types-exclude", "", err, sizeof(err)), 0);
	CHECK_STR(c.fs_types_exclude, "");
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_MOUNT_EXCLUDE", "/var/lib/docker,/mnt/my disk", err,
				sizeof(err)),
		     0);
	CHECK_STR(c.fs_mount_exclude, "/var/lib/docker,/mnt/my disk");
	CHECK_EQ_INT(config_set(&c, "KPULSE_MAX_INTERFACES", "4096", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.max_interfaces, 4096);

	before = c;
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_TYPES_INCLUDE", "zfs,,nfs", err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "comma-separated list of names") != NULL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_TYPES_INCLUDE", "zfs,", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_TYPES_INCLUDE", "ext4 xfs", err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_TYPES_EXCLUDE", "a/b", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_MOUNT_EXCLUDE", "var/lib", err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "absolute paths") != NULL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_MOUNT_EXCLUDE", "/a,,/b", err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_MOUNT_EXCLUDE", "/a\tb", err, sizeof(err)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	CHECK_EQ_INT(config_set(&c, "KPULSE_FS_TYPES_INCLUDE", big, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_MAX_FILESYSTEMS", "0", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(config_set(&c, "KPULSE_MAX_BLOCK_DEVICES", "4097", err, sizeof(err)), -EINVAL);
	CHECK(config_equal(&c, &before));
}

TEST(closest_option_names_a_typo_and_nothing_for_a_stranger)
{
	const struct config_option *o;

	o = config_option_closest("KPULSE_INTERVALL");
	CHECK(o);
	CHECK_STR(o->env, "KPULSE_INTERVAL");
	o = config_option_closest("KPULSE_LISTN");
	CHECK(o);
	CHECK_STR(o->env, "KPULSE_LISTEN");
	o = config_option_closest("KPULSE_DATADIR");
	CHECK(o);
	CHECK_STR(o->env, "KPULSE_DATA_DIR");
	CHECK(!config_option_closest("KPULSE_ZZZ_UNRELATED"));
	CHECK(!config_option_closest("PATH"));
	CHECK(!config_option_closest(NULL));
}

TEST_MAIN()
