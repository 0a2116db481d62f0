"""Fixtures for the end-to-end incident tests on the real kernel: a daemon with short model
warm-up settings (0.1 s rounds, so the detectors' 300-update warm-up takes about 30 s), a local
webhook receiver (tests/fakes/webhook_receiver.py) for its alerts, and the loads: a CPU hog, an
I/O storm on one device, a memory hog in a memory cgroup driven into an OOM kill, and packet loss
between two network namespaces through an nftables drop rule.

Run as root:
  KPULSE_BIN=$PWD/build/kpulse /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/incidents
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))

import apilib  # noqa: E402
import kptlib  # noqa: E402

FAKES = os.path.join(HERE, "..", "fakes")
INTERVAL_S = 0.1
# The detectors score nothing during their first 300 updates (DETECTOR_WARMUP).
WARMUP_ROUNDS = 330

NS_A, NS_B = "kpinc-a", "kpinc-b"
IF_A, IF_B = "kpinc-va", "kpinc-vb"
ADDR_A, ADDR_B = "10.254.88.1", "10.254.88.2"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="incident tests need root (BPF, network namespaces, cgroups)")
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(skip)


def wait_for(fn, timeout, what, interval=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Receiver:
    """tests/fakes/webhook_receiver.py on 127.0.0.1."""

    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(FAKES,
                                                                       "webhook_receiver.py")],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT "), f"webhook receiver did not start: {line!r}"
        self.base = "http://127.0.0.1:%d" % int(line.split()[1])

    def received(self):
        with urllib.request.urlopen(self.base + "/_received", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class IncidentDaemon:
    """A daemon with fast rounds, short incident settings and alerts to the receiver."""

    def __init__(self, receiver):
        apilib.INTERVAL_S = INTERVAL_S
        self.tmp = tempfile.mkdtemp(prefix="kpulse-inc-")
        self.d = apilib.Daemon(self.tmp, {
            "KPULSE_INCIDENT_SETTLE": "4s",
            "KPULSE_INCIDENT_BASELINE": "20s",
            "KPULSE_INCIDENT_QUIET": "5s",
            "KPULSE_ALERT_WEBHOOK_URL": receiver.base + "/webhook/kpulse",
            "KPULSE_ALERT_MIN_SEVERITY": "info",
            "KPULSE_ALERT_RETRIES": "1",
        })
        self.d.wait_ready()
        self.d.setup_roles()

    def get(self, path):
        r = self.d.request("GET", path, token=self.d.tokens["viewer"], timeout=30)
        assert r.status == 200, (path, r.status, r.body)
        return r.json()

    def warm_up(self):
        wait_for(lambda: self.get("/api/v1/status")["rounds"]["count"] >= WARMUP_ROUNDS,
                 WARMUP_ROUNDS * INTERVAL_S * 20, "the models' warm-up")

    def quiet_start(self):
        """Resolves whatever the warm-up's noise opened, so that the load opens its own (the
        parts of a resolved incident do not reopen it); returns the newest incident id so far."""
        for inc in self.get("/api/v1/incidents?state=active&limit=1000")["incidents"]:
            self.d.request("POST", f"/api/v1/incidents/{inc['id']}/resolve",
                           token=self.d.tokens["operator"])
        return max((i["id"] for i in
                    self.get("/api/v1/incidents?state=all&limit=1000")["incidents"]), default=0)

    def incident_reading(self, after_id, resource, culprit, timeout=150):
        """The first incident opened after incident after_id whose built-in analysis names
        resource and a culprit containing culprit: (incident, that analysis). An incident
        read as resource but without that culprit yet is analysed again on demand (its
        window then holds more of the load), as an operator would."""
        asked = {}

        def find():
            for inc in self.get("/api/v1/incidents?state=all&limit=100")["incidents"]:
                if inc["id"] <= after_id:
                    continue
                full = self.get(f"/api/v1/incidents/{inc['id']}")
                for a in full["analyses"]:
                    if a["analyst"] != "builtin" or a.get("resource") != resource:
                        continue
                    if culprit in (a.get("culprit") or ""):
                        return full, a
                    if time.time() - asked.get(inc["id"], 0) > 10:
                        asked[inc["id"]] = time.time()
                        self.d.request("POST", f"/api/v1/incidents/{inc['id']}/analyze",
                                       token=self.d.tokens["operator"], timeout=60)
            return None

        try:
            return wait_for(find, timeout, f"an incident read as {resource}", interval=1)
        except AssertionError:
            seen = [(i["id"], i["summary"], i.get("resource"), i.get("culprit"))
                    for i in self.get("/api/v1/incidents?state=all&limit=100")["incidents"]]
            raise AssertionError(f"no incident since the load read as {resource} by {culprit}; "
                                 f"incidents: {seen}") from None

    def stop(self):
        rc = self.d.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def daemon(receiver):
    d = IncidentDaemon(receiver)
    try:
        d.warm_up()
        yield d
    finally:
        assert d.stop() == 0, "daemon did not stop cleanly"


@pytest.fixture
def children():
    procs = []
    yield procs
    for p in procs:
        kptlib.kill_proc(p)


@pytest.fixture
def lossy_pair():
    """Two network namespaces over a veth pair; nftables in the receiver's drops 20% of the
    TCP segments to port 5201."""
    for ns in (NS_A, NS_B):
        kptlib.netns_delete(ns)
    r = kptlib.run
    try:
        r(["ip", "netns", "add", NS_A])
        r(["ip", "netns", "add", NS_B])
        for ns in (NS_A, NS_B):
            r(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            r(["ip", "-n", ns, "link", "set", "lo", "up"])
        r(["ip", "link", "add", IF_A, "netns", NS_A, "type", "veth", "peer", "name", IF_B,
           "netns", NS_B])
        r(["ip", "-n", NS_A, "addr", "add", f"{ADDR_A}/30", "dev", IF_A])
        r(["ip", "-n", NS_B, "addr", "add", f"{ADDR_B}/30", "dev", IF_B])
        r(["ip", "-n", NS_A, "link", "set", IF_A, "up"])
        r(["ip", "-n", NS_B, "link", "set", IF_B, "up"])
        rules = ("table inet kpinc {\n"
                 "  chain in {\n"
                 "    type filter hook input priority 0; policy accept;\n"
                 "    tcp dport 5201 numgen random mod 100 < 20 drop\n"
                 "  }\n"
                 "}\n")
        r(["ip", "netns", "exec", NS_B, "nft", "-f", "-"], input=rules)
        yield {"ns_a": NS_A, "ns_b": NS_B, "addr_b": ADDR_B, "if_b": IF_B}
    finally:
        subprocess.run(["ip", "netns", "exec", NS_B, "nft", "delete", "table", "inet", "kpinc"],
                       capture_output=True, timeout=10)
        for ns in (NS_A, NS_B):
            kptlib.netns_delete(ns)


@pytest.fixture
def oom_cgroup():
    """A memory cgroup kpinc-oom limited to 64 MiB (the v1 memory controller here)."""
    restore = kptlib.MemCgroup.prepare_v2()
    cg = None
    try:
        cg = kptlib.MemCgroup("kpinc-oom", 64 << 20)
        yield cg
    finally:
        if cg is not None:
            cg.cleanup()
        if restore:
            try:
                with open(restore, "w") as f:
                    f.write("-memory")
            except OSError:
                pass


@pytest.fixture
def io_dir():
    """A directory on a real block device (for fio), and that device's name."""
    for d in ("/var/tmp", os.path.join(HERE, "..", "..")):
        try:
            disk = kptlib.whole_disk_of(d)
        except OSError:
            continue
        if disk:
            work = tempfile.mkdtemp(prefix="kpinc-io-", dir=d)
            yield work, disk[0]
            shutil.rmtree(work, ignore_errors=True)
            return
    pytest.fail("neither /var/tmp nor the checkout is on a block device", pytrace=False)
