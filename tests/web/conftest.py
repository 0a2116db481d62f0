"""Fixtures for the dashboard's browser tests: one real daemon (as the API
tests start it, tests/api/apilib.py) with a viewer, an operator and an
admin, a little disk and process activity so every chart has kernel data,
and headless Chromium. Run as root (the daemon loads BPF probes):

  KPULSE_BIN=build/kpulse /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/web

Screenshots go to KPULSE_WEB_ARTIFACTS (default build/test-artifacts/web).
Every daemon, browser, load process and temporary directory is removed at
teardown, also when a test failed.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))

from apilib import Daemon  # noqa: E402
from weblib import ARTIFACTS, Browser, selenium_or_skip  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="the dashboard tests run the daemon, which needs root (BPF)")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


# Direct writes with a sync each, then process churn: block I/O for the
# latency heatmap and exec/exit events, bounded (it stops by itself).
LOAD = r"""
f="$1/load.bin"
i=0
while [ $i -lt 600 ]; do
    dd if=/dev/zero of="$f" bs=64k count=16 oflag=direct conv=fsync status=none 2>/dev/null \
        || dd if=/dev/zero of="$f" bs=64k count=16 conv=fsync status=none
    /bin/true; /bin/true
    sleep 0.3
    i=$((i + 1))
done
"""


@pytest.fixture(scope="session")
def daemon():
    selenium_or_skip()
    tmp = tempfile.mkdtemp(prefix="kpulse-web-")
    # The load writes beside the artifacts: on a disk even where /tmp is not.
    os.makedirs(ARTIFACTS, exist_ok=True)
    load_dir = tempfile.mkdtemp(prefix="load-", dir=os.path.dirname(os.path.abspath(ARTIFACTS)))
    d = Daemon(tmp)
    load = None
    try:
        d.wait_ready()
        d.setup_roles()
        load = subprocess.Popen(["/bin/sh", "-c", LOAD, "load", load_dir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield d
    finally:
        if load:
            load.kill()
            load.wait()
        rc = d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(load_dir, ignore_errors=True)
    assert rc == 0, "daemon did not stop cleanly"


@pytest.fixture(scope="session")
def routes(daemon):
    doc = daemon.request("GET", "/openapi.json").json()
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item}


@pytest.fixture
def browser(daemon):
    b = Browser(f"http://127.0.0.1:{daemon.port}")
    try:
        yield b
    finally:
        b.quit()
