/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_config.c - libFuzzer target for util/config.c: .env files
 * (config_load_env_file), environment arrays (config_load_environ) and
 * single values (config_set, through every row of the option table). The
 * first byte picks the reader. A refusal leaves the configuration as it
 * was and says why in one terminated line; nothing crashes. `make fuzz`
 * builds it with clang -fsanitize=fuzzer,address,undefined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/config.h"

static int env_fd = -1;
static char env_path[64];
static struct kpulse_config defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	env_fd = memfd_create("fuzz.env", MFD_CLOEXEC);
	if (env_fd < 0)
		abort();
	snprintf(env_path, sizeof(env_path), "/proc/self/fd/%d", env_fd);
	config_defaults(&defaults);
	return 0;
}

static void check_err(int r, const char *err, size_t len, const struct kpulse_config *c)
{
	if (r == 0)
		return;
	if (!memchr(err, '\0', len))
		abort();
	/* all or nothing */
	if (memcmp(c, &defaults, sizeof(*c)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpulse_config *c = malloc(sizeof(*c));
	char err[512], *s;
	int r;

	if (!c || size < 2) {
		free(c);
		return 0;
	}
	memcpy(c, &defaults, sizeof(*c));
	s = malloc(size);
	if (!s) {
		free(c);
		return 0;
	}
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	err[0] = '\0';
	switch (data[0] % 3) {
	case 0: /* the bytes as a .env file */
		if (ftruncate(env_fd, 0) != 0 ||
		    pwrite(env_fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
			abort();
		r = config_load_env_file(c, env_path, true, err, sizeof(err));
		check_err(r, err, sizeof(err), c);
		break;
	case 1: { /* lines as an environment */
		char *envp[65];
		size_t n = 0;

		for (char *line = strtok(s, "\n"); line && n < 64; line = strtok(NULL, "\n"))
			envp[n++] = line;
		envp[n] = NULL;
		r = config_load_environ(c, envp, err, sizeof(err));
		check_err(r, err, sizeof(err), c);
		break;
	}
	default: { /* one value for the option the second byte picks */
		const struct config_option *o =
		    &config_options[(unsigned char)s[0] % config_option_count];

		char key[64];

		/* the flag spelling ("--interval") or the variable's */
		if ((s[0] & 0x80) && o->flag)
			snprintf(key, sizeof(key), "--%s", o->flag);
		else
			snprintf(key, sizeof(key), "%s", o->env);
		r = config_set(c, key, s + 1, err, sizeof(err));
		check_err(r, err, sizeof(err), c);
		break;
	}
	}
	free(s);
	free(c);
	return 0;
}
