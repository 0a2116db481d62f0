/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * analyst.h - the built-in analyst: deterministic rules over an evidence
 * record (evidence.h) that name the saturated resource and the most likely
 * culprit, with the numbers that support it. Offline, no state, the same
 * reading for the same evidence.
 *
 * Rules (each scores what it sees; the highest score is the reading):
 *   cpu        CPU saturation: CPUs busy, run-queue latency p99, CPU
 *              pressure; culprit the process with the most CPU time
 *   io         I/O saturation of a device: utilization, p99 latency, slow
 *              I/Os, I/O pressure; culprit the device and the process with
 *              the most I/O bytes
 *   memory     OOM kills (culprit the victim and its memory cgroup), or
 *              reclaim stalls and memory pressure (the process faulting most)
 *   network    packet loss causing TCP retransmits: retransmit rate, drops by
 *              reason and interface, the peer retransmitted to most
 *   processes  fork / exec storms: exec and fork rates, the program and the
 *              parent that exec most
 *   filesystem a filesystem about to fill: a filesystem_full prediction or
 *              little space left
 */
#ifndef KPULSE_ANALYSIS_ANALYST_H
#define KPULSE_ANALYSIS_ANALYST_H

#include <jansson.h>

/*
 * Reads the evidence. Returns a new object {"analyst": "builtin",
 * "resource": "cpu" | "io" | "memory" | "network" | "processes" |
 * "filesystem" | "unknown", "culprit": text or null, "text": the reading,
 * "findings": [{"rule", "resource", "culprit", "score", "text"}]}, or NULL
 * on ENOMEM.
 */
json_t *analyst_read(json_t *evidence);

#endif /* KPULSE_ANALYSIS_ANALYST_H */
