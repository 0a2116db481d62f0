/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * embed.c - a build tool, not part of kpulse: turns the dashboard's files
 * (web/ and the vendored uPlot files) into one C file holding the table
 * of userspace/api/static.h, so the daemon serves them from its own
 * binary with no file read at run time.
 *
 *   embed OUT.c FILE...
 *
 * FILE named index.html is served at "/", every other one at
 * "/ui/BASENAME"; two files with one basename are refused. Each entry
 * has its content type (from the extension; an unknown extension is
 * refused), its bytes, a gzip copy when that saves a tenth, and strong
 * ETags: the first 16 bytes of the SHA-256 of the bytes in hex, with
 * "-gz" added for the gzip copy.
 * OUT.c is written to OUT.c.tmp and renamed, so a failed run leaves no
 * half-written file. Output is deterministic (gzip without a time stamp).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#define MAX_FILES 64
#define MAX_BYTES (4u << 20)

struct type_row {
	const char *ext;
	const char *content_type;
};

static const struct type_row types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    {".txt", "text/plain; charset=utf-8"}, {".json", "application/json"},
};

struct file {
	const char *src;
	char url[256];
	const char *content_type;
	unsigned char *data, *gz;
	size_t len, gz_len;
	char etag[40];
};

static const char *content_type_of(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);

		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].content_type;
	}
	return NULL;
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rbe");
	unsigned char *buf;
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, MAX_BYTES + 1, f);
	if (ferror(f) || n > MAX_BYTES) {
		int err = ferror(f) ? -EIO : -EFBIG;

		fclose(f);
		free(buf);
		return err;
	}
	fclose(f);
	*ret = buf;
	*ret_len = n;
	return 0;
}

/* gzip (RFC 1952) of data, level 9, no name and no time stamp. */
static int gzip_bytes(const unsigned char *data, size_t len, unsigned char **ret, size_t *ret_len)
{
	z_stream z = {0};
	size_t cap = compressBound(len) + 64;
	unsigned char *out = malloc(cap);
	int r;

	if (!out)
		return -ENOMEM;
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		return -EIO;
	}
	*ret = out;
	*ret_len = z.total_out;
	return 0;
}

static int etag_of(const unsigned char *data, size_t len, char *buf, size_t buflen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16)
		return -EIO;
	n = (size_t)snprintf(buf, buflen, "\"");
	for (unsigned i = 0; i < 16; i++)
		n += (size_t)snprintf(buf + n, buflen - n, "%02x", md[i]);
	snprintf(buf + n, buflen - n, "\"");
	return 0;
}

static void write_bytes(FILE *out, const char *name, const unsigned char *data, size_t len)
{
	fprintf(out, "static const unsigned char %s[%zu] = {", name, len ? len : 1);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%s0x%02x,", i % 16 ? "" : "\n\t", data[i]);
	if (!len)
		fputs("0", out);
	fputs("\n};\n", out);
}

static int load(struct file *f, const char *src)
{
	const char *base = strrchr(src, '/');
	int r;

	base = base ? base + 1 : src;
	f->src = src;
	f->content_type = content_type_of(base);
	if (!f->content_type) {
		fprintf(stderr, "embed: %s: no content type for this extension\n", src);
		return -EINVAL;
	}
	if (strcmp(base, "index.html") == 0)
		snprintf(f->url, sizeof(f->url), "/");
	else if (snprintf(f->url, sizeof(f->url), "/ui/%s", base) >= (int)sizeof(f->url))
		return -ENAMETOOLONG;
	r = read_file(src, &f->data, &f->len);
	if (r < 0) {
		fprintf(stderr, "embed: cannot read %s: %s\n", src, strerror(-r));
		return r;
	}
	r = gzip_bytes(f->data, f->len, &f->gz, &f->gz_len);
	if (r == 0)
		r = etag_of(f->data, f->len, f->etag, sizeof(f->etag));
	if (r < 0) {
		fprintf(stderr, "embed: %s: %s\n", src, strerror(-r));
		return r;
	}
	/* Not worth a second copy unless it saves a tenth. */
	if (f->gz_len * 10 > f->len * 9) {
		free(f->gz);
		f->gz = NULL;
		f->gz_len = 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct file files[MAX_FILES];
	char tmp[4096], name[32];
	size_t n = 0;
	FILE *out;

	if (argc < 3 || (size_t)(argc - 2) > MAX_FILES) {
		fprintf(stderr, "usage: embed OUT.c FILE... (at most %d files)\n", MAX_FILES);
		return 2;
	}
	for (int i = 2; i < argc; i++, n++) {
		if (load(&files[n], argv[i]) < 0)
			return 1;
		for (size_t k = 0; k < n; k++)
			if (strcmp(files[k].url, files[n].url) == 0) {
				fprintf(stderr, "embed: %s and %s would both be served at %s\n",
					files[k].src, files[n].src, files[n].url);
				return 1;
			}
	}

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp))
		return 1;
	out = fopen(tmp, "we");
	if (!out) {
		fprintf(stderr, "embed: cannot write %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	fputs("/* Generated by web/embed.c from the files of web/ at build time; do not edit.\n"
	      " * The table of userspace/api/static.h: what the daemon serves at / and /ui/. */\n"
	      "#include <stddef.h>\n\n#include \"api/static.h\"\n\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "data_%zu", i);
		write_bytes(out, name, files[i].data, files[i].len);
		if (files[i].gz) {
			snprintf(name, sizeof(name), "gzip_%zu", i);
			write_bytes(out, name, files[i].gz, files[i].gz_len);
		}
	}
	fputs("\nconst struct api_web_asset api_web_assets[] = {\n", out);
	for (size_t i = 0; i < n; i++) {
		/* The etag without its quotes, and the gzip copy's tag: another
		 * representation, so another strong validator. */
		int hex = (int)strlen(files[i].etag) - 2;
		const char *tag = files[i].etag + 1;

		fprintf(out, "\t{\"%s\", \"%s\", \"\\\"%.*s\\\"\", data_%zu, %zu, ", files[i].url,
			files[i].content_type, hex, tag, i, files[i].len);
		if (files[i].gz)
			fprintf(out, "\"\\\"%.*s-gz\\\"\", gzip_%zu, %zu},\n", hex, tag, i,
				files[i].gz_len);
		else
			fputs("NULL, NULL, 0},\n", out);
	}
	fprintf(out, "};\n\nconst size_t api_web_assets_count = %zu;\n", n);
	if (ferror(out) | (fclose(out) != 0) || rename(tmp, argv[1]) < 0) {
		fprintf(stderr, "embed: cannot write %s\n", argv[1]);
		remove(tmp);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		free(files[i].data);
		free(files[i].gz);
	}
	return 0;
}
