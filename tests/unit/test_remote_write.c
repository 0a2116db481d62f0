/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_remote_write.c - unit tests for export/remote_write's encoding: the
 * WriteRequest protobuf read back by a small decoder written from the
 * protobuf wire format (labels sorted, __name__, the added host labels,
 * values and millisecond timestamps exact, histograms as cumulative
 * buckets with _sum and _count), snappy's output read back by libsnappy,
 * and the option checks of remote_write_new().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "export/remote_write.h"
#include "registry/registry.h"
#include "test.h"

#define MAX_SERIES 64
#define MAX_LABELS 12

struct decoded {
	char names[MAX_LABELS][80], values[MAX_LABELS][80];
	size_t nlabels;
	double value;
	int64_t ts;
	int nsamples;
};

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Reads a length-delimited field of tag want at *p; -1 on anything else. */
static int get_bytes(const uint8_t **p, const uint8_t *end, unsigned want_field,
		     const uint8_t **ret, size_t *len)
{
	uint64_t tag, n;

	if (get_varint(p, end, &tag) || tag != ((uint64_t)want_field << 3 | 2))
		return -1;
	if (get_varint(p, end, &n) || n > (uint64_t)(end - *p))
		return -1;
	*ret = *p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

static int copy_str(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* WriteRequest -> series; returns how many, or -1 when malformed. */
static int decode(const uint8_t *p, size_t len, struct decoded *out)
{
	const uint8_t *end = p + len;
	int n = 0;

	while (p < end) {
		const uint8_t *ts, *tend;
		size_t tlen;
		struct decoded *d;

		if (n == MAX_SERIES || get_bytes(&p, end, 1, &ts, &tlen))
			return -1;
		d = &out[n++];
		memset(d, 0, sizeof(*d));
		tend = ts + tlen;
		while (ts < tend) {
			const uint8_t *f, *fend, *s;
			size_t flen, slen;
			uint64_t tag;
			const uint8_t *peek = ts;

			if (get_varint(&peek, tend, &tag))
				return -1;
			if (tag == (1 << 3 | 2)) { /* Label */
				if (get_bytes(&ts, tend, 1, &f, &flen) || d->nlabels == MAX_LABELS)
					return -1;
				fend = f + flen;
				if (get_bytes(&f, fend, 1, &s, &slen) ||
				    copy_str(d->names[d->nlabels], 80, s, slen) ||
				    get_bytes(&f, fend, 2, &s, &slen) ||
				    copy_str(d->values[d->nlabels], 80, s, slen) || f != fend)
					return -1;
				d->nlabels++;
			} else if (tag == (2 << 3 | 2)) { /* Sample */
				uint64_t bits = 0, t;

				if (get_bytes(&ts, tend, 2, &f, &flen))
					return -1;
				fend = f + flen;
				if (get_varint(&f, fend, &tag) || tag != (1 << 3 | 1) ||
				    fend - f < 8)
					return -1;
				for (int i = 0; i < 8; i++)
					bits |= (uint64_t)f[i] << (8 * i);
				f += 8;
				memcpy(&d->value, &bits, sizeof(bits));
				if (get_varint(&f, fend, &tag) || tag != (2 << 3 | 0) ||
				    get_varint(&f, fend, &t) || f != fend)
					return -1;
				d->ts = (int64_t)t;
				d->nsamples++;
			} else {
				return -1;
			}
		}
	}
	return n;
}

static const char *label(const struct decoded *d, const char *name)
{
	for (size_t i = 0; i < d->nlabels; i++)
		if (!strcmp(d->names[i], name))
			return d->values[i];
	return NULL;
}

static bool sorted(const struct decoded *d)
{
	for (size_t i = 1; i < d->nlabels; i++)
		if (strcmp(d->names[i - 1], d->names[i]) >= 0)
			return false;
	return true;
}

static const struct metric_label host_labels[] = {
    {"host", "node-a"}, {"instance", "node-a"}, {"job", "kpulse"}};

TEST(gauges_and_counters_become_one_sample_series_with_sorted_labels)
{
	struct registry *r = registry_new();
	struct metric_label l[] = {{"mode", "user"}, {"cpu", "1"}};
	struct decoded d[MAX_SERIES];
	struct rw_buf b = {};
	long n;

	CHECK(r);
	registry_begin(r, 1700000000.25, 1);
	CHECK_EQ_INT(registry_set_counter(r, "kpulse_cpu_seconds_total", l, 2, 123.5), 0);
	CHECK_EQ_INT(registry_set_gauge(r, "kpulse_load1", NULL, 0, -0.125), 0);
	registry_end(r);
	n = rw_encode_registry(&b, r, 1700000000250, host_labels, 3);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(decode(b.data, b.len, d), 2);
	for (int i = 0; i < 2; i++) {
		CHECK(sorted(&d[i]));
		CHECK_EQ_INT(d[i].nsamples, 1);
		CHECK_EQ_INT(d[i].ts, 1700000000250);
		CHECK_STR(d[i].names[0], "__name__");
		CHECK_STR(label(&d[i], "host"), "node-a");
		CHECK_STR(label(&d[i], "instance"), "node-a");
		CHECK_STR(label(&d[i], "job"), "kpulse");
	}
	for (int i = 0; i < 2; i++) {
		if (!strcmp(label(&d[i], "__name__"), "kpulse_cpu_seconds_total")) {
			CHECK_EQ_INT(d[i].nlabels, 6);
			CHECK_STR(label(&d[i], "cpu"), "1");
			CHECK_STR(label(&d[i], "mode"), "user");
			CHECK(d[i].value == 123.5);
		} else {
			CHECK_STR(label(&d[i], "__name__"), "kpulse_load1");
			CHECK_EQ_INT(d[i].nlabels, 4);
			CHECK(d[i].value == -0.125);
		}
	}
	rw_buf_free(&b);
	registry_free(r);
}

TEST(histograms_become_cumulative_buckets_sum_and_count)
{
	struct registry *r = registry_new();
	uint64_t slots[REGISTRY_HIST_SLOTS] = {0, 3, 0, 2};
	struct metric_label l[] = {{"device", "vda"}};
	struct decoded d[MAX_SERIES];
	struct rw_buf b = {};
	double expect[] = {0, 3, 3, 5, 6}; /* +Inf is the count, which may run ahead */
	int n, buckets = 0;

	CHECK(r);
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_histogram(r, "lat_seconds", l, 1, slots, 6, 0.5, 1e-9), 0);
	registry_end(r);
	CHECK_EQ_INT(rw_encode_registry(&b, r, 1000000, NULL, 0), 7);
	n = decode(b.data, b.len, d);
	CHECK_EQ_INT(n, 7);
	for (int i = 0; i < n; i++) {
		const char *name = label(&d[i], "__name__");

		CHECK(sorted(&d[i]));
		CHECK_STR(label(&d[i], "device"), "vda");
		CHECK(!label(&d[i], "host"));
		if (!strcmp(name, "lat_seconds_bucket")) {
			CHECK(buckets < 5);
			CHECK(d[i].value == expect[buckets]);
			if (buckets == 4)
				CHECK_STR(label(&d[i], "le"), "+Inf");
			else
				CHECK(strcmp(label(&d[i], "le"), "+Inf") != 0);
			buckets++;
		} else if (!strcmp(name, "lat_seconds_sum")) {
			/* the registry's sum, as /metrics writes it */
			CHECK(d[i].value == registry_at(r, 0)->hist_sum);
			CHECK(d[i].value > 0);
			CHECK(!label(&d[i], "le"));
		} else {
			CHECK_STR(name, "lat_seconds_count");
			CHECK(d[i].value == 6);
		}
	}
	CHECK_EQ_INT(buckets, 5);
	rw_buf_free(&b);
	registry_free(r);
}

TEST(a_series_own_label_wins_over_an_added_one)
{
	struct registry *r = registry_new();
	struct metric_label l[] = {{"job", "batch"}};
	struct decoded d[MAX_SERIES];
	struct rw_buf b = {};

	CHECK(r);
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_gauge(r, "custom_depth", l, 1, 4), 0);
	registry_end(r);
	CHECK_EQ_INT(rw_encode_registry(&b, r, 1, host_labels, 3), 1);
	CHECK_EQ_INT(decode(b.data, b.len, d), 1);
	CHECK(sorted(&d[0])); /* job once: a repeated name would be refused */
	CHECK_STR(label(&d[0], "job"), "batch");
	CHECK_STR(label(&d[0], "host"), "node-a");
	rw_buf_free(&b);
	registry_free(r);
}

TEST(rounds_concatenate_into_one_request_and_snappy_reads_back)
{
	struct registry *r = registry_new();
	struct decoded d[MAX_SERIES];
	struct rw_buf b = {};
	uint8_t *z = NULL;
	size_t zlen = 0, plain_len = 0;
	char *plain;

	CHECK(r);
	for (int round = 0; round < 3; round++) {
		registry_begin(r, 1000 + round, 1);
		CHECK_EQ_INT(registry_set_gauge(r, "g", NULL, 0, round), 0);
		CHECK_EQ_INT(registry_set_gauge(r, "h", NULL, 0, 10 + round), 0);
		registry_end(r);
		CHECK_EQ_INT(rw_encode_registry(&b, r, (1000 + round) * 1000LL, host_labels, 3), 2);
	}
	CHECK_EQ_INT(decode(b.data, b.len, d), 6);
	CHECK_EQ_INT(d[5].ts, 1002000);
	CHECK_EQ_INT(rw_snappy_compress(b.data, b.len, &z, &zlen), 0);
	CHECK(zlen < b.len); /* the labels repeat: it compresses */
	CHECK(snappy_uncompressed_length((const char *)z, zlen, &plain_len) == SNAPPY_OK);
	CHECK_EQ_INT(plain_len, b.len);
	plain = malloc(plain_len);
	CHECK(plain);
	CHECK(snappy_uncompress((const char *)z, zlen, plain, &plain_len) == SNAPPY_OK);
	CHECK(memcmp(plain, b.data, b.len) == 0);
	free(plain);
	free(z);
	rw_buf_free(&b);
	registry_free(r);
}

TEST(bad_options_are_refused_with_the_option_named)
{
	struct remote_write_options o;
	struct remote_write *rw = NULL;
	char err[256];

	remote_write_options_default(&o);
	o.url = "ftp://example.invalid/write";
	CHECK_EQ_INT(remote_write_new(&o, &rw, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "KPULSE_REMOTE_WRITE_URL"));
	o.url = "http://192.0.2.1:9090/api/v1/write";
	o.bearer_token = "tok-123456";
	CHECK_EQ_INT(remote_write_new(&o, &rw, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "KPULSE_REMOTE_WRITE_BEARER_TOKEN") && !strstr(err, "tok-123456"));
	o.bearer_token = "";
	o.host = "two words";
	CHECK_EQ_INT(remote_write_new(&o, &rw, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "KPULSE_REMOTE_WRITE_HOST"));
	CHECK(!rw);
	/* a token to this machine over plain http is fine; nothing is sent
	 * before a round arrives */
	o.host = "";
	o.url = "http://127.0.0.1:1/api/v1/write";
	o.bearer_token = "tok-123456";
	CHECK_EQ_INT(remote_write_new(&o, &rw, err, sizeof(err)), 0);
	CHECK(rw);
	rw = remote_write_free(rw);
	CHECK(!rw);
}

TEST_MAIN()
