"""Fixtures for the REST API tests: the real daemon with its HTTP server.

Each daemon runs `kpulse run` (env KPULSE_BIN) with a temporary data dir,
an admin password and a known JWT secret, on a free port of 127.0.0.1;
nothing listens anywhere else. Run as root (the daemon loads BPF probes):

  /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/api

Python's standard library only (http.client, socket, hmac). Tests that need
promtool, prometheus or wrk (Debian packages prometheus and wrk) skip with
a message naming the package when it is missing. Every daemon and helper
process is stopped and every temporary directory removed at teardown, also
when a test failed.
"""

import os
import shutil
import tempfile

import pytest

from apilib import Daemon


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="API tests run the daemon, which needs root (BPF probes)")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def daemon():
    tmp = tempfile.mkdtemp(prefix="kpulse-api-")
    d = Daemon(tmp)
    try:
        d.wait_ready()
        d.setup_roles()
        yield d
    finally:
        rc = d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    assert rc == 0, "daemon did not stop cleanly"


@pytest.fixture
def make_daemon():
    """Starts daemons with extra settings; stops and removes them afterwards."""
    made = []

    def make(extra_env=None, extra_args=(), ready=True):
        tmp = tempfile.mkdtemp(prefix="kpulse-api-")
        d = Daemon(tmp, extra_env, extra_args)
        made.append((d, tmp))
        if ready:
            d.wait_ready()
        return d

    yield make
    for d, tmp in made:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def tmpdir_clean():
    tmp = tempfile.mkdtemp(prefix="kpulse-api-tool-")
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)
