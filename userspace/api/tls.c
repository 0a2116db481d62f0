// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls.c - the certificate and key that turn the API into HTTPS
 * (KPULSE_TLS_CERT, KPULSE_TLS_KEY), read once at start and checked with
 * libcrypto before libmicrohttpd's GnuTLS sees them.
 *
 * Contracts: both files or neither; each must be a regular PEM file of at
 * most 1 MiB without NUL bytes; the key must match the certificate, must
 * not be encrypted (there is no one to ask for a passphrase) and must not
 * be readable by every user. Every refusal is -EINVAL (or -ENOTSUP for a
 * libmicrohttpd without TLS) with a line naming the option and the path.
 * The key's text is wiped before it is freed (api_tls_free()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/api_internal.h"
#include "util/error.h"

/* A certificate chain or key file larger than this is not one. */
#define TLS_FILE_MAX (1 << 20)

/*
 * Reads a PEM file into a NUL-terminated buffer. option names the setting
 * in err ("KPULSE_TLS_KEY /etc/kpulse/key.pem: ..."). A key file readable
 * by every user is refused rather than warned about: nothing here logs,
 * and a key any local user can copy is one to replace, not to serve.
 */
static int tls_read_file(const char *option, const char *path, bool is_key, char **ret, char *err,
			 size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int fd, r;

	/* Every failure to read the file is bad configuration: -EINVAL. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return error_set(err, errlen, -EINVAL, "%s %s: cannot open: %s", option, path,
				 strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = error_set(err, errlen, -EINVAL, "%s %s: cannot stat: %s", option, path,
			      strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		r = error_set(err, errlen, -EINVAL, "%s %s: not a regular file", option, path);
		goto cleanup;
	}
	if (is_key && (st.st_mode & S_IROTH)) {
		r = error_set(err, errlen, -EINVAL,
			      "%s %s: readable by every user (mode %04o); refusing to use it, "
			      "chmod o-r it (and replace the key if others may have read it)",
			      option, path, (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	if (st.st_size == 0 || st.st_size > TLS_FILE_MAX) {
		r = error_set(err, errlen, -EINVAL, "%s %s: %s", option, path,
			      st.st_size == 0 ? "empty file" : "larger than 1 MiB, not a PEM file");
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = error_set(err, errlen, -ENOMEM, "out of memory");
		goto cleanup;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = error_set(err, errlen, -EINVAL, "%s %s: cannot read: %s", option, path,
				      n < 0 ? strerror(errno) : "file shrank while being read");
			goto cleanup;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		r = error_set(err, errlen, -EINVAL, "%s %s: holds a NUL byte, not a PEM file",
			      option, path);
		goto cleanup;
	}
	*ret = buf;
	buf = NULL;
	r = 0;
cleanup:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return r;
}

/* Encrypted keys are not supported: there is no passphrase to give, and
 * without this callback OpenSSL would prompt on the terminal. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/*
 * Checks the PEM text with libcrypto before libmicrohttpd sees it: GnuTLS
 * behind MHD_start_daemon() only reports that starting failed, while here
 * each problem gets a message naming the option and the file.
 */
static int tls_check_pem(const struct api_options *o, const char *cert_pem, const char *key_pem,
			 char *err, size_t errlen)
{
	BIO *cert_bio = BIO_new_mem_buf(cert_pem, -1), *key_bio = BIO_new_mem_buf(key_pem, -1);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = -EINVAL;

	if (!cert_bio || !key_bio) {
		r = error_set(err, errlen, -ENOMEM, "out of memory");
		goto cleanup;
	}
	cert = PEM_read_bio_X509(cert_bio, NULL, tls_no_passphrase, NULL);
	if (!cert) {
		error_set(err, errlen, r, "KPULSE_TLS_CERT %s: no PEM certificate in it",
			  o->tls_cert_file);
		goto cleanup;
	}
	key = PEM_read_bio_PrivateKey(key_bio, NULL, tls_no_passphrase, NULL);
	if (!key) {
		error_set(err, errlen, r,
			  "KPULSE_TLS_KEY %s: no PEM private key in it (encrypted keys are not "
			  "supported)",
			  o->tls_key_file);
		goto cleanup;
	}
	if (X509_check_private_key(cert, key) != 1) {
		error_set(err, errlen, r, "KPULSE_TLS_KEY %s: does not match the certificate in %s",
			  o->tls_key_file, o->tls_cert_file);
		goto cleanup;
	}
	r = 0;
cleanup:
	/* The error queue is per thread; leave nothing for the next caller. */
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(key_bio);
	BIO_free(cert_bio);
	return r;
}

int api_tls_load(struct api *a, const struct api_options *o, char *err, size_t errlen)
{
	bool has_cert = o->tls_cert_file && o->tls_cert_file[0];
	bool has_key = o->tls_key_file && o->tls_key_file[0];
	int r;

	if (!has_cert && !has_key)
		return 0;
	if (has_cert != has_key)
		return error_set(err, errlen, -EINVAL,
				 "%s is set but %s is not; HTTPS needs both (or neither)",
				 has_cert ? "KPULSE_TLS_CERT" : "KPULSE_TLS_KEY",
				 has_cert ? "KPULSE_TLS_KEY" : "KPULSE_TLS_CERT");
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		return error_set(err, errlen, -ENOTSUP,
				 "KPULSE_TLS_CERT: this libmicrohttpd was built without TLS "
				 "support; install one built with GnuTLS or unset "
				 "KPULSE_TLS_CERT and KPULSE_TLS_KEY");
	}
	r = tls_read_file("KPULSE_TLS_CERT", o->tls_cert_file, false, &a->tls_cert_pem, err,
			  errlen);
	if (r < 0)
		return r;
	r = tls_read_file("KPULSE_TLS_KEY", o->tls_key_file, true, &a->tls_key_pem, err, errlen);
	if (r < 0)
		return r;
	r = tls_check_pem(o, a->tls_cert_pem, a->tls_key_pem, err, errlen);
	if (r < 0)
		return r;
	a->tls = true;
	return 0;
}

void api_tls_free(struct api *a)
{
	if (a->tls_key_pem)
		explicit_bzero(a->tls_key_pem, strlen(a->tls_key_pem));
	free(a->tls_key_pem);
	free(a->tls_cert_pem);
	a->tls_key_pem = a->tls_cert_pem = NULL;
}
