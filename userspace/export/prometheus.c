/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prometheus.c - registry -> Prometheus text exposition 0.0.4 (see
 * prometheus.h). open_memstream() grows the buffer; a write error there can
 * only be ENOMEM. Type names are the registry's (metric_type_name), which
 * are Prometheus's own.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/prometheus.h"
#include "registry/hist.h"

const char *prometheus_format_value(double v, char buf[32])
{
	if (isnan(v))
		return strcpy(buf, "NaN");
	if (isinf(v))
		return strcpy(buf, v > 0 ? "+Inf" : "-Inf");
	/* %.15g reads back exactly for most values and stays short. */
	snprintf(buf, 32, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, 32, "%.17g", v);
	return buf;
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void write_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (quote && *s == '"')
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

/* {k="v",...,extra_key="extra_value"}; nothing when there are no labels. */
static void write_labels(FILE *out, const struct metric_series *s, const char *extra_key,
			 const char *extra_value)
{
	size_t n = s->nlabels + (extra_key ? 1 : 0);

	if (n == 0)
		return;
	fputc('{', out);
	for (size_t i = 0; i < s->nlabels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", s->label_keys[i]);
		write_escaped(out, s->label_values[i], true);
		fputc('"', out);
	}
	if (extra_key) {
		fprintf(out, "%s%s=\"", s->nlabels ? "," : "", extra_key);
		write_escaped(out, extra_value, true);
		fputc('"', out);
	}
	fputc('}', out);
}

static void write_histogram(FILE *out, const struct metric_series *s)
{
	char num[32], le[32];
	uint64_t cumulative = 0;
	size_t top = REGISTRY_HIST_SLOTS;

	/* Buckets up to the highest non-empty slot, as registry_to_json. */
	while (top > 0 && s->slots[top - 1] == 0)
		top--;
	for (size_t i = 0; i < top; i++) {
		cumulative += s->slots[i];
		prometheus_format_value(hist_log2_upper_bound(i) * s->scale, le);
		fprintf(out, "%s_bucket", s->name);
		write_labels(out, s, "le", le);
		fprintf(out, " %llu\n", (unsigned long long)cumulative);
	}
	/* +Inf is the total count, even if the slots lag a racing update. */
	fprintf(out, "%s_bucket", s->name);
	write_labels(out, s, "le", "+Inf");
	fprintf(out, " %llu\n", (unsigned long long)s->hist_count);
	fprintf(out, "%s_sum", s->name);
	write_labels(out, s, NULL, NULL);
	fprintf(out, " %s\n", prometheus_format_value(s->hist_sum, num));
	fprintf(out, "%s_count", s->name);
	write_labels(out, s, NULL, NULL);
	fprintf(out, " %llu\n", (unsigned long long)s->hist_count);
}

static void write_registry(FILE *out, const struct registry *r, const char *default_help)
{
	const char *family = NULL;
	char num[32];

	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);
		const char *help;

		if (!family || strcmp(family, s->name) != 0) {
			help = registry_help(r, s->name);
			fprintf(out, "# HELP %s ", s->name);
			write_escaped(out, help ? help : default_help, false);
			fprintf(out, "\n# TYPE %s %s\n", s->name, metric_type_name(s->type));
			family = s->name;
		}
		if (s->type == METRIC_HISTOGRAM) {
			write_histogram(out, s);
			continue;
		}
		fputs(s->name, out);
		write_labels(out, s, NULL, NULL);
		fprintf(out, " %s\n", prometheus_format_value(s->value, num));
	}
}

int prometheus_render(const struct registry *const *regs, size_t n, const char *default_help,
		      char **ret_text, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	out = open_memstream(&text, &len);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (regs[i])
			write_registry(out, regs[i], default_help ? default_help : "");
	if (ferror(out)) {
		fclose(out);
		free(text);
		return -ENOMEM;
	}
	if (fclose(out) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}
