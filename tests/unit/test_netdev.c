// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_netdev.c - /proc/net/dev: interfaces, error and drop counters, the
 * cap on listed interfaces. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "collection/netdev.h"

static const char *header = "Inter-|   Receive                                                |"
			    "  Transmit\n"
			    " face |bytes    packets errs drop fifo frame compressed multicast|"
			    "bytes    packets errs drop fifo colls carrier compressed\n";

TEST(net_dev_of_6_18_lists_each_interface_with_sixteen_counters)
{
	struct netdev_text t = {};
	char *text = test_fixture("proc-6.18/net/dev");

	CHECK(text);
	CHECK_EQ_INT(netdev_parse(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t.n, 4);
	CHECK_STR(t.ifs[0].name, "lo");
	CHECK_STR(t.ifs[3].name, "eth0");
	/* loopback sends what it receives */
	CHECK_EQ_INT(t.ifs[0].v[NETDEV_RX_BYTES], t.ifs[0].v[NETDEV_TX_BYTES]);
	CHECK(t.ifs[3].v[NETDEV_RX_PACKETS] > 0);
	CHECK_EQ_INT(t.malformed, 0);
	netdev_text_clear(&t);
}

TEST(net_dev_counts_bad_lines_and_reads_the_good_ones)
{
	struct netdev_text t = {};
	char text[2048];

	snprintf(text, sizeof(text),
		 "%s"
		 "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "averyveryverylongname: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "  eth2: 1 2 3\n"
		 "   : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "  eth3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "  eth4: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
		 "  eth5: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
		 header);
	CHECK_EQ_INT(netdev_parse(text, &t), 0);
	CHECK_EQ_INT(t.n, 1);
	CHECK_STR(t.ifs[0].name, "eth1");
	CHECK_EQ_INT(t.ifs[0].v[NETDEV_RX_ERRS], 3);
	CHECK_EQ_INT(t.ifs[0].v[NETDEV_RX_DROP], 4);
	CHECK_EQ_INT(t.ifs[0].v[NETDEV_TX_ERRS], 11);
	CHECK_EQ_INT(t.ifs[0].v[NETDEV_TX_DROP], 12);
	CHECK_EQ_INT(t.malformed, 6);
	CHECK_EQ_INT(netdev_parse("eth0: 1 2\n", &t), -EINVAL);
	CHECK_EQ_INT(netdev_parse("", &t), -EINVAL);
	netdev_text_clear(&t);
}

static int write_tree(char *dir, const char *text)
{
	char path[128];
	FILE *f;

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/net", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/net/dev", dir);
	f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void remove_tree(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/net/dev", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/net", dir);
	rmdir(path);
	rmdir(dir);
}

TEST(sample_lists_interfaces_up_to_the_cap_and_counts_the_rest)
{
	char dir[] = "/tmp/kpulse-test-netdev-XXXXXX", text[2048];
	struct metric_label eth1[] = {{"interface", "eth1"}}, eth2[] = {{"interface", "eth2"}};
	struct registry *r = registry_new();
	const struct metric_series *drop, *unlisted, *other;
	struct netdev *nd = NULL;
	long n = -1;
	int err = -1;

	CHECK(r);
	snprintf(text, sizeof(text),
		 "%s"
		 "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "  eth2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
		 "  eth3: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		 header);
	if (write_tree(dir, text) == 0 && netdev_new(dir, 1, &nd) == 0) {
		registry_begin(r, 0, 1);
		err = netdev_sample(nd, r);
		registry_end(r);
		n = netdev_count(nd);
	}
	remove_tree(dir);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(n, 1);
	CHECK_STR(netdev_name(nd, 0), "eth1");
	CHECK(netdev_name(nd, 1) == NULL);
	drop = registry_find(r, "kpulse_net_tx_dropped_total", eth1, 1);
	CHECK(drop && drop->value == 12);
	other = registry_find(r, "kpulse_net_rx_errors_total", eth2, 1);
	CHECK(!other);
	unlisted = registry_find(r, "kpulse_net_interfaces_unlisted", NULL, 0);
	CHECK(unlisted && unlisted->value == 2);
	/* 4 counters + unlisted + error counter */
	CHECK_EQ_INT(registry_size(r), 6);
	netdev_free(nd);
	registry_free(r);
}

TEST(sample_without_the_file_knows_no_interfaces)
{
	struct registry *r = registry_new();
	struct netdev *nd = NULL;

	CHECK(r);
	CHECK_EQ_INT(netdev_new("/nonexistent-kpulse", 8, &nd), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(netdev_sample(nd, r), 0);
	registry_end(r);
	CHECK_EQ_INT(netdev_count(nd), -ENODATA);
	CHECK_EQ_INT(registry_size(r), 1); /* the error counter */
	CHECK(netdev_free(nd) == NULL);
	CHECK(netdev_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
