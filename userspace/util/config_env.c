/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * config_env.c - where option values come from besides flags: .env files,
 * the environment, and the .env.example generated from the option table.
 * Every value goes through config_set() (config.c), the one parser and
 * validator. See config.h for the contracts.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/error.h"

#define ENV_PREFIX "KPULSE_"

/* ---------------------------------------------------------------------- */
/* .env files                                                             */
/* ---------------------------------------------------------------------- */

/*
 * Reads one line without its "\n" or "\r\n" into buf (CONFIG_LINE_MAX + 2
 * bytes). Returns 1, 0 at end of file, -E2BIG for a line longer than
 * CONFIG_LINE_MAX, -EILSEQ for a NUL byte, or -errno from reading.
 */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -EILSEQ;
		if (n + 1 >= size)
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	if (ch == EOF) {
		if (ferror(f))
			return errno ? -errno : -EIO;
		if (n == 0)
			return 0;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > CONFIG_LINE_MAX)
		return -E2BIG;
	buf[n] = '\0';
	return 1;
}

static char *skip_blanks(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Splits one line in place. Returns 0 with *ret_key NULL for a blank or
 * comment line, 0 with key and value, or -EINVAL with *ret_why set.
 */
static int parse_env_line(char *line, char **ret_key, char **ret_value, const char **ret_why)
{
	char *p = skip_blanks(line), *key, *key_end, *value, *rest, *after_eq;
	bool quoted = true;

	*ret_key = NULL;
	if (*p == '\0' || *p == '#')
		return 0;
	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
		p = skip_blanks(p + 6);

	key = p;
	if (!isalpha((unsigned char)*p) && *p != '_') {
		*ret_why = "expected KEY=VALUE";
		return -EINVAL;
	}
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	key_end = p;
	p = skip_blanks(p);
	if (*p != '=') {
		*ret_why = "expected KEY=VALUE";
		return -EINVAL;
	}
	after_eq = p + 1;
	p = skip_blanks(after_eq);
	*key_end = '\0';

	if (*p == '\'') {
		/* Single quotes: everything up to the next quote, literally. */
		value = p + 1;
		rest = strchr(value, '\'');
		if (!rest) {
			*ret_why = "unterminated ' quote";
			return -EINVAL;
		}
		*rest++ = '\0';
	} else if (*p == '"') {
		/* Double quotes: \" and \\ are the escapes; other
		 * backslashes stay as they are. */
		char *r = p + 1, *w = p + 1;

		value = w;
		for (; *r && *r != '"'; r++) {
			if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
				r++;
			*w++ = *r;
		}
		if (*r != '"') {
			*ret_why = "unterminated \" quote";
			return -EINVAL;
		}
		rest = r + 1;
		*w = '\0';
	} else {
		/* Unquoted: up to a " #" comment, trailing blanks dropped. */
		char *end;

		quoted = false;
		value = p;
		for (end = p; *end; end++)
			if (*end == '#' && end > after_eq && (end[-1] == ' ' || end[-1] == '\t'))
				break;
		*end = '\0';
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		rest = end;
	}
	if (quoted) {
		rest = skip_blanks(rest);
		if (*rest != '\0' && *rest != '#') {
			*ret_why = "unexpected text after the closing quote";
			return -EINVAL;
		}
	}
	*ret_key = key;
	*ret_value = value;
	return 0;
}

int config_load_env_file(struct kpulse_config *c, const char *path, bool must_exist, char *err,
			 size_t errlen)
{
	char line[CONFIG_LINE_MAX + 2], msg[256];
	struct kpulse_config next = *c;
	unsigned long lineno = 0;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return 0;
		error_set(err, errlen, 0, "%s: %s", path, strerror(-r));
		return r;
	}
	for (;;) {
		const char *why = NULL;
		char *key, *value, *text;

		lineno++;
		r = read_line(f, line, sizeof(line));
		if (r == 0)
			break;
		if (r == -E2BIG || r == -EILSEQ) {
			error_set(err, errlen, 0, "%s:%lu: %s", path, lineno,
				  r == -E2BIG ? "line longer than 4096 bytes"
					      : "line holds a NUL byte");
			r = -EINVAL;
			goto cleanup;
		}
		if (r < 0) {
			error_set(err, errlen, 0, "%s: %s", path, strerror(-r));
			goto cleanup;
		}
		text = line;
		/* A UTF-8 byte order mark, as some editors write. */
		if (lineno == 1 && strncmp(text, "\xef\xbb\xbf", 3) == 0)
			text += 3;
		r = parse_env_line(text, &key, &value, &why);
		if (r < 0) {
			error_set(err, errlen, 0, "%s:%lu: %s", path, lineno, why);
			goto cleanup;
		}
		if (!key || strncmp(key, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		r = config_set(&next, key, value, msg, sizeof(msg));
		if (r == -ENOENT) {
			const struct config_option *near = config_option_closest(key);

			if (near)
				error_set(err, errlen, 0,
					  "%s:%lu: unknown key %s (did you mean %s?)", path, lineno,
					  key, near->env);
			else
				error_set(
				    err, errlen, 0,
				    "%s:%lu: unknown key %s (.env.example lists the known ones)",
				    path, lineno, key);
			r = -EINVAL;
			goto cleanup;
		}
		if (r < 0) {
			error_set(err, errlen, 0, "%s:%lu: %s", path, lineno, msg);
			goto cleanup;
		}
	}
	*c = next;
	r = 0;
cleanup:
	fclose(f);
	return r;
}

/* ---------------------------------------------------------------------- */
/* The environment                                                        */
/* ---------------------------------------------------------------------- */

int config_load_environ(struct kpulse_config *c, char *const *envp, char *err, size_t errlen)
{
	struct kpulse_config next = *c;
	char key[64];

	for (; envp && *envp; envp++) {
		const char *entry = *envp, *eq = strchr(entry, '=');
		size_t klen;
		int r;

		if (!eq || strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		klen = (size_t)(eq - entry);
		/* Longer than any option's name: not one of ours. */
		if (klen >= sizeof(key))
			continue;
		memcpy(key, entry, klen);
		key[klen] = '\0';
		r = config_set(&next, key, eq + 1, err, errlen);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
	}
	*c = next;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* .env.example                                                           */
/* ---------------------------------------------------------------------- */

int config_write_env_example(FILE *out)
{
	fputs("# kpulse configuration. Copy this file to .env and change what you need;\n"
	      "# every line is optional and shows the built-in default.\n"
	      "# Precedence, lowest first: defaults, .env, the environment, command-line flags.\n"
	      "# Durations take a unit: 90s, 15m, 24h, 30d (no unit means seconds).\n"
	      "# Generated from the option table in userspace/util/config.c\n"
	      "# (config_write_env_example); a unit test keeps the two the same.\n",
	      out);
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];
		char help[512];

		config_option_help(opt, help, sizeof(help));
		if (opt->flag)
			fprintf(out, "\n# %s.\n# Flag: --%s %s\n%s=%s\n", help, opt->flag,
				opt->value_name, opt->env, opt->default_value);
		else
			fprintf(out, "\n# %s.\n# %s\n%s=%s\n", help, CONFIG_NO_FLAG_NOTE, opt->env,
				opt->default_value);
	}
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
