/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * config.c - the option table and the one parser and validator of option
 * values (config_set). The .env and environment loaders built on it, and
 * the .env.example writer, are in config_env.c. See config.h for the
 * contracts.
 *
 * Longer than the ~900 lines a file here usually keeps to: a third of it is
 * the option table, one row per option, which stays whole in one place so
 * that an option is written once; the parsers are what reads its rows.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/config.h"
#include "util/error.h"
#include "util/http.h"

#define SECONDS_PER_DAY 86400.0
/* Bounds for every retention: shorter than a second is no retention, and
 * ten years is far past any disk a sample would survive on. */
#define RETENTION_MIN_S 1.0
#define RETENTION_MAX_S (3650 * SECONDS_PER_DAY)
/* How much of a bad value an error message quotes. */
#define ERR_VALUE_MAX 64

/* ---------------------------------------------------------------------- */
/* The option table                                                       */
/* ---------------------------------------------------------------------- */

const char *const config_llm_names[CONFIG_LLM_COUNT] = {"groq", "openai", "ollama", "huggingface",
							"compat"};
const char *const config_severity_names[CONFIG_SEVERITY_COUNT] = {"info", "warning", "critical"};
const char *const config_seccomp_names[3] = {"off", "log", "enforce"};
/* In the order of enum cgroups_mode (collection/cgroups.h). */
const char *const config_cgroups_names[CONFIG_CGROUPS_COUNT] = {"auto", "v2", "v1", "off"};
const char *const config_target_severity_names[CONFIG_SEVERITY_COUNT + 1] = {"default", "info",
									     "warning", "critical"};

#define FIELD(f)                                                                                   \
	.offset = offsetof(struct kpulse_config, f), .size = sizeof(((struct kpulse_config *)0)->f)
#define DAYS(n) ((n)*SECONDS_PER_DAY)

/* One row per option: the only place its name, kind, range and default
 * are written. */
const struct config_option config_options[] = {
    {"KPULSE_INTERVAL", "interval", "SECONDS", "1.0", "Collection interval in seconds",
     CONFIG_SECONDS, 0.1, 3600, FIELD(interval_s)},
    {"KPULSE_TIMESTAMP_TOLERANCE_MS", "timestamp-tolerance-ms", "MS", "2",
     "A round that starts at most this many milliseconds (and 1% of the interval) after it was "
     "due is stamped with the time it was due, so rounds on time lie exactly an interval apart; "
     "0 stamps every round with the time it started",
     CONFIG_UINT, 0, 1000, FIELD(timestamp_tolerance_ms)},
    {"KPULSE_DATA_DIR", "data-dir", "DIR", "./data", "Directory where the store keeps its files",
     CONFIG_PATH, 1, 0, FIELD(data_dir)},
    {"KPULSE_DROP_PRIVILEGES", "drop-privileges", "on|off", "on",
     "Give up every capability once the probes are attached and the API listens", CONFIG_BOOL,
     FIELD(drop_privileges)},
    {"KPULSE_SECCOMP", "seccomp", "MODE", "enforce",
     "System calls outside the daemon's allow-list: enforce fails them (exec and ptrace end "
     "the process), log only logs them (kernel log), off installs no filter",
     CONFIG_ENUM, .names = config_seccomp_names, .nnames = 3, FIELD(seccomp)},
    {"KPULSE_FLUSH_INTERVAL", "flush-interval", "SECONDS", "1.0",
     "How often buffered samples are written to the store, in seconds", CONFIG_SECONDS, 0.1, 60,
     FIELD(flush_interval_s)},
    {"KPULSE_RETENTION_RAW", "retention-raw", "DURATION", "24h", "How long raw samples are kept",
     CONFIG_DURATION, RETENTION_MIN_S, RETENTION_MAX_S, FIELD(retention_raw_s)},
    {"KPULSE_RETENTION_1M", "retention-1m", "DURATION", "30d", "How long 1-minute rollups are kept",
     CONFIG_DURATION, RETENTION_MIN_S, RETENTION_MAX_S, FIELD(retention_1m_s)},
    {"KPULSE_RETENTION_1H", "retention-1h", "DURATION", "365d", "How long 1-hour rollups are kept",
     CONFIG_DURATION, RETENTION_MIN_S, RETENTION_MAX_S, FIELD(retention_1h_s)},
    {"KPULSE_RETENTION_EVENTS", "retention-events", "DURATION", "7d",
     "How long events (such as slow I/Os) are kept", CONFIG_DURATION, RETENTION_MIN_S,
     RETENTION_MAX_S, FIELD(retention_events_s)},
    {"KPULSE_EVENTS_STORE_RATE", "events-store-rate", "N", "10",
     "Events of each type stored a second, on average, with bursts of a minute's worth; the "
     "rest still reach the live stream and the incidents, and are counted in "
     "kpulse_store_events_unstored_total. 0: no limit",
     CONFIG_UINT, 0, 1000000, FIELD(events_store_rate)},
    {"KPULSE_SLOW_IO_MS", "slow-io-ms", "MS", "50",
     "Block I/Os slower than this many milliseconds are recorded as events", CONFIG_UINT, 0, 600000,
     FIELD(slow_io_ms)},
    {"KPULSE_TOP_K", "top-k", "N", "10",
     "How many of the busiest processes get series of their own", CONFIG_UINT, 1, 1000,
     .flags = CONFIG_RELOADABLE, FIELD(top_k)},
    {"KPULSE_PROCESS_SERIES_BY_PID", "process-series-by-pid", "on|off", "off",
     "Per-process series per pid (a series for every process that was ever busy) instead of "
     "per name and cgroup; GET /api/v1/processes and events carry the pid either way",
     CONFIG_BOOL, .flags = CONFIG_RELOADABLE, FIELD(process_series_by_pid)},
    {"KPULSE_CGROUPS", "cgroups", "MODE", "auto",
     "Which cgroup hierarchy names the cgroup label: v2, v1 (the cpuacct hierarchy), auto (v2 "
     "when it holds the cpu controller, else v1) or off",
     CONFIG_ENUM, .names = config_cgroups_names, .nnames = CONFIG_CGROUPS_COUNT, FIELD(cgroups)},
    {"KPULSE_LISTEN", "listen", "HOST:PORT", "127.0.0.1:9876",
     "Address of the HTTP API: HOST:PORT or [IPV6]:PORT", CONFIG_LISTEN, FIELD(listen)},
    {"KPULSE_LOG_LEVEL", "log-level", "LEVEL", "info", "Lowest level logged", CONFIG_ENUM,
     .names = log_level_names, .nnames = LOG_LEVEL_COUNT, .flags = CONFIG_RELOADABLE,
     FIELD(log_level)},
    {"KPULSE_LOG_FORMAT", "log-format", "FORMAT", "text", "Log line format", CONFIG_ENUM,
     .names = log_format_names, .nnames = LOG_FORMAT_COUNT, .flags = CONFIG_RELOADABLE,
     FIELD(log_format)},
    {"KPULSE_STORE_MAX_BYTES", "store-max-bytes", "BYTES", "0",
     "Disk budget of the store's database (0: none); past 90% of it the oldest raw data "
     "and events go first, then the oldest rollups",
     CONFIG_UINT, 0, 1ULL << 49, FIELD(store_max_bytes)},
    {"KPULSE_BUFFER_MAX_SAMPLES", "buffer-max-samples", "N", "1000000",
     "Most samples held in memory while the store cannot write", CONFIG_UINT, 1000, 100000000,
     FIELD(buffer_max_samples)},
    {"KPULSE_ADMIN_PASSWORD", "admin-password", "PASSWORD", "",
     "Password of the `admin` user created at first start when there is no user yet (empty "
     "creates none; prefer the environment: a flag shows in ps)",
     CONFIG_SECRET, 8, 1024, FIELD(admin_password)},
    {"KPULSE_JWT_SECRET", "jwt-secret", "SECRET", "",
     "Secret that signs API login tokens (empty reads or generates DATA_DIR/jwt.secret)",
     CONFIG_SECRET, 32, 1024, FIELD(jwt_secret)},
    {"KPULSE_TOKEN_TTL", "token-ttl", "DURATION", "1h", "How long a login token stays valid",
     CONFIG_DURATION, 1, DAYS(30), FIELD(token_ttl_s)},
    {"KPULSE_METRICS_AUTH", "metrics-auth", "on|off", "off",
     "Whether GET /metrics needs a viewer token like the rest of the API", CONFIG_BOOL,
     FIELD(metrics_auth)},
    {"KPULSE_ALLOW_REMOTE_UNAUTHENTICATED", "allow-remote-unauthenticated", "on|off", "off",
     "Allow a non-loopback listen address while /metrics needs no token (logs a warning)",
     CONFIG_BOOL, FIELD(allow_remote_unauthenticated)},
    {"KPULSE_API_MAX_CONNECTIONS", "api-max-connections", "N", "256",
     "Most concurrent HTTP connections", CONFIG_UINT, 4, 10000, FIELD(api_max_connections)},
    {"KPULSE_API_REQUEST_TIMEOUT", "api-request-timeout", "SECONDS", "10",
     "A request must arrive whole within this (2 s while over half the connections are open)",
     CONFIG_UINT, 1, 3600, FIELD(api_request_timeout_s)},
    {"KPULSE_API_MAX_BODY_BYTES", "api-max-body-bytes", "BYTES", "1048576",
     "Largest HTTP request body", CONFIG_UINT, 1024, 67108864, FIELD(api_max_body_bytes)},
    {"KPULSE_API_RATE_LIMIT", "api-rate-limit", "N", "50",
     "HTTP requests per second per token (or per address without one)", CONFIG_UINT, 1, 100000,
     FIELD(api_rate_limit)},
    {"KPULSE_CUSTOM_MAX_SERIES", "custom-max-series", "N", "1000",
     "Most custom series POST /api/v1/metrics may create", CONFIG_UINT, 1, 100000,
     FIELD(custom_max_series)},
    {"KPULSE_CUSTOM_TOKEN_MAX_SERIES", "custom-token-max-series", "N", "0",
     "Most custom series one token (login tokens: one user) may have created and still hold, "
     "else 429 (0: a quarter of KPULSE_CUSTOM_MAX_SERIES)",
     CONFIG_UINT, 0, 100000, FIELD(custom_token_max_series)},
    {"KPULSE_CUSTOM_SERIES_TTL", "custom-series-ttl", "SECONDS", "600",
     "A custom series not pushed for this long (up to twice it) is dropped", CONFIG_UINT, 1, 86400,
     FIELD(custom_series_ttl_s)},
    {"KPULSE_CUSTOM_SAMPLES_RATE", "custom-samples-rate", "N", "1000",
     "Custom samples each token may push a second (bursts of five seconds' worth, at least one "
     "full batch)",
     CONFIG_UINT, 1, 1000000, FIELD(custom_samples_rate)},
    {"KPULSE_TLS_CERT", "tls-cert", "PATH", "",
     "PEM certificate (chain) to serve the API over HTTPS, set together with KPULSE_TLS_KEY; "
     "empty serves plain HTTP",
     CONFIG_PATH, 0, 0, FIELD(tls_cert)},
    {"KPULSE_TLS_KEY", "tls-key", "PATH", "",
     "PEM private key of KPULSE_TLS_CERT, unencrypted; start-up is refused when the file is "
     "readable by every user (chmod 600)",
     CONFIG_PATH, 0, 0, FIELD(tls_key)},
    /* LLM explanations (userspace/llm/) */
    {"KPULSE_LLM_PROVIDERS", "llm-providers", "LIST", "",
     "LLM providers asked to explain an incident, in order, comma-separated; empty asks none "
     "(the built-in analyst's reading stands)",
     CONFIG_CHOICES, .names = config_llm_names, .nnames = CONFIG_LLM_COUNT, FIELD(llm_providers)},
    {"KPULSE_LLM_GROQ_URL", "llm-groq-url", "URL", "https://api.groq.com/openai/v1",
     "Base URL of Groq's OpenAI-compatible API", CONFIG_URL, 1, CONFIG_URL_MAX - 1,
     FIELD(llm[CONFIG_LLM_GROQ].url)},
    {"KPULSE_LLM_GROQ_MODEL", "llm-groq-model", "MODEL", "llama-3.3-70b-versatile", "Groq model",
     CONFIG_STRING, 1, CONFIG_MODEL_MAX - 1, FIELD(llm[CONFIG_LLM_GROQ].model)},
    {"KPULSE_LLM_GROQ_KEY", NULL, "KEY", "", "Groq API key", CONFIG_SECRET, 8, 1024,
     FIELD(llm[CONFIG_LLM_GROQ].key)},
    {"KPULSE_LLM_OPENAI_URL", "llm-openai-url", "URL", "https://api.openai.com/v1",
     "Base URL of the OpenAI API", CONFIG_URL, 1, CONFIG_URL_MAX - 1,
     FIELD(llm[CONFIG_LLM_OPENAI].url)},
    {"KPULSE_LLM_OPENAI_MODEL", "llm-openai-model", "MODEL", "gpt-4o-mini", "OpenAI model",
     CONFIG_STRING, 1, CONFIG_MODEL_MAX - 1, FIELD(llm[CONFIG_LLM_OPENAI].model)},
    {"KPULSE_LLM_OPENAI_KEY", NULL, "KEY", "", "OpenAI API key", CONFIG_SECRET, 8, 1024,
     FIELD(llm[CONFIG_LLM_OPENAI].key)},
    {"KPULSE_LLM_OLLAMA_URL", "llm-ollama-url", "URL", "http://127.0.0.1:11434",
     "Base URL of an Ollama server (its native /api/chat; no key)", CONFIG_URL, 1,
     CONFIG_URL_MAX - 1, FIELD(llm[CONFIG_LLM_OLLAMA].url)},
    {"KPULSE_LLM_OLLAMA_MODEL", "llm-ollama-model", "MODEL", "llama3.2", "Ollama model",
     CONFIG_STRING, 1, CONFIG_MODEL_MAX - 1, FIELD(llm[CONFIG_LLM_OLLAMA].model)},
    {"KPULSE_LLM_HUGGINGFACE_URL", "llm-huggingface-url", "URL", "https://router.huggingface.co/v1",
     "Base URL of the Hugging Face inference router", CONFIG_URL, 1, CONFIG_URL_MAX - 1,
     FIELD(llm[CONFIG_LLM_HUGGINGFACE].url)},
    {"KPULSE_LLM_HUGGINGFACE_MODEL", "llm-huggingface-model", "MODEL",
     "meta-llama/Llama-3.1-8B-Instruct",
     "Hugging Face model id, org/name with an optional :provider or :fastest", CONFIG_STRING, 1,
     CONFIG_MODEL_MAX - 1, FIELD(llm[CONFIG_LLM_HUGGINGFACE].model)},
    {"KPULSE_LLM_HUGGINGFACE_KEY", NULL, "TOKEN", "",
     "Hugging Face access token (allowed to call Inference Providers)", CONFIG_SECRET, 8, 1024,
     FIELD(llm[CONFIG_LLM_HUGGINGFACE].key)},
    {"KPULSE_LLM_COMPAT_URL", "llm-compat-url", "URL", "",
     "Base URL of any other OpenAI-compatible server (vLLM, llama.cpp, LocalAI), up to its "
     "/v1",
     CONFIG_URL, 0, CONFIG_URL_MAX - 1, FIELD(llm[CONFIG_LLM_COMPAT].url)},
    {"KPULSE_LLM_COMPAT_MODEL", "llm-compat-model", "MODEL", "",
     "Model of the OpenAI-compatible server", CONFIG_STRING, 1, CONFIG_MODEL_MAX - 1,
     FIELD(llm[CONFIG_LLM_COMPAT].model)},
    {"KPULSE_LLM_COMPAT_KEY", NULL, "KEY", "",
     "API key of the OpenAI-compatible server; empty sends none", CONFIG_SECRET, 8, 1024,
     FIELD(llm[CONFIG_LLM_COMPAT].key)},
    {"KPULSE_LLM_TIMEOUT", "llm-timeout", "SECONDS", "30",
     "Longest one provider may take to answer, its retries included, in seconds", CONFIG_SECONDS, 1,
     600, FIELD(llm_timeout_s)},
    {"KPULSE_LLM_RETRIES", "llm-retries", "N", "2",
     "Further tries of a provider call that failed for a reason that may pass (429, 5xx, "
     "network), with backoff honouring Retry-After",
     CONFIG_UINT, 0, 2, FIELD(llm_retries)},
    {"KPULSE_LLM_TOKEN_BUDGET", "llm-token-budget", "TOKENS", "3000",
     "Tokens the evidence record may take in the prompt (estimated as bytes / 3); larger "
     "records are trimmed",
     CONFIG_UINT, 100, 200000, FIELD(llm_token_budget)},
    {"KPULSE_LLM_MAX_TOKENS", "llm-max-tokens", "TOKENS", "1024",
     "Longest answer asked of a provider, in tokens", CONFIG_UINT, 16, 32768,
     FIELD(llm_max_tokens)},
    {"KPULSE_LLM_CACHE_TTL", "llm-cache-ttl", "DURATION", "24h",
     "How long answers are kept in the store and given again for the same provider, model and "
     "prompt; 0 keeps none",
     CONFIG_DURATION, 0, DAYS(365), FIELD(llm_cache_ttl_s)},
    {"KPULSE_LLM_BREAKER_FAILURES", "llm-breaker-failures", "N", "3",
     "Failed calls in a row after which a provider is skipped for a while (circuit breaker)",
     CONFIG_UINT, 1, 100, FIELD(llm_breaker_failures)},
    {"KPULSE_LLM_BREAKER_COOLDOWN", "llm-breaker-cooldown", "DURATION", "60s",
     "How long a provider whose breaker opened is skipped before one call tries it again",
     CONFIG_DURATION, 1, DAYS(1), FIELD(llm_breaker_cooldown_s)},
    /* Alerts (userspace/alerts/) */
    {"KPULSE_ALERT_SLACK_URL", NULL, "URL", "",
     "Slack incoming-webhook URL (a secret: it holds the token); empty sends nothing to Slack",
     CONFIG_SECRET, 10, 1024, FIELD(alert_slack_url)},
    {"KPULSE_ALERT_PAGERDUTY_KEY", NULL, "KEY", "",
     "PagerDuty Events API v2 routing key (integration key); empty sends nothing to PagerDuty",
     CONFIG_SECRET, 32, 32, FIELD(alert_pagerduty_key)},
    {"KPULSE_ALERT_PAGERDUTY_URL", "alert-pagerduty-url", "URL",
     "https://events.pagerduty.com/v2/enqueue", "PagerDuty Events API v2 endpoint", CONFIG_URL, 1,
     CONFIG_URL_MAX - 1, FIELD(alert_pagerduty_url)},
    {"KPULSE_ALERT_WEBHOOK_URL", NULL, "URL", "",
     "URL that receives every alert as a JSON object; empty sends none", CONFIG_SECRET, 10, 1024,
     FIELD(alert_webhook_url)},
    {"KPULSE_ALERT_WEBHOOK_SECRET", NULL, "SECRET", "",
     "Key of the HMAC-SHA256 signature sent with each webhook alert (X-Kpulse-Signature); empty "
     "signs nothing",
     CONFIG_SECRET, 16, 1024, FIELD(alert_webhook_secret)},
    {"KPULSE_ALERT_MIN_SEVERITY", "alert-min-severity", "SEVERITY", "warning",
     "Least severity of an incident that is alerted", CONFIG_ENUM, .names = config_severity_names,
     .nnames = CONFIG_SEVERITY_COUNT, FIELD(alert_min_severity)},
    {"KPULSE_ALERT_SLACK_MIN_SEVERITY", "alert-slack-min-severity", "SEVERITY", "default",
     "Least severity sent to Slack, where default follows KPULSE_ALERT_MIN_SEVERITY", CONFIG_ENUM,
     .names = config_target_severity_names, .nnames = CONFIG_SEVERITY_COUNT + 1,
     FIELD(alert_slack_min_severity)},
    {"KPULSE_ALERT_PAGERDUTY_MIN_SEVERITY", "alert-pagerduty-min-severity", "SEVERITY", "default",
     "Least severity sent to PagerDuty, where default follows KPULSE_ALERT_MIN_SEVERITY",
     CONFIG_ENUM, .names = config_target_severity_names, .nnames = CONFIG_SEVERITY_COUNT + 1,
     FIELD(alert_pagerduty_min_severity)},
    {"KPULSE_ALERT_WEBHOOK_MIN_SEVERITY", "alert-webhook-min-severity", "SEVERITY", "default",
     "Least severity sent to the webhook, where default follows KPULSE_ALERT_MIN_SEVERITY",
     CONFIG_ENUM, .names = config_target_severity_names, .nnames = CONFIG_SEVERITY_COUNT + 1,
     FIELD(alert_webhook_min_severity)},
    {"KPULSE_ALERT_TIMEOUT", "alert-timeout", "SECONDS", "10",
     "Longest one delivery attempt of an alert may take, in seconds", CONFIG_SECONDS, 1, 120,
     FIELD(alert_timeout_s)},
    {"KPULSE_ALERT_RETRIES", "alert-retries", "N", "5",
     "Further attempts of an alert delivery that failed for a reason that may pass (429, 5xx, "
     "network), with backoff",
     CONFIG_UINT, 0, 20, FIELD(alert_retries)},
    {"KPULSE_ALERT_QUEUE", "alert-queue", "N", "256",
     "Alerts waiting for delivery at most; more are dropped and counted", CONFIG_UINT, 1, 100000,
     FIELD(alert_queue)},
    /* Remote write (export/remote_write.h); the defaults are
     * remote_write_options_default()'s. */
    {"KPULSE_REMOTE_WRITE_URL", "remote-write-url", "URL", "",
     "Prometheus remote-write endpoint every round is pushed to (Prometheus, Thanos, Mimir, "
     "VictoriaMetrics; e.g. http://prom:9090/api/v1/write); empty pushes nothing",
     CONFIG_URL, 0, CONFIG_URL_MAX - 1, FIELD(remote_write_url)},
    {"KPULSE_REMOTE_WRITE_BEARER_TOKEN", NULL, "TOKEN", "",
     "Bearer token sent to the remote-write endpoint (https, or this machine); empty sends none",
     CONFIG_SECRET, 1, 1000, FIELD(remote_write_bearer_token)},
    {"KPULSE_REMOTE_WRITE_HOST", "remote-write-host", "NAME", "",
     "Value of the host (and instance) label on pushed series; empty uses the host name",
     CONFIG_STRING, 1, 63, FIELD(remote_write_host)},
    {"KPULSE_REMOTE_WRITE_BATCH", "remote-write-batch", "N", "2000",
     "Samples per remote-write request at most (whole rounds; a bigger round goes alone)",
     CONFIG_UINT, 100, 1000000, FIELD(remote_write_batch)},
    {"KPULSE_REMOTE_WRITE_FLUSH", "remote-write-flush", "DURATION", "5s",
     "Longest a pushed sample waits for its batch to fill", CONFIG_DURATION, 0.1, 300,
     FIELD(remote_write_flush_s)},
    {"KPULSE_REMOTE_WRITE_QUEUE", "remote-write-queue", "N", "200000",
     "Samples waiting to be pushed at most; beyond it the oldest rounds are dropped and counted",
     CONFIG_UINT, 1000, 100000000, FIELD(remote_write_queue)},
    {"KPULSE_REMOTE_WRITE_TIMEOUT", "remote-write-timeout", "SECONDS", "10",
     "Longest one remote-write request may take, in seconds", CONFIG_SECONDS, 1, 120,
     FIELD(remote_write_timeout_s)},
    {"KPULSE_REMOTE_WRITE_RETRIES", "remote-write-retries", "N", "10",
     "Further tries of a batch that failed for a reason that may pass (429, 5xx, network), "
     "with a backoff from 0.5 s doubling to 30 s",
     CONFIG_UINT, 0, 1000, FIELD(remote_write_retries)},
    /* The defaults are PROCPASS_DEFAULT_* of collection/procpass.h. */
    {"KPULSE_FS_TYPES_INCLUDE", "fs-types-include", "TYPES", "zfs",
     "Filesystem types reported besides those on a block device (nfs4 or cifs can be added: "
     "a dead server then stalls collection)",
     CONFIG_NAMES, FIELD(fs_types_include)},
    {"KPULSE_FS_TYPES_EXCLUDE", "fs-types-exclude", "TYPES", "squashfs,erofs,iso9660",
     "Filesystem types never reported (read-only images are always full)", CONFIG_NAMES,
     FIELD(fs_types_exclude)},
    {"KPULSE_FS_MOUNT_EXCLUDE", "fs-mount-exclude", "PATHS", "",
     "Mount points left out of the filesystem series, each with everything beneath it",
     CONFIG_PATHS, FIELD(fs_mount_exclude)},
    {"KPULSE_MAX_FILESYSTEMS", "max-filesystems", "N", "64",
     "Most filesystems with series of their own (the rest are counted)", CONFIG_UINT, 1, 4096,
     FIELD(max_filesystems)},
    {"KPULSE_MAX_INTERFACES", "max-interfaces", "N", "128",
     "Most network interfaces of /proc/net/dev with series of their own (the rest are counted)",
     CONFIG_UINT, 1, 4096, FIELD(max_interfaces)},
    {"KPULSE_MAX_BLOCK_DEVICES", "max-block-devices", "N", "128",
     "Most block devices with series of their own (the rest are counted)", CONFIG_UINT, 1, 4096,
     FIELD(max_block_devices)},
    {"KPULSE_TCP_STATES_INTERVAL", "tcp-states-interval", "SECONDS", "10",
     "Seconds between two counts of TCP sockets by state, each a walk of the kernel's whole "
     "connection table; 0 counts every round",
     CONFIG_SECONDS, 0, 3600, FIELD(tcp_states_interval_s)},
    {"KPULSE_FORECAST_HORIZON", "forecast-horizon", "DURATION", "1h",
     "How far ahead GET /api/v1/forecast looks when the request names no horizon", CONFIG_DURATION,
     60, DAYS(7), FIELD(forecast_horizon_s)},
    {"KPULSE_PREDICT_WINDOW", "predict-window", "DURATION", "1h",
     "History a time-to-threshold trend (filesystem full, memory or swap exhausted, "
     "configured limits) is fitted on",
     CONFIG_DURATION, 60, DAYS(7), FIELD(predict_window_s)},
    {"KPULSE_PREDICT_MIN_HISTORY", "predict-min-history", "DURATION", "5m",
     "Least history a time-to-threshold prediction is made from", CONFIG_DURATION, 10, DAYS(7),
     FIELD(predict_min_history_s)},
    {"KPULSE_PREDICT_HORIZON", "predict-horizon", "DURATION", "24h",
     "A predicted crossing within this time is an alert-worthy event", CONFIG_DURATION, 60,
     DAYS(365), .flags = CONFIG_RELOADABLE, FIELD(predict_horizon_s)},
    {"KPULSE_PREDICT_LIMITS", "predict-limits", "LIMITS", "",
     "Series to predict against a limit, comma-separated NAME>LIMIT (rising) or NAME<LIMIT "
     "(falling), e.g. kpulse_mem_dirty_bytes>2e9 (empty: none)",
     CONFIG_STRING, 3, CONFIG_LINE_MAX - 1, FIELD(predict_limits)},
    {"KPULSE_MULTIVAR_WINDOW", "multivar-window", "DURATION", "1m",
     "Window of the multivariate detectors' features (each series' mean and its change)",
     CONFIG_DURATION, 1, 3600, FIELD(multivar_window_s)},
    {"KPULSE_MULTIVAR_HISTORY", "multivar-history", "DURATION", "24h",
     "History the Isolation Forest and LOF are trained on", CONFIG_DURATION, 600, DAYS(7),
     FIELD(multivar_history_s)},
    {"KPULSE_MULTIVAR_RETRAIN", "multivar-retrain", "DURATION", "1h",
     "How often the Isolation Forest and LOF are retrained in the background", CONFIG_DURATION, 60,
     DAYS(7), FIELD(multivar_retrain_s)},
    {"KPULSE_MULTIVAR", "multivar", "on|off", "on",
     "Whether the host's Isolation Forest and LOF score every round beside the per-series "
     "detectors (with KPULSE_MODELS on)",
     CONFIG_BOOL, FIELD(multivar)},
    {"KPULSE_MULTIVAR_MAX_SERIES", "multivar-max-series", "N", "64",
     "Most series in the multivariate feature vectors (rates and gauges, in the round's order)",
     CONFIG_UINT, 2, 256, FIELD(multivar_max_series)},
    {"KPULSE_MODELS", "models", "on|off", "on",
     "Whether the anomaly models run (a score per modelled series, anomalies in the store)",
     CONFIG_BOOL, FIELD(models)},
    {"KPULSE_MODELS_INCLUDE", "models-include", "PATTERNS", "@default",
     "Metric names the models look at: comma-separated globs; @default is the built-in list "
     "of host-level series, @custom every metric not named kpulse_*",
     CONFIG_STRING, 1, CONFIG_LIST_MAX - 1, FIELD(models_include)},
    {"KPULSE_MODELS_EXCLUDE", "models-exclude", "PATTERNS", "@default",
     "Metric names the models skip even when included: comma-separated globs; @default skips "
     "per-process rows (empty skips nothing)",
     CONFIG_STRING, 1, CONFIG_LIST_MAX - 1, FIELD(models_exclude)},
    {"KPULSE_MODELS_MAX_SERIES", "models-max-series", "N", "500",
     "Most series with an anomaly model (about 4 KB of memory each)", CONFIG_UINT, 1, 10000,
     FIELD(models_max_series)},
    {"KPULSE_MODELS_CHECKPOINT", "models-checkpoint", "DURATION", "5m",
     "How often the models' state is saved to the store (and at stop)", CONFIG_DURATION, 10,
     DAYS(1), FIELD(models_checkpoint_s)},
    {"KPULSE_ANOMALY_INFO", "anomaly-info", "SCORE", "0.5",
     "Anomaly score that opens an anomaly (severity info)", CONFIG_NUMBER, 0.01, 1,
     .flags = CONFIG_RELOADABLE, FIELD(anomaly_info)},
    {"KPULSE_ANOMALY_WARNING", "anomaly-warning", "SCORE", "0.7",
     "Anomaly score from which an anomaly is a warning", CONFIG_NUMBER, 0.01, 1,
     .flags = CONFIG_RELOADABLE, FIELD(anomaly_warning)},
    {"KPULSE_ANOMALY_CRITICAL", "anomaly-critical", "SCORE", "0.9",
     "Anomaly score from which an anomaly is critical", CONFIG_NUMBER, 0.01, 1,
     .flags = CONFIG_RELOADABLE, FIELD(anomaly_critical)},
    {"KPULSE_ANOMALY_COOLDOWN", "anomaly-cooldown", "DURATION", "5m",
     "A series crossing the threshold again this soon after its anomaly ended continues it",
     CONFIG_DURATION, 0, DAYS(1), .flags = CONFIG_RELOADABLE, FIELD(anomaly_cooldown_s)},
    {"KPULSE_INCIDENTS", "incidents", "on|off", "on",
     "Whether anomalies, predictions and OOM kills are grouped into incidents with evidence "
     "and an analysis",
     CONFIG_BOOL, FIELD(incidents)},
    {"KPULSE_INCIDENT_QUIET", "incident-quiet", "DURATION", "10m",
     "An incident with no active anomaly or prediction for this long resolves by itself",
     CONFIG_DURATION, 0, DAYS(7), FIELD(incident_quiet_s)},
    {"KPULSE_INCIDENT_MIN_SEVERITY", "incident-min-severity", "SEVERITY", "warning",
     "Least severity of an anomaly or prediction that opens an incident (less severe ones "
     "still join one)",
     CONFIG_ENUM, .names = config_severity_names, .nnames = CONFIG_SEVERITY_COUNT,
     FIELD(incident_min_severity)},
    {"KPULSE_INCIDENT_SETTLE", "incident-settle", "DURATION", "10s",
     "How old an incident is when its first analysis runs (its window then has data)",
     CONFIG_DURATION, 0, 3600, FIELD(incident_settle_s)},
    {"KPULSE_INCIDENT_BASELINE", "incident-baseline", "DURATION", "15m",
     "How far before an incident its evidence takes the baseline from", CONFIG_DURATION, 10,
     DAYS(1), FIELD(incident_baseline_s)},
};

const size_t config_option_count = sizeof(config_options) / sizeof(config_options[0]);

/* Edit distance of a and b (insert, delete, replace one byte), capped at
 * 64-byte inputs: option names are shorter. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const struct config_option *config_option_closest(const char *key)
{
	const struct config_option *best = NULL;
	size_t best_d = SIZE_MAX, limit;

	if (!key)
		return NULL;
	/* a typo or two, more for long names; beyond that a guess misleads */
	limit = strlen(key) / 4 > 2 ? strlen(key) / 4 : 2;
	for (size_t i = 0; i < config_option_count; i++) {
		size_t d = edit_distance(key, config_options[i].env);

		if (d < best_d) {
			best_d = d;
			best = &config_options[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

const struct config_option *config_option_find(const char *key)
{
	bool is_flag;

	if (!key)
		return NULL;
	is_flag = strncmp(key, "--", 2) == 0;
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];

		if (is_flag ? opt->flag && strcmp(key + 2, opt->flag) == 0
			    : strcmp(key, opt->env) == 0)
			return opt;
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Value parsers: 0, -EINVAL (malformed) or -ERANGE; ret_* only on success */
/* ---------------------------------------------------------------------- */

/*
 * A plain non-negative decimal such as "1", "0.5", ".5" or "1e3": no sign,
 * whitespace, hex, "inf" or "nan", which strtod would all take. *ret_end
 * points past the number. Uses strtod, so the C locale's decimal point.
 */
static int parse_decimal(const char *s, double *ret, const char **ret_end)
{
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '.' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || strspn(s, "0123456789.eE+-") < (size_t)(end - s))
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v))
		return -ERANGE;
	*ret = v;
	*ret_end = end;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *ret)
{
	const char *end;
	double v;
	int r;

	r = parse_decimal(s, &v, &end);
	if (r < 0)
		return r;
	if (*end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	/* strtoull would take leading space, a sign, and wrap "-1". */
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int config_parse_duration(const char *s, double *ret_seconds)
{
	const char *unit;
	double v, scale;
	int r;

	r = parse_decimal(s, &v, &unit);
	if (r < 0)
		return r;
	if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
		scale = 1;
	else if (strcmp(unit, "m") == 0)
		scale = 60;
	else if (strcmp(unit, "h") == 0)
		scale = 3600;
	else if (strcmp(unit, "d") == 0)
		scale = SECONDS_PER_DAY;
	else
		return -EINVAL;
	v *= scale;
	if (!isfinite(v))
		return -ERANGE;
	*ret_seconds = v;
	return 0;
}

static bool is_ipv4_like(const char *host)
{
	return strspn(host, "0123456789.") == strlen(host);
}

/* RFC 1123 host names: dot-separated labels of 1..63 letters, digits and
 * inner hyphens. */
static bool is_hostname(const char *host)
{
	size_t len = strlen(host);

	if (len == 0 || len > 253)
		return false;
	while (*host) {
		size_t label = strspn(host, "abcdefghijklmnopqrstuvwxyz"
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");

		if (label == 0 || label > 63 || host[0] == '-' || host[label - 1] == '-')
			return false;
		host += label;
		if (*host == '.') {
			host++;
			if (*host == '\0')
				return false;
		} else if (*host != '\0') {
			return false;
		}
	}
	return true;
}

/* "host:port", "1.2.3.4:port" or "[v6]:port"; host written without brackets. */
static int parse_listen(const char *s, char *ret_host, uint16_t *ret_port)
{
	char host[CONFIG_HOST_MAX];
	const char *h, *port_str;
	unsigned char addr[16];
	uint64_t port;
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		port_str = close + 2;
	} else {
		const char *colon = strchr(s, ':');

		/* A second colon means an IPv6 address without brackets. */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		h = s;
		hlen = (size_t)(colon - s);
		port_str = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, addr) != 1)
			return -EINVAL;
	} else if (is_ipv4_like(host)) {
		if (inet_pton(AF_INET, host, addr) != 1)
			return -EINVAL;
	} else if (!is_hostname(host)) {
		return -EINVAL;
	}
	if (parse_uint(port_str, 1, 65535, &port) < 0)
		return -EINVAL;
	memcpy(ret_host, host, hlen + 1);
	*ret_port = (uint16_t)port;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* config_set                                                             */
/* ---------------------------------------------------------------------- */

/* "90s", "15m", "24h", "30d": the largest unit that divides s evenly. */
static void format_duration(char *buf, size_t len, double s)
{
	static const struct {
		double seconds;
		char unit;
	} units[] = {{SECONDS_PER_DAY, 'd'}, {3600, 'h'}, {60, 'm'}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s >= units[i].seconds && fmod(s, units[i].seconds) == 0) {
			snprintf(buf, len, "%g%c", s / units[i].seconds, units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%gs", s);
}

static void join_names(char *buf, size_t len, const struct config_option *opt, const char *last)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < opt->nnames && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i == 0		     ? ""
				      : i + 1 == opt->nnames ? last
							     : ", ",
				      opt->names[i]);
}

static const char *config_option_range(const struct config_option *opt, char *buf, size_t len)
{
	char lo[32], hi[32];

	buf[0] = '\0';
	switch (opt->kind) {
	case CONFIG_SECONDS:
	case CONFIG_NUMBER:
	case CONFIG_UINT:
		snprintf(buf, len, "%.15g to %.15g", opt->min, opt->max);
		break;
	case CONFIG_DURATION:
		format_duration(lo, sizeof(lo), opt->min);
		format_duration(hi, sizeof(hi), opt->max);
		snprintf(buf, len, "%s to %s", lo, hi);
		break;
	case CONFIG_STRING:
	case CONFIG_SECRET:
		snprintf(buf, len, "%.15g to %.15g bytes", opt->min, opt->max);
		break;
	case CONFIG_ENUM:
		join_names(buf, len, opt, " or ");
		break;
	case CONFIG_CHOICES:
		join_names(buf, len, opt, " and ");
		break;
	case CONFIG_NAMES:
	case CONFIG_PATHS:
		snprintf(buf, len, "comma-separated, empty for none");
		break;
	case CONFIG_BOOL: /* the value name says on|off */
	case CONFIG_PATH:
	case CONFIG_LISTEN:
	case CONFIG_URL:
		break;
	}
	return buf;
}

const char *config_option_help(const struct config_option *opt, char *buf, size_t len)
{
	char range[160];

	config_option_range(opt, range, sizeof(range));
	snprintf(buf, len, "%s%s%s", opt->help,
		 !range[0]		       ? ""
		 : opt->kind == CONFIG_ENUM    ? ": "
		 : opt->kind == CONFIG_CHOICES ? "; known: "
					       : ", ",
		 range);
	return buf;
}

/* What a refused value is not, for the error message. */
static void describe_accepted(const struct config_option *opt, char *buf, size_t len)
{
	char range[128], lo[32], hi[32];

	switch (opt->kind) {
	case CONFIG_SECONDS:
		snprintf(buf, len, "is not a number of seconds between %.15g and %.15g", opt->min,
			 opt->max);
		break;
	case CONFIG_NUMBER:
		snprintf(buf, len, "is not a number between %.15g and %.15g", opt->min, opt->max);
		break;
	case CONFIG_DURATION:
		format_duration(lo, sizeof(lo), opt->min);
		format_duration(hi, sizeof(hi), opt->max);
		snprintf(buf, len,
			 "is not a duration between %s and %s (a number with unit s, m, h or d, "
			 "like 90s, 15m, 24h, 30d)",
			 lo, hi);
		break;
	case CONFIG_UINT:
		snprintf(buf, len, "is not a whole number between %.15g and %.15g", opt->min,
			 opt->max);
		break;
	case CONFIG_BOOL:
		snprintf(buf, len, "is not one of on, off");
		break;
	case CONFIG_ENUM:
		join_names(range, sizeof(range), opt, ", ");
		snprintf(buf, len, "is not one of %s", range);
		break;
	case CONFIG_PATH:
		snprintf(buf, len, "is not %s path shorter than %zu bytes",
			 opt->min > 0 ? "a non-empty" : "empty or a", opt->size);
		break;
	case CONFIG_STRING:
	case CONFIG_SECRET:
		snprintf(buf, len, "is not empty or %.15g to %.15g bytes", opt->min, opt->max);
		break;
	case CONFIG_LISTEN:
		snprintf(buf, len, "is not HOST:PORT or [IPV6]:PORT with a port from 1 to 65535");
		break;
	case CONFIG_URL:
		snprintf(buf, len, "is not %san http:// or https:// URL with a host",
			 opt->min > 0 ? "" : "empty or ");
		break;
	case CONFIG_CHOICES:
		join_names(range, sizeof(range), opt, ", ");
		snprintf(buf, len, "is not a comma-separated list of %s (each at most once)",
			 range);
		break;
	case CONFIG_NAMES:
		snprintf(buf, len,
			 "is not empty or a comma-separated list of names (letters, digits, "
			 "'.', '_', '+', '-') shorter than %zu bytes",
			 opt->size);
		break;
	case CONFIG_PATHS:
		snprintf(buf, len,
			 "is not empty or a comma-separated list of absolute paths shorter than "
			 "%zu bytes",
			 opt->size);
		break;
	}
}

/* Items between commas, none empty; each name made of [A-Za-z0-9._+-], or
 * each path absolute and free of control bytes. */
static bool valid_list(const char *s, bool paths)
{
	if (*s == '\0')
		return true;
	for (;;) {
		size_t n = strcspn(s, ",");

		if (n == 0 || (paths && s[0] != '/'))
			return false;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (paths ? (ch < 0x20 || ch == 0x7f)
				  : !(isalnum(ch) || ch == '.' || ch == '_' || ch == '+' ||
				      ch == '-'))
				return false;
		}
		if (s[n] == '\0')
			return true;
		s += n + 1;
	}
}

/*
 * "key: "value" what": the value cut to ERR_VALUE_MAX bytes and its control
 * bytes shown as '?', so the message stays one short line. Secrets are
 * never quoted back, not even in part.
 */
static int bad_value(char *err, size_t errlen, const char *key, const struct config_option *opt,
		     const char *value)
{
	char shown[ERR_VALUE_MAX + 4], what[256];
	size_t n = 0;

	describe_accepted(opt, what, sizeof(what));
	if (opt->kind == CONFIG_SECRET)
		return error_set(err, errlen, -EINVAL, "%s: the value %s", key, what);
	for (; value[n] && n < ERR_VALUE_MAX; n++) {
		unsigned char ch = (unsigned char)value[n];

		shown[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	strcpy(shown + n, value[n] ? "..." : "");
	return error_set(err, errlen, -EINVAL, "%s: \"%s\" %s", key, shown, what);
}

/* on/off and the usual synonyms. */
static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "a, b" -> "a,b" into out (size bytes): each item one of names[] (any
 * case, stored as named there), at most once, none empty. */
static int parse_choices(const struct config_option *opt, const char *value, char *out, size_t size)
{
	bool seen[16] = {};
	size_t n = 0;
	const char *p = value;

	out[0] = '\0';
	if (opt->nnames > sizeof(seen) / sizeof(seen[0]))
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		size_t len = strcspn(p, ","), i;
		const char *end = p + len;

		while (len && (p[0] == ' ' || p[0] == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		for (i = 0; i < opt->nnames; i++)
			if (strlen(opt->names[i]) == len && !strncasecmp(p, opt->names[i], len))
				break;
		if (!len || i == opt->nnames || seen[i])
			return -EINVAL;
		seen[i] = true;
		n += (size_t)snprintf(out + n, size > n ? size - n : 0, "%s%s", n ? "," : "",
				      opt->names[i]);
		if (n >= size)
			return -EINVAL;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

/* Parses value as opt's kind into the field at dst; -EINVAL when refused. */
static int parse_value(const struct config_option *opt, const char *value, struct kpulse_config *c)
{
	char *dst = (char *)c + opt->offset, host[CONFIG_HOST_MAX];
	size_t len = strlen(value);
	uint16_t port;
	uint64_t u;
	double d;
	bool b;

	switch (opt->kind) {
	case CONFIG_SECONDS:
	case CONFIG_NUMBER:
		if (parse_double(value, opt->min, opt->max, &d) < 0)
			return -EINVAL;
		memcpy(dst, &d, sizeof(d));
		return 0;
	case CONFIG_DURATION:
		if (config_parse_duration(value, &d) < 0 || d < opt->min || d > opt->max)
			return -EINVAL;
		memcpy(dst, &d, sizeof(d));
		return 0;
	case CONFIG_UINT:
		if (parse_uint(value, (uint64_t)opt->min, (uint64_t)opt->max, &u) < 0)
			return -EINVAL;
		if (opt->size == sizeof(uint32_t)) {
			uint32_t u32 = (uint32_t)u;

			memcpy(dst, &u32, sizeof(u32));
		} else {
			memcpy(dst, &u, sizeof(u));
		}
		return 0;
	case CONFIG_BOOL:
		if (parse_bool(value, &b) < 0)
			return -EINVAL;
		memcpy(dst, &b, sizeof(b));
		return 0;
	case CONFIG_ENUM:
		for (size_t i = 0; i < opt->nnames; i++) {
			if (strcasecmp(value, opt->names[i]) == 0) {
				int v = (int)i;

				memcpy(dst, &v, sizeof(v));
				return 0;
			}
		}
		return -EINVAL;
	case CONFIG_PATH:
		if (len < (size_t)opt->min || len >= opt->size)
			return -EINVAL;
		break;
	case CONFIG_STRING:
	case CONFIG_SECRET:
		if (len != 0 &&
		    (len < (size_t)opt->min || len > (size_t)opt->max || len >= opt->size))
			return -EINVAL;
		break;
	case CONFIG_NAMES:
	case CONFIG_PATHS:
		if (len >= opt->size || !valid_list(value, opt->kind == CONFIG_PATHS))
			return -EINVAL;
		break;
	case CONFIG_LISTEN:
		if (len >= opt->size || parse_listen(value, host, &port) < 0)
			return -EINVAL;
		memset(c->listen_host, 0, sizeof(c->listen_host));
		memcpy(c->listen_host, host, strlen(host));
		c->listen_port = port;
		break;
	case CONFIG_URL:
		if (len >= opt->size || (len == 0 && opt->min > 0) ||
		    (len > 0 && !http_url_valid(value)))
			return -EINVAL;
		break;
	case CONFIG_CHOICES: {
		char list[256];

		if (opt->size > sizeof(list) || parse_choices(opt, value, list, opt->size) < 0)
			return -EINVAL;
		memset(dst, 0, opt->size);
		memcpy(dst, list, strlen(list));
		return 0;
	}
	}
	/* Strings: zero the tail too, so equal configs compare equal byte
	 * for byte. */
	memset(dst, 0, opt->size);
	memcpy(dst, value, len);
	return 0;
}

int config_set(struct kpulse_config *c, const char *key, const char *value, char *err,
	       size_t errlen)
{
	const struct config_option *opt = config_option_find(key);
	struct kpulse_config next;

	if (!opt)
		return error_set(err, errlen, -ENOENT, "%s: unknown option", key ? key : "(null)");
	if (!value)
		value = "";
	/* Parse into a copy: on failure *c is unchanged. */
	next = *c;
	if (parse_value(opt, value, &next) < 0)
		return bad_value(err, errlen, key, opt, value);
	*c = next;
	return 0;
}

bool config_option_equal(const struct config_option *opt, const struct kpulse_config *a,
			 const struct kpulse_config *b)
{
	return memcmp((const char *)a + opt->offset, (const char *)b + opt->offset, opt->size) == 0;
}

void config_defaults(struct kpulse_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < config_option_count; i++) {
		/* The table's defaults are fixed strings checked by the unit
		 * tests; one that does not parse is a bug, not a runtime case. */
		if (config_set(c, config_options[i].env, config_options[i].default_value, NULL, 0) <
		    0)
			abort();
	}
}
