// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * run.c - `kpulse run`: argument handling only. Reads the configuration,
 * lowest precedence first: built-in defaults, the .env file (--env-file,
 * or ./.env when present), KPULSE_* environment variables, command-line
 * flags (every option is a row of util/config.c's table), then hands it to
 * the daemon (userspace/daemon/), which reloads it from the same sources
 * on SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "util/config.h"
#include "util/log.h"

extern char **environ;

#define MAX_FLAGS 64

struct run_args {
	const char *env_file;
	bool env_file_given;
	char flags[MAX_FLAGS][40]; /* "--interval": errors then name the flag */
	const char *values[MAX_FLAGS];
	size_t n;
};

static void run_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: kpulse run [--env-file PATH] [OPTIONS]\n"
	    "\n"
	    "Run the daemon in the foreground: collect every interval and keep\n"
	    "history in SQLite under the data directory. SIGTERM or SIGINT stop it\n"
	    "after everything collected is written; SIGHUP reloads the log level,\n"
	    "log format and top-K.\n"
	    "\n"
	    "  --env-file PATH   read KPULSE_* settings from PATH (default ./.env if present)\n");
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		char flag[64], help[512];

		if (!o->flag)
			continue; /* environment or .env only (keys) */
		snprintf(flag, sizeof(flag), "--%s %s", o->flag, o->value_name);
		fprintf(out, "  %-32s %s (%s, default %s)\n", flag,
			config_option_help(o, help, sizeof(help)), o->env,
			o->default_value[0] ? o->default_value : "none");
	}
	fprintf(out, "  -h, --help                       this text\n");
}

/* Collects the flags without applying them: they go on top of .env and
 * the environment, which are read after the --env-file flag is known. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	const int n = (int)config_option_count;
	struct option *longopts = calloc(config_option_count + 3, sizeof(*longopts));
	int opt, idx, r = 0, k = 0;

	if (!longopts)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (config_options[i].flag)
			longopts[k++] = (struct option){config_options[i].flag, required_argument,
							NULL, 1000 + i};
	longopts[k] = (struct option){"env-file", required_argument, NULL, 'e'};
	longopts[k + 1] = (struct option){"help", no_argument, NULL, 'h'};

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, &idx)) != -1) {
		if (opt == 'h') {
			run_usage(stdout);
			r = 1;
			goto cleanup;
		}
		if (opt == 'e') {
			a->env_file = optarg;
			a->env_file_given = true;
			continue;
		}
		if (opt >= 1000 && opt < 1000 + n && a->n < MAX_FLAGS) {
			snprintf(a->flags[a->n], sizeof(a->flags[0]), "--%s",
				 config_options[opt - 1000].flag);
			a->values[a->n++] = optarg;
			continue;
		}
		fprintf(stderr, "kpulse run: unknown or incomplete option '%s' (try --help)\n",
			argv[optind - 1]);
		r = -EINVAL;
		goto cleanup;
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse run: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		r = -EINVAL;
	}
cleanup:
	free(longopts);
	return r;
}

/* Defaults, then .env, then the environment, then the flags. */
static int load_config(const struct run_args *a, struct kpulse_config *c, char *err, size_t len)
{
	const char *env_file = a->env_file_given ? a->env_file : ".env";
	struct kpulse_config tmp;
	int r;

	config_defaults(&tmp);
	r = config_load_env_file(&tmp, env_file, a->env_file_given, err, len);
	if (r)
		return r;
	r = config_load_environ(&tmp, environ, err, len);
	if (r)
		return r;
	for (size_t i = 0; i < a->n; i++) {
		r = config_set(&tmp, a->flags[i], a->values[i], err, len);
		if (r)
			return r;
	}
	*c = tmp;
	return 0;
}

static int reload_config(void *ctx, struct kpulse_config *ret, char *err, size_t errlen)
{
	return load_config(ctx, ret, err, errlen);
}

/* KPULSE_ variables kpulse reads that are not options: the libbpf debug
 * switch and the test hooks and harness. */
static bool env_known_non_option(const char *key)
{
	return !strcmp(key, "KPULSE_LIBBPF_DEBUG") || !strcmp(key, "KPULSE_BIN") ||
	       !strcmp(key, "KPULSE_WEB_ARTIFACTS") || !strncmp(key, "KPULSE_TEST_", 12);
}

/* An env file refuses an unknown KPULSE_ key; the environment is shared
 * with other tools, so there it is a warning, naming the nearest option. */
static void warn_unknown_environ(void)
{
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		const struct config_option *near;
		char key[128];
		size_t n;

		if (!eq || strncmp(*e, "KPULSE_", 7) != 0)
			continue;
		n = (size_t)(eq - *e);
		if (n >= sizeof(key))
			n = sizeof(key) - 1;
		memcpy(key, *e, n);
		key[n] = '\0';
		if (config_option_find(key) || env_known_non_option(key))
			continue;
		near = config_option_closest(key);
		if (near)
			log_warn("environment: %s is not a kpulse option (did you mean %s?); "
				 "ignored",
				 key, near->env);
		else
			log_warn("environment: %s is not a kpulse option (.env.example lists "
				 "them); ignored",
				 key);
	}
}

int cmd_run(int argc, char **argv)
{
	struct run_args args = {};
	struct kpulse_config cfg;
	char err[512];
	int r;

	r = parse_args(argc, argv, &args);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (load_config(&args, &cfg, err, sizeof(err))) {
		fprintf(stderr, "kpulse run: %s\n", err);
		return EXIT_USAGE;
	}
	log_set_level(cfg.log_level);
	log_set_format(cfg.log_format);
	warn_unknown_environ();
	return daemon_run(&cfg, reload_config, &args);
}
