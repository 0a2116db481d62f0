// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_psi.c - /proc/pressure files of 6.18, 5.10 (cpu without "full") and
 * 6.1 (irq with only "full"); kernels without PSI. */
#include <errno.h>

#include "test.h"
#include "collection/psi.h"

static double counter(struct registry *r, const char *name)
{
	const struct metric_series *s = registry_find(r, name, NULL, 0);

	return s ? s->value : -1;
}

TEST(pressure_of_6_18_has_some_and_full_totals_in_microseconds)
{
	struct psi_totals t = {};
	char *text = test_fixture("proc-6.18/pressure/io");

	CHECK(text);
	CHECK_EQ_INT(psi_parse(text, &t), 0);
	free(text);
	CHECK(t.has_some && t.has_full);
	CHECK(t.some_us >= t.full_us);
	CHECK_EQ_INT(psi_parse("some avg10=1.00 avg60=2.00 avg300=3.00 total=123456\n"
			       "full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n",
			       &t),
		     0);
	CHECK_EQ_INT(t.some_us, 123456);
	CHECK_EQ_INT(t.full_us, 789);
}

TEST(cpu_pressure_of_5_10_has_no_full_and_irq_of_6_1_only_full)
{
	struct psi_totals t = {};
	char *cpu = test_fixture("pressure-cpu-5.10"), *irq = test_fixture("pressure-irq-6.1");

	CHECK(cpu && irq);
	CHECK_EQ_INT(psi_parse(cpu, &t), 0);
	CHECK(t.has_some && !t.has_full);
	CHECK_EQ_INT(t.some_us, 6013478);
	CHECK_EQ_INT(psi_parse(irq, &t), 0);
	CHECK(!t.has_some && t.has_full);
	CHECK_EQ_INT(t.full_us, 2251);
	free(cpu);
	free(irq);
}

TEST(malformed_or_cut_pressure_lines_are_refused)
{
	struct psi_totals t = {.some_us = 9};

	CHECK_EQ_INT(psi_parse("some avg10=1.00 avg60=2.00 avg300=3.00\n", &t), -EINVAL);
	CHECK_EQ_INT(psi_parse("some avg10=1.00 total=12x\n", &t), -EINVAL);
	CHECK_EQ_INT(psi_parse("some avg10=1.00 total=12", &t), -EINVAL); /* cut */
	CHECK_EQ_INT(psi_parse("", &t), -EINVAL);
	CHECK_EQ_INT(t.some_us, 9);
	/* A good line survives a bad one. */
	CHECK_EQ_INT(psi_parse("some avg10=0 total=5\nfull avg10=0 total=\n", &t), 0);
	CHECK(t.has_some && !t.has_full);
}

TEST(sample_sets_waiting_and_stalled_seconds)
{
	struct registry *r = registry_new();
	struct psi *p = NULL;
	struct psi_totals t;
	char *mem = test_fixture("proc-6.18/pressure/memory");

	CHECK(r && mem);
	CHECK_EQ_INT(psi_parse(mem, &t), 0);
	free(mem);
	CHECK_EQ_INT(psi_new(TEST_FIXTURES "/proc-6.18", &p), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(psi_sample(p, r), 0);
	registry_end(r);
	CHECK_NEAR(counter(r, "kpulse_pressure_memory_waiting_seconds_total"), t.some_us / 1e6,
		   1e-9);
	CHECK_NEAR(counter(r, "kpulse_pressure_memory_stalled_seconds_total"), t.full_us / 1e6,
		   1e-9);
	CHECK(counter(r, "kpulse_pressure_cpu_waiting_seconds_total") >= 0);
	CHECK(counter(r, "kpulse_pressure_io_stalled_seconds_total") >= 0);
	/* no irq file in the capture: no irq series and no error */
	CHECK(!registry_find(r, "kpulse_pressure_irq_stalled_seconds_total", NULL, 0));
	/* 3 files x (2 series + error counter) */
	CHECK_EQ_INT(registry_size(r), 9);
	psi_free(p);
	registry_free(r);
}

TEST(sample_without_psi_sets_nothing)
{
	struct registry *r = registry_new();
	struct psi *p = NULL;

	CHECK(r);
	CHECK_EQ_INT(psi_new("/nonexistent-kpulse", &p), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(psi_sample(p, r), 0);
	registry_end(r);
	CHECK_EQ_INT(registry_size(r), 0);
	CHECK(psi_free(p) == NULL);
	CHECK(psi_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
