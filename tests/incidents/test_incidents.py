"""End to end on the real kernel: each load opens an incident whose built-in analysis names the
saturated resource and the culprit, and the webhook receiver gets its alert.

  CPU hog          stress-ng --cpu on every CPU      -> cpu, the stress-ng process
  I/O storm        fio random writes on one device   -> io, that device and fio
  memory hog       a process in a 64 MiB cgroup      -> memory, the victim and its cgroup
                   allocating 1 GiB (OOM-killed)
  packet loss      iperf3 between two namespaces,    -> network, the drop reason and peer
                   nftables dropping 20% of segments

Each test starts its own daemon (fresh models: about 35 s of warm-up at 0.1 s rounds) and resolves
what the warm-up's noise opened before it starts the load. Time bounds are generous ceilings for a
loaded machine, never a measure of speed."""

import os
import subprocess
import sys

from conftest import wait_for

import kptlib

PYTHON = "/usr/bin/python3"
OOM_LOAD = r"""
import sys, time
sys.stdin.readline()
blocks = []
for i in range(1024):
    blocks.append(b"\x01" * (1 << 20))
time.sleep(30)
"""


def check_alert(receiver, incident_id):
    def opened():
        return [e for e in receiver.received()
                if e.get("body", {}).get("kind") == "open"
                and e["body"].get("incident_id") == incident_id]

    got = wait_for(opened, 60, f"the open alert of incident {incident_id}")
    body = got[0]["body"]
    assert body["source"] == "kpulse" and body["severity"] in ("info", "warning", "critical")
    assert body["dedup_key"] and str(incident_id) in body["dedup_key"]


def report(inc, analysis):
    print(f"\nincident {inc['id']} ({inc['severity']}): {analysis['text']}", file=sys.stderr)


def test_a_cpu_hog_is_read_as_cpu_saturation_by_that_process(daemon, receiver, children):
    ncpu = os.cpu_count()
    last_id = daemon.quiet_start()
    # two workers a CPU: on a host busy already the hog still gets a large share
    hog = subprocess.Popen(["stress-ng", "--cpu", str(2 * ncpu), "--timeout", "90s", "--quiet"],
                           stdin=subprocess.DEVNULL)
    children.append(hog)
    inc, a = daemon.incident_reading(last_id, "cpu", "stress-ng")
    report(inc, a)
    assert "CPU saturation" in a["text"] and "CPUs busy" in a["text"]
    check_alert(receiver, inc["id"])


def test_an_io_storm_is_read_as_io_saturation_of_that_device(daemon, receiver, children, io_dir):
    work, disk = io_dir
    last_id = daemon.quiet_start()
    fio = subprocess.Popen(["fio", "--name=kpinc", f"--directory={work}", "--rw=randwrite",
                            "--bs=64k", "--size=256m", "--direct=1", "--ioengine=psync",
                            "--numjobs=2", "--time_based", "--runtime=60", "--fsync=16"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    children.append(fio)
    inc, a = daemon.incident_reading(last_id, "io", "fio")
    report(inc, a)
    assert f"device {disk}" in a["culprit"], a
    check_alert(receiver, inc["id"])


def test_a_memory_hog_oom_killed_in_its_cgroup_is_read_as_memory(daemon, receiver, children,
                                                                  oom_cgroup):
    cg = oom_cgroup
    last_id = daemon.quiet_start()
    p = subprocess.Popen([PYTHON, "-c", OOM_LOAD], stdin=subprocess.PIPE)
    children.append(p)
    cg.add(p.pid)
    with open(f"/proc/{p.pid}/comm") as f:
        comm = f.read().strip()
    p.stdin.write(b"go\n")
    p.stdin.flush()
    assert p.wait(timeout=60) == -9, "the memory hog was not OOM-killed"
    inc, a = daemon.incident_reading(last_id, "memory", f"{comm} (pid {p.pid})")
    report(inc, a)
    assert inc["severity"] == "critical"
    assert "kpinc-oom" in a["culprit"], a
    assert "OOM killer" in a["text"]
    check_alert(receiver, inc["id"])


def test_packet_loss_between_namespaces_is_read_as_network_loss(daemon, receiver, children,
                                                                lossy_pair):
    pair = lossy_pair
    last_id = daemon.quiet_start()
    srv = subprocess.Popen(["ip", "netns", "exec", pair["ns_b"], "iperf3", "-s", "-B",
                            pair["addr_b"], "-p", "5201"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(srv)
    assert kptlib.wait_tcp_listen(srv.pid, 5201), "iperf3 server did not start listening"
    cli = subprocess.Popen(["ip", "netns", "exec", pair["ns_a"], "iperf3", "-c", pair["addr_b"],
                            "-p", "5201", "-t", "60", "-b", "20M"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(cli)
    inc, a = daemon.incident_reading(last_id, "network", pair["addr_b"])
    report(inc, a)
    assert "retransmit" in a["text"]
    assert "NETFILTER_DROP" in a["culprit"], a
    check_alert(receiver, inc["id"])
