/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_events.c - libFuzzer target for collection/events.c, the decoder of
 * BPF ring-buffer records: any bytes of any length give either a JSON
 * object (with a known type and strings that encode as valid JSON) or
 * NULL with errno EINVAL, never a read past the record, a crash or
 * undefined behaviour. `make fuzz` builds it with clang
 * -fsanitize=fuzzer,address,undefined.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "collection/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy, so ASan sees any read past the record */
	void *rec = malloc(size ? size : 1);
	json_t *ev;
	char *text;

	if (!rec)
		return 0;
	memcpy(rec, data, size);
	errno = 0;
	ev = event_to_json(rec, size, 1.7e9);
	if (!ev) {
		if (errno != EINVAL && errno != ENOMEM)
			abort();
	} else {
		const char *type = json_string_value(json_object_get(ev, "type"));

		if (!json_is_object(ev) || !type)
			abort();
		/* every string it made is valid UTF-8 for jansson */
		text = json_dumps(ev, JSON_COMPACT);
		if (!text)
			abort();
		free(text);
		json_decref(ev);
	}
	free(rec);
	return 0;
}
