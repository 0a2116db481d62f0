// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ask.c - `kpulse ask`: asks the configured LLM providers (userspace/llm/)
 * to explain an evidence record, without the daemon, and prints the answer
 * and where it came from (provider, model, latency, tokens, cache). For an
 * operator checking keys and models, and for the tests of the LLM route.
 *
 * Configuration as `kpulse run` reads it: defaults, the .env file, the
 * environment; keys come only from the last two. Answers are cached in
 * DATA_DIR/kpulse.db like the daemon's (the same table, SQLite WAL, so
 * both may run at once) unless --no-cache.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli.h"
#include "llm/llm.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/http.h"

extern char **environ;

struct ask_args {
	const char *question, *evidence_file, *reading, *providers, *data_dir, *env_file;
	bool env_file_given, no_cache, json;
};

static void ask_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: kpulse ask [--question TEXT] [--evidence FILE.json] [--reading TEXT]\n"
	    "                  [--provider LIST] [--data-dir DIR] [--no-cache] [--json]\n"
	    "                  [--env-file PATH]\n"
	    "\n"
	    "Ask the configured LLM providers (KPULSE_LLM_PROVIDERS, in order) to explain an\n"
	    "evidence record, without the daemon, and print the answer and where it came\n"
	    "from. Keys are read from the environment or the .env file only.\n"
	    "\n"
	    "  --question TEXT    the question to ask (at most %d bytes)\n"
	    "  --evidence FILE    a JSON evidence record, trimmed to KPULSE_LLM_TOKEN_BUDGET;\n"
	    "                     - reads it from stdin\n"
	    "  --reading TEXT     a built-in analyst's reading to include\n"
	    "  --provider LIST    ask these providers instead (groq, openai, ollama,\n"
	    "                     huggingface, compat; comma-separated, in order)\n"
	    "  --data-dir DIR     where the answer cache is (DIR/kpulse.db); default\n"
	    "                     KPULSE_DATA_DIR\n"
	    "  --no-cache         neither read nor write cached answers\n"
	    "  --json             print one JSON object\n"
	    "  --env-file PATH    read KPULSE_* settings from PATH (default ./.env if present)\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Exit status: 0 answered, 1 no provider answered, 2 usage or configuration.\n",
	    LLM_QUESTION_MAX);
}

static int parse_args(int argc, char **argv, struct ask_args *a)
{
	static const struct option longopts[] = {
	    {"question", required_argument, NULL, 'q'}, {"evidence", required_argument, NULL, 'e'},
	    {"reading", required_argument, NULL, 'r'},	{"provider", required_argument, NULL, 'p'},
	    {"data-dir", required_argument, NULL, 'd'}, {"no-cache", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},		{"env-file", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},		{},
	};
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			a->question = optarg;
			break;
		case 'e':
			a->evidence_file = optarg;
			break;
		case 'r':
			a->reading = optarg;
			break;
		case 'p':
			a->providers = optarg;
			break;
		case 'd':
			a->data_dir = optarg;
			break;
		case 'n':
			a->no_cache = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'f':
			a->env_file = optarg;
			a->env_file_given = true;
			break;
		case 'h':
			ask_usage(stdout);
			return 1;
		default:
			fprintf(stderr,
				"kpulse ask: unknown or incomplete option '%s' (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse ask: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!a->question && !a->evidence_file) {
		fprintf(stderr, "kpulse ask: give --question, --evidence or both (try --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* The evidence file (or stdin) into a new string: at most the request's
 * limit, so a bigger one is refused here rather than read whole. */
static int read_evidence(const char *path, char **ret)
{
	size_t cap = LLM_EVIDENCE_MAX + 1, n;
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *buf;

	if (!f) {
		fprintf(stderr, "kpulse ask: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, cap, f);
	if (ferror(f) || n == cap) {
		fprintf(stderr, "kpulse ask: %s: %s\n", path,
			n == cap ? "larger than the 4 MiB an evidence record may be"
				 : "cannot read it");
		if (f != stdin)
			fclose(f);
		free(buf);
		return -EINVAL;
	}
	if (f != stdin)
		fclose(f);
	if (memchr(buf, '\0', n)) {
		fprintf(stderr, "kpulse ask: %s: holds a NUL byte, not JSON text\n", path);
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

static int load_config(const struct ask_args *a, struct kpulse_config *c)
{
	const char *env_file = a->env_file_given ? a->env_file : ".env";
	char err[512];

	config_defaults(c);
	if (config_load_env_file(c, env_file, a->env_file_given, err, sizeof(err)) ||
	    config_load_environ(c, environ, err, sizeof(err)) ||
	    (a->providers && config_set(c, "--llm-providers", a->providers, err, sizeof(err))) ||
	    (a->data_dir && config_set(c, "--data-dir", a->data_dir, err, sizeof(err)))) {
		fprintf(stderr, "kpulse ask: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* The cache, when the data directory exists; NULL otherwise (said once). */
static struct store *open_cache(const struct kpulse_config *c, bool quiet)
{
	struct store_options so;
	struct store *s = NULL;
	char path[CONFIG_PATH_MAX + 32], err[512];
	struct stat st;

	if (stat(c->data_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (!quiet)
			fprintf(stderr, "kpulse ask: no answer cache: %s is not a directory\n",
				c->data_dir);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", c->data_dir, STORE_DB_FILENAME);
	store_options_default(&so);
	so.maintenance_interval_s = 0; /* the daemon's business, not ours */
	if (store_open(path, &so, &s, err, sizeof(err))) {
		fprintf(stderr, "kpulse ask: no answer cache: %s\n", err);
		return NULL;
	}
	return s;
}

/* Cancels the ask when SIGINT or SIGTERM comes. */
struct watcher {
	struct llm_router *r;
	volatile bool done;
};

static void *watch_signals(void *arg)
{
	struct watcher *w = arg;

	while (!w->done && !cli_stop)
		clock_sleep_s(0.1);
	if (cli_stop)
		llm_router_cancel(w->r);
	return NULL;
}

static void print_json(const struct llm_answer *ans)
{
	json_t *o = json_pack("{s:o, s:s?, s:s?, s:f, s:I, s:I, s:b, s:b, s:b, s:I, s:b, s:[]}",
			      "answer", ans->text ? json_string(ans->text) : json_null(),
			      "provider", ans->all_failed ? NULL : ans->provider, "model",
			      ans->all_failed ? NULL : ans->model, "latency_s", ans->latency_s,
			      "prompt_tokens", (json_int_t)ans->prompt_tokens, "completion_tokens",
			      (json_int_t)ans->completion_tokens, "cached", ans->cached,
			      "truncated", ans->truncated, "all_failed", ans->all_failed,
			      "evidence_tokens", (json_int_t)ans->evidence_tokens,
			      "evidence_trimmed", ans->evidence_trimmed, "failures");
	json_t *list = json_object_get(o, "failures");

	for (size_t i = 0; o && i < ans->nfailures; i++)
		json_array_append_new(list,
				      json_pack("{s:s, s:s}", "provider", ans->failures[i].provider,
						"reason", ans->failures[i].reason));
	if (o) {
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	json_decref(o);
}

static void print_text(const struct llm_answer *ans, const char *reading)
{
	char tokens[96] = "not reported";

	if (ans->all_failed) {
		fprintf(stderr, "kpulse ask: no provider answered:\n");
		for (size_t i = 0; i < ans->nfailures; i++)
			fprintf(stderr, "  %s: %s\n", ans->failures[i].provider,
				ans->failures[i].reason);
		if (reading)
			printf("The built-in reading stands:\n%s\n", reading);
		return;
	}
	if (ans->prompt_tokens >= 0 || ans->completion_tokens >= 0)
		snprintf(tokens, sizeof(tokens), "%lld prompt + %lld answer",
			 (long long)ans->prompt_tokens, (long long)ans->completion_tokens);
	printf("%s\n\n", ans->text);
	printf("-- provider %s, model %s, %.2f s, tokens %s, %s%s\n", ans->provider, ans->model,
	       ans->latency_s, tokens, ans->cached ? "from the cache" : "asked now",
	       ans->truncated ? ", answer cut short" : "");
	if (ans->evidence_trimmed)
		printf("-- the evidence was trimmed to about %zu tokens\n", ans->evidence_tokens);
	for (size_t i = 0; i < ans->nfailures; i++)
		printf("-- %s did not answer: %s\n", ans->failures[i].provider,
		       ans->failures[i].reason);
}

int cmd_ask(int argc, char **argv)
{
	struct ask_args args = {};
	struct llm_router *router = NULL;
	struct llm_answer ans = {};
	struct watcher w = {};
	struct kpulse_config cfg;
	struct llm_options o;
	struct store *cache = NULL;
	struct llm_request req;
	char *evidence = NULL, err[512];
	pthread_t t;
	int r, status = EXIT_USAGE;

	r = parse_args(argc, argv, &args);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (load_config(&args, &cfg))
		return EXIT_USAGE;
	if (args.evidence_file && read_evidence(args.evidence_file, &evidence))
		return EXIT_USAGE;
	req = (struct llm_request){
	    .evidence_json = evidence, .builtin_reading = args.reading, .question = args.question};
	if (llm_request_check(&req, err, sizeof(err))) {
		fprintf(stderr, "kpulse ask: %s\n", err);
		goto out;
	}
	llm_options_from_config(&cfg, &o);
	if (!o.nproviders) {
		fprintf(stderr,
			"kpulse ask: no LLM provider configured: set KPULSE_LLM_PROVIDERS "
			"(and each provider's KPULSE_LLM_<NAME>_URL, _MODEL and _KEY) in the "
			"environment or .env\n");
		goto out;
	}
	http_global_init();
	if (!args.no_cache && o.cache_ttl_s > 0)
		cache = open_cache(&cfg, args.json);
	o.cache = cache;
	o.max_concurrent = 1;
	if (llm_router_new(&o, &router, err, sizeof(err))) {
		fprintf(stderr, "kpulse ask: %s\n", err);
		goto out;
	}
	cli_install_stop_signals();
	w.r = router;
	pthread_create(&t, NULL, watch_signals, &w);
	r = llm_ask(router, &req, &ans);
	w.done = true;
	pthread_join(t, NULL);
	if (r == -ECANCELED) {
		fprintf(stderr, "kpulse ask: interrupted\n");
		status = 130;
		goto out;
	}
	if (r) {
		fprintf(stderr, "kpulse ask: %s\n", strerror(-r));
		status = 1;
		goto out;
	}
	if (args.json)
		print_json(&ans);
	else
		print_text(&ans, args.reading);
	status = ans.all_failed ? 1 : 0;
out:
	llm_answer_clear(&ans);
	llm_router_free(router);
	store_close(cache);
	free(evidence);
	explicit_bzero(&cfg, sizeof(cfg)); /* it held the keys */
	explicit_bzero(&o, sizeof(o));
	http_global_cleanup();
	return status;
}
