// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon.c - the daemon's start and stop order, its signals and reload,
 * the round loop, and the two built-in sinks (store and API). See
 * daemon.h for the contract.
 *
 * The round loop only collects, freezes and hands out: everything that
 * can be slow (SQLite, HTTP clients, models) happens on a sink's thread.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "auth/auth.h"
#include "collection/collector.h"
#include "daemon/daemon.h"
#include "daemon/datadir.h"
#include "daemon/health.h"
#include "daemon/privs.h"
#include "daemon/round.h"
#include "daemon/sink.h"
#include "export/remote_write.h"
#include "models/threshold.h"
#include "alerts/alerts.h"
#include "analysis/incidents.h"
#include "llm/llm.h"
#include "models/models.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/version.h"

#define EXIT_USAGE 2
/* Sinks the daemon can run at once. */
#define DAEMON_MAX_SINKS 16
/* Test hook: a sink that takes this many milliseconds per round, to show
 * that a slow sink does not delay collection. Not a user option. */
#define TEST_SLOW_SINK_ENV "KPULSE_TEST_SLOW_SINK_MS"

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t stop_signal, reload_requested;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void on_sighup(int sig)
{
	reload_requested = 1;
}

/* The handlers only set flags; the loop polls with a short timeout. */
static void install_signals(void)
{
	struct sigaction stop = {.sa_handler = on_stop_signal}, hup = {.sa_handler = on_sighup};

	sigemptyset(&stop.sa_mask);
	sigemptyset(&hup.sa_mask);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGHUP, &hup, NULL);
}

/* ------------------------------------------------------------ state */

struct daemon {
	struct kpulse_config cfg;
	daemon_config_loader reload;
	void *reload_ctx;

	struct store *store;
	struct collector *col;
	struct registry *reg; /* the live registry; only the loop touches it */
	struct auth *auth;
	struct api *api;
	struct threshold_tracker *predict; /* time-to-threshold predictions */
	struct models *models;		   /* NULL when KPULSE_MODELS=off */
	struct llm_router *llm;		   /* the LLM providers (none configured: 0 of them) */
	struct alerts *alerts;		   /* alert delivery */
	struct incidents *incidents;	   /* NULL when KPULSE_INCIDENTS=off */
	struct remote_write *rw;	   /* NULL without KPULSE_REMOTE_WRITE_URL */
	struct sink *sinks[DAEMON_MAX_SINKS];
	size_t nsinks;
	unsigned test_sink_delay_ms;
	int lock_fd; /* the data dir's lock, held until exit */

	/* events the store refused, counted by the store sink's thread */
	atomic_uint_fast64_t events_rejected;
	/* rounds not collected because the loop ran an interval or more late
	 * (the round thread or the whole machine stalled) */
	uint64_t rounds_skipped;
	/* rounds handed to the sinks, and the time of the last (logged at
	 * stop, so that what was collected can be checked against what was
	 * stored) */
	uint64_t rounds;
	double last_round_ts;
	struct evquota events_quota; /* events the store is given, per type */
};

/* ------------------------------------------------------------ built-in sinks */

/* The store: the round's series and events go into its bounded buffer,
 * which its writer thread commits. */
static void store_sink_round(void *ctx, struct round *r)
{
	struct daemon *d = ctx;
	size_t i;
	json_t *ev;

	if (store_append_snapshot(d->store, r->reg) == -ENOBUFS)
		log_debug("store buffer full: samples dropped (counted)");
	json_array_foreach (r->events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *comm = json_string_value(json_object_get(ev, "comm"));
		double ts = json_number_value(json_object_get(ev, "timestamp"));
		json_int_t pid = json_integer_value(json_object_get(ev, "pid"));

		if (type && !evquota_take(&d->events_quota, type, r->timestamp))
			continue;
		if (!type ||
		    store_append_event(d->store, ts, type, (int32_t)pid, comm ? comm : "", ev))
			atomic_fetch_add(&d->events_rejected, 1);
	}
}

static const struct sink_ops store_sink_ops = {
    .name = "store",
    .on_round = store_sink_round,
    .drain_on_stop = true,
};

/* The API: handlers and stream clients get the round without a copy. */
static void api_sink_round(void *ctx, struct round *r)
{
	struct daemon *d = ctx;

	if (api_on_round(d->api, r))
		log_warn("API: round %llu not published: out of memory",
			 (unsigned long long)r->seq);
}

static const struct sink_ops api_sink_ops = {.name = "api", .on_round = api_sink_round};

/* Time-to-threshold predictions: filesystems, memory, swap and configured
 * limits, refitted as rounds arrive; the API serves what they publish. */
static void predict_sink_round(void *ctx, struct round *r)
{
	threshold_tracker_observe(ctx, r->reg, r->timestamp);
}

static const struct sink_ops predict_sink_ops = {.name = "predict", .on_round = predict_sink_round};

static void test_sink_round(void *ctx, struct round *r)
{
	struct daemon *d = ctx;

	clock_sleep_s(d->test_sink_delay_ms / 1000.0);
}

static const struct sink_ops test_sink_ops = {.name = "test_slow", .on_round = test_sink_round};

static int add_sink(struct daemon *d, const struct sink_ops *ops, void *ctx)
{
	int r;

	if (d->nsinks == DAEMON_MAX_SINKS)
		return -ENOSPC;
	r = sink_start(ops, ctx, 0, &d->sinks[d->nsinks]);
	if (r) {
		log_error("sink %s: cannot start: %s", ops->name, strerror(-r));
		return r;
	}
	d->nsinks++;
	return 0;
}

/* ------------------------------------------------------------ start */

static int open_store(struct daemon *d, char *db_path, size_t len)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct store_options sopts;
	char err[512];
	int r;

	pid_t holder;

	/* Private before the store creates its files, locked before it
	 * writes a byte. */
	if (datadir_prepare(cfg->data_dir, err, sizeof(err))) {
		log_error("data dir %s: %s", cfg->data_dir, err);
		return 1;
	}
	d->lock_fd = datadir_lock(cfg->data_dir, &holder, err, sizeof(err));
	if (d->lock_fd < 0) {
		log_error("data dir %s: %s%s", cfg->data_dir, err,
			  d->lock_fd == -EBUSY ? "; stop it first, or give this one another "
						 "--data-dir"
					       : "");
		return 1;
	}
	if (snprintf(db_path, len, "%s/%s", cfg->data_dir, STORE_DB_FILENAME) >= (int)len) {
		log_error("data dir %s: path too long", cfg->data_dir);
		return EXIT_USAGE;
	}
	store_options_default(&sopts);
	sopts.flush_interval_s = cfg->flush_interval_s;
	sopts.max_buffered_samples = cfg->buffer_max_samples;
	sopts.retention_raw_s = cfg->retention_raw_s;
	sopts.retention_1m_s = cfg->retention_1m_s;
	sopts.retention_1h_s = cfg->retention_1h_s;
	sopts.retention_events_s = cfg->retention_events_s;
	sopts.max_bytes = cfg->store_max_bytes;
	r = store_open(db_path, &sopts, &d->store, err, sizeof(err));
	if (r) {
		log_error("store %s: %s", db_path, err);
		return 1;
	}
	return 0;
}

static int start_collector(struct daemon *d)
{
	struct collector_options copts = {
	    .top_k = d->cfg.top_k,
	    .per_pid_series = d->cfg.process_series_by_pid,
	    .cgroups = (enum cgroups_mode)d->cfg.cgroups,
	    .slow_io_ns = (uint64_t)d->cfg.slow_io_ms * 1000000,
	    .proc =
		{
		    .fs_types_include = d->cfg.fs_types_include,
		    .fs_types_exclude = d->cfg.fs_types_exclude,
		    .fs_mount_exclude = d->cfg.fs_mount_exclude,
		    .max_filesystems = d->cfg.max_filesystems,
		    .max_interfaces = d->cfg.max_interfaces,
		    .max_block_devices = d->cfg.max_block_devices,
		    .tcp_states_interval_s = d->cfg.tcp_states_interval_s,
		},
	};
	const struct probes *p;
	int r;

	r = collector_new(&copts, &d->col);
	if (r == -EPERM) {
		log_error("loading BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
			  "run it as root");
		return 1;
	}
	if (r == -ENOENT) {
		log_error("no probe could attach on this kernel; `kpulse probes` shows why");
		return 1;
	}
	if (r) {
		log_error("cannot load the probes: %s", strerror(-r));
		return 1;
	}
	p = collector_probes(d->col);
	for (size_t i = 0; i < probes_count(p); i++) {
		const struct probe_info *pi = probes_at(p, i);

		if (pi->state == PROBE_FAILED)
			log_warn("probe %s: %s", pi->tracepoint, pi->error);
	}
	d->reg = registry_new();
	if (!d->reg || health_describe(d->reg)) {
		log_error("out of memory");
		return 1;
	}
	return 0;
}

/* Opens the users database (creating `admin` on first start when a
 * password is configured) and starts the HTTP server. */
static int start_api(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct auth_options aopts;
	struct api_options o;
	json_t *users = NULL;
	char err[512];
	int r;

	auth_options_default(&aopts);
	aopts.token_ttl_s = cfg->token_ttl_s;
	aopts.jwt_secret = cfg->jwt_secret[0] ? cfg->jwt_secret : NULL;
	r = auth_open(cfg->data_dir, &aopts, &d->auth, err, sizeof(err));
	if (r) {
		log_error("auth %s: %s", cfg->data_dir, err);
		return r;
	}
	if (cfg->admin_password[0]) {
		r = auth_ensure_admin(d->auth, cfg->admin_password);
		if (r) {
			log_error("auth: cannot create the admin user: %s", strerror(-r));
			return r;
		}
	}
	/* An API nobody can log in to is worth one line at start. */
	if (auth_user_list(d->auth, &users) == 0 && json_array_size(users) == 0)
		log_warn("API: no users yet; /api/v1 needs a token. Create one with `kpulse user "
			 "add NAME --role admin`, or set KPULSE_ADMIN_PASSWORD for user admin");
	json_decref(users);

	api_options_default(&o);
	o.listen_host = cfg->listen_host;
	o.listen_port = cfg->listen_port;
	o.metrics_auth = cfg->metrics_auth;
	o.allow_remote_unauthenticated = cfg->allow_remote_unauthenticated;
	o.max_connections = cfg->api_max_connections;
	o.request_timeout_s = cfg->api_request_timeout_s;
	o.max_body_bytes = cfg->api_max_body_bytes;
	o.rate_limit = cfg->api_rate_limit;
	o.custom_max_series = cfg->custom_max_series;
	o.custom_token_max_series = cfg->custom_token_max_series;
	o.custom_series_ttl_s = cfg->custom_series_ttl_s;
	o.custom_samples_rate = cfg->custom_samples_rate;
	o.interval_s = cfg->interval_s;
	o.version = KPULSE_VERSION;
	/* "" is unset; api_start() checks the pair and reads the files. */
	o.tls_cert_file = cfg->tls_cert;
	o.tls_key_file = cfg->tls_key;
	o.forecast_horizon_s = cfg->forecast_horizon_s;
	o.retention_raw_s = cfg->retention_raw_s;
	o.retention_1m_s = cfg->retention_1m_s;
	if (!api_host_is_loopback(cfg->listen_host) && !cfg->metrics_auth &&
	    cfg->allow_remote_unauthenticated)
		log_warn("API: listening on %s with /metrics and /healthz open to anyone who can "
			 "reach it (KPULSE_ALLOW_REMOTE_UNAUTHENTICATED)",
			 cfg->listen);
	r = api_start(&o, d->store, d->auth, &d->api, err, sizeof(err));
	if (r) {
		log_error("API %s: %s", cfg->listen, err);
		return r;
	}
	api_set_probes(d->api, probes_attached(collector_probes(d->col)),
		       probes_count(collector_probes(d->col)));
	log_info("API listening on %s://%s", cfg->tls_cert[0] ? "https" : "http", cfg->listen);
	return 0;
}

/* Predictions sample each watched series at most PREDICT_POINTS times a
 * window (and not more often than the rounds come). */
#define PREDICT_POINTS	    360
#define PREDICT_MAX_TARGETS 256

static int start_predictions(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct threshold_options o = {
	    .window_s = cfg->predict_window_s,
	    .min_span_s = cfg->predict_min_history_s,
	    .sample_every_s = fmax(cfg->interval_s, cfg->predict_window_s / PREDICT_POINTS),
	    .horizon_s = cfg->predict_horizon_s,
	    .max_targets = PREDICT_MAX_TARGETS,
	};
	struct threshold_rule *limits = NULL;
	size_t nlimits = 0;
	char err[256];
	int r;

	r = threshold_parse_limits(cfg->predict_limits, &limits, &nlimits, err, sizeof(err));
	if (r) {
		log_error("KPULSE_PREDICT_LIMITS: %s", err);
		return r;
	}
	/* a window shorter than two samples cannot hold a trend */
	if (o.window_s < 2 * o.sample_every_s)
		o.window_s = 2 * o.sample_every_s;
	d->predict = threshold_tracker_new(&o, limits, nlimits);
	free(limits);
	if (!d->predict) {
		log_error("predictions: out of memory");
		return -ENOMEM;
	}
	api_set_predictions(d->api, d->predict);
	return add_sink(d, &predict_sink_ops, d->predict);
}

static void anomaly_thresholds(const struct kpulse_config *cfg, struct ensemble_options *o)
{
	ensemble_options_default(o);
	o->info = cfg->anomaly_info;
	o->warning = cfg->anomaly_warning;
	o->critical = cfg->anomaly_critical;
	o->cooldown_s = cfg->anomaly_cooldown_s;
}

/* The models sink: detectors, anomalies and their store tables. */
static int start_models(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct models_options o;
	char err[512] = "";
	int r;

	if (!cfg->models)
		return 0;
	models_options_default(&o);
	o.include = cfg->models_include;
	o.exclude = cfg->models_exclude;
	o.max_series = cfg->models_max_series;
	o.checkpoint_s = cfg->models_checkpoint_s;
	o.multivar = cfg->multivar;
	o.mv.window_s = cfg->multivar_window_s;
	o.mv.history_s = cfg->multivar_history_s;
	o.mv.retrain_s = cfg->multivar_retrain_s;
	o.mv.max_series = cfg->multivar_max_series;
	anomaly_thresholds(cfg, &o.ensemble);
	r = models_new(&o, d->store, &d->models, err, sizeof(err));
	if (r) {
		log_error("models: %s", err);
		return r;
	}
	if (models_describe(d->reg)) {
		log_error("out of memory");
		return -ENOMEM;
	}
	return add_sink(d, &models_sink_ops, d->models);
}

static json_t *incident_predictions(void *ctx)
{
	return threshold_tracker_predictions(ctx);
}

/* The LLM router, the alerts and the incidents sink on top of them. */
static int start_incidents(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct incidents_options io;
	struct alerts_options ao;
	struct llm_options lo;
	char err[512];
	int r;

	llm_options_from_config(cfg, &lo);
	lo.cache = d->store;
	r = llm_router_new(&lo, &d->llm, err, sizeof(err));
	memset(&lo, 0, sizeof(lo)); /* the copies of the keys */
	if (r) {
		log_error("LLM providers: %s", err);
		return r;
	}
	alerts_options_from_config(cfg, &ao);
	r = alerts_new(&ao, &d->alerts, err, sizeof(err));
	if (r) {
		log_error("alerts: %s", err);
		return r;
	}
	if (llm_describe(d->reg) || alerts_describe(d->reg))
		return -ENOMEM;
	if (cfg->incidents) {
		incidents_options_default(&io);
		io.quiet_s = cfg->incident_quiet_s;
		io.baseline_s = cfg->incident_baseline_s;
		io.settle_s = cfg->incident_settle_s;
		io.min_severity = cfg->incident_min_severity;
		io.predictions = incident_predictions;
		io.predictions_ctx = d->predict;
		io.llm = d->llm;
		io.alerts = d->alerts;
		r = incidents_new(&io, d->store, &d->incidents, err, sizeof(err));
		if (r) {
			log_error("%s", err);
			return r;
		}
		if (incidents_describe(d->reg))
			return -ENOMEM;
	}
	api_set_analysis(d->api, d->incidents, d->llm, d->alerts);
	return d->incidents ? add_sink(d, &incidents_sink_ops, d->incidents) : 0;
}

/* The remote-write sink, when a receiver is configured. */
static int start_remote_write(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	struct remote_write_options o;
	char err[512] = "";
	int r;

	if (!cfg->remote_write_url[0])
		return 0;
	remote_write_options_default(&o);
	o.url = cfg->remote_write_url;
	o.bearer_token = cfg->remote_write_bearer_token;
	o.host = cfg->remote_write_host;
	o.batch_samples = cfg->remote_write_batch;
	o.flush_s = cfg->remote_write_flush_s;
	o.queue_samples = cfg->remote_write_queue;
	o.timeout_s = cfg->remote_write_timeout_s;
	o.retries = cfg->remote_write_retries;
	r = remote_write_new(&o, &d->rw, err, sizeof(err));
	if (r) {
		log_error("remote write: %s", err);
		return r;
	}
	if (remote_write_describe(d->reg)) {
		log_error("out of memory");
		return -ENOMEM;
	}
	return add_sink(d, &remote_write_sink_ops, d->rw);
}

static int start_sinks(struct daemon *d)
{
	const char *delay = getenv(TEST_SLOW_SINK_ENV);
	int r;

	r = add_sink(d, &store_sink_ops, d);
	if (!r)
		r = add_sink(d, &api_sink_ops, d);
	if (!r)
		r = start_predictions(d);
	if (!r)
		r = start_models(d);
	if (!r)
		r = start_incidents(d);
	if (!r)
		r = start_remote_write(d);
	if (!r && delay && *delay) {
		d->test_sink_delay_ms = (unsigned)strtoul(delay, NULL, 10);
		log_warn("%s=%u: a test sink sleeps that long in every round", TEST_SLOW_SINK_ENV,
			 d->test_sink_delay_ms);
		r = add_sink(d, &test_sink_ops, d);
	}
	return r;
}

/* ------------------------------------------------------------ privileges */

/* Everything that needed root is open: the probes are attached, the
 * listener is bound, the data dir's files are open or owned by this uid.
 * What follows runs without a capability. */
static int drop_privileges(struct daemon *d)
{
	const struct kpulse_config *cfg = &d->cfg;
	char err[256];
	int r;

	if (!cfg->drop_privileges) {
		log_warn("privileges: kept (KPULSE_DROP_PRIVILEGES=off): the daemon parses HTTP "
			 "with every capability it started with");
	} else {
		r = privs_drop_capabilities(err, sizeof(err));
		if (r) {
			log_error("privileges: cannot drop them: %s", err);
			return r;
		}
	}
	r = privs_install_seccomp((enum privs_seccomp)cfg->seccomp, err, sizeof(err));
	if (r == -ENOSYS || r == -EINVAL) {
		/* a kernel without seccomp filters: the capabilities are gone anyway */
		log_warn("seccomp: no filter installed: %s", err);
	} else if (r) {
		log_error("seccomp: %s", err);
		return r;
	}
	log_info("privileges: capabilities %s, no_new_privs %s, seccomp %s",
		 cfg->drop_privileges ? "none" : "kept", cfg->drop_privileges ? "set" : "unset",
		 r ? "off" : config_seccomp_names[cfg->seccomp]);
	return 0;
}

/* ------------------------------------------------------------ reload */

static void reload(struct daemon *d)
{
	struct kpulse_config next;
	char err[512], restart[512] = "";
	size_t n = 0;

	if (!d->reload || d->reload(d->reload_ctx, &next, err, sizeof(err))) {
		log_error("reload: %s; keeping the running configuration",
			  d->reload ? err : "no configuration source");
		return;
	}
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];

		if (config_option_equal(opt, &d->cfg, &next))
			continue;
		if (opt->flags & CONFIG_RELOADABLE) {
			memcpy((char *)&d->cfg + opt->offset, (char *)&next + opt->offset,
			       opt->size);
		} else if (n < sizeof(restart)) {
			n += (size_t)snprintf(restart + n, sizeof(restart) - n, "%s%s",
					      n ? ", " : "", opt->env);
		}
	}
	if (restart[0])
		log_warn("reload: %s change only on restart", restart);
	log_set_level(d->cfg.log_level);
	log_set_format(d->cfg.log_format);
	collector_set_top_k(d->col, d->cfg.top_k);
	collector_set_per_pid_series(d->col, d->cfg.process_series_by_pid);
	threshold_tracker_set_horizon(d->predict, d->cfg.predict_horizon_s);
	if (d->models) {
		struct ensemble_options o;

		anomaly_thresholds(&d->cfg, &o);
		if (models_set_thresholds(d->models, &o))
			log_warn("reload: anomaly thresholds must be info <= warning <= critical; "
				 "keeping the running ones");
	}
	log_info("reload: log level %s, log format %s, top-k %u", log_level_name(d->cfg.log_level),
		 log_format_name(d->cfg.log_format), d->cfg.top_k);
}

/* ------------------------------------------------------------ the round */

/* Collects one round into the live registry, freezes it and hands it to
 * every sink. */
static void run_round(struct daemon *d, uint64_t seq, double interval_s, double due)
{
	/* at most 1% of the interval, as Prometheus caps its own */
	double tolerance = fmin(d->cfg.timestamp_tolerance_ms / 1000.0, d->cfg.interval_s / 100);
	struct round *round;
	double ts;
	int r;

	collector_poll(d->col, 0);
	ts = clock_align_s(clock_wall_s(), clock_mono_s() - due, tolerance);
	registry_begin(d->reg, ts, interval_s);
	r = collector_collect(d->col, d->reg);
	r |=
	    health_add(d->reg, d->store, d->sinks, d->nsinks,
		       &(struct health_counts){atomic_load(&d->events_rejected), d->rounds_skipped},
		       &d->events_quota);
	if (d->models)
		r |= models_add_scores(d->models, d->reg);
	if (d->llm)
		r |= llm_router_fill_registry(d->llm, d->reg);
	if (d->alerts)
		r |= alerts_fill_registry(d->alerts, d->reg);
	if (d->incidents)
		r |= incidents_fill_registry(d->incidents, d->reg);
	if (d->rw)
		r |= remote_write_add_series(d->rw, d->reg);
	registry_end(d->reg);
	if (r)
		log_warn("collection round incomplete: out of memory");
	round = round_freeze(d->reg, collector_take_events(d->col), seq);
	if (!round) {
		log_warn("round %llu not handed out: out of memory", (unsigned long long)seq);
		return;
	}
	round->processes = collector_take_processes(d->col);
	if (d->models)
		round->custom = api_custom_snapshot(d->api);
	for (size_t i = 0; i < d->nsinks; i++)
		sink_push(d->sinks[i], round);
	round_unref(round);
	d->rounds++;
	d->last_round_ts = ts;
	log_debug("round %llu collected, timestamp %.3f", (unsigned long long)seq, ts);
}

/*
 * Counts the rounds a late start skipped: a loop that starts its round
 * half an interval or more after it was due has lost one round per
 * interval of delay, which the history shows as a gap. Logged at most once
 * a minute, so an overloaded machine does not fill the log.
 */
static void count_skipped(struct daemon *d, double late, double now, double *last_log,
			  uint64_t *unlogged)
{
	double interval = d->cfg.interval_s;
	uint64_t n;

	if (late < interval / 2)
		return;
	n = (uint64_t)lround(late / interval);
	d->rounds_skipped += n;
	*unlogged += n;
	if (*last_log && now - *last_log < 60)
		return;
	log_warn("collection ran %.2fs late: %llu rounds skipped since the last report (the "
		 "round thread or the machine stalled; see kpulse_rounds_skipped_total)",
		 late, (unsigned long long)*unlogged);
	*last_log = now;
	*unlogged = 0;
}

static void loop(struct daemon *d)
{
	double last_round = clock_mono_s(), next = last_round + d->cfg.interval_s;
	double last_skip_log = 0;
	int last_store_error = 0;
	uint64_t seq = 0, skips_unlogged = 0;

	while (!stop_signal) {
		double left = next - clock_mono_s(), now;

		if (reload_requested) {
			reload_requested = 0;
			reload(d);
		}
		if (left > 0) {
			int ms = (int)ceil(left * 1000), r;

			r = collector_poll(d->col, ms > 100 ? 100 : ms);
			if (r < 0 && r != -EINTR)
				log_warn("reading events: %s", strerror(-r));
			continue;
		}
		now = clock_mono_s();
		count_skipped(d, now - next, now, &last_skip_log, &skips_unlogged);
		run_round(d, ++seq, now - last_round, next);
		last_round = now;
		health_log_store(d->store, &last_store_error);

		/* A round that ran late does not make the next ones bunch up. */
		next += d->cfg.interval_s;
		if (next < clock_mono_s())
			next = clock_mono_s() + d->cfg.interval_s;
	}
}

/* ------------------------------------------------------------ run */

int daemon_run(const struct kpulse_config *cfg, daemon_config_loader reload_fn, void *reload_ctx)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char db_path[PATH_MAX];
	int r, status;

	if (!d) {
		log_error("out of memory");
		return 1;
	}
	d->cfg = *cfg;
	d->reload = reload_fn;
	d->reload_ctx = reload_ctx;
	d->lock_fd = -1;
	evquota_init(&d->events_quota, cfg->events_store_rate, EVQUOTA_BURST_S);
	log_set_level(cfg->log_level);
	log_set_format(cfg->log_format);
	/* Before anything slow, so a stop during start-up is a clean one. */
	install_signals();

	status = open_store(d, db_path, sizeof(db_path));
	if (status)
		goto cleanup;
	status = start_collector(d);
	if (status)
		goto cleanup;
	r = start_api(d);
	if (r) {
		status = r == -EINVAL || r == -EPERM ? EXIT_USAGE : 1;
		goto cleanup;
	}
	if (start_sinks(d) || drop_privileges(d)) {
		status = 1;
		goto cleanup;
	}
	log_info("kpulse running: %zu probes attached, interval %gs, data in %s",
		 probes_attached(collector_probes(d->col)), cfg->interval_s, db_path);

	loop(d);

	log_info("stopping (signal %d): flushing what was collected: %llu rounds, the last at %.3f",
		 (int)stop_signal, (unsigned long long)d->rounds, d->last_round_ts);
cleanup:
	/* Sinks first: each finishes the rounds it has queued, so the store
	 * gets every round collected before the stop. */
	/* an LLM ask in flight (the incidents sink) ends within a second */
	if (d->llm)
		llm_router_cancel(d->llm);
	for (size_t i = d->nsinks; i-- > 0;)
		d->sinks[i] = sink_stop(d->sinks[i]);
	/* after its sink stopped, before the store closes */
	d->models = models_free(d->models);
	d->rw = remote_write_free(d->rw);
	if (d->store && !status) {
		r = store_flush_sync(d->store);
		if (r)
			log_warn("final flush failed: %s; retrying while the store closes",
				 strerror(-r));
	}
	/* The API before auth, the store and the predictions: its handlers
	 * read them. */
	api_stop(d->api);
	/* after the API (its handlers use them), before the store */
	d->incidents = incidents_free(d->incidents);
	d->alerts = alerts_free(d->alerts);
	d->llm = llm_router_free(d->llm);
	threshold_tracker_free(d->predict);
	auth_close(d->auth);
	collector_free(d->col);
	registry_free(d->reg);
	if (d->store) {
		uint64_t lost_samples = 0, lost_events = 0;

		store_close_report(d->store, &lost_samples, &lost_events);
		if (lost_samples || lost_events) {
			log_error("store: %llu samples and %llu events could not be written and "
				  "are lost",
				  (unsigned long long)lost_samples,
				  (unsigned long long)lost_events);
			status = 1;
		}
	}
	if (!status)
		log_info("stopped cleanly");
	/* last: the next daemon may start once everything is written */
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d);
	return status;
}
