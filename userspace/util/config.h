/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * config.h - kpulse's configuration: one struct, one table of options and
 * one function (config_set) that parses and validates a value, shared by
 * the .env file, the environment and the command-line flags.
 *
 * The caller applies the sources in order of precedence, later wins:
 *
 *	config_defaults(&c);
 *	config_load_env_file(&c, ".env", false, err, sizeof(err));
 *	config_load_environ(&c, environ, err, sizeof(err));
 *	config_set(&c, "--interval", "0.5", err, sizeof(err));	(per flag)
 *
 * Nothing here logs: on failure err holds one line naming the option, the
 * value and what the option accepts, for the caller to print once.
 */
#ifndef KPULSE_CONFIG_H
#define KPULSE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/log.h"

#define CONFIG_PATH_MAX 4096
/* A DNS name is at most 253 bytes; an IPv6 literal at most 45. */
#define CONFIG_HOST_MAX 254
/* "[" host "]:" port */
#define CONFIG_LISTEN_MAX (CONFIG_HOST_MAX + 9)
/* Longest .env line, without its newline. */
#define CONFIG_LINE_MAX 4096
/* Passwords and the JWT secret, with their NUL. */
#define CONFIG_SECRET_MAX 1025
/* URLs (LLM endpoints, PagerDuty), with their NUL. */
#define CONFIG_URL_MAX 2048
/* A model name ("llama-3.3-70b-versatile", "org/name:provider"). */
#define CONFIG_MODEL_MAX 256

/* The LLM providers kpulse knows, in the order of the per-provider settings
 * (KPULSE_LLM_<NAME>_URL, _MODEL, _KEY) and of kpulse_config.llm[]. */
enum config_llm_provider {
	CONFIG_LLM_GROQ,
	CONFIG_LLM_OPENAI,
	CONFIG_LLM_OLLAMA,
	CONFIG_LLM_HUGGINGFACE,
	CONFIG_LLM_COMPAT,
	CONFIG_LLM_COUNT,
};
/* "groq", "openai", "ollama", "huggingface", "compat" */
extern const char *const config_llm_names[CONFIG_LLM_COUNT];

/* Incident severities, lowest first, as alerts are filtered by them. */
#define CONFIG_SEVERITY_COUNT 3
extern const char *const config_severity_names[CONFIG_SEVERITY_COUNT];

/* KPULSE_CGROUPS values, in the order of enum cgroups_mode. */
#define CONFIG_CGROUPS_COUNT 4
extern const char *const config_cgroups_names[CONFIG_CGROUPS_COUNT];
/* A target's own minimum: "default" (KPULSE_ALERT_MIN_SEVERITY), then the
 * severities; stored as 0 for default, else severity + 1. */
/* KPULSE_SECCOMP: "off", "log", "enforce" (enum privs_seccomp) */
extern const char *const config_seccomp_names[3];
extern const char *const config_target_severity_names[CONFIG_SEVERITY_COUNT + 1];
/* Comma-separated lists (filesystem types, mount points, the models' series
 * patterns), with their NUL. */
#define CONFIG_LIST_MAX 1024

struct kpulse_config {
	double interval_s;		 /* collection interval, 0.1..3600 */
	uint32_t timestamp_tolerance_ms; /* a round this late is stamped when it was due */
	char data_dir[CONFIG_PATH_MAX];	 /* where the store keeps its files */
	bool drop_privileges;		 /* capabilities dropped after start-up */
	int seccomp;			 /* index in config_seccomp_names */
	double flush_interval_s;	 /* store flush interval, 0.1..60 */
	double retention_raw_s;		 /* how long each resolution is kept */
	double retention_1m_s;
	double retention_1h_s;
	double retention_events_s;
	uint32_t events_store_rate;	   /* events stored a second per type; 0: all */
	uint32_t slow_io_ms;		   /* block I/Os slower than this become events */
	uint32_t top_k;			   /* per-process series kept per round */
	bool process_series_by_pid;	   /* per-process series per pid, not per name */
	int cgroups;			   /* index in config_cgroups_names */
	char listen[CONFIG_LISTEN_MAX];	   /* as given: "127.0.0.1:9876", "[::1]:9876" */
	char listen_host[CONFIG_HOST_MAX]; /* without brackets: "::1" */
	uint16_t listen_port;
	enum log_level log_level;
	enum log_format log_format;
	uint64_t buffer_max_samples; /* in-memory bound while the store cannot write */
	uint64_t store_max_bytes;    /* the store's disk budget; 0 = none */
	/* REST API */
	char admin_password[CONFIG_SECRET_MAX]; /* creates `admin` at first start; "" none */
	char jwt_secret[CONFIG_SECRET_MAX];	/* "" reads or generates DATA_DIR/jwt.secret */
	double token_ttl_s;			/* JWT lifetime */
	bool metrics_auth;			/* GET /metrics needs a viewer token */
	bool allow_remote_unauthenticated;	/* bind non-loopback with /metrics open */
	uint32_t api_max_connections;		/* concurrent HTTP connections */
	uint32_t api_request_timeout_s;		/* to receive a whole request */
	uint64_t api_max_body_bytes;		/* largest request body */
	uint32_t api_rate_limit;		/* requests per second per client */
	uint32_t custom_max_series;		/* series POST /api/v1/metrics may create */
	uint32_t custom_token_max_series;	/* of those, per token; 0: a quarter */
	uint32_t custom_series_ttl_s;		/* unpushed custom series are dropped */
	uint32_t custom_samples_rate;		/* per token, a second */
	/* HTTPS: both set or both "" (plain HTTP); api_start() checks the pair
	 * and the files, since only then is the daemon about to serve them. */
	char tls_cert[CONFIG_PATH_MAX]; /* PEM certificate (chain) */
	char tls_key[CONFIG_PATH_MAX];	/* PEM private key, not world-readable */
	/* LLM explanations (userspace/llm/): the providers asked, in order;
	 * "" asks none and the built-in analyst's reading stands alone */
	char llm_providers[96];
	struct {
		char url[CONFIG_URL_MAX];     /* base URL */
		char model[CONFIG_MODEL_MAX]; /* model name */
		char key[CONFIG_SECRET_MAX];  /* API key; "" none (Ollama has none) */
	} llm[CONFIG_LLM_COUNT];	      /* by enum config_llm_provider */
	double llm_timeout_s;		      /* one provider's call, its retries included */
	uint32_t llm_retries;		      /* further tries of a failed call, 0..2 */
	uint32_t llm_token_budget;	      /* the evidence is trimmed to fit */
	uint32_t llm_max_tokens;	      /* longest answer asked for */
	double llm_cache_ttl_s;		      /* answers kept in the store; 0 none */
	uint32_t llm_breaker_failures;	      /* failed calls in a row that open it */
	double llm_breaker_cooldown_s;	      /* how long an open breaker skips */
	/* Alerts (userspace/alerts/); an empty target is not used */
	char alert_slack_url[CONFIG_SECRET_MAX];      /* incoming webhook (a secret) */
	char alert_pagerduty_key[CONFIG_SECRET_MAX];  /* Events API v2 routing key */
	char alert_pagerduty_url[CONFIG_URL_MAX];     /* the enqueue endpoint */
	char alert_webhook_url[CONFIG_SECRET_MAX];    /* generic JSON webhook */
	char alert_webhook_secret[CONFIG_SECRET_MAX]; /* HMAC key of its signature */
	int alert_min_severity;			      /* index in config_severity_names */
	int alert_slack_min_severity;		      /* config_target_severity_names */
	int alert_pagerduty_min_severity;
	int alert_webhook_min_severity;
	double alert_timeout_s; /* one delivery attempt */
	uint32_t alert_retries; /* further attempts of a failed delivery */
	uint32_t alert_queue;	/* events waiting for delivery */
	/* What the /proc pass lists (collection/procpass.h) */
	char fs_types_include[CONFIG_LIST_MAX]; /* also real: "zfs,nfs4" */
	char fs_types_exclude[CONFIG_LIST_MAX]; /* never real: "squashfs" */
	char fs_mount_exclude[CONFIG_LIST_MAX]; /* mount points left out, with what is beneath */
	uint32_t max_filesystems;		/* label bounds */
	uint32_t max_interfaces;
	uint32_t max_block_devices;
	double tcp_states_interval_s; /* between two counts of TCP sockets by state */
	/* models: forecasts, time-to-threshold predictions, multivariate */
	double forecast_horizon_s;	      /* GET /api/v1/forecast without horizon= */
	double predict_window_s;	      /* history a time-to-threshold trend is fitted on */
	double predict_min_history_s;	      /* no prediction from less history */
	double predict_horizon_s;	      /* a predicted time inside it is alert-worthy */
	char predict_limits[CONFIG_LINE_MAX]; /* "NAME>LIMIT,NAME<LIMIT" */
	double multivar_window_s;	      /* feature window of IF and LOF */
	double multivar_history_s;	      /* their training history */
	double multivar_retrain_s;	      /* how often they are retrained */
	bool multivar;			      /* IF and LOF run in the models sink */
	uint32_t multivar_max_series;	      /* series in their feature vectors */
	/* anomaly models (models/) */
	bool models;			      /* the models sink runs */
	char models_include[CONFIG_LIST_MAX]; /* series_select patterns */
	char models_exclude[CONFIG_LIST_MAX];
	uint32_t models_max_series;
	double models_checkpoint_s; /* how often detector state is saved */
	double anomaly_info;	    /* severity thresholds on the score */
	double anomaly_warning;
	double anomaly_critical;
	double anomaly_cooldown_s; /* a crossing this soon after an end continues it */
	/* incidents (analysis/) */
	bool incidents;		    /* the incidents sink runs */
	double incident_quiet_s;    /* resolved after this long with nothing active */
	int incident_min_severity;  /* index in config_severity_names */
	double incident_baseline_s; /* the evidence's baseline before an incident */
	double incident_settle_s;   /* the first analysis waits until it is this old */
	/* remote write (export/remote_write.h); an empty URL pushes nothing */
	char remote_write_url[CONFIG_URL_MAX];
	char remote_write_bearer_token[CONFIG_SECRET_MAX];
	char remote_write_host[64]; /* the host label; "" the host name */
	uint32_t remote_write_batch;
	double remote_write_flush_s;
	uint32_t remote_write_queue;
	double remote_write_timeout_s;
	uint32_t remote_write_retries;
};

/* How a value is read and checked; each kind has its own message for a
 * value it refuses. */
enum config_kind {
	CONFIG_SECONDS,	 /* a plain number of seconds, min..max (double field) */
	CONFIG_NUMBER,	 /* a plain number, min..max (double field): scores, ratios */
	CONFIG_DURATION, /* a number with unit s, m, h or d, min..max seconds (double) */
	CONFIG_UINT,	 /* a whole number min..max (uint32_t or uint64_t field) */
	CONFIG_BOOL,	 /* on/off, true/false, yes/no, 1/0 (bool) */
	CONFIG_ENUM,	 /* one of names[] (case-insensitive), stored as its index (int) */
	CONFIG_PATH,	 /* a path shorter than the field; min 1 means it may not be empty */
	CONFIG_STRING,	 /* text of min..max bytes, or empty (char array) */
	CONFIG_SECRET,	 /* like STRING, but never quoted back in a message */
	CONFIG_LISTEN,	 /* HOST:PORT or [IPV6]:PORT; also fills listen_host and port */
	CONFIG_URL,	 /* an http:// or https:// URL with a host; min 0: may be empty */
	CONFIG_CHOICES,	 /* comma-separated names[], each at most once, in a given order
			    (char array, stored without blanks); may be empty */
	CONFIG_NAMES,	 /* comma-separated names ([A-Za-z0-9._+-]), or empty (char array) */
	CONFIG_PATHS,	 /* comma-separated absolute paths, or empty (char array) */
};

/* Flags of an option. */
enum {
	CONFIG_RELOADABLE = 1 << 0, /* SIGHUP applies a new value without a restart */
};

/*
 * The one description of an option: its names, how its value is checked
 * and where it goes. --help, .env.example, error messages and reload all
 * come from here, so an option is one row of config_options[] and one
 * field of struct kpulse_config.
 */
struct config_option {
	const char *env; /* "KPULSE_SLOW_IO_MS" */
	/* "slow-io-ms", used as --slow-io-ms; NULL for an option that may only
	 * come from the environment or .env (API keys: a flag shows in ps) */
	const char *flag;
	const char *value_name;	   /* "MS", for "--slow-io-ms MS" in --help */
	const char *default_value; /* "50", as the user would write it; "" for unset */
	const char *help;	   /* one line without the range, no trailing period */
	enum config_kind kind;
	double min, max;	  /* numbers: the range; strings: the length in bytes */
	const char *const *names; /* CONFIG_ENUM: the accepted words, by value */
	size_t nnames;
	unsigned flags;
	size_t offset; /* of the field in struct kpulse_config */
	size_t size;   /* of that field */
};

extern const struct config_option config_options[];
extern const size_t config_option_count;

/* Looks up "KPULSE_X" or "--flag" (exact, case-sensitive); NULL if unknown
 * (an option without a flag is unknown as a flag). */
const struct config_option *config_option_find(const char *key);

/* The option whose KPULSE_ name is nearest key by edit distance, when it
 * is near enough to be a typo of it (a quarter of key's length, at least
 * 2); NULL otherwise. For "unknown option, did you mean ...". */
const struct config_option *config_option_closest(const char *key);

/* The help line with the accepted range, as --help and .env.example show
 * it: "Collection interval in seconds, 0.1 to 3600". Returns buf. */
const char *config_option_help(const struct config_option *opt, char *buf, size_t len);

/* True when a and b hold the same value for opt. */
bool config_option_equal(const struct config_option *opt, const struct kpulse_config *a,
			 const struct kpulse_config *b);

/* Every option at its default (config_options[].default_value). */
void config_defaults(struct kpulse_config *c);

/*
 * Parses and validates one value for key ("KPULSE_X" or "--flag") and
 * stores it. Returns 0, -ENOENT for an unknown key, or -EINVAL for a bad
 * value; on failure *c is unchanged and err (may be NULL) holds a message
 * that starts with the key as given, e.g.
 *	KPULSE_INTERVAL: "abc" is not a number of seconds between 0.1 and 3600
 */
int config_set(struct kpulse_config *c, const char *key, const char *value, char *err,
	       size_t errlen);

/*
 * Applies a .env file: KEY=VALUE lines, blank lines, # comments (also after
 * an unquoted value, preceded by a space), an optional "export " prefix,
 * values in '...' (literal) or "..." (\" and \\ escaped). Keys not starting
 * with KPULSE_ are ignored; an unknown KPULSE_ key is an error. Lines longer
 * than CONFIG_LINE_MAX or holding a NUL byte are errors.
 *
 * Returns 0; -ENOENT when the file is missing and must_exist (a missing
 * file with !must_exist changes nothing and returns 0); -EINVAL for bad
 * content, err then starting with "path:line: "; or another -errno from
 * reading. All or nothing: on failure *c is unchanged.
 */
int config_load_env_file(struct kpulse_config *c, const char *path, bool must_exist, char *err,
			 size_t errlen);

/*
 * Applies the KPULSE_ entries of a NULL-terminated "KEY=VALUE" array such
 * as environ. Unknown KPULSE_ names are ignored, unlike in a .env file: the
 * environment is shared with other tools (the test harness sets KPULSE_BIN).
 * Returns 0 or -EINVAL; all or nothing, as above.
 */
int config_load_environ(struct kpulse_config *c, char *const *envp, char *err, size_t errlen);

/*
 * A duration: a non-negative decimal number with an optional unit s, m, h
 * or d ("90s", "15m", "1.5h", "30d"; no unit means seconds). Returns 0,
 * -EINVAL (malformed) or -ERANGE (too large); *ret_seconds written only on
 * success.
 */
int config_parse_duration(const char *s, double *ret_seconds);

/* What .env.example says of an option without a flag. */
#define CONFIG_NO_FLAG_NOTE "Environment or .env only: never a flag, which ps would show."

/* Writes the .env.example text: every option with its default and one line
 * of explanation. Returns 0 or -EIO. */
int config_write_env_example(FILE *out);

#endif /* KPULSE_CONFIG_H */
