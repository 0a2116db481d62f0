"""Devices that come and go, against the kernel's own view of them.

- A loop-backed ext4 the test makes and mounts: its filesystem series equal
  statvfs and its loop device appears, then both vanish when it goes.
- A network namespace the test makes, with kpulse running inside it: the
  interfaces of its /proc/net/dev, their drops, an interface added and
  deleted; TCP sockets by state as `ss -tan` counts them, and PassiveOpens.
- iostat's figures (utilisation, queue size, await) under an fio load,
  computed from /proc/diskstats over the same rounds.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from kptlib import Kpulse, netns_cat, netns_delete, report, run, series, value_of

FS_SERIES = ["kpulse_filesystem_size_bytes", "kpulse_filesystem_free_bytes", "kpulse_filesystem_avail_bytes",
             "kpulse_filesystem_files", "kpulse_filesystem_files_free"]


def wait_for(k, pred, rounds=8):
    """The first snapshot (within `rounds`) for which pred holds, or None."""
    for _ in range(rounds):
        snap = k.next_snapshot()
        if pred(snap):
            return snap
    return None


def statvfs_values(path):
    st = os.statvfs(path)
    return {"kpulse_filesystem_size_bytes": st.f_blocks * st.f_frsize,
            "kpulse_filesystem_free_bytes": st.f_bfree * st.f_frsize,
            "kpulse_filesystem_avail_bytes": st.f_bavail * st.f_frsize,
            "kpulse_filesystem_files": st.f_files, "kpulse_filesystem_files_free": st.f_ffree}


@pytest.fixture
def loop_ext4():
    """A 64 MiB ext4 image on a loop device, mounted on a fresh directory; all
    undone at teardown, whatever happened."""
    tools = [t for t in ("mkfs.ext4", "losetup", "mount", "umount") if shutil.which(t) is None]
    if tools:
        pytest.fail(f"missing {tools}: install e2fsprogs and util-linux (make deps)", pytrace=False)
    fd, image = tempfile.mkstemp(prefix="kpt-fs-", suffix=".img", dir="/var/tmp")
    os.close(fd)
    mnt = tempfile.mkdtemp(prefix="kpt-mnt-")
    dev = None
    mounted = False
    try:
        os.truncate(image, 64 << 20)
        run(["mkfs.ext4", "-q", "-F", image])
        dev = run(["losetup", "--find", "--show", image]).stdout.strip()
        run(["mount", dev, mnt])
        mounted = True
        yield {"image": image, "mnt": mnt, "dev": dev, "name": os.path.basename(dev)}
    finally:
        if mounted:
            subprocess.run(["umount", mnt], capture_output=True, timeout=30)
        if dev:
            subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=30)
        os.rmdir(mnt)
        os.unlink(image)


def test_loop_filesystem_matches_statvfs_then_vanishes_with_its_device(kpulse, loop_ext4):
    """A mounted loop-backed ext4 gets kpulse_filesystem_* series equal to statvfs
    (nobody else writes there), its avail bytes drop by what a written file takes,
    and its loop device gets block series while bound; after umount and detach
    both are gone."""
    mnt, name = loop_ext4["mnt"], loop_ext4["name"]
    snap = wait_for(kpulse, lambda s: series(s, "kpulse_filesystem_size_bytes", mountpoint=mnt))
    assert snap, f"{mnt} never appeared in kpulse_filesystem_size_bytes"
    want = statvfs_values(mnt)
    results = []
    for n in FS_SERIES:
        got = value_of(snap, n, mountpoint=mnt)
        results.append((got == want[n], f"{n}{{mountpoint={mnt}}}: kpulse={got} statvfs={want[n]}"))
    labels = series(snap, "kpulse_filesystem_size_bytes", mountpoint=mnt)[0]["labels"]
    assert labels["fstype"] == "ext4" and labels["device"] == loop_ext4["dev"]
    assert series(snap, "kpulse_block_ios_completed_total", device=name), f"{name} has no block series"
    assert series(snap, "kpulse_block_io_time_seconds_total", device=name)

    with open(os.path.join(mnt, "f"), "wb") as f:
        f.write(os.urandom(8 << 20))
        f.flush()
        os.fsync(f.fileno())
    kpulse.next_snapshot()
    snap2 = kpulse.next_snapshot()
    want2 = statvfs_values(mnt)
    for n in FS_SERIES:
        got = value_of(snap2, n, mountpoint=mnt)
        results.append((got == want2[n], f"after 8 MiB: {n}: kpulse={got} statvfs={want2[n]}"))
    drop = value_of(snap, "kpulse_filesystem_avail_bytes", mountpoint=mnt) - \
        value_of(snap2, "kpulse_filesystem_avail_bytes", mountpoint=mnt)
    for ok, line in results:
        report(("PASS " if ok else "FAIL ") + line)
    assert all(ok for ok, _ in results), "\n".join(l for ok, l in results if not ok)
    assert drop >= 8 << 20, f"avail fell by {drop} bytes after an 8 MiB file"

    run(["umount", mnt])
    run(["losetup", "-d", loop_ext4["dev"]])
    gone = wait_for(kpulse, lambda s: not series(s, "kpulse_filesystem_size_bytes", mountpoint=mnt) and
                    not series(s, "kpulse_block_ios_completed_total", device=name))
    # teardown must not umount again
    loop_ext4["dev"] = None
    assert gone, f"{mnt} or {name} still listed after umount and detach"
    report(f"INFO {mnt} on {name}: listed while mounted, gone after umount + detach")


NS, PEER = "kpt-pd", "kpt-pd-peer"
IF, IF_PEER, IF_EXTRA = "kpt-pd-v", "kpt-pd-p", "kpt-pd-x0"
ADDR, ADDR_PEER = "10.254.78.1", "10.254.78.2"


def ns_setup():
    for ns in (NS, PEER):
        netns_delete(ns)
    for ns in (NS, PEER):
        run(["ip", "netns", "add", ns])
        run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "link", "add", IF, "netns", NS, "type", "veth", "peer", "name", IF_PEER, "netns", PEER])
    run(["ip", "-n", NS, "addr", "add", f"{ADDR}/30", "dev", IF])
    run(["ip", "-n", PEER, "addr", "add", f"{ADDR_PEER}/30", "dev", IF_PEER])
    # Packets bigger than the peer's MTU are dropped on the way in: each one
    # is a transmit drop of IF.
    run(["ip", "-n", PEER, "link", "set", IF_PEER, "mtu", "1280"])
    run(["ip", "-n", NS, "link", "set", IF, "up"])
    run(["ip", "-n", PEER, "link", "set", IF_PEER, "up"])


@pytest.fixture
def netns_kpulse(kpulse_bin, tools):
    """kpulse running inside a fresh network namespace NS, joined to PEER by a veth."""
    k = None
    try:
        ns_setup()
        k = Kpulse(interval=1.0, binary=kpulse_bin, prefix=("ip", "netns", "exec", NS))
        k.wait_started()
        yield k
    finally:
        if k is not None:
            k.stop()
        for ns in (NS, PEER):
            netns_delete(ns)


def ns_net_dev(ns):
    out = {}
    for line in netns_cat(ns, "/proc/net/dev").splitlines()[2:]:
        name, rest = line.split(":", 1)
        v = [int(x) for x in rest.split()]
        out[name.strip()] = {"rx_errors": v[2], "rx_dropped": v[3], "tx_errors": v[10], "tx_dropped": v[11]}
    return out


SEND_BIG = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", ("%s", 9))
time.sleep(0.3)
for _ in range(%d):
    s.sendto(b"x" * 1400, ("%s", 9))
"""


def test_interfaces_of_a_namespace_their_drops_and_one_that_comes_and_goes(netns_kpulse):
    """In the namespace it runs in, kpulse lists lo and the veth from its first
    snapshot (zero traffic series for the veth); the veth's errors and drops equal
    /proc/net/dev there after 7 packets too big for the peer; an interface added
    gets zero series within a round or two and loses them once deleted."""
    k = netns_kpulse
    first = k.snapshots[0]
    for iface in ("lo", IF):
        for n in ("kpulse_net_rx_bytes_total", "kpulse_net_tx_dropped_total"):
            assert series(first, n, interface=iface), f"{n}{{interface={iface}}} not in the first snapshot"
    assert value_of(first, "kpulse_net_rx_packets_total", interface=IF) == 0

    run(["ip", "netns", "exec", NS, sys.executable, "-c", SEND_BIG % (ADDR_PEER, 7, ADDR_PEER)])
    k.next_snapshot()
    snap = k.next_snapshot()
    dev = ns_net_dev(NS)[IF]
    results = []
    for key in ("rx_errors", "rx_dropped", "tx_errors", "tx_dropped"):
        got = value_of(snap, f"kpulse_net_{key}_total", interface=IF)
        results.append((got == dev[key], f"{IF} {key}: kpulse={got} /proc/net/dev in {NS}={dev[key]}"))
    for ok, line in results:
        report(("PASS " if ok else "FAIL ") + line)
    assert all(ok for ok, _ in results), "\n".join(l for ok, l in results if not ok)
    assert dev["tx_dropped"] == 7, f"expected 7 drops, /proc/net/dev says {dev['tx_dropped']}"

    run(["ip", "-n", NS, "link", "add", IF_EXTRA, "type", "veth", "peer", "name", IF_EXTRA + "p"])
    came = wait_for(k, lambda s: series(s, "kpulse_net_tx_bytes_total", interface=IF_EXTRA), rounds=4)
    assert came, f"{IF_EXTRA} did not appear"
    assert value_of(came, "kpulse_net_tx_bytes_total", interface=IF_EXTRA) == 0
    assert value_of(came, "kpulse_net_rx_errors_total", interface=IF_EXTRA) == 0
    run(["ip", "-n", NS, "link", "del", IF_EXTRA])
    went = wait_for(k, lambda s: not series(s, "kpulse_net_tx_bytes_total", interface=IF_EXTRA) and
                    not series(s, "kpulse_net_rx_errors_total", interface=IF_EXTRA), rounds=4)
    assert went, f"{IF_EXTRA} still listed after it was deleted"
    report(f"INFO {IF_EXTRA}: zero series while it existed, none after")


# A helper inside the namespace: a listener and connections left in known
# states, held until stdin closes.
TCP_HELPER = r"""
import socket, sys, time
n_est, n_half, n_tw = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0)); l.listen(4096)
keep = []
def pair():
    c = socket.create_connection(l.getsockname()); s, _ = l.accept(); return c, s
for _ in range(n_est):                  # ESTABLISHED, both ends
    keep += pair()
for _ in range(n_half):                 # client FIN_WAIT2, server CLOSE_WAIT
    c, s = pair(); c.close(); keep.append(s)
for _ in range(n_tw):                   # client TIME_WAIT
    c, s = pair(); c.close(); time.sleep(0.002); s.close()
time.sleep(0.5)
print("ready", flush=True)
sys.stdin.read()
"""

SS_STATES = {"ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv", "FIN-WAIT-1": "fin_wait1",
             "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait", "UNCONN": "close", "CLOSE-WAIT": "close_wait",
             "LAST-ACK": "last_ack", "LISTEN": "listen", "CLOSING": "closing"}


def ss_counts(ns):
    out = {v: 0 for v in SS_STATES.values()}
    for line in run(["ip", "netns", "exec", ns, "ss", "-Htan"]).stdout.splitlines():
        out[SS_STATES[line.split()[0]]] += 1
    return out


def test_tcp_states_match_ss_and_passive_opens_match_snmp(netns_kpulse):
    """With 500 connections established, 200 half closed and 300 in TIME_WAIT in
    kpulse's namespace, kpulse_net_tcp_connections{state} equals `ss -tan` there
    for every state, and kpulse_net_tcp_passive_opens_total equals PassiveOpens of
    its /proc/net/snmp."""
    k = netns_kpulse
    helper = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-c", TCP_HELPER, "500", "200", "300"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert helper.stdout.readline().strip() == "ready", "the TCP helper did not get ready"
        before = ss_counts(NS)
        k.next_snapshot()
        snap = k.next_snapshot()
        after = ss_counts(NS)
        snmp = netns_cat(NS, "/proc/net/snmp").splitlines()
    finally:
        helper.stdin.close()
        try:
            helper.wait(timeout=20)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
    tcp = [l.split() for l in snmp if l.startswith("Tcp:")]
    passive = int(tcp[1][tcp[0].index("PassiveOpens")])
    assert before == after, f"ss changed during the round: {before} -> {after}"
    results = []
    for state, want in sorted(after.items()):
        got = value_of(snap, "kpulse_net_tcp_connections", state=state)
        results.append((got == want, f"tcp {state}: kpulse={got} ss -tan={want}"))
    got = value_of(snap, "kpulse_net_tcp_passive_opens_total")
    results.append((got == passive, f"passive opens: kpulse={got} PassiveOpens={passive}"))
    for ok, line in results:
        report(("PASS " if ok else "FAIL ") + line)
    assert all(ok for ok, _ in results), "\n".join(l for ok, l in results if not ok)
    assert after["established"] == 1000 and after["time_wait"] == 300 and passive == 1000


def read_diskstats(dev):
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if p[2] == dev:
                return time.monotonic(), [int(x) for x in p[3:]]
    raise AssertionError(f"{dev} not in /proc/diskstats")


def iostat(d0, d1):
    (t0, a), (t1, b) = d0, d1
    ms = (t1 - t0) * 1e3
    reads = b[0] - a[0]
    return {"kpulse_block_utilization_ratio": min(1.0, (b[9] - a[9]) / ms),
            "kpulse_block_queue_length": (b[10] - a[10]) / ms,
            "kpulse_block_read_await_seconds": (b[3] - a[3]) / 1e3 / reads if reads else 0.0}


@pytest.fixture
def kpulse_2s(kpulse_bin):
    k = Kpulse(interval=2.0, binary=kpulse_bin)
    try:
        k.wait_started()
        yield k
    finally:
        k.stop()


def test_iostat_figures_under_fio_match_proc_diskstats(kpulse_2s, fio_file):
    """Under a steady fio random-read load (O_DIRECT, queue depth 8), kpulse's
    utilisation, queue size and read await for the disk agree with the same
    figures computed from /proc/diskstats read as each snapshot arrives (within
    10%; 0.05 for utilisation), over three consecutive 2-second rounds. The two
    reads of a round are a few milliseconds apart, hence the tolerance."""
    kpulse = kpulse_2s
    disk = fio_file["disk"]
    fio = subprocess.Popen(["fio", "--name=kpt-iostat", f"--filename={fio_file['path']}",
                            f"--size={fio_file['size']}", "--direct=1", "--rw=randread", "--bs=4k",
                            "--ioengine=libaio", "--iodepth=8", "--runtime=14", "--time_based",
                            "--randrepeat=0", "--norandommap"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(2)  # past fio's start
        kpulse.next_snapshot()
        snaps, reads = [], []
        for _ in range(4):
            snaps.append(kpulse.next_snapshot())
            reads.append(read_diskstats(disk))
    finally:
        fio.send_signal(signal.SIGINT)
        try:
            fio.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fio.kill()
            fio.wait()
    results = []
    for i in range(1, 4):
        want = iostat(reads[i - 1], reads[i])
        for name, w in want.items():
            got = value_of(snaps[i], name, device=disk)
            tol = 0.05 if name == "kpulse_block_utilization_ratio" else 0.10 * abs(w)
            ok = got is not None and abs(got - w) <= tol
            results.append((ok, f"round {i} {disk} {name}: kpulse={got} /proc/diskstats={w:.6g}"))
    for ok, line in results:
        report(("PASS " if ok else "FAIL ") + line)
    assert all(ok for ok, _ in results), "\n".join(l for ok, l in results if not ok)
