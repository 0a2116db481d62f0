/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * events.h - turns the BPF ring-buffer records (include/kpulse_abi.h) into
 * JSON objects, the one shape every consumer (dump, store, REST) uses.
 * Field names are listed in docs/metrics.md.
 */
#ifndef KPULSE_EVENTS_H
#define KPULSE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* "exec", "exit", ...; NULL for an unknown type. */
const char *event_type_name(uint32_t type);

/*
 * Decodes one record. mono_offset_s is added to the kernel's monotonic
 * timestamp to give unix seconds. Returns a new object, or NULL with
 * errno EINVAL for an unknown type or a record shorter than its type
 * (kernel data is checked like any other input), ENOMEM on allocation.
 */
json_t *event_to_json(const void *data, size_t size, double mono_offset_s);

#endif /* KPULSE_EVENTS_H */
