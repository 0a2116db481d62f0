/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * proctab.h - what the process events told about recent processes: the
 * name an exec or exit event carried and the page-fault total an exit
 * event carried. Per-process rows of processes that are gone by the time
 * the round reads /proc take their name and final fault count from here.
 * Bounded: one slot per pid modulo the table size, newest wins.
 */
#ifndef KPULSE_PROCTAB_H
#define KPULSE_PROCTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "kpulse_abi.h"

#define PROCTAB_SLOTS 4096

struct proctab_entry {
	uint32_t tgid; /* 0: empty */
	bool exited;
	uint64_t page_faults; /* at exit: minor + major, all threads */
	char comm[KP_COMM_LEN];
};

struct proctab {
	struct proctab_entry slots[PROCTAB_SLOTS];
};

/* A fork, exec or exit event (others are ignored). comm need not end in
 * NUL. */
void proctab_note_event(struct proctab *t, const struct kp_event_proc *e, uint32_t type);

/* The last name the events gave tgid, or NULL. */
const char *proctab_comm(const struct proctab *t, uint32_t tgid);

/* 0 and *ret_faults when tgid's exit was seen, else -ENOENT. */
int proctab_exit_faults(const struct proctab *t, uint32_t tgid, uint64_t *ret_faults);

/*
 * Parses /proc/PID/stat text into the process's minor + major fault count
 * (fields 10 and 12, summed over its threads by the kernel). The name in
 * parentheses may hold any bytes, ')' included: fields start after the
 * last ')'. Returns 0, or -EINVAL for text that is not of that form.
 */
int proctab_parse_stat_faults(const char *text, uint64_t *ret_faults);

/* Reads /proc/PID/stat: 0 and the fault count, or a negative errno. */
int proctab_read_faults(uint32_t tgid, uint64_t *ret_faults);

#endif /* KPULSE_PROCTAB_H */
