// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_evquota.c - the per-type bound on stored events. */
#include "test.h"
#include "daemon/evquota.h"

TEST(a_burst_passes_then_the_rate_holds_per_type)
{
	struct evquota q;
	int passed = 0;

	evquota_init(&q, 100, 10); /* bucket of 1000 */
	for (int i = 0; i < 5000; i++)
		passed += evquota_take(&q, "fork", 1000.0);
	CHECK(passed == 1000);
	CHECK(evquota_unstored(&q, KP_EV_FORK) == 4000);
	/* another type has its own bucket */
	CHECK(evquota_take(&q, "exit", 1000.0));
	CHECK(evquota_unstored(&q, KP_EV_EXIT) == 0);
	/* 2.5 s later: 250 more */
	passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += evquota_take(&q, "fork", 1002.5);
	CHECK(passed == 250);
	CHECK(evquota_unstored(&q, KP_EV_FORK) == 4750);
}

TEST(a_long_quiet_spell_refills_only_to_the_burst)
{
	struct evquota q;
	int passed = 0;

	evquota_init(&q, 10, 10);
	CHECK(evquota_take(&q, "exec", 50.0));
	for (int i = 0; i < 1000; i++)
		passed += evquota_take(&q, "exec", 1e6);
	CHECK(passed == 100);
}

TEST(a_clock_stepping_back_refuses_no_more)
{
	struct evquota q;
	int passed = 0;

	evquota_init(&q, 10, 1);
	for (int i = 0; i < 10; i++)
		CHECK(evquota_take(&q, "slow_io", 500.0));
	CHECK(!evquota_take(&q, "slow_io", 500.0));
	/* back 100 s, then forward 1 s past the old time: 10 more, not fewer */
	CHECK(!evquota_take(&q, "slow_io", 400.0));
	for (int i = 0; i < 20; i++)
		passed += evquota_take(&q, "slow_io", 501.0);
	CHECK(passed == 10);
}

TEST(rate_zero_and_unknown_types_store_everything)
{
	struct evquota q;

	evquota_init(&q, 0, 10);
	for (int i = 0; i < 100000; i++)
		CHECK(evquota_take(&q, "fork", 1.0));
	evquota_init(&q, 1, 1);
	for (int i = 0; i < 100; i++)
		CHECK(evquota_take(&q, "not_a_type", 1.0));
	CHECK(evquota_unstored(&q, KP_EV_TYPE_MAX) == 0);
}

TEST_MAIN()
