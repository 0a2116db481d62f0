"""HTTPS for the REST API: KPULSE_TLS_CERT and KPULSE_TLS_KEY.

A self-signed certificate and key are made with the openssl command (Debian
package openssl) in a temporary directory; the daemon is the real one,
started through conftest.py's make_daemon fixture. Checks that HTTPS serves
with a client that trusts only that certificate, that plain HTTP on the
same port gets no answer, and that every bad setting stops start-up with
exit status 2 and a message naming the option.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from apilib import HOST, START_TIMEOUT_S, need_tool

# `kpulse run` exits with this status for bad configuration (EXIT_USAGE).
EXIT_BAD_CONFIG = 2


def make_cert(directory, name="server"):
    """A self-signed certificate for 127.0.0.1 and its key (mode 0600)."""
    cert = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture
def certs():
    need_tool("openssl", "openssl")
    tmp = tempfile.mkdtemp(prefix="kpulse-tls-")
    try:
        cert, key = make_cert(tmp)
        yield tmp, cert, key
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def trusting(cert):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cert)
    ctx.check_hostname = True
    return ctx


def https_get(port, path, ctx, timeout=10):
    conn = http.client.HTTPSConnection(HOST, port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_https_ready(d, ctx):
    """Like Daemon.wait_ready, but over HTTPS."""
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        if d.proc.poll() is not None:
            raise AssertionError(f"kpulse exited {d.proc.returncode}:\n{d.logtext()}")
        try:
            if https_get(d.port, "/readyz", ctx)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise AssertionError(f"kpulse not ready over HTTPS in {START_TIMEOUT_S}s:\n{d.logtext()}")


def start_fails(make_daemon, env):
    """Starts a daemon that must refuse its configuration; returns its log."""
    d = make_daemon(env, ready=False)
    try:
        rc = d.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"kpulse started despite {env}:\n{d.logtext()}")
    log = d.logtext()
    assert rc == EXIT_BAD_CONFIG, f"exit {rc}, want {EXIT_BAD_CONFIG}:\n{log}"
    return log


def test_https_serves_healthz_with_a_client_trusting_the_certificate(make_daemon, certs):
    _, cert, key = certs
    d = make_daemon({"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": key}, ready=False)
    ctx = trusting(cert)
    wait_https_ready(d, ctx)

    status, body = https_get(d.port, "/healthz", ctx)
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"

    # TLS 1.2 is the oldest version the daemon speaks.
    with socket.create_connection((HOST, d.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_https_refuses_tls_1_1(make_daemon, certs):
    _, cert, key = certs
    d = make_daemon({"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": key}, ready=False)
    wait_https_ready(d, trusting(cert))

    old = trusting(cert)
    # Deprecated in Python on purpose; here it is the point of the test.
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this Python's OpenSSL cannot offer TLS 1.1")
    with pytest.raises((ssl.SSLError, OSError)) as failed:
        https_get(d.port, "/healthz", old)
    # The server ended the handshake, not this client refusing to start one.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(failed.value)


def test_https_is_refused_by_a_client_not_trusting_the_certificate(make_daemon, certs):
    tmp, cert, key = certs
    d = make_daemon({"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": key}, ready=False)
    wait_https_ready(d, trusting(cert))

    other_cert, _ = make_cert(tmp, "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(d.port, "/healthz", trusting(other_cert))


def test_plain_http_to_the_tls_port_gets_no_http_answer(make_daemon, certs):
    _, cert, key = certs
    d = make_daemon({"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": key}, ready=False)
    wait_https_ready(d, trusting(cert))

    with pytest.raises((http.client.HTTPException, OSError)):
        d.request("GET", "/healthz", timeout=10)
    # The daemon is still serving HTTPS afterwards.
    assert https_get(d.port, "/healthz", trusting(cert))[0] == 200


def test_key_without_cert_is_a_start_up_error_naming_both(make_daemon, certs):
    _, _, key = certs
    log = start_fails(make_daemon, {"KPULSE_TLS_KEY": key})
    assert "KPULSE_TLS_KEY is set but KPULSE_TLS_CERT is not" in log


def test_cert_without_key_is_a_start_up_error_naming_both(make_daemon, certs):
    _, cert, _ = certs
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert})
    assert "KPULSE_TLS_CERT is set but KPULSE_TLS_KEY is not" in log


def test_missing_key_file_is_a_start_up_error_naming_the_option(make_daemon, certs):
    tmp, cert, _ = certs
    missing = os.path.join(tmp, "nope.key")
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": missing})
    assert f"KPULSE_TLS_KEY {missing}: cannot open: No such file or directory" in log


def test_unreadable_cert_is_a_start_up_error_naming_the_option(make_daemon, certs):
    # Root reads any mode, so "unreadable" is a path that cannot be read as
    # a file: a missing one and a directory.
    tmp, _, key = certs
    missing = os.path.join(tmp, "nope.crt")
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": missing, "KPULSE_TLS_KEY": key})
    assert f"KPULSE_TLS_CERT {missing}: cannot open" in log

    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": tmp, "KPULSE_TLS_KEY": key})
    assert f"KPULSE_TLS_CERT {tmp}: not a regular file" in log


def test_files_that_are_not_pem_are_start_up_errors_naming_the_option(make_daemon, certs):
    tmp, cert, key = certs
    junk = os.path.join(tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    os.chmod(junk, 0o600)

    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": junk, "KPULSE_TLS_KEY": key})
    assert f"KPULSE_TLS_CERT {junk}: no PEM certificate in it" in log

    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": junk})
    assert f"KPULSE_TLS_KEY {junk}: no PEM private key in it" in log

    # The certificate itself is not a key either.
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": cert})
    assert "KPULSE_TLS_KEY" in log


def test_key_of_another_certificate_is_a_start_up_error(make_daemon, certs):
    tmp, cert, _ = certs
    _, other_key = make_cert(tmp, "other")
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": other_key})
    assert f"KPULSE_TLS_KEY {other_key}: does not match the certificate in {cert}" in log


def test_world_readable_key_is_refused(make_daemon, certs):
    _, cert, key = certs
    os.chmod(key, 0o644)
    log = start_fails(make_daemon, {"KPULSE_TLS_CERT": cert, "KPULSE_TLS_KEY": key})
    assert f"KPULSE_TLS_KEY {key}: readable by every user (mode 0644)" in log


def test_tls_flags_work_like_the_environment(make_daemon, certs):
    _, cert, key = certs
    d = make_daemon(extra_args=("--tls-cert", cert, "--tls-key", key), ready=False)
    ctx = trusting(cert)
    wait_https_ready(d, ctx)
    assert https_get(d.port, "/healthz", ctx)[0] == 200
