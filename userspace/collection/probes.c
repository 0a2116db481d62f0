// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probes.c - loads the four BPF program objects and attaches each
 * tracepoint through the best entry point this kernel accepts.
 *
 * Per object: open, configure read-only data, share the per-process map,
 * choose one entry point per hook by feature probe (only that one is
 * loaded and verified), load; if the kernel refuses the tp_btf programs,
 * load again with raw_tp only. Then attach hook by hook, recording each
 * outcome; a tp_btf program the kernel refuses to attach turns its hook to
 * raw_tp and the object is loaded once more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kpulse_abi.h"
#include "collection/probes.h"
#include "sched.skel.h"
#include "mem.skel.h"
#include "block.skel.h"
#include "net.skel.h"

#define TRACEFS "/sys/kernel/tracing"

/* Test hooks, not user options: load every hook through its raw_tp entry
 * point, as where the kernel refuses tp_btf; time run-queue waits with
 * wakeup stamps, as where the kernel has no sched_info. The kernel tests
 * use them to check that the fallbacks still deliver every metric. */
#define TEST_RAW_TP_ENV	       "KPULSE_TEST_PROBES_RAW_TP"
#define TEST_NO_SCHED_INFO_ENV "KPULSE_TEST_PROBES_NO_SCHED_INFO"

/* ------------------------------------------------------------- the hooks */

struct hook_def {
	enum probe_subsystem subsystem;
	const char *category;
	const char *name;
};

static const struct hook_def hook_defs[] = {
    {PROBE_SCHED, "sched", "sched_switch"},
    {PROBE_SCHED, "sched", "sched_wakeup"},
    {PROBE_SCHED, "sched", "sched_wakeup_new"},
    {PROBE_SCHED, "sched", "sched_process_fork"},
    {PROBE_SCHED, "sched", "sched_process_exec"},
    {PROBE_SCHED, "sched", "sched_process_exit"},
    {PROBE_MEM, "exceptions", "page_fault_user"},
    {PROBE_MEM, "exceptions", "page_fault_kernel"},
    {PROBE_MEM, "vmscan", "mm_vmscan_direct_reclaim_begin"},
    {PROBE_MEM, "vmscan", "mm_vmscan_direct_reclaim_end"},
    {PROBE_MEM, "vmscan", "mm_vmscan_wakeup_kswapd"},
    {PROBE_MEM, "oom", "mark_victim"},
    {PROBE_BLOCK, "block", "block_io_start"},
    {PROBE_BLOCK, "block", "block_rq_insert"},
    {PROBE_BLOCK, "block", "block_rq_issue"},
    {PROBE_BLOCK, "block", "block_rq_complete"},
    {PROBE_BLOCK, "block", "block_io_done"},
    {PROBE_BLOCK, "block", "block_rq_error"},
    {PROBE_NET, "net", "net_dev_xmit"},
    {PROBE_NET, "net", "netif_receive_skb"},
    {PROBE_NET, "tcp", "tcp_retransmit_skb"},
    {PROBE_NET, "tcp", "tcp_retransmit_synack"},
    {PROBE_NET, "tcp", "tcp_send_reset"},
    {PROBE_NET, "tcp", "tcp_receive_reset"},
    {PROBE_NET, "sock", "inet_sock_set_state"},
    {PROBE_NET, "skb", "kfree_skb"},
};

#define HOOK_NR (sizeof(hook_defs) / sizeof(hook_defs[0]))

struct hook {
	struct probe_info info;
	char tracepoint[64];
	bool has_btf; /* vmlinux BTF has btf_trace_<name> */
	bool exists;  /* the tracepoint exists at all */
	/* Use the tp_btf entry point (has_btf, until the kernel refused to
	 * attach it); only the chosen entry point is loaded and verified. */
	bool want_btf;
	struct bpf_link *link;
};

/* ------------------------------------------------------ program objects */

struct subsys_ops {
	const char *name;
	void *(*open)(void);
	int (*load)(void *skel);
	void (*destroy)(void *skel);
	struct bpf_object *(*obj)(void *skel);
};

#define SKEL_OPS(n)                                                                                \
	static void *n##_open(void)                                                                \
	{                                                                                          \
		return kpulse_##n##__open();                                                       \
	}                                                                                          \
	static int n##_load(void *s)                                                               \
	{                                                                                          \
		return kpulse_##n##__load(s);                                                      \
	}                                                                                          \
	static void n##_destroy(void *s)                                                           \
	{                                                                                          \
		kpulse_##n##__destroy(s);                                                          \
	}                                                                                          \
	static struct bpf_object *n##_obj(void *s)                                                 \
	{                                                                                          \
		return ((struct kpulse_##n *)s)->obj;                                              \
	}

SKEL_OPS(sched)
SKEL_OPS(mem)
SKEL_OPS(block)
SKEL_OPS(net)

static const struct subsys_ops subsys_ops[PROBE_SUBSYSTEM_NR] = {
    [PROBE_SCHED] = {"sched", sched_open, sched_load, sched_destroy, sched_obj},
    [PROBE_MEM] = {"mem", mem_open, mem_load, mem_destroy, mem_obj},
    [PROBE_BLOCK] = {"block", block_open, block_load, block_destroy, block_obj},
    [PROBE_NET] = {"net", net_open, net_load, net_destroy, net_obj},
};

struct probes {
	struct hook hooks[HOOK_NR];
	void *skel[PROBE_SUBSYSTEM_NR];
	int proc_stats_fd;
	struct ring_buffer *rb;
	probes_event_fn on_event;
	void *ctx;
	struct probes_options opts;
	bool retransmit_has_err;
	bool has_sched_info; /* task->sched_info.last_queued and cfs_rq->rq in BTF */
	bool use_sched_info; /* for the load being attempted */
};

/* --------------------------------------------------------- libbpf output */

/* libbpf's messages go to stderr only on request; the last warning is
 * kept so a refused load can say why in one line. */
static __thread char libbpf_last_warning[160];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	static int verbose = -1;
	char line[512];
	size_t len;

	if (verbose < 0)
		verbose = getenv("KPULSE_LIBBPF_DEBUG") != NULL;
	if (verbose)
		return vfprintf(stderr, fmt, args);
	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = 0;
	snprintf(libbpf_last_warning, sizeof(libbpf_last_warning), "%s", line);
	return 0;
}

/* ------------------------------------------------------- feature probes */

static bool tracefs_has_event(const char *category, const char *name)
{
	char path[256];
	struct stat st;

	if (stat(TRACEFS "/events", &st) != 0) {
		/* tracefs is not always mounted; mounting it is harmless. */
		if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) != 0)
			return false;
	}
	snprintf(path, sizeof(path), TRACEFS "/events/%s/%s", category, name);
	return stat(path, &st) == 0;
}

/* Number of arguments of a tracepoint's BTF prototype, or -1. */
static int btf_tracepoint_nargs(const struct btf *btf, const char *name)
{
	char tname[128];
	const struct btf_type *t;
	int id;

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	id = btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -1;
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* pointer */
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* func proto */
	if (!t || !btf_is_func_proto(t))
		return -1;
	return btf_vlen(t) - 1; /* the first is the tracepoint's data pointer */
}

static bool btf_struct_has_member(const struct btf *btf, const char *type, const char *member)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_member *m;

	if (!t)
		return false;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);

		if (name && !strcmp(name, member))
			return true;
	}
	return false;
}

static const struct hook *hook_by_name(const struct probes *p, const char *name)
{
	for (size_t i = 0; i < HOOK_NR; i++)
		if (!strcmp(hook_defs[i].name, name))
			return &p->hooks[i];
	return NULL;
}

/* block_io_done (6.5+) ends a request where /proc/diskstats does, and
 * block_rq_error counts errors: with both, block_rq_complete is not needed. */
static bool block_counts_at_io_done(const struct probes *p)
{
	const struct hook *done = hook_by_name(p, "block_io_done");
	const struct hook *error = hook_by_name(p, "block_rq_error");

	return done && done->exists && error && error->exists;
}

/* Some hooks only stand in for a better source this kernel may have. */
static const char *hook_not_needed_reason(const struct probes *p, size_t i)
{
	const struct hook *io_start;

	if (!strncmp(hook_defs[i].name, "sched_wakeup", 12) && p->use_sched_info)
		return "run-queue latency comes from the kernel's sched_info";
	if (!strcmp(hook_defs[i].name, "block_rq_insert")) {
		io_start = hook_by_name(p, "block_io_start");
		if (io_start && io_start->exists)
			return "block_io_start knows the submitter; queue time starts at "
			       "rq->start_time_ns";
	}
	if (!strcmp(hook_defs[i].name, "block_rq_complete") && block_counts_at_io_done(p))
		return "block_io_done counts and times each request where /proc/diskstats "
		       "does; block_rq_error counts errors";
	if ((!strcmp(hook_defs[i].name, "block_io_done") ||
	     !strcmp(hook_defs[i].name, "block_rq_error")) &&
	    !block_counts_at_io_done(p))
		return "block_rq_complete counts and times requests on this kernel";
	return NULL;
}

static bool hook_needed(const struct probes *p, size_t i)
{
	return hook_not_needed_reason(p, i) == NULL;
}

static bool test_hook_set(const char *name)
{
	const char *v = getenv(name);

	return v && strcmp(v, "") != 0 && strcmp(v, "0") != 0;
}

static void detect_features(struct probes *p)
{
	struct btf *btf = btf__load_vmlinux_btf();

	for (size_t i = 0; i < HOOK_NR; i++) {
		struct hook *h = &p->hooks[i];

		h->has_btf = btf && btf_tracepoint_nargs(btf, hook_defs[i].name) >= 0;
		h->want_btf = h->has_btf;
		h->exists =
		    h->has_btf || tracefs_has_event(hook_defs[i].category, hook_defs[i].name);
		if (!h->exists) {
			h->info.state = PROBE_UNSUPPORTED;
			snprintf(h->info.error, sizeof(h->info.error),
				 "tracepoint %s not in this kernel", h->tracepoint);
		}
	}

	p->retransmit_has_err = btf && btf_tracepoint_nargs(btf, "tcp_retransmit_skb") >= 3;
	p->has_sched_info = btf && btf_struct_has_member(btf, "cfs_rq", "rq") &&
			    btf_struct_has_member(btf, "sched_info", "last_queued");
	btf__free(btf);

	if (test_hook_set(TEST_RAW_TP_ENV))
		for (size_t i = 0; i < HOOK_NR; i++)
			p->hooks[i].want_btf = false;
	if (test_hook_set(TEST_NO_SCHED_INFO_ENV))
		p->has_sched_info = false;
}

static const struct hook_def *hook_def_of(const struct probes *p, const struct hook *h)
{
	return &hook_defs[h - p->hooks];
}

static struct bpf_program *find_prog(const struct probes *p, void *skel, enum probe_subsystem s,
				     const struct hook *h, bool btf)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_%s", btf ? "btf" : "raw", hook_def_of(p, h)->name);
	return bpf_object__find_program_by_name(subsys_ops[s].obj(skel), name);
}

/* ------------------------------------------------------------- loading */

static int open_configured(struct probes *p, enum probe_subsystem s, bool allow_btf,
			   void **ret_skel)
{
	const struct subsys_ops *ops = &subsys_ops[s];
	struct bpf_program *prog;
	struct bpf_map *map;
	void *skel;
	int err;

	skel = ops->open();
	if (!skel)
		return -errno ?: -ENOMEM;

	if (s == PROBE_SCHED) {
		((struct kpulse_sched *)skel)->rodata->use_sched_info = p->use_sched_info;
		((struct kpulse_sched *)skel)->rodata->cgroup_hier = p->opts.cgroup_hier;
	}
	if (s == PROBE_BLOCK) {
		((struct kpulse_block *)skel)->rodata->slow_io_ns = p->opts.slow_io_ns;
		((struct kpulse_block *)skel)->rodata->use_io_done = block_counts_at_io_done(p);
	}
	if (s == PROBE_NET)
		((struct kpulse_net *)skel)->rodata->retransmit_has_err = p->retransmit_has_err;

	map = bpf_object__find_map_by_name(ops->obj(skel), "proc_stats");
	if (map && p->proc_stats_fd >= 0) {
		err = bpf_map__reuse_fd(map, p->proc_stats_fd);
		if (err) {
			ops->destroy(skel);
			return err;
		}
	}

	bpf_object__for_each_program (prog, ops->obj(skel))
		bpf_program__set_autoload(prog, false);
	for (size_t i = 0; i < HOOK_NR; i++) {
		struct hook *h = &p->hooks[i];

		if (hook_defs[i].subsystem != s || !h->exists || !hook_needed(p, i))
			continue;
		prog = find_prog(p, skel, s, h, allow_btf && h->want_btf);
		if (prog)
			bpf_program__set_autoload(prog, true);
	}
	*ret_skel = skel;
	return 0;
}

static void mark_subsystem(struct probes *p, enum probe_subsystem s, enum probe_state state,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void mark_subsystem(struct probes *p, enum probe_subsystem s, enum probe_state state,
			   const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < HOOK_NR; i++) {
		struct hook *h = &p->hooks[i];

		if (hook_defs[i].subsystem != s || !h->exists)
			continue;
		h->info.state = state;
		snprintf(h->info.error, sizeof(h->info.error), "%s", msg);
	}
}

static int load_subsystem(struct probes *p, enum probe_subsystem s)
{
	const struct subsys_ops *ops = &subsys_ops[s];
	bool any = false;
	void *skel = NULL;
	int err;

	for (size_t i = 0; i < HOOK_NR; i++)
		any |= hook_defs[i].subsystem == s && p->hooks[i].exists;
	if (!any)
		return -ENOENT;

	/* Typed programs can be refused where raw ones pass (no trampolines,
	 * no task storage), and sched_info reads where wakeup stamps pass:
	 * try the best combination first, then give features up one by one. */
	static const struct {
		bool btf, sched_info;
	} attempts[] = {{true, true}, {true, false}, {false, true}, {false, false}};

	err = -ENOENT;
	for (size_t a = 0; a < sizeof(attempts) / sizeof(attempts[0]); a++) {
		if (s == PROBE_SCHED) {
			if (attempts[a].sched_info && !p->has_sched_info)
				continue;
			p->use_sched_info = attempts[a].sched_info;
		} else if (!attempts[a].sched_info) {
			continue; /* only the scheduler cares */
		}
		err = open_configured(p, s, attempts[a].btf, &skel);
		if (!err)
			err = ops->load(skel);
		if (!err)
			break;
		if (skel)
			ops->destroy(skel);
		skel = NULL;
	}
	if (err) {
		if (skel)
			ops->destroy(skel);
		mark_subsystem(p, s, PROBE_FAILED, "load %s programs: %s%s%s", ops->name,
			       strerror(-err), libbpf_last_warning[0] ? ": " : "",
			       libbpf_last_warning);
		return err;
	}
	p->skel[s] = skel;
	return 0;
}

/* Attaches the loaded entry point of each hook of s. Returns true when a
 * tp_btf program was refused at attach: that hook then wants raw_tp, and
 * the caller loads the object again. */
static bool attach_subsystem(struct probes *p, enum probe_subsystem s)
{
	void *skel = p->skel[s];
	bool retry = false;

	for (size_t i = 0; i < HOOK_NR; i++) {
		struct hook *h = &p->hooks[i];
		struct bpf_program *prog = NULL;
		bool btf = false;
		int err = -ENOENT;

		if (hook_defs[i].subsystem != s || !h->exists)
			continue;
		if (!hook_needed(p, i)) {
			h->info.state = PROBE_NOT_NEEDED;
			snprintf(h->info.error, sizeof(h->info.error), "%s",
				 hook_not_needed_reason(p, i));
			continue;
		}
		for (int b = 1; b >= 0 && !prog; b--) {
			prog = find_prog(p, skel, s, h, b);
			if (prog && !bpf_program__autoload(prog))
				prog = NULL;
			btf = b;
		}
		if (prog) {
			h->link = bpf_program__attach(prog);
			err = h->link ? 0 : -errno;
		}
		if (h->link) {
			h->info.state = PROBE_ATTACHED;
			h->info.attach = btf ? PROBE_ATTACH_TP_BTF : PROBE_ATTACH_RAW_TP;
			h->info.error[0] = 0;
			continue;
		}
		h->info.state = PROBE_FAILED;
		snprintf(h->info.error, sizeof(h->info.error), "attach: %s", strerror(-err));
		if (btf) {
			h->want_btf = false;
			retry = true;
		}
	}
	return retry;
}

static void unload_subsystem(struct probes *p, enum probe_subsystem s)
{
	for (size_t i = 0; i < HOOK_NR; i++) {
		if (hook_defs[i].subsystem != s)
			continue;
		bpf_link__destroy(p->hooks[i].link);
		p->hooks[i].link = NULL;
	}
	subsys_ops[s].destroy(p->skel[s]);
	p->skel[s] = NULL;
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	struct probes *p = ctx;

	if (size >= sizeof(struct kp_event_hdr) && p->on_event)
		p->on_event(p->ctx, data, size);
	return 0;
}

static int open_ring_buffers(struct probes *p)
{
	for (int s = 0; s < PROBE_SUBSYSTEM_NR; s++) {
		int fd = probes_map_fd(p, s, "events");

		if (fd < 0)
			continue;
		if (!p->rb) {
			p->rb = ring_buffer__new(fd, on_ringbuf, p, NULL);
			if (!p->rb)
				return -errno;
		} else if (ring_buffer__add(p->rb, fd, on_ringbuf, p) != 0) {
			return -errno;
		}
	}
	return 0;
}

/* Tracing needs CAP_BPF with CAP_PERFMON (5.8+) or CAP_SYS_ADMIN. */
static bool has_tracing_privilege(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff & (1ULL << 21)) || ((eff & (1ULL << 39)) && (eff & (1ULL << 38)));
}

int probes_open(const struct probes_options *opts, probes_event_fn on_event, void *ctx,
		struct probes **ret)
{
	struct probes *p;
	int err;

	if (!has_tracing_privilege())
		return -EPERM;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	p->on_event = on_event;
	p->ctx = ctx;
	for (size_t i = 0; i < HOOK_NR; i++) {
		struct hook *h = &p->hooks[i];

		snprintf(h->tracepoint, sizeof(h->tracepoint), "%s:%s", hook_defs[i].category,
			 hook_defs[i].name);
		h->info.tracepoint = h->tracepoint;
		h->info.subsystem = hook_defs[i].subsystem;
		h->info.state = PROBE_FAILED;
		h->info.attach = PROBE_ATTACH_NONE;
	}

	libbpf_set_print(libbpf_print);
	detect_features(p);

	p->proc_stats_fd = bpf_map_create(BPF_MAP_TYPE_LRU_PERCPU_HASH, "proc_stats", sizeof(__u32),
					  sizeof(struct kp_proc_stat), KP_PROC_MAX_ENTRIES, NULL);
	if (p->proc_stats_fd < 0) {
		err = -errno;
		probes_close(p);
		return err == -EPERM ? -EPERM : err;
	}

	for (int s = 0; s < PROBE_SUBSYSTEM_NR; s++) {
		/* Each pass turns at least one hook from tp_btf to raw_tp, so
		 * this ends after at most one pass per hook. */
		for (size_t pass = 0; pass <= HOOK_NR; pass++) {
			libbpf_last_warning[0] = 0;
			if (load_subsystem(p, s) != 0 || !attach_subsystem(p, s))
				break;
			unload_subsystem(p, s);
		}
	}
	if (!probes_attached(p)) {
		probes_close(p);
		return -ENOENT;
	}
	err = open_ring_buffers(p);
	if (err) {
		probes_close(p);
		return err;
	}
	*ret = p;
	return 0;
}

struct probes *probes_close(struct probes *p)
{
	if (!p)
		return NULL;
	ring_buffer__free(p->rb);
	for (size_t i = 0; i < HOOK_NR; i++)
		bpf_link__destroy(p->hooks[i].link);
	for (int s = 0; s < PROBE_SUBSYSTEM_NR; s++)
		if (p->skel[s])
			subsys_ops[s].destroy(p->skel[s]);
	if (p->proc_stats_fd >= 0)
		close(p->proc_stats_fd);
	free(p);
	return NULL;
}

size_t probes_count(const struct probes *p)
{
	return HOOK_NR;
}

const struct probe_info *probes_at(const struct probes *p, size_t i)
{
	return i < HOOK_NR ? &p->hooks[i].info : NULL;
}

size_t probes_attached(const struct probes *p)
{
	size_t n = 0;

	for (size_t i = 0; i < HOOK_NR; i++)
		n += p->hooks[i].info.state == PROBE_ATTACHED;
	return n;
}

const char *probe_subsystem_name(enum probe_subsystem s)
{
	return s < PROBE_SUBSYSTEM_NR ? subsys_ops[s].name : "?";
}

const char *probe_state_name(enum probe_state s)
{
	switch (s) {
	case PROBE_ATTACHED:
		return "attached";
	case PROBE_FAILED:
		return "failed";
	case PROBE_UNSUPPORTED:
		return "unsupported";
	case PROBE_NOT_NEEDED:
		return "not-needed";
	}
	return "?";
}

const char *probe_attach_name(enum probe_attach a)
{
	switch (a) {
	case PROBE_ATTACH_TP_BTF:
		return "tp_btf";
	case PROBE_ATTACH_RAW_TP:
		return "raw_tp";
	case PROBE_ATTACH_NONE:
		break;
	}
	return "-";
}

int probes_poll_events(struct probes *p, int timeout_ms)
{
	int n, m;

	if (!p->rb)
		return 0;
	n = ring_buffer__poll(p->rb, timeout_ms);
	if (n < 0)
		return n;
	/* Producers skip the wakeup until a buffer is half full (see
	 * event_submit()), so poll() may return with records waiting. */
	m = ring_buffer__consume(p->rb);
	return m < 0 ? m : n + m;
}

int probes_map_fd(const struct probes *p, enum probe_subsystem s, const char *map_name)
{
	struct bpf_map *map;

	if (s >= PROBE_SUBSYSTEM_NR || !p->skel[s])
		return -1;
	map = bpf_object__find_map_by_name(subsys_ops[s].obj(p->skel[s]), map_name);
	return map ? bpf_map__fd(map) : -1;
}

int probes_proc_stats_fd(const struct probes *p)
{
	return p->proc_stats_fd;
}

bool probes_subsystem_loaded(const struct probes *p, enum probe_subsystem s)
{
	return s < PROBE_SUBSYSTEM_NR && p->skel[s];
}

size_t probes_prog_ids(const struct probes *p, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < HOOK_NR; i++) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (!p->hooks[i].link || n >= max)
			continue;
		if (bpf_obj_get_info_by_fd(bpf_link__fd(p->hooks[i].link), &info, &len) == 0)
			ids[n++] = info.prog_id;
	}
	return n;
}

uint32_t probes_prog_id(const struct probes *p, size_t i)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (i >= HOOK_NR || !p->hooks[i].link ||
	    bpf_obj_get_info_by_fd(bpf_link__fd(p->hooks[i].link), &info, &len) != 0)
		return 0;
	return info.prog_id;
}
