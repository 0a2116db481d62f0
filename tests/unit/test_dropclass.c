// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_dropclass.c - lost packets told apart from teardown frees. */
#include "test.h"
#include "collection/dropclass.h"

TEST(teardown_and_unspecified_reasons_are_not_drops)
{
	CHECK_STR(drop_reason_class("QUEUE_PURGE"), "teardown");
	CHECK_STR(drop_reason_class("SOCKET_CLOSE"), "teardown");
	CHECK_STR(drop_reason_class("TCP_CLOSE"), "teardown");
	CHECK_STR(drop_reason_class("UNIX_DISCONNECT"), "teardown");
	CHECK_STR(drop_reason_class("NOT_SPECIFIED"), "unspecified");
}

TEST(losses_and_unknown_reasons_are_drops)
{
	CHECK_STR(drop_reason_class("NETFILTER_DROP"), "drop");
	CHECK_STR(drop_reason_class("SOCKET_RCVBUFF"), "drop");
	CHECK_STR(drop_reason_class("QDISC_DROP"), "drop");
	CHECK_STR(drop_reason_class("NO_SOCKET"), "drop");
	CHECK_STR(drop_reason_class("SOME_FUTURE_REASON"), "drop");
	CHECK_STR(drop_reason_class("4242"), "drop");
	CHECK_STR(drop_reason_class("QUEUE_PURGE_X"), "drop");
	CHECK_STR(drop_reason_class(NULL), "drop");
}

TEST_MAIN()
