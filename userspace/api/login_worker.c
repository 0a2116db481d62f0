/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * login_worker.c - the one thread that checks login passwords. A login
 * costs a full PBKDF2 (600,000 iterations, a good fraction of a second);
 * run on the HTTP threads, a flood of wrong passwords from many addresses
 * left nothing for /healthz or anybody else. Here POST /api/v1/auth/login
 * only parses its body, suspends its connection and queues a job; this
 * thread, at a lower CPU priority than the HTTP threads, runs auth_login()
 * and resumes the connection, whose handler then answers.
 *
 * Contracts: at most API_LOGIN_QUEUE logins wait at once, and a login
 * beyond that is refused at once (503 with Retry-After: the cheap early
 * refusal), so the work a flood can cause is bounded whatever the number
 * of addresses it comes from. API_LOGIN_QUEUE_KNOWN more places are kept
 * for addresses that logged in successfully before (the last
 * API_LOGIN_KNOWN_SLOTS of them, for API_LOGIN_KNOWN_TTL_S), and their
 * jobs go first: an operator already known keeps logging in during a
 * flood. A queued job's connection stays suspended until its job is done,
 * so the job (owned by the request) is never freed under the worker.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/api_internal.h"
#include "util/clock.h"

/* The worker's nice value: PBKDF2 yields the CPU to the HTTP threads. */
#define WORKER_NICE 10

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Caller holds the lock. */
static struct api_login_known *known_find(struct api_login_worker *w, const char *client,
					  double now, bool for_insert)
{
	size_t start = key_hash(client) % API_LOGIN_KNOWN_SLOTS;
	struct api_login_known *victim = NULL;

	for (size_t i = 0; i < 8; i++) {
		struct api_login_known *k = &w->known[(start + i) % API_LOGIN_KNOWN_SLOTS];

		if (k->at > 0 && now - k->at < API_LOGIN_KNOWN_TTL_S && !strcmp(k->key, client))
			return k;
		if (!victim || k->at < victim->at)
			victim = k;
	}
	return for_insert ? victim : NULL;
}

void api_login_known_add(struct api *a, const char *client)
{
	struct api_login_worker *w = &a->login;
	struct api_login_known *k;
	double now = clock_mono_s();

	pthread_mutex_lock(&w->lock);
	k = known_find(w, client, now, true);
	snprintf(k->key, sizeof(k->key), "%s", client);
	k->at = now;
	pthread_mutex_unlock(&w->lock);
}

/* Caller holds the lock. */
static struct api_login_job *take(struct api_login_worker *w)
{
	for (int q = 0; q < 2; q++) {
		struct api_login_job *j = w->head[q];

		if (!j)
			continue;
		w->head[q] = j->next;
		if (!w->head[q])
			w->tail[q] = NULL;
		w->queued[q]--;
		return j;
	}
	return NULL;
}

static void finish(struct api_login_worker *w, struct api_login_job *j, int result)
{
	j->result = result;
	pthread_mutex_lock(&w->lock);
	j->done = true;
	pthread_mutex_unlock(&w->lock);
	MHD_resume_connection(j->conn);
}

static void *worker(void *arg)
{
	struct api *a = arg;
	struct api_login_worker *w = &a->login;

	/* Per thread on Linux; failing leaves the default priority. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct api_login_job *j;
		int r;

		while (!w->stop && !w->head[0] && !w->head[1])
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stop)
			break;
		j = take(w);
		pthread_mutex_unlock(&w->lock);
		r = auth_login_from(a->auth, j->user, j->password, j->client, j->token,
				    sizeof(j->token), &j->expires_at, &j->retry_after_s);
		OPENSSL_cleanse(j->password, sizeof(j->password));
		finish(w, j, r);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int api_login_worker_start(struct api *a)
{
	struct api_login_worker *w = &a->login;
	int r = pthread_create(&w->thread, NULL, worker, a);

	if (r)
		return -r;
	w->started = true;
	return 0;
}

void api_login_worker_stop(struct api *a)
{
	struct api_login_worker *w = &a->login;
	struct api_login_job *j;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
	/* The worker is gone: fail what it left so those connections resume. */
	for (;;) {
		pthread_mutex_lock(&w->lock);
		j = take(w);
		pthread_mutex_unlock(&w->lock);
		if (!j)
			break;
		OPENSSL_cleanse(j->password, sizeof(j->password));
		finish(w, j, -ESHUTDOWN);
	}
}

int api_login_submit(struct api *a, struct api_login_job *job)
{
	struct api_login_worker *w = &a->login;
	double now = clock_mono_s();
	int q;

	pthread_mutex_lock(&w->lock);
	job->known = known_find(w, job->client, now, false) != NULL;
	q = job->known ? 0 : 1;
	if (w->stop || w->queued[q] >= (q == 0 ? API_LOGIN_QUEUE_KNOWN : API_LOGIN_QUEUE)) {
		int r = w->stop ? -ESHUTDOWN : -EBUSY;

		pthread_mutex_unlock(&w->lock);
		return r;
	}
	/* Suspended before the worker can see the job, so its resume can
	 * never come first. */
	MHD_suspend_connection(job->conn);
	job->next = NULL;
	if (w->tail[q])
		w->tail[q]->next = job;
	else
		w->head[q] = job;
	w->tail[q] = job;
	w->queued[q]++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}
