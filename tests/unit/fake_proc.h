/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fake_proc.h - starts and stops the fake servers of tests/fakes (Python's
 * standard library, /usr/bin/python3) for the unit tests of util/http,
 * llm/ and alerts/, and talks to their control endpoints.
 *
 * A fake listens on a free port of 127.0.0.1 and says which on its first
 * line of output ("PORT n"). It ends when fake_stop() sends SIGTERM, and
 * on its own when the test process dies (PR_SET_PDEATHSIG, and the fake
 * watches its parent too), so a crashed test leaves nothing running.
 * Tests run from the repository root (make test-unit does);
 * KPULSE_FAKES_DIR overrides where the scripts are. Set
 * KPULSE_FAKE_STDERR=1 to see a fake's own errors.
 */
#ifndef KPULSE_TEST_FAKE_PROC_H
#define KPULSE_TEST_FAKE_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "util/http.h"

struct fake {
	pid_t pid;
	int port;
};

/* Starts tests/fakes/<script> with args (NULL-terminated, may be NULL).
 * Returns 0, or -errno when it did not come up within 20 s. */
static inline int fake_start(struct fake *f, const char *script, const char *const *args)
{
	const char *dir = getenv("KPULSE_FAKES_DIR") ? getenv("KPULSE_FAKES_DIR") : "tests/fakes";
	char path[512], line[64];
	const char *argv[16];
	size_t n = 0, got = 0;
	int fds[2];

	snprintf(path, sizeof(path), "%s/%s", dir, script);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = path;
	for (size_t i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	f->pid = fork();
	if (f->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		if (!getenv("KPULSE_FAKE_STDERR")) {
			int null = open("/dev/null", O_WRONLY);

			if (null >= 0)
				dup2(null, STDERR_FILENO);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(line) - 1) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 20000) <= 0)
			break;
		r = read(fds[0], line + got, 1);
		if (r <= 0)
			break;
		if (line[got++] == '\n')
			break;
	}
	line[got] = '\0';
	close(fds[0]);
	if (sscanf(line, "PORT %d", &f->port) != 1) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
		return -EIO;
	}
	return 0;
}

static inline void fake_stop(struct fake *f)
{
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGTERM);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

/* "http://127.0.0.1:PORT" + path into buf. */
static inline const char *fake_url(const struct fake *f, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", f->port, path);
	return buf;
}

static inline int fake_request(const struct fake *f, const char *method, const char *path,
			       const char *body, struct http_response *ret)
{
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	char url[256];
	struct http_request req = {
	    .method = method,
	    .url = fake_url(f, path, url, sizeof(url)),
	    .headers = headers,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .timeout_s = 10,
	    .max_response_bytes = 16 << 20,
	};

	return http_perform(&req, ret, NULL, 0);
}

/* POST /_control with a JSON spec; 0 when the fake took it. */
static inline int fake_control(const struct fake *f, const char *spec)
{
	struct http_response r = {};
	int err = fake_request(f, "POST", "/_control", spec, &r);

	if (!err && r.status != 200)
		err = -EIO;
	http_response_clear(&r);
	return err;
}

static inline int fake_reset(const struct fake *f)
{
	struct http_response r = {};
	int err = fake_request(f, "POST", "/_reset", "{}", &r);

	http_response_clear(&r);
	return err;
}

/* GET path as JSON (NULL on any failure); the caller decrefs. */
static inline json_t *fake_get_json(const struct fake *f, const char *path)
{
	struct http_response r = {};
	json_t *j = NULL;

	if (!fake_request(f, "GET", path, NULL, &r) && r.status == 200)
		j = json_loadb(r.body, r.body_len, 0, NULL);
	http_response_clear(&r);
	return j;
}

/* Requests target has received since the last reset. */
static inline long fake_requests(const struct fake *f, const char *target)
{
	json_t *j = fake_get_json(f, "/_stats");
	long n = json_integer_value(
	    json_object_get(json_object_get(json_object_get(j, "targets"), target), "requests"));

	json_decref(j);
	return n;
}

/* The requests received (a JSON array of {target, path, headers, raw,
 * body, ts}); the caller decrefs. */
static inline json_t *fake_received(const struct fake *f)
{
	return fake_get_json(f, "/_received");
}

/* libcurl's global state is set up once by the first request
 * (http_global_init) and released here, once, at exit: so valgrind sees
 * no leak of it. */
__attribute__((destructor)) static void fake_proc_cleanup_http(void)
{
	http_global_cleanup();
}

#endif /* KPULSE_TEST_FAKE_PROC_H */
