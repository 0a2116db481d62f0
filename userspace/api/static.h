/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * static.h - the web dashboard's files, compiled into the binary: the
 * table the build generates from web/ (web/embed.c writes
 * $(BUILD)/web_assets.c), how a path finds its entry, and the header
 * checks static.c answers with (If-None-Match, Accept-Encoding).
 */
#ifndef KPULSE_API_STATIC_H
#define KPULSE_API_STATIC_H

#include <stdbool.h>
#include <stddef.h>

/* The Content-Security-Policy of every dashboard file: scripts, styles,
 * connections and images from this origin only (images also as data:
 * URLs), never framed, no <base>, forms post here only. No inline
 * script or style attribute is allowed, so the dashboard has none. */
#define API_WEB_CSP                                                                                \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

struct api_web_asset {
	const char *path;	  /* "/" for index.html, else "/ui/NAME" */
	const char *content_type; /* with charset for text */
	const char *etag;	  /* strong, with its quotes */
	const unsigned char *data;
	size_t len;
	const char *etag_gzip;	   /* the gzip copy's; NULL without one */
	const unsigned char *gzip; /* NULL when it would not save a tenth */
	size_t gzip_len;
};

extern const struct api_web_asset api_web_assets[];
extern const size_t api_web_assets_count;

/* The entry served at path (exact match; nothing is read from disk), or
 * NULL. */
const struct api_web_asset *api_web_asset_find(const char *path);

/* Whether an If-None-Match header value names one of the tags (a list,
 * "*", weak W/ tags compared weakly as RFC 9110 says). tag_gzip may be
 * NULL. */
bool api_etag_matches(const char *if_none_match, const char *tag, const char *tag_gzip);

/* Whether an Accept-Encoding header value accepts gzip: "gzip" or "*"
 * listed without q=0. */
bool api_accepts_gzip(const char *accept_encoding);

#endif /* KPULSE_API_STATIC_H */
