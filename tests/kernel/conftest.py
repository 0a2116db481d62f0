"""Fixtures for the kpulse kernel accuracy tests.

Run as root:
  /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/kernel
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kptlib  # noqa: E402

NS_A, NS_B = "kpt-a", "kpt-b"
IF_A, IF_B = "kpt-veth-a", "kpt-veth-b"
ADDR_A, ADDR_B = "10.254.77.1", "10.254.77.2"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="kernel tests need root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, "
                                   "network namespaces, cgroups); run them as root")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if kptlib.MEASUREMENTS:
        terminalreporter.section("kpulse vs kernel measurements")
        for line in kptlib.MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def kpulse_bin():
    path = kptlib.KPULSE_BIN
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"kpulse binary {path} is missing or not executable: build it with `make build` "
                    f"or point KPULSE_BIN at it", pytrace=False)
    return path


@pytest.fixture(scope="session")
def tools():
    """The load generators the tests need; fail (not skip) when one is missing."""
    need = ["stress-ng", "fio", "iperf3", "ip", "nft"]
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing test tools {missing}: install them with `make deps`", pytrace=False)


def _start(kpulse_bin, interval=1.0, extra=()):
    k = kptlib.Kpulse(interval=interval, extra_args=extra, binary=kpulse_bin)
    try:
        k.wait_started()  # the first snapshot: probes are attached
    except BaseException:
        k.stop()
        raise
    return k


@pytest.fixture
def kpulse(kpulse_bin):
    """A running `kpulse dump --json --interval 1`, stopped at teardown."""
    k = _start(kpulse_bin)
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture(scope="module")
def kpulse_module(kpulse_bin):
    k = _start(kpulse_bin)
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture
def children():
    """List of Popen objects killed at teardown."""
    procs = []
    try:
        yield procs
    finally:
        for p in procs:
            kptlib.kill_proc(p)


@pytest.fixture
def netns_pair(tools):
    """Two network namespaces joined by a veth pair, IPv6 off (no stray packets)."""
    for ns in (NS_A, NS_B):
        kptlib.netns_delete(ns)
    try:
        r = kptlib.run
        r(["ip", "netns", "add", NS_A])
        r(["ip", "netns", "add", NS_B])
        for ns in (NS_A, NS_B):
            r(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            r(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
            r(["ip", "-n", ns, "link", "set", "lo", "up"])
        r(["ip", "link", "add", IF_A, "netns", NS_A, "type", "veth", "peer", "name", IF_B, "netns", NS_B])
        r(["ip", "-n", NS_A, "addr", "add", f"{ADDR_A}/30", "dev", IF_A])
        r(["ip", "-n", NS_B, "addr", "add", f"{ADDR_B}/30", "dev", IF_B])
        r(["ip", "-n", NS_A, "link", "set", IF_A, "up"])
        r(["ip", "-n", NS_B, "link", "set", IF_B, "up"])
        r(["ip", "netns", "exec", NS_A, "ping", "-c", "1", "-W", "2", ADDR_B], check=False)
        yield {"ns_a": NS_A, "ns_b": NS_B, "if_a": IF_A, "if_b": IF_B, "addr_a": ADDR_A, "addr_b": ADDR_B}
    finally:
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "kpt"],
                           capture_output=True, timeout=10)
            kptlib.netns_delete(ns)


@pytest.fixture
def lossy_receiver(netns_pair):
    """nftables in the receiver namespace drops 5% of TCP segments to port 5201."""
    ns = netns_pair["ns_b"]
    rules = ("table inet kpt {\n"
             "  chain in {\n"
             "    type filter hook input priority 0; policy accept;\n"
             "    tcp dport 5201 numgen random mod 100 < 5 drop\n"
             "  }\n"
             "}\n")
    kptlib.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules)
    try:
        yield netns_pair
    finally:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "kpt"],
                       capture_output=True, timeout=10)


@pytest.fixture
def oom_cgroup():
    """A memory cgroup kpt-oom limited to 64 MiB (cgroup v1 or v2)."""
    restore = kptlib.MemCgroup.prepare_v2()
    cg = None
    try:
        try:
            cg = kptlib.MemCgroup("kpt-oom", 64 << 20)
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
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


@pytest.fixture(scope="module")
def fio_file():
    """A 256 MiB file of random data on a real block device, fsynced; removed at teardown."""
    size = 256 << 20
    chosen = None
    for d in ("/var/tmp", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))):
        try:
            if kptlib.whole_disk_of(d):
                chosen = d
                break
        except OSError:
            continue
    if chosen is None:
        pytest.fail("neither /var/tmp nor the repo dir is on a block device (cannot compare with "
                    "/proc/diskstats)", pytrace=False)
    fd, path = tempfile.mkstemp(prefix="kpt-fio-", suffix=".dat", dir=chosen)
    try:
        chunk = os.urandom(1 << 20)
        with os.fdopen(fd, "wb") as f:
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.sync()
        disk = kptlib.whole_disk_of(path)
        yield {"path": path, "size": size, "disk": disk[0], "majmin": disk[1]}
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
