// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * collector.c - reads the kernel-side aggregates into the registry.
 *
 * Per-CPU maps are summed over CPUs here; histograms stay log2 slots and
 * are scaled to seconds on export. Per-process rows are ranked by what
 * each process did during the last interval: the top K per metric become
 * labelled series, the rest accumulate into an "other processes" counter
 * so that the rows add up without unbounded labels.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kpulse_abi.h"
#include "collection/collector.h"
#include "collection/dropclass.h"
#include "collection/cgroups.h"
#include "collection/events.h"
#include "collection/procfs.h"
#include "collection/procpass.h"
#include "collection/procs.h"
#include "util/utf8.h"

struct drop_reason_name {
	uint32_t value;
	char name[48];
};

struct collector {
	struct collector_options opts;
	struct probes *probes;
	struct procpass *procpass; /* /proc counters; the devices and interfaces that exist */
	uint32_t netns_ino;	   /* kpulse's network namespace, as the BPF keys name it */
	int ncpus;
	json_t *events;
	uint64_t events_discarded;
	uint64_t event_counts[KP_EV_TYPE_MAX];
	uint64_t events_malformed;
	double mono_offset_s;
	double last_round_mono;

	struct cgroups *cgroups; /* per-cgroup series; the cgroup of processes and events */
	struct procs *procs;	 /* per-process series, bounded */
	json_t *processes;	 /* the busiest pids of the last round */

	struct drop_reason_name *reasons;
	size_t nreasons;
	const struct registry *described; /* the registry that has our help texts */

	/* Block device names by dev_t: sysfs is read once per device, not
	 * every round. Bounded; a full table resolves without caching. */
	struct {
		uint32_t dev;
		char name[32];
	} devnames[64];
	size_t ndevnames;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A cgroup's directory name may hold any bytes: escaped as labels are. */
static void set_cgroup(json_t *ev, const char *path)
{
	char text[REGISTRY_LABEL_VALUE_MAX * 4];

	utf8_sanitize(text, sizeof(text), path, strlen(path), NULL);
	json_object_set_new(ev, "cgroup", json_string(text));
}

/* Process events carry their cgroup's id; the event names its path. Slow
 * I/Os and OOM kills name the cgroup their process is in when read. */
static void event_add_cgroup(struct collector *c, json_t *ev, const void *data, size_t size)
{
	const struct kp_event_hdr *h = data;
	const struct kp_event_proc *p = data;
	char path[REGISTRY_LABEL_VALUE_MAX * 4];

	if (!c->cgroups)
		return;
	/* Rare events about a process: its cgroup now, while it is there. */
	if (h->type == KP_EV_SLOW_IO || h->type == KP_EV_OOM_KILL) {
		if (h->pid && cgroups_pid_path(c->cgroups, h->pid, path, sizeof(path)) == 0)
			set_cgroup(ev, path);
		return;
	}
	if (h->type != KP_EV_EXEC && h->type != KP_EV_FORK && h->type != KP_EV_EXIT)
		return;
	if (size < sizeof(*p) || !p->cgroup_id ||
	    cgroups_path_of_id(c->cgroups, p->cgroup_id, path, sizeof(path)))
		return;
	set_cgroup(ev, path);
}

static void on_event(void *ctx, const void *data, size_t size)
{
	struct collector *c = ctx;
	const struct kp_event_hdr *h = data;
	json_t *ev;

	if (h->type < KP_EV_TYPE_MAX)
		c->event_counts[h->type]++;
	if (c->procs)
		procs_note_event(c->procs, data, size);
	if (c->procs && (h->type == KP_EV_EXEC || h->type == KP_EV_FORK || h->type == KP_EV_EXIT) &&
	    size >= sizeof(struct kp_event_proc))
		procs_note_cgroup(c->procs, h->pid,
				  ((const struct kp_event_proc *)data)->cgroup_id);
	if (json_array_size(c->events) >= c->opts.max_events) {
		c->events_discarded++;
		return;
	}
	ev = event_to_json(data, size, c->mono_offset_s);
	if (!ev) {
		c->events_malformed++;
		return;
	}
	event_add_cgroup(c, ev, data, size);
	json_array_append_new(c->events, ev);
}

/* Drop reasons are an enum whose values change between kernels: take
 * their names from this kernel's BTF. */
static void load_drop_reason_names(struct collector *c)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	const struct btf_enum *e;
	const char *prefix = "SKB_DROP_REASON_";
	int id;

	if (!btf)
		return;
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (t && btf_vlen(t)) {
		c->reasons = calloc(btf_vlen(t), sizeof(*c->reasons));
		e = btf_enum(t);
		for (int i = 0; c->reasons && i < btf_vlen(t); i++) {
			const char *name = btf__name_by_offset(btf, e[i].name_off);

			if (!name)
				continue;
			if (!strncmp(name, prefix, strlen(prefix)))
				name += strlen(prefix);
			c->reasons[c->nreasons].value = (uint32_t)e[i].val;
			snprintf(c->reasons[c->nreasons].name, sizeof(c->reasons[0].name), "%s",
				 name);
			c->nreasons++;
		}
	}
	btf__free(btf);
}

static void drop_reason_name(const struct collector *c, uint32_t value, char *buf, size_t len)
{
	for (size_t i = 0; i < c->nreasons; i++) {
		if (c->reasons[i].value == value) {
			snprintf(buf, len, "%s", c->reasons[i].name);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu32, value);
}

/* The attached programs, for their run time in kpulse_bpf_program_*. */
static int set_program_names(struct collector *c)
{
	size_t n = probes_count(c->probes), k = 0;
	struct self_program *progs = calloc(n ? n : 1, sizeof(*progs));
	int err;

	if (!progs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct probe_info *pi = probes_at(c->probes, i);

		if (pi->state != PROBE_ATTACHED)
			continue;
		progs[k++] = (struct self_program){pi->tracepoint, probe_attach_name(pi->attach),
						   probes_prog_id(c->probes, i)};
	}
	err = procpass_set_programs(c->procpass, progs, k);
	free(progs);
	return err;
}

int collector_new(const struct collector_options *opts, struct collector **ret)
{
	struct probes_options popts = {.slow_io_ns = opts->slow_io_ns};
	struct collector *c;
	struct stat st;
	int err;
	enum cgroups_mode cgm;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	if (!c->opts.top_k)
		c->opts.top_k = COLLECTOR_DEFAULT_TOP_K;
	if (!c->opts.max_events)
		c->opts.max_events = COLLECTOR_DEFAULT_MAX_EVENTS;
	c->ncpus = libbpf_num_possible_cpus();
	c->events = json_array();
	c->mono_offset_s = clock_s(CLOCK_REALTIME) - clock_s(CLOCK_MONOTONIC);
	if (c->ncpus <= 0 || !c->events) {
		err = c->ncpus <= 0 ? c->ncpus : -ENOMEM;
		collector_free(c);
		return err;
	}
	err = cgroups_new(opts->cgroups, c->opts.top_k, &c->cgroups);
	if (err) {
		collector_free(c);
		return err;
	}
	cgm = cgroups_mode(c->cgroups);
	popts.cgroup_hier = cgm == CGROUPS_V2	? KP_CGROUP_HIER_V2
			    : cgm == CGROUPS_V1 ? KP_CGROUP_HIER_V1_CPUACCT
						: KP_CGROUP_HIER_NONE;
	err = probes_open(&popts, on_event, c, &c->probes);
	if (!err)
		err = procpass_new(&opts->proc, &c->procpass);
	if (!err)
		err = procs_new(c->probes, c->cgroups, c->ncpus, c->opts.top_k,
				c->opts.per_pid_series, &c->procs);
	if (!err)
		err = set_program_names(c);
	if (err) {
		collector_free(c);
		return err;
	}
	load_drop_reason_names(c);
	if (stat("/proc/self/ns/net", &st) == 0)
		c->netns_ino = (uint32_t)st.st_ino;
	c->last_round_mono = clock_s(CLOCK_MONOTONIC);
	*ret = c;
	return 0;
}

struct collector *collector_free(struct collector *c)
{
	if (!c)
		return NULL;
	probes_close(c->probes);
	procpass_free(c->procpass);
	json_decref(c->events);
	procs_free(c->procs);
	cgroups_free(c->cgroups);
	json_decref(c->processes);
	free(c->reasons);
	free(c);
	return NULL;
}

const struct probes *collector_probes(const struct collector *c)
{
	return c->probes;
}

int collector_poll(struct collector *c, int timeout_ms)
{
	return probes_poll_events(c->probes, timeout_ms);
}

json_t *collector_take_events(struct collector *c)
{
	json_t *out = c->events;

	c->events = json_array();
	if (!c->events) {
		c->events = out;
		return NULL;
	}
	return out;
}

/* --------------------------------------------------------- map readers */

/* Reads one per-CPU entry: ncpus copies of value_size bytes each,
 * rounded up to 8 as the kernel lays them out. */
static void *percpu_lookup(const struct collector *c, int fd, const void *key, size_t value_size)
{
	size_t stride = (value_size + 7) & ~(size_t)7;
	void *vals = calloc(c->ncpus, stride);

	if (vals && bpf_map_lookup_elem(fd, key, vals) != 0) {
		free(vals);
		return NULL;
	}
	return vals;
}

#define PERCPU_AT(vals, type, cpu)                                                                 \
	((const type *)((const char *)(vals) + (size_t)(cpu) * ((sizeof(type) + 7) & ~(size_t)7)))

static void hist_sum_into(struct kp_hist *dst, const struct kp_hist *src)
{
	for (int i = 0; i < KP_HIST_SLOTS; i++)
		dst->slots[i] += src->slots[i];
	dst->count += src->count;
	dst->sum += src->sum;
}

/* Kernel ns histogram -> registry series in seconds. */
static int set_hist_ns(struct registry *r, const char *name, const struct metric_label *l,
		       size_t nl, const struct kp_hist *h)
{
	uint64_t slots[REGISTRY_HIST_SLOTS] = {};

	for (int i = 0; i < KP_HIST_SLOTS && i < REGISTRY_HIST_SLOTS; i++)
		slots[i] = h->slots[i];
	return registry_set_histogram(r, name, l, nl, slots, h->count, (double)h->sum, 1e-9);
}

static int set_counter0(struct registry *r, const char *name, double v)
{
	return registry_set_counter(r, name, NULL, 0, v);
}

static int set_counter1(struct registry *r, const char *name, const char *k, const char *val,
			double v)
{
	struct metric_label l[] = {{k, val}};

	return registry_set_counter(r, name, l, 1, v);
}

static int sample_sched(struct collector *c, struct registry *r)
{
	int fd = probes_map_fd(c->probes, PROBE_SCHED, "sched_cpu");
	uint64_t counters[KP_SCHED_COUNTER_NR] = {};
	struct kp_hist runq = {};
	uint32_t zero = 0;
	void *vals;
	int err = 0;

	if (fd < 0)
		return 0;
	vals = percpu_lookup(c, fd, &zero, sizeof(struct kp_sched_cpu));
	if (!vals)
		return 0;
	for (int cpu = 0; cpu < c->ncpus; cpu++) {
		const struct kp_sched_cpu *s = PERCPU_AT(vals, struct kp_sched_cpu, cpu);
		char cpubuf[16];

		for (int i = 0; i < KP_SCHED_COUNTER_NR; i++)
			counters[i] += s->counters[i];
		for (int i = 0; i < KP_HIST_SLOTS; i++)
			runq.slots[i] += s->runq_slots[i];
		runq.count += s->runq_count;
		runq.sum += s->runq_sum_ns;
		snprintf(cpubuf, sizeof(cpubuf), "%d", cpu);
		err |= set_counter1(r, "kpulse_sched_cpu_busy_seconds_total", "cpu", cpubuf,
				    s->busy_ns / 1e9);
	}
	free(vals);
	err |= set_counter1(r, "kpulse_sched_context_switches_total", "kind", "voluntary",
			    counters[KP_SCHED_CSW_VOLUNTARY]);
	err |= set_counter1(r, "kpulse_sched_context_switches_total", "kind", "involuntary",
			    counters[KP_SCHED_CSW_INVOLUNTARY]);
	err |= set_counter0(r, "kpulse_sched_processes_forked_total", counters[KP_SCHED_FORKS]);
	err |= set_counter0(r, "kpulse_sched_processes_exec_total", counters[KP_SCHED_EXECS]);
	err |= set_counter0(r, "kpulse_sched_processes_exited_total", counters[KP_SCHED_EXITS]);
	err |=
	    set_counter0(r, "kpulse_sched_unseen_switches_total", counters[KP_SCHED_UNSEEN_RUNS]);
	err |= set_hist_ns(r, "kpulse_sched_runqueue_latency_seconds", NULL, 0, &runq);
	return err ? -ENOMEM : 0;
}

static int sample_mem(struct collector *c, struct registry *r)
{
	int fd = probes_map_fd(c->probes, PROBE_MEM, "mem_cpu");
	uint64_t counters[KP_MEM_COUNTER_NR] = {};
	struct kp_hist reclaim = {};
	uint32_t zero = 0;
	void *vals;
	int err = 0;

	if (fd >= 0 && (vals = percpu_lookup(c, fd, &zero, sizeof(struct kp_mem_cpu)))) {
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			const struct kp_mem_cpu *m = PERCPU_AT(vals, struct kp_mem_cpu, cpu);

			for (int i = 0; i < KP_MEM_COUNTER_NR; i++)
				counters[i] += m->counters[i];
			hist_sum_into(&reclaim, &m->direct_reclaim_latency);
		}
		free(vals);
		err |= set_counter1(r, "kpulse_mem_exception_page_faults_total", "mode", "user",
				    counters[KP_MEM_PGFAULT_USER]);
		err |= set_counter1(r, "kpulse_mem_exception_page_faults_total", "mode", "kernel",
				    counters[KP_MEM_PGFAULT_KERNEL]);
		err |= set_counter0(r, "kpulse_mem_direct_reclaim_total",
				    counters[KP_MEM_DIRECT_RECLAIM]);
		err |= set_counter0(r, "kpulse_mem_kswapd_wakeups_total",
				    counters[KP_MEM_KSWAPD_WAKEUPS]);
		err |= set_counter0(r, "kpulse_mem_oom_kills_total", counters[KP_MEM_OOM_KILLS]);
		err |=
		    set_hist_ns(r, "kpulse_mem_direct_reclaim_latency_seconds", NULL, 0, &reclaim);
	}
	return err ? -ENOMEM : 0;
}

static void devname_of(struct collector *c, uint32_t dev, char *buf, size_t len)
{
	for (size_t i = 0; i < c->ndevnames; i++) {
		if (c->devnames[i].dev == dev) {
			snprintf(buf, len, "%s", c->devnames[i].name);
			return;
		}
	}
	/* Only a name that resolved is kept: a missing one is retried. */
	if (procfs_block_devname(KP_DEV_MAJOR(dev), KP_DEV_MINOR(dev), buf, len) == 0 &&
	    c->ndevnames < sizeof(c->devnames) / sizeof(c->devnames[0])) {
		c->devnames[c->ndevnames].dev = dev;
		snprintf(c->devnames[c->ndevnames].name, sizeof(c->devnames[0].name), "%s", buf);
		c->ndevnames++;
	}
}

static const char *blk_op_names[KP_BLK_OP_NR] = {"read", "write", "discard", "other"};

/* The BPF-side series of one device. A zeroed total gives a device that
 * has done no I/O since the probes attached its series from the first
 * round. */
static int emit_block_device(struct registry *r, const char *dev,
			     const struct kp_blk_dev_stat *total)
{
	struct metric_label d[] = {{"device", dev}};
	int err = 0;

	for (int i = 0; i < KP_BLK_OP_NR; i++) {
		struct metric_label l[] = {{"device", dev}, {"op", blk_op_names[i]}};

		if (i == KP_BLK_OP_OTHER && !total->ios[i])
			continue;
		err |= registry_set_counter(r, "kpulse_block_ios_completed_total", l, 2,
					    total->ios[i]);
		err |= registry_set_counter(r, "kpulse_block_bytes_total", l, 2, total->bytes[i]);
		err |= set_hist_ns(r, "kpulse_block_io_latency_seconds", l, 2, &total->latency[i]);
		err |=
		    set_hist_ns(r, "kpulse_block_queue_time_seconds", l, 2, &total->queue_time[i]);
	}
	err |= registry_set_counter(r, "kpulse_block_io_errors_total", d, 1, total->errors);
	return err;
}

static void blk_dev_stat_add(struct kp_blk_dev_stat *total, const struct kp_blk_dev_stat *s)
{
	for (int i = 0; i < KP_BLK_OP_NR; i++) {
		total->ios[i] += s->ios[i];
		total->bytes[i] += s->bytes[i];
		hist_sum_into(&total->latency[i], &s->latency[i]);
		hist_sum_into(&total->queue_time[i], &s->queue_time[i]);
	}
	total->errors += s->errors;
}

struct blk_dev_total {
	uint32_t dev;
	struct kp_blk_dev_stat total;
};

/* The entry of dev in devs (added, zeroed, when new); NULL at the cap or
 * out of memory. */
static struct blk_dev_total *blk_dev_total_of(struct blk_dev_total **devs, size_t *n, uint32_t dev)
{
	struct blk_dev_total *grown;

	for (size_t i = 0; i < *n; i++)
		if ((*devs)[i].dev == dev)
			return &(*devs)[i];
	if (*n >= 4096)
		return NULL;
	grown = realloc(*devs, (*n + 1) * sizeof(**devs));
	if (!grown)
		return NULL;
	*devs = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	grown[*n].dev = dev;
	return &grown[(*n)++];
}

/* A device's stats are in its per-CPU slot of blk_dev_slots on the CPUs
 * where it holds one, in blk_dev_stats elsewhere: both summed per device. */
static int read_block_totals(struct collector *c, struct blk_dev_total **ret_devs, size_t *ret_n)
{
	int fd = probes_map_fd(c->probes, PROBE_BLOCK, "blk_dev_stats");
	int slots_fd = probes_map_fd(c->probes, PROBE_BLOCK, "blk_dev_slots");
	int used_fd = probes_map_fd(c->probes, PROBE_BLOCK, "blk_dev_slot_used");
	struct kp_blk_dev_slot_used used = {};
	struct blk_dev_total *devs = NULL, *t;
	uint32_t key, next, *prev = NULL, zero = 0;
	size_t n = 0;
	int guard = 0;
	void *vals;

	while (fd >= 0 && bpf_map_get_next_key(fd, prev, &next) == 0 && guard++ < 4096) {
		key = next;
		prev = &key;
		vals = percpu_lookup(c, fd, &key, sizeof(struct kp_blk_dev_stat));
		if (!vals)
			continue;
		t = blk_dev_total_of(&devs, &n, key);
		for (int cpu = 0; t && cpu < c->ncpus; cpu++)
			blk_dev_stat_add(&t->total, PERCPU_AT(vals, struct kp_blk_dev_stat, cpu));
		free(vals);
		if (!t)
			goto nomem;
	}
	if (slots_fd >= 0 && used_fd >= 0 && bpf_map_lookup_elem(used_fd, &zero, &used) == 0) {
		for (uint32_t i = 0; i < KP_BLK_DEV_SLOTS; i++) {
			if (!used.dev[i])
				continue;
			vals = percpu_lookup(c, slots_fd, &i, sizeof(struct kp_blk_dev_slot));
			if (!vals)
				continue;
			for (int cpu = 0; cpu < c->ncpus; cpu++) {
				const struct kp_blk_dev_slot *s =
				    PERCPU_AT(vals, struct kp_blk_dev_slot, cpu);

				if (!s->dev)
					continue;
				t = blk_dev_total_of(&devs, &n, s->dev);
				if (!t) {
					free(vals);
					goto nomem;
				}
				blk_dev_stat_add(&t->total, &s->stat);
			}
			free(vals);
		}
	}
	*ret_devs = devs;
	*ret_n = n;
	return 0;
nomem:
	free(devs);
	return -ENOMEM;
}

/*
 * Every device /proc/diskstats lists gets its series, zero until the maps
 * have an entry. Devices of the maps the pass does not list (removed, a
 * loop device unbound, beyond the cap) are left out, so their series go;
 * those it never saw (hidden multipath paths) are kept.
 */
static int sample_block(struct collector *c, struct registry *r)
{
	static const struct kp_blk_dev_stat zero_total;
	const struct diskstats_listed *devs = NULL;
	struct blk_dev_total *totals = NULL;
	size_t ndevs = 0, ntotals = 0;
	int err = 0;

	if (probes_map_fd(c->probes, PROBE_BLOCK, "blk_dev_stats") < 0)
		return 0;
	if (procpass_block_devices(c->procpass, &devs, &ndevs))
		ndevs = 0;
	/* First the zeros; a device the maps know is set again below. */
	for (size_t i = 0; i < ndevs; i++)
		err |= emit_block_device(r, devs[i].name, &zero_total);
	if (read_block_totals(c, &totals, &ntotals))
		return -ENOMEM;
	for (size_t i = 0; i < ntotals; i++) {
		const char *listed = NULL;
		char dev[32];

		switch (procpass_block_device_state(c->procpass, totals[i].dev, &listed)) {
		case DISKSTATS_UNLISTED:
		case DISKSTATS_GONE:
			continue;
		case DISKSTATS_LISTED:
		case DISKSTATS_UNKNOWN:
			break;
		}
		if (listed)
			snprintf(dev, sizeof(dev), "%s", listed);
		else
			devname_of(c, totals[i].dev, dev, sizeof(dev));
		err |= emit_block_device(r, dev, &totals[i].total);
	}
	free(totals);
	err |= set_counter0(r, "kpulse_block_slow_ios_total", c->event_counts[KP_EV_SLOW_IO]);
	return err ? -ENOMEM : 0;
}

struct iface_total {
	char name[KP_IFNAME_LEN];
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

static bool iface_listed(const struct collector *c, const char *name)
{
	long n = procpass_interface_count(c->procpass);

	for (long i = 0; i < n; i++)
		if (!strncmp(procpass_interface(c->procpass, i), name, KP_IFNAME_LEN))
			return true;
	return false;
}

/* An interface of kpulse's own namespace that /proc/net/dev no longer
 * lists (deleted, or beyond the cap) loses its series. Other namespaces
 * cannot be checked from here and keep theirs. */
static bool iface_gone(const struct collector *c, const struct kp_iface_key *key, const void *vals)
{
	if (key->netns_ino != c->netns_ino || procpass_interface_count(c->procpass) < 0)
		return false;
	for (int cpu = 0; cpu < c->ncpus; cpu++) {
		const struct kp_iface_stat *s = PERCPU_AT(vals, struct kp_iface_stat, cpu);

		if (s->name[0])
			return !iface_listed(c, s->name);
	}
	return false;
}

/* Interfaces of /proc/net/dev without map entry yet get zero totals. */
static int add_listed_ifaces(const struct collector *c, struct iface_total **ifs, size_t *nifs)
{
	long n = procpass_interface_count(c->procpass);

	for (long i = 0; i < n; i++) {
		const char *name = procpass_interface(c->procpass, i);
		struct iface_total *grown;
		bool have = false;

		for (size_t j = 0; j < *nifs && !have; j++)
			have = !strncmp((*ifs)[j].name, name, KP_IFNAME_LEN);
		if (have)
			continue;
		grown = realloc(*ifs, (*nifs + 1) * sizeof(**ifs));
		if (!grown)
			return -ENOMEM;
		*ifs = grown;
		memset(&grown[*nifs], 0, sizeof(grown[0]));
		snprintf(grown[*nifs].name, KP_IFNAME_LEN, "%s", name);
		(*nifs)++;
	}
	return 0;
}

static int sample_net(struct collector *c, struct registry *r)
{
	static const struct {
		const char *name;
		int idx;
	} tcp_counters[] = {
	    {"kpulse_net_tcp_retransmitted_segments_total", KP_NET_TCP_RETRANS_SEGS},
	    {"kpulse_net_tcp_synack_retransmits_total", KP_NET_TCP_SYNACK_RETRANS},
	    {"kpulse_net_tcp_resets_sent_total", KP_NET_TCP_RST_SENT},
	    {"kpulse_net_tcp_resets_received_total", KP_NET_TCP_RST_RECEIVED},
	    {"kpulse_net_tcp_connections_opened_total", KP_NET_TCP_CONNECTS},
	    {"kpulse_net_tcp_connections_closed_total", KP_NET_TCP_CLOSES},
	};
	struct iface_total *ifs = NULL;
	size_t nifs = 0;
	struct kp_iface_key ikey, inext, *iprev = NULL;
	uint32_t rkey, rnext, *rprev = NULL;
	int fd, err = 0, guard = 0;

	if (!probes_subsystem_loaded(c->probes, PROBE_NET))
		return 0;

	/* Interfaces: summed by name, the label /proc/net/dev shows. */
	fd = probes_map_fd(c->probes, PROBE_NET, "iface_stats");
	while (fd >= 0 && bpf_map_get_next_key(fd, iprev, &inext) == 0 && guard++ < 8192) {
		struct iface_total *t = NULL;
		void *vals;

		ikey = inext;
		iprev = &ikey;
		vals = percpu_lookup(c, fd, &ikey, sizeof(struct kp_iface_stat));
		if (!vals)
			continue;
		if (iface_gone(c, &ikey, vals)) {
			free(vals);
			continue;
		}
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			const struct kp_iface_stat *s = PERCPU_AT(vals, struct kp_iface_stat, cpu);

			if (!t && s->name[0]) {
				for (size_t i = 0; i < nifs && !t; i++)
					if (!strncmp(ifs[i].name, s->name, KP_IFNAME_LEN))
						t = &ifs[i];
				if (!t) {
					struct iface_total *n =
					    realloc(ifs, (nifs + 1) * sizeof(*ifs));

					if (!n)
						break;
					ifs = n;
					t = &ifs[nifs++];
					memset(t, 0, sizeof(*t));
					memcpy(t->name, s->name, KP_IFNAME_LEN);
					t->name[KP_IFNAME_LEN - 1] = 0;
				}
			}
		}
		for (int cpu = 0; t && cpu < c->ncpus; cpu++) {
			const struct kp_iface_stat *s = PERCPU_AT(vals, struct kp_iface_stat, cpu);

			t->rx_packets += s->rx_packets;
			t->rx_bytes += s->rx_bytes;
			t->tx_packets += s->tx_packets;
			t->tx_bytes += s->tx_bytes;
		}
		free(vals);
	}
	if (fd >= 0)
		err |= add_listed_ifaces(c, &ifs, &nifs);
	for (size_t i = 0; i < nifs; i++) {
		const char *n = ifs[i].name;

		err |= set_counter1(r, "kpulse_net_rx_packets_total", "interface", n,
				    ifs[i].rx_packets);
		err |=
		    set_counter1(r, "kpulse_net_rx_bytes_total", "interface", n, ifs[i].rx_bytes);
		err |= set_counter1(r, "kpulse_net_tx_packets_total", "interface", n,
				    ifs[i].tx_packets);
		err |=
		    set_counter1(r, "kpulse_net_tx_bytes_total", "interface", n, ifs[i].tx_bytes);
	}
	free(ifs);

	fd = probes_map_fd(c->probes, PROBE_NET, "net_counters");
	for (size_t i = 0; fd >= 0 && i < sizeof(tcp_counters) / sizeof(tcp_counters[0]); i++) {
		uint32_t k = tcp_counters[i].idx;
		uint64_t *vals = percpu_lookup(c, fd, &k, sizeof(uint64_t)), sum = 0;

		if (!vals)
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			sum += vals[cpu];
		free(vals);
		err |= set_counter0(r, tcp_counters[i].name, sum);
	}

	fd = probes_map_fd(c->probes, PROBE_NET, "drop_reasons");
	guard = 0;
	while (fd >= 0 && bpf_map_get_next_key(fd, rprev, &rnext) == 0 && guard++ < 4096) {
		uint64_t *vals, sum = 0;
		struct metric_label l[2];
		const char *class;
		char name[48];

		rkey = rnext;
		rprev = &rkey;
		vals = percpu_lookup(c, fd, &rkey, sizeof(uint64_t));
		if (!vals)
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			sum += vals[cpu];
		free(vals);
		drop_reason_name(c, rkey, name, sizeof(name));
		class = drop_reason_class(name);
		l[0] = (struct metric_label){"class", class};
		l[1] = (struct metric_label){"reason", name};
		err |= registry_set_counter(r, "kpulse_net_skb_frees_total", l, 2, sum);
		/* Only lost packets are drops (dropclass.h). */
		if (!strcmp(class, "drop"))
			err |=
			    set_counter1(r, "kpulse_net_packet_drops_total", "reason", name, sum);
	}
	return err ? -ENOMEM : 0;
}

/* ------------------------------------------------------------ kpulse */

static int sample_self(struct collector *c, struct registry *r)
{
	int err = 0;

	for (int s = 0; s < PROBE_SUBSYSTEM_NR; s++) {
		int fd = probes_map_fd(c->probes, s, "events_dropped");
		uint64_t *vals, sum = 0;
		uint32_t zero = 0;

		if (fd < 0)
			continue;
		vals = percpu_lookup(c, fd, &zero, sizeof(uint64_t));
		if (!vals)
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			sum += vals[cpu];
		free(vals);
		err |= set_counter1(r, "kpulse_events_dropped_total", "subsystem",
				    probe_subsystem_name(s), sum);
	}
	err |= set_counter1(r, "kpulse_events_dropped_total", "subsystem", "userspace",
			    c->events_discarded + c->events_malformed);
	for (int t = 1; t < KP_EV_TYPE_MAX; t++)
		err |= set_counter1(r, "kpulse_events_total", "type", event_type_name(t),
				    c->event_counts[t]);
	for (size_t i = 0; i < probes_count(c->probes); i++) {
		const struct probe_info *pi = probes_at(c->probes, i);
		struct metric_label l[] = {{"probe", pi->tracepoint},
					   {"attach", probe_attach_name(pi->attach)}};

		if (pi->state == PROBE_NOT_NEEDED)
			continue;
		err |= registry_set_gauge(r, "kpulse_probe_up", l, 2,
					  pi->state == PROBE_ATTACHED ? 1 : 0);
	}
	return err ? -ENOMEM : 0;
}

void collector_set_top_k(struct collector *c, unsigned top_k)
{
	if (!top_k)
		return;
	c->opts.top_k = top_k;
	procs_set_top_k(c->procs, top_k);
	cgroups_set_top_k(c->cgroups, top_k);
}

void collector_set_per_pid_series(struct collector *c, bool per_pid)
{
	c->opts.per_pid_series = per_pid;
	procs_set_per_pid(c->procs, per_pid);
}

json_t *collector_take_processes(struct collector *c)
{
	json_t *out = c->processes;

	c->processes = NULL;
	return out;
}

static int sample_processes(struct collector *c, struct registry *r)
{
	int err = procs_sample(c->procs, r);

	json_decref(c->processes);
	c->processes = procs_take_json(c->procs);
	return err;
}

int collector_sample(struct collector *c, struct registry *r)
{
	double now_mono = clock_s(CLOCK_MONOTONIC);
	int err;

	c->mono_offset_s = clock_s(CLOCK_REALTIME) - now_mono;
	registry_begin(r, now_mono + c->mono_offset_s, now_mono - c->last_round_mono);
	c->last_round_mono = now_mono;
	err = collector_collect(c, r);
	registry_end(r);
	return err;
}

/* HELP texts for the Prometheus exposition and the text table. */
static const struct {
	const char *name, *help;
} metric_help[] = {
    {"kpulse_sched_context_switches_total",
     "Context switches (prev != next), as ctxt in /proc/stat"},
    {"kpulse_sched_runqueue_latency_seconds", "Time from becoming runnable to running"},
    {"kpulse_sched_cpu_busy_seconds_total", "Time each CPU ran non-idle tasks"},
    {"kpulse_sched_process_cpu_seconds_total",
     "On-CPU time of the busiest processes (by name and cgroup, or by pid)"},
    {"kpulse_sched_other_processes_cpu_seconds_total", "On-CPU time of all other processes"},
    {"kpulse_sched_process_runqueue_seconds_total", "Run-queue wait of the busiest processes"},
    {"kpulse_sched_other_processes_runqueue_seconds_total",
     "Run-queue wait of all other processes"},
    {"kpulse_sched_processes_forked_total", "New processes (not threads)"},
    {"kpulse_sched_processes_exec_total", "Successful execs"},
    {"kpulse_sched_processes_exited_total", "Processes (thread groups) that exited"},
    {"kpulse_sched_unseen_switches_total",
     "Switches the kernel made without the sched_switch tracepoint (seen afterwards)"},
    {"kpulse_mem_exception_page_faults_total",
     "Page faults taken through the CPU exception (x86 exceptions:page_fault_*)"},
    {"kpulse_mem_process_page_faults_total", "Page faults of the busiest processes"},
    {"kpulse_mem_other_processes_page_faults_total", "Page faults of all other processes"},
    {"kpulse_mem_direct_reclaim_total", "Direct-reclaim stalls"},
    {"kpulse_mem_direct_reclaim_latency_seconds", "Duration of direct-reclaim stalls"},
    {"kpulse_mem_kswapd_wakeups_total", "kswapd wakeups"},
    {"kpulse_mem_oom_kills_total", "OOM kills"},
    {"kpulse_block_ios_completed_total", "Completed block I/Os, as in /proc/diskstats"},
    {"kpulse_block_bytes_total", "Bytes completed by block I/O"},
    {"kpulse_block_io_errors_total", "Block I/Os completed with an error"},
    {"kpulse_block_io_latency_seconds",
     "Block I/O latency, issue to done (where /proc/diskstats ends its time)"},
    {"kpulse_block_queue_time_seconds", "Block I/O queue time, start (rq->start_time_ns) to issue"},
    {"kpulse_block_slow_ios_total", "Block I/Os slower than the slow-I/O threshold"},
    {"kpulse_block_process_io_bytes_total", "Block I/O bytes of the busiest processes"},
    {"kpulse_cgroup_cpu_seconds_total", "On-CPU time of the busiest cgroups"},
    {"kpulse_cgroup_runqueue_seconds_total", "Run-queue wait of the busiest cgroups"},
    {"kpulse_cgroup_memory_bytes",
     "Memory charged to the cgroup (memory.current or memory.usage_in_bytes)"},
    {"kpulse_cgroup_io_bytes_total",
     "Block I/O bytes of the cgroup (io.stat, or its processes' bytes)"},
    {"kpulse_cgroup_page_faults_total", "Page faults of the cgroup's processes"},
    {"kpulse_cgroup_oom_kills_total", "OOM kills in the cgroup (its memory.events / oom_control)"},
    {"kpulse_block_other_processes_io_bytes_total", "Block I/O bytes of all other processes"},
    {"kpulse_net_rx_packets_total", "Packets received, as in /proc/net/dev"},
    {"kpulse_net_rx_bytes_total", "Bytes received, as in /proc/net/dev"},
    {"kpulse_net_tx_packets_total", "Packets sent, as in /proc/net/dev"},
    {"kpulse_net_tx_bytes_total", "Bytes sent, as in /proc/net/dev"},
    {"kpulse_net_tcp_retransmitted_segments_total", "TCP segments retransmitted (RetransSegs)"},
    {"kpulse_net_tcp_synack_retransmits_total", "SYN-ACKs retransmitted"},
    {"kpulse_net_tcp_resets_sent_total", "TCP resets sent"},
    {"kpulse_net_tcp_resets_received_total", "TCP resets received"},
    {"kpulse_net_tcp_connections_opened_total", "Active TCP opens that reached ESTABLISHED"},
    {"kpulse_net_tcp_connections_closed_total", "Tracked TCP connections that closed"},
    {"kpulse_net_packet_drops_total",
     "Packets lost: skb:kfree_skb with a drop reason of class drop (not teardown)"},
    {"kpulse_net_skb_frees_total",
     "Packets freed with a drop reason (skb:kfree_skb), by reason and class "
     "(drop / teardown / unspecified)"},
    {"kpulse_events_total", "Events received from the BPF ring buffers"},
    {"kpulse_events_dropped_total",
     "Events lost: failed ring-buffer reservations, or not buffered"},
    {"kpulse_probe_up", "1 when the probe is attached, 0 when it failed"},
};

int collector_collect(struct collector *c, struct registry *r)
{
	int err = 0;

	/* Once per registry: help texts outlive rounds. */
	if (c->described != r) {
		for (size_t i = 0; i < sizeof(metric_help) / sizeof(metric_help[0]); i++)
			registry_describe(r, metric_help[i].name, metric_help[i].help);
		c->described = r;
	}

	/* First: the block and network samplers ask it what exists. */
	err |= procpass_collect(c->procpass, r);
	err |= sample_sched(c, r);
	err |= sample_mem(c, r);
	err |= sample_block(c, r);
	err |= sample_net(c, r);
	err |= sample_processes(c, r);
	err |= cgroups_sample(c->cgroups, c->probes, c->ncpus, r);
	err |= sample_self(c, r);
	return err ? -ENOMEM : 0;
}
