/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_model_state.c - libFuzzer target for models/detector.c's restore of
 * a saved detector state (the model_state rows a daemon reads back at
 * start: a database copied between versions, damaged on disk or written
 * by hand is outside input). The input's bytes overlay a state that has
 * learnt a few hundred values, past its magic and version, so the fuzzer
 * reaches the fields. A state detector_restore() accepts must then score
 * any values, finite or not, in [0, 1]: never NaN, a crash or undefined
 * behaviour; one it refuses is left out. The overlay is an XOR, so zero
 * bytes keep the learnt state and a short input changes only its start.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/detector.h"

static struct detector base;

static void learn_base(void)
{
	detector_init(&base, DETECTOR_STREAM);
	for (int i = 0; i < DETECTOR_WARMUP + 200; i++)
		detector_update(&base, 1.7e9 + i, 100 + 10 * sin(i / 7.0) + (i % 13), NULL);
}

static double value_at(const uint8_t *p)
{
	double v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t head = offsetof(struct detector, kind);
	struct detector *blob, d;
	size_t n = size < sizeof(base) - head ? size : sizeof(base) - head;
	double ts;

	if (base.magic == 0)
		learn_base();
	blob = malloc(sizeof(base)); /* exact size: ASan sees a read past it */
	if (!blob)
		return 0;
	memcpy(blob, &base, sizeof(base));
	for (size_t i = 0; i < n; i++)
		((uint8_t *)blob)[head + i] ^= data[i];
	if (detector_restore(blob, sizeof(base), &d) != 0) {
		free(blob);
		return 0;
	}
	free(blob);
	/* the rest of the input: the values (and every 4th, a step) to score */
	ts = d.last_ts;
	for (size_t off = n; off + sizeof(double) <= size; off += sizeof(double)) {
		double v = value_at(data + off), s;

		ts += (off / sizeof(double)) % 4 ? 1.0 : fabs(fmod(v, 1e6));
		if (!isfinite(ts))
			ts = d.last_ts + 1;
		s = detector_update(&d, ts, v, NULL);
		if (!(s >= 0.0 && s <= 1.0))
			abort();
	}
	for (int i = 0; i < 64; i++) {
		double s = detector_update(&d, ts + 1 + i, 100 + i % 7, NULL);

		if (!(s >= 0.0 && s <= 1.0))
			abort();
	}
	return 0;
}
