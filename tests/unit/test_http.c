// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for util/http.c against the fake servers of tests/fakes: answers of
 * any status, Retry-After in both forms, the total timeout, the body cap,
 * cancellation, refused TLS, and messages that never quote a secret. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_proc.h"
#include "test.h"
#include "util/clock.h"
#include "util/http.h"

static const char *const json_headers[] = {"Content-Type: application/json", NULL};
static const char ollama_body[] =
    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"stream\":false}";

static struct http_request post(const char *url, const char *body, double timeout_s)
{
	return (struct http_request){.method = "POST",
				     .url = url,
				     .headers = json_headers,
				     .body = body,
				     .body_len = strlen(body),
				     .timeout_s = timeout_s,
				     .max_response_bytes = 1 << 20};
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

TEST(post_returns_status_body_and_content_type)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128], err[256];
	json_t *j;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 10);
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.content_type, "application/json");
	CHECK_NEAR(r.retry_after_s, -1, 0);
	CHECK_EQ_INT(strlen(r.body), r.body_len);
	j = json_loads(r.body, 0, NULL);
	CHECK(j && json_is_true(json_object_get(j, "done")));
	json_decref(j);
	http_response_clear(&r);
	fake_stop(&f);
}

TEST(an_error_status_is_an_answer_with_its_retry_after_seconds)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128];

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"error429\","
				      "\"retry_after\":\"3\"}"),
		     0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 10);
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), 0);
	CHECK_EQ_INT(r.status, 429);
	CHECK_NEAR(r.retry_after_s, 3, 0);
	CHECK(strstr(r.body, "too many requests") != NULL);
	http_response_clear(&r);
	fake_stop(&f);
}

TEST(retry_after_as_an_http_date_is_read_as_seconds_from_now)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128], spec[256], date[64];
	time_t when = time(NULL) + 30;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(spec, sizeof(spec),
		 "{\"target\":\"ollama\",\"mode\":\"error429\",\"retry_after\":\"%s\"}", date);
	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	CHECK_EQ_INT(fake_control(&f, spec), 0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 10);
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), 0);
	CHECK_EQ_INT(r.status, 429);
	/* 30 s ahead when written; the clock moved on by the time it was read */
	CHECK(r.retry_after_s > 20 && r.retry_after_s <= 31);
	http_response_clear(&r);

	/* a value that is neither form is ignored, not misread */
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"error429\","
				      "\"retry_after\":\"soon\"}"),
		     0);
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), 0);
	CHECK_EQ_INT(r.status, 429);
	CHECK_NEAR(r.retry_after_s, -1, 0);
	http_response_clear(&r);
	fake_stop(&f);
}

TEST(a_server_that_never_answers_ends_the_call_at_its_timeout)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128], err[256];
	double t0, dt;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"hang\"}"), 0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 2);
	t0 = clock_mono_s();
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -ETIMEDOUT);
	dt = clock_mono_s() - t0;
	/* generous: the bound is what matters, not the machine's speed */
	CHECK(dt >= 1.9 && dt < 10);
	CHECK(strstr(err, "timed out after 2.0 s") != NULL);
	CHECK(r.body == NULL);
	fake_stop(&f);
}

TEST(a_body_over_the_cap_fails_and_keeps_nothing)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128], err[256];

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"huge\",\"size\":200000}"),
		     0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 10);
	req.max_response_bytes = 10000;
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -EMSGSIZE);
	CHECK(strstr(err, "longer than 10000 bytes") != NULL);
	CHECK(r.body == NULL);
	/* the same answer fits a larger cap */
	req.max_response_bytes = 1 << 20;
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), 0);
	CHECK(r.body_len > 200000);
	http_response_clear(&r);
	fake_stop(&f);
}

struct canceller {
	atomic_bool *flag;
	double after_s;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	clock_sleep_s(c->after_s);
	atomic_store(c->flag, true);
	return NULL;
}

TEST(the_cancel_flag_ends_a_hanging_call_early)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	atomic_bool cancel = false;
	struct canceller c = {&cancel, 0.3};
	char url[128], err[256];
	pthread_t t;
	double t0, dt;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	CHECK_EQ_INT(fake_control(&f, "{\"target\":\"ollama\",\"mode\":\"hang\"}"), 0);
	req = post(fake_url(&f, "/ollama/api/chat", url, sizeof(url)), ollama_body, 60);
	req.cancel = &cancel;
	t0 = clock_mono_s();
	pthread_create(&t, NULL, cancel_later, &c);
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -ECANCELED);
	dt = clock_mono_s() - t0;
	pthread_join(t, NULL);
	CHECK(dt < 10);
	/* already cancelled: nothing is sent */
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -ECANCELED);
	fake_stop(&f);
}

TEST(a_refused_connection_is_named_by_origin_without_path_or_headers)
{
	static const char *const secret_headers[] = {"Authorization: Bearer sk-SECRET-123456",
						     NULL};
	struct http_response r = {};
	struct http_request req;
	char url[256], err[256];
	int port = closed_port();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T000/B000/XXXXSECRETPATH?token=q",
		 port);
	req = post(url, "{}", 5);
	req.headers = secret_headers;
	CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "http://127.0.0.1:") == err);
	CHECK(strstr(err, "connection refused") != NULL);
	CHECK(strstr(err, "SECRETPATH") == NULL);
	CHECK(strstr(err, "services") == NULL);
	CHECK(strstr(err, "token") == NULL);
	CHECK(strstr(err, "sk-SECRET") == NULL);
}

TEST(urls_other_than_http_and_https_are_refused)
{
	static const char *const bad[] = {
	    "ftp://127.0.0.1/x",       "file:///etc/passwd",	 "notaurl", "http://",
	    "http:// spaced.example/", "gopher://127.0.0.1:70/", "",
	};
	struct http_response r = {};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_request req = post(bad[i], "{}", 5);

		CHECK_EQ_INT(http_perform(&req, &r, err, sizeof(err)), -EINVAL);
		CHECK(!http_url_valid(bad[i]));
	}
	CHECK(http_url_valid("https://api.groq.com/openai/v1"));
	CHECK(http_url_valid("http://[::1]:11434"));
}

TEST(bad_arguments_are_refused)
{
	struct http_response r = {};
	struct http_request req = post("http://127.0.0.1:1/", "{}", 5);

	req.timeout_s = 0;
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), -EINVAL);
	req = post("http://127.0.0.1:1/", "{}", 5);
	req.max_response_bytes = 0;
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), -EINVAL);
	req = post("http://127.0.0.1:1/", "{}", 5);
	req.method = "DELETE";
	CHECK_EQ_INT(http_perform(&req, &r, NULL, 0), -EINVAL);
	CHECK_EQ_INT(http_perform(NULL, &r, NULL, 0), -EINVAL);
}

TEST(a_self_signed_certificate_is_refused)
{
	char dir[] = "/tmp/kpulse-http-tls.XXXXXX", cmd[1024], cert[128], key[128], url[128];
	char err[256];
	struct http_response r = {};
	struct http_request req;
	struct fake f = {};
	const char *args[4];
	int rc;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
		 key, cert);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "  openssl is missing (make deps installs it)\n");
		*failed = 1;
		return;
	}
	args[0] = "--tls";
	args[1] = cert;
	args[2] = key;
	args[3] = NULL;
	rc = fake_start(&f, "webhook_receiver.py", args);
	if (rc == 0) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/webhook/x", f.port);
		req = post(url, "{}", 10);
		rc = http_perform(&req, &r, err, sizeof(err));
		fake_stop(&f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", dir);
	CHECK_EQ_INT(rc, -EPROTO);
	CHECK(strstr(err, "TLS failed") != NULL);
}

TEST(https_to_a_plain_http_server_fails)
{
	struct fake f = {};
	struct http_response r = {};
	struct http_request req;
	char url[128], err[256];
	int rc;

	CHECK_EQ_INT(fake_start(&f, "fake_llm.py", NULL), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/ollama/api/chat", f.port);
	req = post(url, ollama_body, 10);
	rc = http_perform(&req, &r, err, sizeof(err));
	fake_stop(&f);
	CHECK(rc == -EPROTO || rc == -ECONNRESET);
}

TEST(origin_drops_user_info_path_query_and_keeps_the_port)
{
	char buf[HTTP_ORIGIN_MAX];

	CHECK_STR(
	    http_url_origin("https://hooks.slack.com/services/T0/B0/XYZ?x=1#f", buf, sizeof(buf)),
	    "https://hooks.slack.com");
	CHECK_STR(http_url_origin("http://user:pw@127.0.0.1:8080/a", buf, sizeof(buf)),
		  "http://127.0.0.1:8080");
	CHECK_STR(http_url_origin("http://[::1]:11434/api", buf, sizeof(buf)),
		  "http://[::1]:11434");
	CHECK(http_url_origin("ftp://x/", buf, sizeof(buf)) == NULL);
	CHECK_STR(buf, "");
}

TEST(loopback_hosts_are_told_apart_from_remote_ones)
{
	CHECK(http_url_is_loopback("http://127.0.0.1:11434"));
	CHECK(http_url_is_loopback("http://127.8.9.10/"));
	CHECK(http_url_is_loopback("http://[::1]:80/"));
	CHECK(http_url_is_loopback("http://localhost:11434"));
	CHECK(http_url_is_loopback("http://[::ffff:127.0.0.1]/"));
	CHECK(!http_url_is_loopback("http://10.0.0.1/"));
	CHECK(!http_url_is_loopback("https://api.openai.com/v1"));
	CHECK(!http_url_is_loopback("http://localhost.example.com/"));
	CHECK(!http_url_is_loopback("not a url"));
}

TEST(retryable_statuses_are_408_429_and_5xx)
{
	CHECK(http_status_retryable(408));
	CHECK(http_status_retryable(429));
	CHECK(http_status_retryable(500));
	CHECK(http_status_retryable(503));
	CHECK(!http_status_retryable(200));
	CHECK(!http_status_retryable(400));
	CHECK(!http_status_retryable(401));
	CHECK(!http_status_retryable(404));
	CHECK(!http_status_retryable(600));
}

TEST_MAIN()
