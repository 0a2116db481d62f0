/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prometheus.h - the Prometheus text exposition format 0.0.4 of one or
 * more registries: a HELP and a TYPE line per metric family, label values
 * escaped, histograms as cumulative _bucket{le=...} series ending in +Inf,
 * then _sum and _count.
 *
 * userspace/export/ holds the formats kpulse hands its metrics out in;
 * this one is served by the API's GET /metrics, which only calls
 * prometheus_render(). It formats registries, knows nothing of HTTP, and
 * never changes what it is given.
 */
#ifndef KPULSE_EXPORT_PROMETHEUS_H
#define KPULSE_EXPORT_PROMETHEUS_H

#include <stddef.h>

#include "registry/registry.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Writes every series of regs[0..n) (NULL entries are skipped). A metric
 * name must appear in one registry only; families are written in each
 * registry's order. A family without registry_help() text gets
 * default_help. Returns 0 and a malloc'd NUL-terminated *ret_text with its
 * length, or -ENOMEM. *ret_* are written only on success.
 */
int prometheus_render(const struct registry *const *regs, size_t n, const char *default_help,
		      char **ret_text, size_t *ret_len);

/* Writes v the way Prometheus reads it: shortest round-trip decimal,
 * "NaN", "+Inf", "-Inf". buf needs 32 bytes. Returns buf. */
const char *prometheus_format_value(double v, char buf[32]);

#endif /* KPULSE_EXPORT_PROMETHEUS_H */
