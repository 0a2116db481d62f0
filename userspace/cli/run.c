// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * run.c - `kpulse run`: the daemon. Loads the probes, collects a round
 * every interval into the registry, adds its own health series, and hands
 * snapshots and events to the store, whose writer thread keeps them in
 * SQLite. Each finished round is also published to the REST API (a copy:
 * HTTP clients never touch the live registry or slow the loop down).
 * SIGTERM / SIGINT stop collection, flush everything buffered and exit 0;
 * SIGHUP re-reads the configuration that can change at run time.
 *
 * Configuration, lowest precedence first: built-in defaults, the .env
 * file (--env-file, or ./.env when present), KPULSE_* environment
 * variables, command-line flags. Every option is in util/config.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "api/server.h"
#include "cli/cli.h"
#include "collection/collector.h"
#include "daemon/round.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/version.h"

extern char **environ;

#define MAX_FLAGS 64

struct run_args {
	const char *env_file;
	bool env_file_given;
	char flags[MAX_FLAGS][40]; /* "--interval": errors then name the flag */
	const char *values[MAX_FLAGS];
	size_t n;
};

static volatile sig_atomic_t reload_requested;

static void on_sighup(int sig)
{
	reload_requested = 1;
}

static void run_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: kpulse run [--env-file PATH] [OPTIONS]\n"
	    "\n"
	    "Run the daemon in the foreground: collect every interval and keep\n"
	    "history in SQLite under the data directory. SIGTERM or SIGINT stop it\n"
	    "after everything collected is written; SIGHUP reloads the log level,\n"
	    "log format and top-K.\n"
	    "\n"
	    "  --env-file PATH   read KPULSE_* settings from PATH (default ./.env if present)\n");
	for (int i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_option *o = &config_options[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s %s", o->flag, o->value_name);
		fprintf(out, "  %-32s %s (%s, default %s)\n", flag, o->help, o->env,
			o->default_value);
	}
	fprintf(out, "  -h, --help                       this text\n");
}

/* Collects the flags without applying them: they go on top of .env and
 * the environment, which are read after the --env-file flag is known. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	struct option longopts[CONFIG_KEY_COUNT + 3] = {};
	int opt, idx;

	for (int i = 0; i < CONFIG_KEY_COUNT; i++)
		longopts[i] =
		    (struct option){config_options[i].flag, required_argument, NULL, 1000 + i};
	longopts[CONFIG_KEY_COUNT] = (struct option){"env-file", required_argument, NULL, 'e'};
	longopts[CONFIG_KEY_COUNT + 1] = (struct option){"help", no_argument, NULL, 'h'};

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, &idx)) != -1) {
		if (opt == 'h') {
			run_usage(stdout);
			return 1;
		}
		if (opt == 'e') {
			a->env_file = optarg;
			a->env_file_given = true;
			continue;
		}
		if (opt >= 1000 && opt < 1000 + CONFIG_KEY_COUNT && a->n < MAX_FLAGS) {
			snprintf(a->flags[a->n], sizeof(a->flags[0]), "--%s",
				 config_options[opt - 1000].flag);
			a->values[a->n++] = optarg;
			continue;
		}
		fprintf(stderr, "kpulse run: unknown or incomplete option '%s' (try --help)\n",
			argv[optind - 1]);
		return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse run: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Defaults, then .env, then the environment, then the flags. */
static int load_config(const struct run_args *a, struct kpulse_config *c, char *err, size_t len)
{
	const char *env_file = a->env_file_given ? a->env_file : ".env";
	struct kpulse_config tmp;
	int r;

	config_defaults(&tmp);
	r = config_load_env_file(&tmp, env_file, a->env_file_given, err, len);
	if (r)
		return r;
	r = config_load_environ(&tmp, environ, err, len);
	if (r)
		return r;
	for (size_t i = 0; i < a->n; i++) {
		r = config_set(&tmp, a->flags[i], a->values[i], err, len);
		if (r)
			return r;
	}
	*c = tmp;
	return 0;
}

static double now_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The daemon's own health, in the same round as the kernel's series. */
static int add_health(struct registry *r, struct store *s)
{
	struct store_stats st;
	int err = 0;

	store_get_stats(s, &st);
	err |= registry_set_counter(r, "kpulse_store_samples_written_total", NULL, 0,
				    st.samples_written);
	err |= registry_set_counter(r, "kpulse_store_samples_dropped_total", NULL, 0,
				    st.samples_dropped);
	err |= registry_set_counter(r, "kpulse_store_samples_rejected_total", NULL, 0,
				    st.samples_rejected);
	err |= registry_set_gauge(r, "kpulse_store_samples_buffered", NULL, 0, st.samples_buffered);
	err |= registry_set_counter(r, "kpulse_store_events_written_total", NULL, 0,
				    st.events_written);
	err |= registry_set_counter(r, "kpulse_store_events_dropped_total", NULL, 0,
				    st.events_dropped);
	err |= registry_set_counter(r, "kpulse_store_write_errors_total", NULL, 0, st.write_errors);
	err |= registry_set_gauge(r, "kpulse_store_write_latency_seconds", NULL, 0,
				  st.last_flush_latency_s);
	err |= registry_set_gauge(r, "kpulse_store_db_size_bytes", NULL, 0, st.db_size_bytes);
	err |= registry_set_gauge(r, "kpulse_store_writable", NULL, 0,
				  st.consecutive_failures == 0 ? 1 : 0);
	return err ? -ENOMEM : 0;
}

static void store_events(struct store *s, json_t *events, uint64_t *rejected)
{
	size_t i;
	json_t *ev;

	json_array_foreach (events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *comm = json_string_value(json_object_get(ev, "comm"));
		double ts = json_number_value(json_object_get(ev, "timestamp"));
		json_int_t pid = json_integer_value(json_object_get(ev, "pid"));

		if (!type || store_append_event(s, ts, type, (int32_t)pid, comm ? comm : "", ev))
			(*rejected)++;
	}
}

/* Logs the moments the store starts failing, fails differently, and
 * recovers: one line each, not one per round. */
static void log_store_health(struct store *s, int *last_error)
{
	struct store_stats st;
	int now_error;

	store_get_stats(s, &st);
	now_error = st.consecutive_failures ? st.last_error : 0;
	if (now_error == *last_error)
		return;
	if (now_error)
		log_error("store: writes failing (%s); buffering %llu samples in memory",
			  st.last_error_text, (unsigned long long)st.samples_buffered);
	else
		log_info("store: writing again; nothing buffered was lost (%llu samples dropped "
			 "in all beyond the buffer bound)",
			 (unsigned long long)st.samples_dropped);
	*last_error = now_error;
}

static void reload(const struct run_args *a, struct kpulse_config *cur, struct collector *col)
{
	struct kpulse_config next;
	char err[512];

	if (load_config(a, &next, err, sizeof(err))) {
		log_error("reload: %s; keeping the running configuration", err);
		return;
	}
	log_set_level(next.log_level);
	log_set_format(next.log_format);
	collector_set_top_k(col, next.top_k);
	if (next.interval_s != cur->interval_s || strcmp(next.data_dir, cur->data_dir) ||
	    next.slow_io_ms != cur->slow_io_ms || next.flush_interval_s != cur->flush_interval_s ||
	    next.retention_raw_s != cur->retention_raw_s ||
	    next.retention_1m_s != cur->retention_1m_s ||
	    next.retention_1h_s != cur->retention_1h_s ||
	    next.retention_events_s != cur->retention_events_s ||
	    next.buffer_max_samples != cur->buffer_max_samples ||
	    strcmp(next.listen, cur->listen) || next.metrics_auth != cur->metrics_auth ||
	    next.token_ttl_s != cur->token_ttl_s || strcmp(next.jwt_secret, cur->jwt_secret) ||
	    next.allow_remote_unauthenticated != cur->allow_remote_unauthenticated ||
	    next.api_max_connections != cur->api_max_connections ||
	    next.api_max_body_bytes != cur->api_max_body_bytes ||
	    next.api_rate_limit != cur->api_rate_limit ||
	    next.custom_max_series != cur->custom_max_series)
		log_warn("reload: interval, data dir, slow-I/O threshold, flush interval, "
			 "retention, buffer size, listen address and API settings change only on "
			 "restart");
	cur->log_level = next.log_level;
	cur->log_format = next.log_format;
	cur->top_k = next.top_k;
	log_info("reload: log level %s, log format %s, top-k %u", log_level_name(next.log_level),
		 log_format_name(next.log_format), next.top_k);
}

/* Opens the users database (creating `admin` on first start when a
 * password is configured) and starts the HTTP server. Logs its failure. */
static int start_api(const struct kpulse_config *cfg, struct store *store, struct auth **ret_auth,
		     struct api **ret_api)
{
	struct auth_options aopts;
	struct api_options o;
	struct auth *auth = NULL;
	char err[512];
	int r;

	auth_options_default(&aopts);
	aopts.token_ttl_s = cfg->token_ttl_s;
	aopts.jwt_secret = cfg->jwt_secret[0] ? cfg->jwt_secret : NULL;
	r = auth_open(cfg->data_dir, &aopts, &auth, err, sizeof(err));
	if (r) {
		log_error("auth %s: %s", cfg->data_dir, err);
		return r;
	}
	if (cfg->admin_password[0]) {
		r = auth_ensure_admin(auth, cfg->admin_password);
		if (r) {
			log_error("auth: cannot create the admin user: %s", strerror(-r));
			auth_close(auth);
			return r;
		}
	}
	/* An API nobody can log in to is worth one line at start. */
	json_t *users = NULL;

	if (auth_user_list(auth, &users) == 0 && json_array_size(users) == 0)
		log_warn("API: no users yet; /api/v1 needs a token. Create one with `kpulse user "
			 "add NAME --role admin`, or set KPULSE_ADMIN_PASSWORD for user admin");
	json_decref(users);

	api_options_default(&o);
	o.listen_host = cfg->listen_host;
	o.listen_port = cfg->listen_port;
	o.metrics_auth = cfg->metrics_auth;
	o.allow_remote_unauthenticated = cfg->allow_remote_unauthenticated;
	o.max_connections = cfg->api_max_connections;
	o.max_body_bytes = cfg->api_max_body_bytes;
	o.rate_limit = cfg->api_rate_limit;
	o.custom_max_series = cfg->custom_max_series;
	o.interval_s = cfg->interval_s;
	o.version = KPULSE_VERSION;
	/* "" is unset; api_start() checks the pair and reads the files. */
	o.tls_cert_file = cfg->tls_cert;
	o.tls_key_file = cfg->tls_key;
	if (!api_host_is_loopback(cfg->listen_host) && !cfg->metrics_auth &&
	    cfg->allow_remote_unauthenticated)
		log_warn("API: listening on %s with /metrics and /healthz open to anyone who can "
			 "reach it (KPULSE_ALLOW_REMOTE_UNAUTHENTICATED)",
			 cfg->listen);
	r = api_start(&o, store, auth, ret_api, err, sizeof(err));
	if (r) {
		log_error("API %s: %s", cfg->listen, err);
		auth_close(auth);
		return r;
	}
	*ret_auth = auth;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_args args = {};
	struct kpulse_config cfg;
	struct store_options sopts;
	struct collector_options copts = {};
	struct collector *col = NULL;
	struct registry *reg = NULL;
	struct store *store = NULL;
	struct auth *auth = NULL;
	struct api *api = NULL;
	char err[512], db_path[PATH_MAX];
	uint64_t events_rejected = 0, round_seq = 0;
	double next, last_round;
	int r, status = 0, last_store_error = 0;

	r = parse_args(argc, argv, &args);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (load_config(&args, &cfg, err, sizeof(err))) {
		fprintf(stderr, "kpulse run: %s\n", err);
		return EXIT_USAGE;
	}
	log_set_level(cfg.log_level);
	log_set_format(cfg.log_format);

	/* Before anything slow, so a stop during start-up is a clean one. */
	cli_install_stop_signals();
	struct sigaction sa = {.sa_handler = on_sighup};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);

	if (mkdir(cfg.data_dir, 0750) != 0 && errno != EEXIST) {
		log_error("data dir %s: cannot create it: %s", cfg.data_dir, strerror(errno));
		return 1;
	}
	if (snprintf(db_path, sizeof(db_path), "%s/%s", cfg.data_dir, STORE_DB_FILENAME) >=
	    (int)sizeof(db_path)) {
		log_error("data dir %s: path too long", cfg.data_dir);
		return EXIT_USAGE;
	}

	store_options_default(&sopts);
	sopts.flush_interval_s = cfg.flush_interval_s;
	sopts.max_buffered_samples = cfg.buffer_max_samples;
	sopts.retention_raw_s = cfg.retention_raw_s;
	sopts.retention_1m_s = cfg.retention_1m_s;
	sopts.retention_1h_s = cfg.retention_1h_s;
	sopts.retention_events_s = cfg.retention_events_s;
	r = store_open(db_path, &sopts, &store, err, sizeof(err));
	if (r) {
		log_error("store %s: %s", db_path, err);
		return 1;
	}

	copts.top_k = cfg.top_k;
	copts.slow_io_ns = (uint64_t)cfg.slow_io_ms * 1000000;
	r = collector_new(&copts, &col);
	if (r) {
		status = cli_report_start_error("run", r);
		goto cleanup;
	}
	reg = registry_new();
	if (!reg) {
		log_error("out of memory");
		status = 1;
		goto cleanup;
	}
	for (size_t i = 0; i < probes_count(collector_probes(col)); i++) {
		const struct probe_info *pi = probes_at(collector_probes(col), i);

		if (pi->state == PROBE_FAILED)
			log_warn("probe %s: %s", pi->tracepoint, pi->error);
	}

	r = start_api(&cfg, store, &auth, &api);
	if (r) {
		status = r == -EINVAL || r == -EPERM ? EXIT_USAGE : 1;
		goto cleanup;
	}
	api_set_probes(api, probes_attached(collector_probes(col)),
		       probes_count(collector_probes(col)));

	log_info("API listening on %s://%s", cfg.tls_cert[0] ? "https" : "http", cfg.listen);
	log_info("kpulse running: %zu probes attached, interval %gs, data in %s",
		 probes_attached(collector_probes(col)), cfg.interval_s, db_path);

	last_round = now_s(CLOCK_MONOTONIC);
	next = last_round + cfg.interval_s;
	while (!cli_stop) {
		double left = next - now_s(CLOCK_MONOTONIC), mono;
		struct round *round;
		json_t *events;

		if (reload_requested) {
			reload_requested = 0;
			reload(&args, &cfg, col);
		}
		if (left > 0) {
			int ms = (int)ceil(left * 1000);

			r = collector_poll(col, ms > 100 ? 100 : ms);
			if (r < 0 && r != -EINTR)
				log_warn("reading events: %s", strerror(-r));
			continue;
		}
		collector_poll(col, 0);
		mono = now_s(CLOCK_MONOTONIC);
		registry_begin(reg, now_s(CLOCK_REALTIME), mono - last_round);
		last_round = mono;
		r = collector_collect(col, reg);
		r |= add_health(reg, store);
		registry_set_counter(reg, "kpulse_store_events_rejected_total", NULL, 0,
				     events_rejected);
		registry_end(reg);
		if (r)
			log_warn("collection round incomplete: out of memory");
		if (store_append_snapshot(store, reg) == -ENOBUFS)
			log_debug("store buffer full: samples dropped (counted)");
		events = collector_take_events(col);
		if (events)
			store_events(store, events, &events_rejected);
		/* the round takes the events */
		round = round_freeze(reg, events, ++round_seq);
		if (!round || api_on_round(api, round))
			log_warn("API: round not published: out of memory");
		round_unref(round);
		log_store_health(store, &last_store_error);

		/* A round that ran late does not make the next ones bunch up. */
		next += cfg.interval_s;
		if (next < now_s(CLOCK_MONOTONIC))
			next = now_s(CLOCK_MONOTONIC) + cfg.interval_s;
	}

	log_info("stopping (signal %d): flushing what was collected", (int)cli_stop);
	r = store_flush_sync(store);
	if (r)
		log_warn("final flush failed: %s; retrying for up to %g s", strerror(-r),
			 sopts.close_timeout_s);
cleanup:
	/* The API first: its handlers read the store and auth. */
	api_stop(api);
	auth_close(auth);
	collector_free(col);
	registry_free(reg);
	if (store) {
		uint64_t lost_samples = 0, lost_events = 0;

		store_close_report(store, &lost_samples, &lost_events);
		if (lost_samples || lost_events) {
			log_error(
			    "store: %llu samples and %llu events could not be written and are "
			    "lost",
			    (unsigned long long)lost_samples, (unsigned long long)lost_events);
			status = 1;
		}
	}
	if (!status)
		log_info("stopped cleanly");
	return status;
}
