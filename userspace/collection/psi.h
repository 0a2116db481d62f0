/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * psi.h - pressure stall information from /proc/pressure/{cpu,memory,io,irq}:
 * the total time some (or all) non-idle tasks were stalled on a resource,
 * as cumulative seconds. Kernels without PSI (before 4.20, or booted with
 * psi=0) have no such files, and then there are no such series.
 */
#ifndef KPULSE_PSI_H
#define KPULSE_PSI_H

#include <stdbool.h>
#include <stdint.h>

#include "registry/registry.h"

struct psi_totals {
	uint64_t some_us, full_us;
	bool has_some, has_full; /* cpu has "full" since 5.13; irq (6.1) only "full" */
};

/* Parses "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull ...".
 * Returns 0, or -EINVAL when neither line parses; *ret only on success. */
int psi_parse(const char *text, struct psi_totals *ret);

struct psi;

int psi_new(const char *proc_root, struct psi **ret);
struct psi *psi_free(struct psi *p);

/* One round: kpulse_pressure_<resource>_waiting_seconds_total (some) and
 * _stalled_seconds_total (full) for each file present. Returns 0 or the
 * registry's error. */
int psi_sample(struct psi *p, struct registry *r);
void psi_describe(struct registry *r);

#endif /* KPULSE_PSI_H */
