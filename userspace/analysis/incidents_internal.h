/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * incidents_internal.h - what the two files of the incidents module share:
 * incidents.c (state, persistence, grouping, the sink, life) and
 * incidents_ops.c (the analysis, the operator actions, questions). Nothing
 * outside userspace/analysis/incidents*.c includes it.
 *
 * Locking: inc->lock guards the active incidents; the functions below that
 * take an incident run under it, the others (inc_analyze, inc_timeline,
 * inc_audit) without it.
 */
#ifndef KPULSE_ANALYSIS_INCIDENTS_INTERNAL_H
#define KPULSE_ANALYSIS_INCIDENTS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "analysis/incidents.h"
#include "analysis/procs.h"

/* LLM asks of the sink running at once on worker threads. */
#define INCIDENTS_LLM_WORKERS 4

enum state { ST_OPEN, ST_ACKED, ST_RESOLVED };

extern const char *const inc_state_names[3];
extern const char *const inc_sev_names[3];

struct part {
	char key[320]; /* anomaly series, prediction or event key */
	char kind[12]; /* "anomaly", "prediction", "event" */
	char subsystem[16];
	int severity;
	double start, end;
	bool active;
	int64_t anomaly_id; /* 0: not an anomaly */
	json_t *detail;	    /* the part as served; owned */
};

struct incident {
	int64_t id;
	enum state state;
	int severity;
	double opened, updated, resolved, last_activity;
	struct part parts[INCIDENTS_PARTS_MAX];
	size_t nparts;
	char summary[512];
	char acked_by[64], resolved_by[64];
	json_t *evidence, *reading; /* owned; NULL until built */
	bool analyzed;		    /* the analysis due at analyze_at ran (or runs) */
	double analyze_at;	    /* settle_s after the open, or after a new subsystem joined */
	char llm_status[16];	    /* "", "ok", "all_failed", "off" */
};

struct incidents {
	struct incidents_options o;
	struct store *store;
	struct proc_history *procs; /* the per-process counters of recent rounds */
	pthread_mutex_t lock;
	struct incident *active[INCIDENTS_ACTIVE_MAX];
	size_t nactive;
	int64_t next_id;
	double started, last_poll;
	/* The parts of resolved incidents (a hash of kind, key and anomaly id),
	 * so that an anomaly still open or a prediction still made does not
	 * open the incident an operator just resolved again. */
	uint64_t retired[INCIDENTS_RETIRED_MAX];
	size_t retired_next;
	uint64_t opened_total, resolved_total, llm_failed_total;
	/* LLM asks running on worker threads; incidents_free waits for them */
	unsigned llm_running;
	pthread_cond_t llm_done;
};

double inc_now(struct incidents *inc);
/* The stored document of an incident (parts, subsystems, evidence, reading). */
json_t *inc_doc(const struct incident *it);
/* Writes the incident's row. */
int inc_save(struct incidents *inc, struct incident *it);
void inc_timeline(struct incidents *inc, int64_t id, double ts, const char *kind, const char *who,
		  const char *detail);
void inc_audit(struct incidents *inc, const struct incidents_actor *by, const char *action,
	       int64_t id, const char *detail);
void inc_alert(struct incidents *inc, const struct incident *it, enum alert_kind kind);
struct incident *inc_find_active(struct incidents *inc, int64_t id);
/* Takes a resolved incident out of the active ones (its parts retire) and
 * frees it. */
void inc_drop_active(struct incidents *inc, struct incident *it);
/* The anomalous series of an incident's parts (pointers into it). */
size_t inc_part_series(const struct incident *it, const char **out, size_t cap);
/* Evidence, built-in reading and LLM of incident id over [from, to],
 * stored as its analyses (no lock held); the LLM on a worker thread with
 * async_llm; *ret (may be NULL) gets {"evidence", "analyses"}. */
int inc_analyze(struct incidents *inc, int64_t id, double from, double to,
		const char *const *series, size_t nseries, json_t *signals, const char *question,
		bool async_llm, json_t **ret);

#endif /* KPULSE_ANALYSIS_INCIDENTS_INTERNAL_H */
