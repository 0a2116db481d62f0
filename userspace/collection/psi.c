// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * psi.c - /proc/pressure totals as counters in seconds. The avg10/60/300
 * figures are not kept: they follow from the totals over any window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/procfs.h"
#include "collection/psi.h"

#define PSI_MAX_BYTES 4096

static const struct {
	const char *file;
	const char *waiting; /* the "some" line */
	const char *stalled; /* the "full" line */
} resources[] = {
    {"pressure/cpu", "kpulse_pressure_cpu_waiting_seconds_total",
     "kpulse_pressure_cpu_stalled_seconds_total"},
    {"pressure/memory", "kpulse_pressure_memory_waiting_seconds_total",
     "kpulse_pressure_memory_stalled_seconds_total"},
    {"pressure/io", "kpulse_pressure_io_waiting_seconds_total",
     "kpulse_pressure_io_stalled_seconds_total"},
    {"pressure/irq", NULL, "kpulse_pressure_irq_stalled_seconds_total"},
};

#define NRES (sizeof(resources) / sizeof(resources[0]))

/* " avg10=.. avg60=.. avg300=.. total=N\n": the total, in microseconds. */
static int parse_total(const char *p, const char *nl, uint64_t *ret)
{
	const char *t = strstr(p, " total=");
	uint64_t v;

	/* total= is the last field; the averages before it are not read. */
	if (!t || t > nl)
		return -EINVAL;
	t += 7;
	if (procfs_parse_u64(&t, &v) || t != nl)
		return -EINVAL;
	*ret = v;
	return 0;
}

int psi_parse(const char *text, struct psi_totals *ret)
{
	struct psi_totals t = {};
	const char *line = text, *nl;

	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		if (strncmp(line, "some ", 5) == 0)
			t.has_some = parse_total(line + 4, nl, &t.some_us) == 0;
		else if (strncmp(line, "full ", 5) == 0)
			t.has_full = parse_total(line + 4, nl, &t.full_us) == 0;
	}
	if (!t.has_some && !t.has_full)
		return -EINVAL;
	*ret = t;
	return 0;
}

struct psi {
	struct procfs_file files[NRES];
};

int psi_new(const char *proc_root, struct psi **ret)
{
	struct psi *p = calloc(1, sizeof(*p));
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < NRES; i++)
		p->files[i].fd = -1;
	for (size_t i = 0; i < NRES && !err; i++)
		err = procfs_file_init(&p->files[i], proc_root, resources[i].file, PSI_MAX_BYTES,
				       true);
	if (err) {
		psi_free(p);
		return err;
	}
	*ret = p;
	return 0;
}

struct psi *psi_free(struct psi *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < NRES; i++)
		procfs_file_close(&p->files[i]);
	free(p);
	return NULL;
}

int psi_sample(struct psi *p, struct registry *r)
{
	int err = 0;

	for (size_t i = 0; i < NRES && !err; i++) {
		struct procfs_file *f = &p->files[i];
		struct psi_totals t;

		if (procfs_file_read(f) < 0)
			continue;
		if (psi_parse(f->buf, &t)) {
			f->errors++;
			continue;
		}
		if (t.has_some && resources[i].waiting)
			err = registry_set_counter(r, resources[i].waiting, NULL, 0,
						   (double)t.some_us / 1e6);
		if (!err && t.has_full)
			err = registry_set_counter(r, resources[i].stalled, NULL, 0,
						   (double)t.full_us / 1e6);
		if (!err)
			err = procfs_file_report(f, r);
	}
	return err;
}

void psi_describe(struct registry *r)
{
	static const char *what[] = {"CPU", "memory", "I/O", "IRQ"};
	char help[160];

	for (size_t i = 0; i < NRES; i++) {
		if (resources[i].waiting) {
			snprintf(help, sizeof(help),
				 "Time some tasks were stalled waiting for %s (PSI some total)",
				 what[i]);
			registry_describe(r, resources[i].waiting, help);
		}
		snprintf(help, sizeof(help),
			 "Time all non-idle tasks were stalled on %s at once (PSI full total)",
			 what[i]);
		registry_describe(r, resources[i].stalled, help);
	}
}
