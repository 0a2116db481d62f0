// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * proctab.c - names and exit totals of recent processes, from the exec and
 * exit events (see proctab.h). A fork starts a process under its
 * parent's name (a reused pid forgets the old one), an exec renames it,
 * an exit gives the name at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "collection/procfs.h"
#include "collection/proctab.h"

static struct proctab_entry *slot_of(const struct proctab *t, uint32_t tgid)
{
	return (struct proctab_entry *)&t->slots[tgid % PROCTAB_SLOTS];
}

void proctab_note_event(struct proctab *t, const struct kp_event_proc *e, uint32_t type)
{
	struct proctab_entry *s;
	size_t len;

	if ((type != KP_EV_FORK && type != KP_EV_EXEC && type != KP_EV_EXIT) || !e->hdr.pid)
		return;
	s = slot_of(t, e->hdr.pid);
	if (s->tgid != e->hdr.pid || type != KP_EV_EXIT) {
		/* A new process in this slot (or the pid's new image). */
		memset(s, 0, sizeof(*s));
		s->tgid = e->hdr.pid;
	}
	len = strnlen(e->hdr.comm, KP_COMM_LEN - 1);
	if (len) {
		memcpy(s->comm, e->hdr.comm, len);
		s->comm[len] = 0;
	}
	if (type == KP_EV_EXIT) {
		s->exited = true;
		s->page_faults = e->min_flt + e->maj_flt;
	}
}

const char *proctab_comm(const struct proctab *t, uint32_t tgid)
{
	const struct proctab_entry *s = slot_of(t, tgid);

	return tgid && s->tgid == tgid && s->comm[0] ? s->comm : NULL;
}

int proctab_exit_faults(const struct proctab *t, uint32_t tgid, uint64_t *ret_faults)
{
	const struct proctab_entry *s = slot_of(t, tgid);

	if (!tgid || s->tgid != tgid || !s->exited)
		return -ENOENT;
	*ret_faults = s->page_faults;
	return 0;
}

int proctab_parse_stat_faults(const char *text, uint64_t *ret_faults)
{
	const char *p = strrchr(text, ')');
	uint64_t v[13] = {};

	if (!p || p == text)
		return -EINVAL;
	p++;
	/* From field 3 (state) on; 10 is minflt, 12 majflt. */
	for (int field = 3; field <= 12; field++) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		if (field == 3) {
			if (!*p || *p == ' ')
				return -EINVAL;
			p++;
			continue;
		}
		if (*p == '-') /* ppid, pgrp... may be negative: skip the sign */
			p++;
		if (procfs_parse_u64(&p, &v[field]))
			return -EINVAL;
	}
	*ret_faults = v[10] + v[12];
	return 0;
}

int proctab_read_faults(uint32_t tgid, uint64_t *ret_faults)
{
	char path[32], text[1024];
	long n;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", tgid);
	n = procfs_read_file(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	return proctab_parse_stat_faults(text, ret_faults);
}
