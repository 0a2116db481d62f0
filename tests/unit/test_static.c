/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_static.c - the dashboard built into the binary (api/static.c and
 * the table web/embed.c generates): every file of web/ and the vendored
 * uPlot files are in the table with their exact bytes, content type,
 * gzip copy and ETags; paths outside the table find nothing; the
 * If-None-Match and Accept-Encoding checks; and the sources keep the
 * rules the Content-Security-Policy relies on (no inline script, no
 * markup built from strings, nothing fetched from another origin).
 * tests/api/test_static_route.py checks the same files over HTTP.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "api/static.h"
#include "test.h"

#ifndef TEST_WEB_DIR
#error "TEST_WEB_DIR must name the web/ folder"
#endif

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rbe");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 65536 > cap) {
			char *p = realloc(buf, cap + 65536 + 1);

			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* 0 when the asset at url holds exactly the bytes of file. */
static int same_bytes(const char *url, const char *file)
{
	const struct api_web_asset *a = api_web_asset_find(url);
	size_t len = 0;
	char *text = slurp(file, &len);
	int r = (!a || !text)					     ? -ENOENT
		: (a->len == len && memcmp(a->data, text, len) == 0) ? 0
								     : -1;

	free(text);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Calls fn(dir, name) for each regular file of dir ending in suffix;
 * returns how many. */
static int each_file(const char *dir, const char *suffix,
		     int (*fn)(const char *dir, const char *name, void *arg), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
			continue;
		if (fn(dir, e->d_name, arg) < 0) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	return n;
}

struct expect {
	const char *content_type;
};

static int check_source(const char *dir, const char *name, void *arg)
{
	const struct expect *x = arg;
	char path[512], url[256];
	const struct api_web_asset *a;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (strcmp(name, "index.html") == 0)
		snprintf(url, sizeof(url), "/");
	else
		snprintf(url, sizeof(url), "/ui/%s", name);
	a = api_web_asset_find(url);
	if (!a || strcmp(a->content_type, x->content_type) != 0 || same_bytes(url, path) != 0) {
		fprintf(stderr, "  %s: not served at %s as %s with its bytes\n", path, url,
			x->content_type);
		return -1;
	}
	return 0;
}

TEST(every_source_file_is_served_with_its_bytes_and_type)
{
	struct expect js = {"text/javascript; charset=utf-8"};
	struct expect css = {"text/css; charset=utf-8"};
	struct expect html = {"text/html; charset=utf-8"};
	struct expect svg = {"image/svg+xml"};
	int njs = each_file(TEST_WEB_DIR "/js", ".js", check_source, &js);

	CHECK(njs >= 10);
	CHECK(each_file(TEST_WEB_DIR, ".css", check_source, &css) >= 1);
	CHECK_EQ_INT(each_file(TEST_WEB_DIR, ".html", check_source, &html), 1);
	CHECK(each_file(TEST_WEB_DIR, ".svg", check_source, &svg) >= 1);
}

TEST(uplot_and_its_license_are_served_from_the_npm_package)
{
	const struct api_web_asset *js = api_web_asset_find("/ui/uPlot.iife.min.js");
	const struct api_web_asset *lic = api_web_asset_find("/ui/uPlot.LICENSE.txt");

	CHECK(js && strcmp(js->content_type, "text/javascript; charset=utf-8") == 0);
	CHECK_EQ_INT(same_bytes("/ui/uPlot.iife.min.js",
				TEST_WEB_DIR "/node_modules/uplot/dist/uPlot.iife.min.js"),
		     0);
	CHECK_EQ_INT(
	    same_bytes("/ui/uPlot.min.css", TEST_WEB_DIR "/node_modules/uplot/dist/uPlot.min.css"),
	    0);
	CHECK(lic && strcmp(lic->content_type, "text/plain; charset=utf-8") == 0);
	CHECK_EQ_INT(
	    same_bytes("/ui/uPlot.LICENSE.txt", TEST_WEB_DIR "/node_modules/uplot/LICENSE"), 0);
	CHECK(lic->len > 0 && memmem(lic->data, lic->len, "MIT", 3));
}

static int count_only(const char *dir, const char *name, void *arg)
{
	return 0;
}

TEST(the_table_holds_only_what_web_and_uplot_provide)
{
	size_t sources = 0;

	for (size_t i = 0; i < api_web_assets_count; i++)
		if (strncmp(api_web_assets[i].path, "/ui/uPlot", 9) != 0)
			sources++;
	/* index.html, app.css, favicon.svg and the modules of web/js; uPlot's
	 * script, style sheet and license */
	CHECK_EQ_INT(sources, 3 + each_file(TEST_WEB_DIR "/js", ".js", count_only, NULL));
	CHECK_EQ_INT(api_web_assets_count - sources, 3);
}

TEST(every_entry_has_a_distinct_strong_etag_and_a_gzip_copy_that_inflates_back)
{
	for (size_t i = 0; i < api_web_assets_count; i++) {
		const struct api_web_asset *a = &api_web_assets[i];
		size_t n = strlen(a->etag);

		CHECK(n == 34 && a->etag[0] == '"' && a->etag[33] == '"');
		CHECK(strspn(a->etag + 1, "0123456789abcdef") == 32);
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(a->etag, api_web_assets[k].etag) != 0 ||
			      (a->len == api_web_assets[k].len &&
			       memcmp(a->data, api_web_assets[k].data, a->len) == 0));
		if (!a->gzip) {
			CHECK(a->etag_gzip == NULL);
			continue;
		}
		CHECK(a->etag_gzip && strncmp(a->etag_gzip, a->etag, 33) == 0 &&
		      strcmp(a->etag_gzip + 33, "-gz\"") == 0);
		CHECK(a->gzip_len < a->len);

		z_stream z = {0};
		unsigned char *out = malloc(a->len + 1);

		CHECK(out);
		CHECK_EQ_INT(inflateInit2(&z, 15 + 16), Z_OK);
		z.next_in = (unsigned char *)a->gzip;
		z.avail_in = (uInt)a->gzip_len;
		z.next_out = out;
		z.avail_out = (uInt)a->len + 1;
		int r = inflate(&z, Z_FINISH);
		size_t got = z.total_out;

		inflateEnd(&z);
		if (r != Z_STREAM_END || got != a->len || memcmp(out, a->data, a->len) != 0) {
			free(out);
			fprintf(stderr, "  %s: gzip copy does not inflate to the file\n", a->path);
			CHECK(0);
		}
		free(out);
	}
}

TEST(the_big_files_are_compressed)
{
	const struct api_web_asset *u = api_web_asset_find("/ui/uPlot.iife.min.js");

	CHECK(u && u->gzip && u->gzip_len * 2 < u->len);
	CHECK(api_web_asset_find("/")->gzip);
}

TEST(paths_outside_the_table_find_nothing)
{
	static const char *const bad[] = {
	    "",
	    "/ui/",
	    "/ui",
	    "/index.html",
	    "/ui/../index.html",
	    "/ui/./app.js",
	    "/ui/app.js/",
	    "/ui//app.js",
	    "/UI/app.js",
	    "/ui/app.js?x=1",
	    "/ui/js/app.js",
	    "/../etc/passwd",
	    "/ui/%2e%2e/app.js",
	    "ui/app.js",
	};

	CHECK(api_web_asset_find(NULL) == NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_web_asset_find(bad[i])) {
			fprintf(stderr, "  %s found\n", bad[i]);
			CHECK(0);
		}
	CHECK(api_web_asset_find("/") != NULL);
	CHECK(api_web_asset_find("/ui/app.js") != NULL);
}

/* ------------------------------------------------------------ headers */

TEST(if_none_match_names_the_tag_in_any_listed_form)
{
	const char *t = "\"0123abcd\"", *g = "\"0123abcd-gz\"";

	CHECK(api_etag_matches("\"0123abcd\"", t, g));
	CHECK(api_etag_matches("\"0123abcd-gz\"", t, g));
	CHECK(api_etag_matches("W/\"0123abcd\"", t, g));
	CHECK(api_etag_matches("\"x\", \"y\" ,\"0123abcd\"", t, g));
	CHECK(api_etag_matches("\"x\",W/\"0123abcd-gz\"", t, NULL) == false);
	CHECK(api_etag_matches("*", t, g));
	CHECK(api_etag_matches(" * ", t, g));
	CHECK(!api_etag_matches(NULL, t, g));
	CHECK(!api_etag_matches("", t, g));
	CHECK(!api_etag_matches("\"0123abc\"", t, g));
	CHECK(!api_etag_matches("0123abcd", t, g));
	CHECK(!api_etag_matches("\"0123abcd\"x", t, g));
	CHECK(!api_etag_matches("w/\"0123abcd\"", t, g));
	CHECK(!api_etag_matches("\"x\", *y", t, g));
}

TEST(accept_encoding_gzip_unless_refused_with_q_zero)
{
	CHECK(api_accepts_gzip("gzip"));
	CHECK(api_accepts_gzip("gzip, deflate, br, zstd"));
	CHECK(api_accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
	CHECK(api_accepts_gzip("GZip"));
	CHECK(api_accepts_gzip("gzip ; q=0.5"));
	CHECK(api_accepts_gzip("gzip;q=0.001"));
	CHECK(api_accepts_gzip("*"));
	CHECK(!api_accepts_gzip(NULL));
	CHECK(!api_accepts_gzip(""));
	CHECK(!api_accepts_gzip("identity"));
	CHECK(!api_accepts_gzip("br, deflate"));
	CHECK(!api_accepts_gzip("gzip;q=0"));
	CHECK(!api_accepts_gzip("gzip;q=0.000"));
	CHECK(!api_accepts_gzip("gzip; Q=0.0"));
	CHECK(!api_accepts_gzip("*;q=0"));
	CHECK(!api_accepts_gzip("x-gzip"));
	CHECK(!api_accepts_gzip("gzipper"));
}

TEST(the_policy_allows_nothing_from_elsewhere_and_no_inline_code)
{
	static const char *const want[] = {
	    "default-src 'self'",    "script-src 'self';",  "style-src 'self';",
	    "img-src 'self' data:;", "connect-src 'self';", "frame-ancestors 'none'",
	    "base-uri 'none'",	     "form-action 'self'",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(API_WEB_CSP, want[i]));
	CHECK(!strstr(API_WEB_CSP, "unsafe"));
	CHECK(!strstr(API_WEB_CSP, "*"));
}

/* The rules the policy relies on, checked in the sources themselves. */
static int check_js_rules(const char *dir, const char *name, void *arg)
{
	static const char *const banned[] = {
	    "innerHTML",       "outerHTML",    "insertAdjacentHTML",   "document.write",
	    "eval(",	       "new Function", "setAttribute('style'", "setAttribute(\"style\"",
	    "http://",	       "https://",     "localStorage",	       "document.cookie",
	    "new EventSource",
	};
	char path[512];
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = slurp(path, &len);
	if (!text)
		return -1;
	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (strstr(text, banned[i])) {
			fprintf(stderr, "  %s uses %s\n", path, banned[i]);
			free(text);
			return -1;
		}
	free(text);
	return 0;
}

TEST(the_scripts_build_no_markup_from_strings_and_fetch_nothing_from_elsewhere)
{
	CHECK(each_file(TEST_WEB_DIR "/js", ".js", check_js_rules, NULL) > 0);
}

TEST(the_page_has_no_inline_script_or_style_and_names_no_other_origin)
{
	const struct api_web_asset *a = api_web_asset_find("/");
	char *html = strndup((const char *)a->data, a->len);
	char *p;
	int scripts = 0;

	CHECK(html);
	for (p = strstr(html, "<script"); p; p = strstr(p + 1, "<script")) {
		char *end = strchr(p, '>');

		scripts++;
		if (!end || !memmem(p, (size_t)(end - p), " src=\"/ui/", 10) ||
		    strncmp(end, "></script>", 10) != 0) {
			free(html);
			CHECK(0);
		}
	}
	CHECK(scripts == 2);
	CHECK(!strstr(html, "style=") && !strstr(html, "<style"));
	/* no inline event handler attribute (onload=, onclick=, ...) */
	for (p = strstr(html, " on"); p; p = strstr(p + 1, " on")) {
		size_t n = strspn(p + 3, "abcdefghijklmnopqrstuvwxyz");

		CHECK(!(n > 0 && p[3 + n] == '='));
	}
	CHECK(!strstr(html, "http:") && !strstr(html, "https:") && !strstr(html, "//cdn"));
	free(html);
}

TEST_MAIN()
