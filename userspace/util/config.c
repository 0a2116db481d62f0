/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * config.c - the option table, the one parser and validator of option
 * values (config_set), and the .env and environment loaders built on it.
 * See config.h for the contracts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/config.h"

#define ENV_PREFIX	"KPULSE_"
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

const struct config_option config_options[CONFIG_KEY_COUNT] = {
    [CONFIG_INTERVAL] = {CONFIG_INTERVAL, "KPULSE_INTERVAL", "interval", "SECONDS", "1.0",
			 "Collection interval in seconds, 0.1 to 3600"},
    [CONFIG_DATA_DIR] = {CONFIG_DATA_DIR, "KPULSE_DATA_DIR", "data-dir", "DIR", "./data",
			 "Directory where the store keeps its files"},
    [CONFIG_FLUSH_INTERVAL] = {CONFIG_FLUSH_INTERVAL, "KPULSE_FLUSH_INTERVAL", "flush-interval",
			       "SECONDS", "1.0",
			       "How often buffered samples are written to the store, in "
			       "seconds, 0.1 to 60"},
    [CONFIG_RETENTION_RAW] = {CONFIG_RETENTION_RAW, "KPULSE_RETENTION_RAW", "retention-raw",
			      "DURATION", "24h", "How long raw samples are kept, 1s to 3650d"},
    [CONFIG_RETENTION_1M] = {CONFIG_RETENTION_1M, "KPULSE_RETENTION_1M", "retention-1m", "DURATION",
			     "30d", "How long 1-minute rollups are kept, 1s to 3650d"},
    [CONFIG_RETENTION_1H] = {CONFIG_RETENTION_1H, "KPULSE_RETENTION_1H", "retention-1h", "DURATION",
			     "365d", "How long 1-hour rollups are kept, 1s to 3650d"},
    [CONFIG_RETENTION_EVENTS] = {CONFIG_RETENTION_EVENTS, "KPULSE_RETENTION_EVENTS",
				 "retention-events", "DURATION", "7d",
				 "How long events (such as slow I/Os) are kept, 1s to 3650d"},
    [CONFIG_SLOW_IO_MS] = {CONFIG_SLOW_IO_MS, "KPULSE_SLOW_IO_MS", "slow-io-ms", "MS", "50",
			   "Block I/Os slower than this many milliseconds are recorded as "
			   "events, 0 to 600000"},
    [CONFIG_TOP_K] = {CONFIG_TOP_K, "KPULSE_TOP_K", "top-k", "N", "10",
		      "How many of the busiest processes get series of their own, 1 to "
		      "1000"},
    [CONFIG_LISTEN] = {CONFIG_LISTEN, "KPULSE_LISTEN", "listen", "HOST:PORT", "127.0.0.1:9876",
		       "Address of the HTTP API: HOST:PORT or [IPV6]:PORT"},
    [CONFIG_LOG_LEVEL] = {CONFIG_LOG_LEVEL, "KPULSE_LOG_LEVEL", "log-level", "LEVEL", "info",
			  "Lowest level logged: debug, info, warn or error"},
    [CONFIG_LOG_FORMAT] = {CONFIG_LOG_FORMAT, "KPULSE_LOG_FORMAT", "log-format", "FORMAT", "text",
			   "Log line format: text or json (one JSON object a line)"},
    [CONFIG_BUFFER_MAX_SAMPLES] = {CONFIG_BUFFER_MAX_SAMPLES, "KPULSE_BUFFER_MAX_SAMPLES",
				   "buffer-max-samples", "N", "1000000",
				   "Most samples held in memory while the store cannot "
				   "write, 1000 to 100000000"},
    [CONFIG_ADMIN_PASSWORD] = {CONFIG_ADMIN_PASSWORD, "KPULSE_ADMIN_PASSWORD", "admin-password",
			       "PASSWORD", "",
			       "Password of the `admin` user created at first start when "
			       "there is no user yet, 8 to 1024 bytes; empty creates none "
			       "(prefer the environment: a flag shows in ps)"},
    [CONFIG_JWT_SECRET] = {CONFIG_JWT_SECRET, "KPULSE_JWT_SECRET", "jwt-secret", "SECRET", "",
			   "Secret that signs API login tokens, 32 to 1024 bytes; empty "
			   "reads or generates DATA_DIR/jwt.secret"},
    [CONFIG_TOKEN_TTL] = {CONFIG_TOKEN_TTL, "KPULSE_TOKEN_TTL", "token-ttl", "DURATION", "1h",
			  "How long a login token stays valid, 1s to 30d"},
    [CONFIG_METRICS_AUTH] = {CONFIG_METRICS_AUTH, "KPULSE_METRICS_AUTH", "metrics-auth", "on|off",
			     "off",
			     "Whether GET /metrics needs a viewer token like the rest of the "
			     "API"},
    [CONFIG_ALLOW_REMOTE_UNAUTHENTICATED] = {CONFIG_ALLOW_REMOTE_UNAUTHENTICATED,
					     "KPULSE_ALLOW_REMOTE_UNAUTHENTICATED",
					     "allow-remote-unauthenticated", "on|off", "off",
					     "Allow a non-loopback listen address while "
					     "/metrics needs no token (logs a warning)"},
    [CONFIG_API_MAX_CONNECTIONS] = {CONFIG_API_MAX_CONNECTIONS, "KPULSE_API_MAX_CONNECTIONS",
				    "api-max-connections", "N", "64",
				    "Most concurrent HTTP connections, 4 to 10000"},
    [CONFIG_API_MAX_BODY_BYTES] = {CONFIG_API_MAX_BODY_BYTES, "KPULSE_API_MAX_BODY_BYTES",
				   "api-max-body-bytes", "BYTES", "1048576",
				   "Largest HTTP request body, 1024 to 67108864"},
    [CONFIG_API_RATE_LIMIT] = {CONFIG_API_RATE_LIMIT, "KPULSE_API_RATE_LIMIT", "api-rate-limit",
			       "N", "50",
			       "HTTP requests per second per token (or per address without "
			       "one), 1 to 100000"},
    [CONFIG_CUSTOM_MAX_SERIES] = {CONFIG_CUSTOM_MAX_SERIES, "KPULSE_CUSTOM_MAX_SERIES",
				  "custom-max-series", "N", "1000",
				  "Most custom series POST /api/v1/metrics may create, 1 to "
				  "100000"},
    [CONFIG_TLS_CERT] = {CONFIG_TLS_CERT, "KPULSE_TLS_CERT", "tls-cert", "PATH", "",
			 "PEM certificate (chain) to serve the API over HTTPS, set together "
			 "with KPULSE_TLS_KEY; empty serves plain HTTP"},
    [CONFIG_TLS_KEY] = {CONFIG_TLS_KEY, "KPULSE_TLS_KEY", "tls-key", "PATH", "",
			"PEM private key of KPULSE_TLS_CERT, unencrypted; start-up is "
			"refused when the file is readable by every user (chmod 600)"},
};

const struct config_option *config_option_find(const char *key)
{
	bool is_flag;

	if (!key)
		return NULL;
	is_flag = strncmp(key, "--", 2) == 0;
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_option *opt = &config_options[i];

		if (is_flag ? strcmp(key + 2, opt->flag) == 0 : strcmp(key, opt->env) == 0)
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

__attribute__((format(printf, 3, 4))) static void err_printf(char *err, size_t errlen,
							     const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * "key: "value" what": the value cut to ERR_VALUE_MAX bytes and its control
 * bytes shown as '?', so the message stays one short line.
 */
static int bad_value(char *err, size_t errlen, const char *key, const char *value, const char *what)
{
	char shown[ERR_VALUE_MAX + 4];
	size_t n = 0;

	for (; value[n] && n < ERR_VALUE_MAX; n++) {
		unsigned char ch = (unsigned char)value[n];

		shown[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	strcpy(shown + n, value[n] ? "..." : "");
	err_printf(err, errlen, "%s: \"%s\" %s", key, shown, what);
	return -EINVAL;
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

/* Secrets are never quoted back, not even in part. */
static int bad_secret(char *err, size_t errlen, const char *key, const char *what)
{
	err_printf(err, errlen, "%s: the value %s", key, what);
	return -EINVAL;
}

static void set_string(char *field, size_t size, const char *value)
{
	/* Zero the tail too, so equal configs compare equal byte for byte. */
	memset(field, 0, size);
	memcpy(field, value, strlen(value));
}

int config_set(struct kpulse_config *c, const char *key, const char *value, char *err,
	       size_t errlen)
{
	const struct config_option *opt = config_option_find(key);
	char what[128], host[CONFIG_HOST_MAX];
	double min, max, d;
	uint64_t u;
	uint16_t port;
	enum log_level level;
	enum log_format format;
	bool b;

	if (!opt) {
		err_printf(err, errlen, "%s: unknown option", key ? key : "(null)");
		return -ENOENT;
	}
	if (!value)
		value = "";

	switch (opt->key) {
	case CONFIG_INTERVAL:
	case CONFIG_FLUSH_INTERVAL:
		min = 0.1;
		max = opt->key == CONFIG_INTERVAL ? 3600 : 60;
		if (parse_double(value, min, max, &d) < 0) {
			snprintf(what, sizeof(what), "is not a number of seconds between %g and %g",
				 min, max);
			return bad_value(err, errlen, key, value, what);
		}
		if (opt->key == CONFIG_INTERVAL)
			c->interval_s = d;
		else
			c->flush_interval_s = d;
		return 0;

	case CONFIG_RETENTION_RAW:
	case CONFIG_RETENTION_1M:
	case CONFIG_RETENTION_1H:
	case CONFIG_RETENTION_EVENTS:
		if (config_parse_duration(value, &d) < 0 || d < RETENTION_MIN_S ||
		    d > RETENTION_MAX_S)
			return bad_value(err, errlen, key, value,
					 "is not a duration between 1s and 3650d "
					 "(a number with unit s, m, h or d, like 90s, 15m, 24h, "
					 "30d)");
		if (opt->key == CONFIG_RETENTION_RAW)
			c->retention_raw_s = d;
		else if (opt->key == CONFIG_RETENTION_1M)
			c->retention_1m_s = d;
		else if (opt->key == CONFIG_RETENTION_1H)
			c->retention_1h_s = d;
		else
			c->retention_events_s = d;
		return 0;

	case CONFIG_SLOW_IO_MS:
		if (parse_uint(value, 0, 600000, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number of milliseconds between 0 and "
					 "600000");
		c->slow_io_ms = (uint32_t)u;
		return 0;

	case CONFIG_TOP_K:
		if (parse_uint(value, 1, 1000, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number between 1 and 1000");
		c->top_k = (uint32_t)u;
		return 0;

	case CONFIG_BUFFER_MAX_SAMPLES:
		if (parse_uint(value, 1000, 100000000, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number between 1000 and 100000000");
		c->buffer_max_samples = u;
		return 0;

	case CONFIG_DATA_DIR:
		if (value[0] == '\0' || strlen(value) >= sizeof(c->data_dir))
			return bad_value(err, errlen, key, value,
					 "is not a non-empty path shorter than 4096 bytes");
		set_string(c->data_dir, sizeof(c->data_dir), value);
		return 0;

	case CONFIG_TLS_CERT:
	case CONFIG_TLS_KEY:
		/* Only the form here: whether the files exist and hold PEM is
		 * checked when the API starts, by api_start(). */
		if (strlen(value) >= CONFIG_PATH_MAX)
			return bad_value(err, errlen, key, value,
					 "is not empty or a path shorter than 4096 bytes");
		if (opt->key == CONFIG_TLS_CERT)
			set_string(c->tls_cert, sizeof(c->tls_cert), value);
		else
			set_string(c->tls_key, sizeof(c->tls_key), value);
		return 0;

	case CONFIG_LISTEN:
		if (strlen(value) >= sizeof(c->listen) || parse_listen(value, host, &port) < 0)
			return bad_value(err, errlen, key, value,
					 "is not HOST:PORT or [IPV6]:PORT with a port from 1 to "
					 "65535");
		set_string(c->listen, sizeof(c->listen), value);
		set_string(c->listen_host, sizeof(c->listen_host), host);
		c->listen_port = port;
		return 0;

	case CONFIG_LOG_LEVEL:
		if (log_level_parse(value, &level) < 0)
			return bad_value(err, errlen, key, value,
					 "is not one of debug, info, warn, error");
		c->log_level = level;
		return 0;

	case CONFIG_LOG_FORMAT:
		if (log_format_parse(value, &format) < 0)
			return bad_value(err, errlen, key, value, "is not one of text, json");
		c->log_format = format;
		return 0;

	case CONFIG_ADMIN_PASSWORD:
		if (value[0] != '\0' &&
		    (strlen(value) < 8 || strlen(value) >= sizeof(c->admin_password)))
			return bad_secret(err, errlen, key, "is not empty or 8 to 1024 bytes");
		set_string(c->admin_password, sizeof(c->admin_password), value);
		return 0;

	case CONFIG_JWT_SECRET:
		if (value[0] != '\0' &&
		    (strlen(value) < 32 || strlen(value) >= sizeof(c->jwt_secret)))
			return bad_secret(err, errlen, key, "is not empty or 32 to 1024 bytes");
		set_string(c->jwt_secret, sizeof(c->jwt_secret), value);
		return 0;

	case CONFIG_TOKEN_TTL:
		if (config_parse_duration(value, &d) < 0 || d < 1 || d > 30 * SECONDS_PER_DAY)
			return bad_value(err, errlen, key, value,
					 "is not a duration between 1s and 30d");
		c->token_ttl_s = d;
		return 0;

	case CONFIG_METRICS_AUTH:
	case CONFIG_ALLOW_REMOTE_UNAUTHENTICATED:
		if (parse_bool(value, &b) < 0)
			return bad_value(err, errlen, key, value, "is not one of on, off");
		if (opt->key == CONFIG_METRICS_AUTH)
			c->metrics_auth = b;
		else
			c->allow_remote_unauthenticated = b;
		return 0;

	case CONFIG_API_MAX_CONNECTIONS:
		if (parse_uint(value, 4, 10000, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number between 4 and 10000");
		c->api_max_connections = (uint32_t)u;
		return 0;

	case CONFIG_API_MAX_BODY_BYTES:
		if (parse_uint(value, 1024, 67108864, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number between 1024 and 67108864");
		c->api_max_body_bytes = u;
		return 0;

	case CONFIG_API_RATE_LIMIT:
	case CONFIG_CUSTOM_MAX_SERIES:
		if (parse_uint(value, 1, 100000, &u) < 0)
			return bad_value(err, errlen, key, value,
					 "is not a whole number between 1 and 100000");
		if (opt->key == CONFIG_API_RATE_LIMIT)
			c->api_rate_limit = (uint32_t)u;
		else
			c->custom_max_series = (uint32_t)u;
		return 0;

	case CONFIG_KEY_COUNT:
		break;
	}
	err_printf(err, errlen, "%s: unknown option", key);
	return -ENOENT;
}

void config_defaults(struct kpulse_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		/* The table's defaults are fixed strings checked by the unit
		 * tests; one that does not parse is a bug, not a runtime case. */
		if (config_set(c, config_options[i].env, config_options[i].default_value, NULL, 0) <
		    0)
			abort();
	}
}

/* ---------------------------------------------------------------------- */
/* .env files                                                             */
/* ---------------------------------------------------------------------- */

/*
 * Reads one line without its "\n" or "\r\n" into buf (CONFIG_LINE_MAX + 2
 * bytes). Returns 1, 0 at end of file, -E2BIG for a line longer than
 * CONFIG_LINE_MAX, -EILSEQ for a NUL byte, or -errno from reading.
 */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -EILSEQ;
		if (n + 1 >= size)
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	if (ch == EOF) {
		if (ferror(f))
			return errno ? -errno : -EIO;
		if (n == 0)
			return 0;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > CONFIG_LINE_MAX)
		return -E2BIG;
	buf[n] = '\0';
	return 1;
}

static char *skip_blanks(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Splits one line in place. Returns 0 with *ret_key NULL for a blank or
 * comment line, 0 with key and value, or -EINVAL with *ret_why set.
 */
static int parse_env_line(char *line, char **ret_key, char **ret_value, const char **ret_why)
{
	char *p = skip_blanks(line), *key, *key_end, *value, *rest, *after_eq;
	bool quoted = true;

	*ret_key = NULL;
	if (*p == '\0' || *p == '#')
		return 0;
	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
		p = skip_blanks(p + 6);

	key = p;
	if (!isalpha((unsigned char)*p) && *p != '_') {
		*ret_why = "expected KEY=VALUE";
		return -EINVAL;
	}
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	key_end = p;
	p = skip_blanks(p);
	if (*p != '=') {
		*ret_why = "expected KEY=VALUE";
		return -EINVAL;
	}
	after_eq = p + 1;
	p = skip_blanks(after_eq);
	*key_end = '\0';

	if (*p == '\'') {
		/* Single quotes: everything up to the next quote, literally. */
		value = p + 1;
		rest = strchr(value, '\'');
		if (!rest) {
			*ret_why = "unterminated ' quote";
			return -EINVAL;
		}
		*rest++ = '\0';
	} else if (*p == '"') {
		/* Double quotes: \" and \\ are the escapes; other
		 * backslashes stay as they are. */
		char *r = p + 1, *w = p + 1;

		value = w;
		for (; *r && *r != '"'; r++) {
			if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
				r++;
			*w++ = *r;
		}
		if (*r != '"') {
			*ret_why = "unterminated \" quote";
			return -EINVAL;
		}
		rest = r + 1;
		*w = '\0';
	} else {
		/* Unquoted: up to a " #" comment, trailing blanks dropped. */
		char *end;

		quoted = false;
		value = p;
		for (end = p; *end; end++)
			if (*end == '#' && end > after_eq && (end[-1] == ' ' || end[-1] == '\t'))
				break;
		*end = '\0';
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		rest = end;
	}
	if (quoted) {
		rest = skip_blanks(rest);
		if (*rest != '\0' && *rest != '#') {
			*ret_why = "unexpected text after the closing quote";
			return -EINVAL;
		}
	}
	*ret_key = key;
	*ret_value = value;
	return 0;
}

int config_load_env_file(struct kpulse_config *c, const char *path, bool must_exist, char *err,
			 size_t errlen)
{
	char line[CONFIG_LINE_MAX + 2], msg[256];
	struct kpulse_config next = *c;
	unsigned long lineno = 0;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return 0;
		err_printf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	for (;;) {
		const char *why = NULL;
		char *key, *value, *text;

		lineno++;
		r = read_line(f, line, sizeof(line));
		if (r == 0)
			break;
		if (r == -E2BIG || r == -EILSEQ) {
			err_printf(err, errlen, "%s:%lu: %s", path, lineno,
				   r == -E2BIG ? "line longer than 4096 bytes"
					       : "line holds a NUL byte");
			r = -EINVAL;
			goto cleanup;
		}
		if (r < 0) {
			err_printf(err, errlen, "%s: %s", path, strerror(-r));
			goto cleanup;
		}
		text = line;
		/* A UTF-8 byte order mark, as some editors write. */
		if (lineno == 1 && strncmp(text, "\xef\xbb\xbf", 3) == 0)
			text += 3;
		r = parse_env_line(text, &key, &value, &why);
		if (r < 0) {
			err_printf(err, errlen, "%s:%lu: %s", path, lineno, why);
			goto cleanup;
		}
		if (!key || strncmp(key, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		r = config_set(&next, key, value, msg, sizeof(msg));
		if (r == -ENOENT) {
			err_printf(err, errlen,
				   "%s:%lu: unknown key %s (.env.example lists the known ones)",
				   path, lineno, key);
			r = -EINVAL;
			goto cleanup;
		}
		if (r < 0) {
			err_printf(err, errlen, "%s:%lu: %s", path, lineno, msg);
			goto cleanup;
		}
	}
	*c = next;
	r = 0;
cleanup:
	fclose(f);
	return r;
}

/* ---------------------------------------------------------------------- */
/* The environment                                                        */
/* ---------------------------------------------------------------------- */

int config_load_environ(struct kpulse_config *c, char *const *envp, char *err, size_t errlen)
{
	struct kpulse_config next = *c;
	char key[64];

	for (; envp && *envp; envp++) {
		const char *entry = *envp, *eq = strchr(entry, '=');
		size_t klen;
		int r;

		if (!eq || strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		klen = (size_t)(eq - entry);
		/* Longer than any option's name: not one of ours. */
		if (klen >= sizeof(key))
			continue;
		memcpy(key, entry, klen);
		key[klen] = '\0';
		r = config_set(&next, key, eq + 1, err, errlen);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
	}
	*c = next;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* .env.example                                                           */
/* ---------------------------------------------------------------------- */

int config_write_env_example(FILE *out)
{
	fputs("# kpulse configuration. Copy this file to .env and change what you need;\n"
	      "# every line is optional and shows the built-in default.\n"
	      "# Precedence, lowest first: defaults, .env, the environment, command-line flags.\n"
	      "# Durations take a unit: 90s, 15m, 24h, 30d (no unit means seconds).\n"
	      "# Generated from the option table in userspace/util/config.c\n"
	      "# (config_write_env_example); a unit test keeps the two the same.\n",
	      out);
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_option *opt = &config_options[i];

		fprintf(out, "\n# %s.\n# Flag: --%s %s\n%s=%s\n", opt->help, opt->flag,
			opt->value_name, opt->env, opt->default_value);
	}
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
