// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user.c - `kpulse user`: adds, lists, re-roles and deletes the accounts of
 * the REST API in DATA_DIR/auth.db. Works while the daemon runs (SQLite in
 * WAL mode); changes apply to the daemon's next request. Passwords are
 * asked twice on the terminal without echo, or read as one line from
 * stdin with --password-stdin, and never appear in argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "util/config.h"

#define DATA_DIR_MAX 4096
/* a password line with its newline and a byte to detect longer ones */
#define PASSWORD_BUF (AUTH_PASSWORD_MAX + 2)

static void user_usage(FILE *out)
{
	fprintf(out,
		"Usage: kpulse user add NAME --role ROLE [--password-stdin] [--data-dir DIR]\n"
		"       kpulse user list [--json] [--data-dir DIR]\n"
		"       kpulse user role NAME --role ROLE [--data-dir DIR]\n"
		"       kpulse user delete NAME [--data-dir DIR]\n"
		"\n"
		"Manage the accounts of the REST API (DATA_DIR/auth.db). A role change or a\n"
		"deletion applies to the account's tokens at their next use; deleting an\n"
		"account also deletes its API tokens.\n"
		"\n"
		"  --role ROLE       viewer, operator or admin\n"
		"  --password-stdin  read the password as one line from stdin instead of\n"
		"                    asking twice on the terminal (8 to %d bytes)\n"
		"  --json            list as a JSON array\n"
		"  --init            add: create DATA_DIR/auth.db when it does not exist yet\n"
		"                    (otherwise a missing one is an error: a wrong data dir\n"
		"                    would get users the daemon never reads)\n"
		"  --data-dir DIR    default: $KPULSE_DATA_DIR, else KPULSE_DATA_DIR in the\n"
		"                    env file, else ./data\n"
		"  --env-file PATH   default: ./.env if present, else " CLI_SYSTEM_ENV_FILE "\n"
		"                    if present (the service's, from make install)\n"
		"  -h, --help        this text\n"
		"\n"
		"KPULSE_JWT_SECRET (environment, then env file) is honoured as by `kpulse run`;\n"
		"without it the data dir's\n"
		"jwt.secret is used (and created when missing).\n",
		AUTH_PASSWORD_MAX);
}

/* ------------------------------------------------------------ passwords */

/*
 * One line from fd into buf (NUL-terminated, without "\n" or "\r\n").
 * -EMSGSIZE when longer than AUTH_PASSWORD_MAX (the rest of the line is
 * consumed), -ENODATA at EOF before any byte, -EINTR on a stop signal.
 */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	bool too_long = false;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR) {
			if (cli_stop)
				return -EINTR;
			continue;
		}
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (n == 0 && !too_long)
				return -ENODATA;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = c;
		else
			too_long = true;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return too_long || n > AUTH_PASSWORD_MAX ? -EMSGSIZE : 0;
}

/* Prompt on the terminal with echo off; the terminal is restored on every
 * path, Ctrl-C included (the stop signals interrupt the read). */
static int tty_read_password(int tty, const char *prompt, char *buf, size_t len)
{
	struct termios saved, quiet;
	int err;

	if (tcgetattr(tty, &saved) != 0)
		return -errno;
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (write(tty, prompt, strlen(prompt)) < 0)
		return -errno;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0)
		return -errno;
	err = read_line(tty, buf, len);
	tcsetattr(tty, TCSAFLUSH, &saved);
	if (err == -EINTR && write(tty, "\n", 1) < 0)
		err = -EINTR;
	return err;
}

static int report_password_error(int err)
{
	if (err == -EINTR)
		return 130;
	if (err == -EMSGSIZE)
		fprintf(stderr, "kpulse user add: the password is longer than %d bytes\n",
			AUTH_PASSWORD_MAX);
	else if (err == -ENODATA)
		fprintf(stderr, "kpulse user add: no password given\n");
	else
		fprintf(stderr, "kpulse user add: cannot read the password: %s\n", strerror(-err));
	return 1;
}

/* 0 and the password in buf, else the exit status to return. */
static int get_password(const char *name, bool from_stdin, char *buf, size_t len)
{
	char again[PASSWORD_BUF], prompt[128];
	int tty, err, status = 0;

	if (from_stdin) {
		err = read_line(STDIN_FILENO, buf, len);
		if (err)
			return report_password_error(err);
		goto check;
	}
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		fprintf(stderr, "kpulse user add: no terminal to ask for the password on; "
				"use --password-stdin\n");
		return 1;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
	err = tty_read_password(tty, prompt, buf, len);
	if (!err)
		err = tty_read_password(tty, "Repeat it: ", again, sizeof(again));
	close(tty);
	if (err) {
		status = report_password_error(err);
	} else if (strcmp(buf, again) != 0) {
		fprintf(stderr, "kpulse user add: the passwords differ\n");
		status = 1;
	}
	explicit_bzero(again, sizeof(again));
	if (status)
		return status;
check:
	if (strlen(buf) < AUTH_PASSWORD_MIN) {
		fprintf(stderr, "kpulse user add: the password needs at least %d bytes\n",
			AUTH_PASSWORD_MIN);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ commands */

static bool user_exists(struct auth *a, const char *name)
{
	json_t *list = NULL, *u;
	size_t i;
	bool found = false;

	if (auth_user_list(a, &list))
		return false; /* auth_user_add() will tell */
	json_array_foreach (list, i, u)
		found = found || !strcmp(json_string_value(json_object_get(u, "name")), name);
	json_decref(list);
	return found;
}

static int user_add(struct auth *a, const char *name, enum auth_role role, bool from_stdin)
{
	char password[PASSWORD_BUF];
	int err, status;

	if (user_exists(a, name)) {
		fprintf(stderr, "kpulse user add: user '%s' exists\n", name);
		return 1;
	}
	status = get_password(name, from_stdin, password, sizeof(password));
	if (status) {
		explicit_bzero(password, sizeof(password));
		return status;
	}
	err = auth_user_add(a, name, password, role);
	explicit_bzero(password, sizeof(password));
	if (err == -EEXIST) {
		fprintf(stderr, "kpulse user add: user '%s' exists\n", name);
		return 1;
	}
	if (err) {
		fprintf(stderr, "kpulse user add: adding '%s' failed: %s\n", name, strerror(-err));
		return 1;
	}
	printf("added user '%s' with role %s\n", name, auth_role_name(role));
	return 0;
}

static int user_list(struct auth *a, bool as_json)
{
	json_t *list = NULL, *u;
	size_t i;
	int err;

	err = auth_user_list(a, &list);
	if (err) {
		fprintf(stderr, "kpulse user list: reading the accounts failed: %s\n",
			strerror(-err));
		return 1;
	}
	if (as_json) {
		char *s = json_dumps(list, JSON_INDENT(2));

		if (s)
			puts(s);
		free(s);
		json_decref(list);
		return 0;
	}
	printf("%-32s %-9s %s\n", "NAME", "ROLE", "CREATED (UTC)");
	json_array_foreach (list, i, u) {
		time_t t = (time_t)json_integer_value(json_object_get(u, "created_at"));
		char when[32] = "?";
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-32s %-9s %s\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "role")), when);
	}
	json_decref(list);
	return 0;
}

static int user_set_role(struct auth *a, const char *name, enum auth_role role)
{
	int err = auth_user_set_role(a, name, role);

	if (err == -ENOENT) {
		fprintf(stderr, "kpulse user role: no user '%s'\n", name);
		return 1;
	}
	if (err) {
		fprintf(stderr, "kpulse user role: changing '%s' failed: %s\n", name,
			strerror(-err));
		return 1;
	}
	printf("user '%s' now has role %s\n", name, auth_role_name(role));
	return 0;
}

static int user_delete(struct auth *a, const char *name)
{
	int err = auth_user_delete(a, name);

	if (err == -ENOENT) {
		fprintf(stderr, "kpulse user delete: no user '%s'\n", name);
		return 1;
	}
	if (err) {
		fprintf(stderr, "kpulse user delete: deleting '%s' failed: %s\n", name,
			strerror(-err));
		return 1;
	}
	printf("deleted user '%s' and its API tokens\n", name);
	return 0;
}

/*
 * The settings `kpulse run` would read from an env file: --env-file PATH
 * (must exist), else ./.env, else the service's CLI_SYSTEM_ENV_FILE, each
 * when present; built-in defaults without one. -ENOENT when a given file
 * is missing, -EINVAL on a bad line (err says which).
 */
static int load_env_file(struct kpulse_config *c, const char *path, char *err, size_t len)
{
	config_defaults(c);
	if (path)
		return config_load_env_file(c, path, true, err, len);
	if (access(".env", F_OK) == 0)
		return config_load_env_file(c, ".env", false, err, len);
	return config_load_env_file(c, CLI_SYSTEM_ENV_FILE, false, err, len);
}

int cmd_user(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"role", required_argument, NULL, 'r'},	{"data-dir", required_argument, NULL, 'd'},
	    {"password-stdin", no_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},		{"env-file", required_argument, NULL, 'e'},
	    {"init", no_argument, NULL, 'i'},		{},
	};
	const char *sub, *name = NULL, *role_arg = NULL, *data_dir = NULL, *secret;
	const char *env_file = NULL;
	struct kpulse_config *cfg = NULL;
	bool from_stdin = false, as_json = false, init = false;
	const char *data_dir_from = "--data-dir";
	char db_path[DATA_DIR_MAX + 16];
	struct stat st;
	enum auth_role role = AUTH_ROLE_NONE;
	struct auth_options opts;
	struct auth *a = NULL;
	char err[512] = "";
	int opt, npos, status, r;

	if (argc < 2) {
		user_usage(stderr);
		return EXIT_USAGE;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		user_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "role") &&
	    strcmp(sub, "delete")) {
		fprintf(stderr, "kpulse user: unknown action '%s' (try kpulse user --help)\n", sub);
		return EXIT_USAGE;
	}

	/* options may come before or after NAME */
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			role_arg = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'e':
			env_file = optarg;
			break;
		case 'p':
			from_stdin = true;
			break;
		case 'j':
			as_json = true;
			break;
		case 'i':
			init = true;
			break;
		case 'h':
			user_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "kpulse user %s: %s needs a value (try --help)\n", sub,
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "kpulse user %s: unknown option '%s' (try --help)\n", sub,
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	npos = argc - optind;
	if (!strcmp(sub, "list") ? npos != 0 : npos != 1) {
		if (npos == 0)
			fprintf(stderr, "kpulse user %s: which user? (try --help)\n", sub);
		else
			fprintf(stderr, "kpulse user %s: unexpected argument '%s' (try --help)\n",
				sub, argv[optind + (strcmp(sub, "list") ? 1 : 0)]);
		return EXIT_USAGE;
	}
	if (npos == 1) {
		name = argv[optind];
		if (!auth_user_name_valid(name)) {
			fprintf(stderr,
				"kpulse user %s: '%s' is not a user name: 1 to %d of A-Z a-z 0-9 "
				"_ . -\n",
				sub, name, AUTH_NAME_MAX - 1);
			return EXIT_USAGE;
		}
	}
	if (role_arg && strcmp(sub, "add") && strcmp(sub, "role")) {
		fprintf(stderr, "kpulse user %s: --role is for add and role\n", sub);
		return EXIT_USAGE;
	}
	if (from_stdin && strcmp(sub, "add")) {
		fprintf(stderr, "kpulse user %s: --password-stdin is for add\n", sub);
		return EXIT_USAGE;
	}
	if (init && strcmp(sub, "add")) {
		fprintf(stderr, "kpulse user %s: --init is for add\n", sub);
		return EXIT_USAGE;
	}
	if (as_json && strcmp(sub, "list")) {
		fprintf(stderr, "kpulse user %s: --json is for list\n", sub);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "role")) {
		if (!role_arg) {
			fprintf(stderr,
				"kpulse user %s: --role viewer|operator|admin is required\n", sub);
			return EXIT_USAGE;
		}
		if (auth_role_parse(role_arg, &role)) {
			fprintf(stderr,
				"kpulse user %s: --role: '%s' is not viewer, operator or admin\n",
				sub, role_arg);
			return EXIT_USAGE;
		}
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "kpulse user %s: out of memory\n", sub);
		return 1;
	}
	r = load_env_file(cfg, env_file, err, sizeof(err));
	if (r) {
		fprintf(stderr, "kpulse user %s: %s\n", sub, err);
		status = r == -ENOENT ? EXIT_USAGE : 1;
		goto cleanup;
	}
	if (!data_dir) {
		data_dir = getenv("KPULSE_DATA_DIR");
		data_dir_from = "KPULSE_DATA_DIR";
		if (!data_dir || !*data_dir) {
			data_dir = cfg->data_dir;
			data_dir_from = "the env file or the default";
		}
	}
	if (!*data_dir || strlen(data_dir) >= DATA_DIR_MAX) {
		fprintf(stderr, "kpulse user %s: --data-dir: '%s' is empty or too long\n", sub,
			data_dir);
		status = EXIT_USAGE;
		goto cleanup;
	}

	/* A typo in the data dir must not give users to a database the
	 * daemon never opens. */
	snprintf(db_path, sizeof(db_path), "%s/auth.db", data_dir);
	if (!init && stat(db_path, &st) != 0) {
		fprintf(stderr,
			"kpulse user %s: no users database at %s (data dir %s, from %s): %s.\n"
			"It is created by the daemon's first start on that data dir (`kpulse run "
			"--data-dir %s`)%s.\n",
			sub, db_path, data_dir, data_dir_from, strerror(errno), data_dir,
			strcmp(sub, "add") ? "" : ", or by `kpulse user add ... --init`");
		status = 1;
		goto cleanup;
	}

	/* the data dir and its files are private, as the daemon keeps them */
	umask(077);
	if (init && mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "kpulse user add: cannot create the data dir %s: %s\n", data_dir,
			strerror(errno));
		status = 1;
		goto cleanup;
	}

	auth_options_default(&opts);
	secret = getenv("KPULSE_JWT_SECRET");
	if (!secret || !*secret)
		secret = cfg->jwt_secret;
	opts.jwt_secret = secret && *secret ? secret : NULL;
	r = auth_open(data_dir, &opts, &a, err, sizeof(err));
	if (r) {
		fprintf(stderr, "kpulse user %s: %s\n", sub, err);
		status = 1;
		goto cleanup;
	}
	cli_install_stop_signals();
	if (!strcmp(sub, "add"))
		status = user_add(a, name, role, from_stdin);
	else if (!strcmp(sub, "list"))
		status = user_list(a, as_json);
	else if (!strcmp(sub, "role"))
		status = user_set_role(a, name, role);
	else
		status = user_delete(a, name);
	auth_close(a);
cleanup:
	if (cfg)
		explicit_bzero(cfg, sizeof(*cfg)); /* it may hold keys from the env file */
	free(cfg);
	return status;
}
