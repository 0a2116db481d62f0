"""Every PromQL expression of the Grafana dashboard (packaging/grafana/
kpulse.json), and every query behind its variables, run against a real
Prometheus (Debian's prometheus, on 127.0.0.1 with a temporary config and
TSDB) that scrapes a real kpulse daemon: each must parse and return at least
one finite value. Expressions over series that exist only after a rare
event, or with a kernel setting off by default, are listed in NEEDS_EVENT
with the reason, and only checked to parse. Root: the daemon loads BPF.

  KPULSE_BIN=$PWD/build/kpulse /usr/bin/python3 -m pytest -v tests/packaging/test_grafana.py
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KPULSE_BIN = os.environ.get("KPULSE_BIN", os.path.join(REPO, "build", "kpulse"))
DASHBOARD = os.path.join(REPO, "packaging", "grafana", "kpulse.json")
HOST = "127.0.0.1"
RATE_INTERVAL = "10s"  # what Grafana's $__rate_interval becomes at a 1 s scrape

# metric name -> why its expressions may legitimately return nothing here
NEEDS_EVENT = {
    "kpulse_bpf_program_run_seconds_total":
        "needs kernel.bpf_stats_enabled=1, off by default (kpulse_bpf_stats_enabled)",
    "kpulse_net_packet_drops_total":
        "lost packets only: none on a quiet host (every free is kpulse_net_skb_frees_total)",
}

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the daemon loads BPF probes: run as root")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def dashboard_queries():
    """(where, expr) for every panel target and every variable query."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((f'panel "{p["title"]}" {t["refId"]}', t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append((f'variable ${v["name"]}', v["query"]["query"]))
    return out


def substitute(expr):
    expr = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "1s")
    expr = expr.replace('"$job"', '"kpulse"')
    return re.sub(r'"\$\w+"', '".*"', expr)


def test_dashboard_is_grafana_json():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    ids = []

    def walk(panels):
        for p in panels:
            ids.append(p["id"])
            for t in p.get("targets", []):
                assert t["datasource"]["uid"] == "${datasource}"
            walk(p.get("panels", []))

    walk(dash["panels"])
    assert len(ids) == len(set(ids)), "panel ids repeat"
    kinds = {p["type"] for p in dash["panels"]}
    assert {"timeseries", "stat", "heatmap", "row"} <= kinds
    titles = {p["title"] for p in dash["panels"] if p["type"] == "row"}
    for want in ("Overview", "Block I/O (per device)", "Network", "Processes and cgroups", "Anomalies",
                 "kpulse health"):
        assert want in titles


@pytest.fixture(scope="module")
def stack():
    prometheus = shutil.which("prometheus")
    if not prometheus:
        pytest.skip("prometheus not installed: apt-get install prometheus (in DEPS_TEST)")
    tmp = tempfile.mkdtemp(prefix="kpulse-grafana-")
    procs = []
    try:
        kport, pport = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
        klog = open(os.path.join(tmp, "kpulse.log"), "w")
        procs.append(subprocess.Popen(
            [KPULSE_BIN, "run", "--data-dir", os.path.join(tmp, "data"), "--listen",
             f"{HOST}:{kport}", "--interval", "0.5"], cwd=tmp, env=env, stdout=klog,
            stderr=subprocess.STDOUT))
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: kpulse\n    static_configs:\n"
                    f"      - targets: ['{HOST}:{kport}']\n")
        plog = open(os.path.join(tmp, "prometheus.log"), "w")
        procs.append(subprocess.Popen(
            [prometheus, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
             f"--web.listen-address={HOST}:{pport}"], cwd=tmp, stdout=plog,
            stderr=subprocess.STDOUT))

        # Block I/O from one process of our own (O_DIRECT writes, so the
        # I/O is its own), so the per-device latency and per-process I/O
        # series have something in every rate window.
        writer = ("import mmap, os, sys, time\n"
                  "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)\n"
                  "buf = mmap.mmap(-1, 65536)\n"
                  "while True:\n"
                  "    os.pwrite(fd, buf, 0)\n"
                  "    time.sleep(0.1)\n")
        procs.append(subprocess.Popen(["/usr/bin/python3", "-c", writer,
                                       os.path.join(tmp, "load")], cwd=tmp))
        base = f"http://{HOST}:{pport}"
        deadline = time.time() + 120
        samples = 0
        while time.time() < deadline:
            for p in procs:
                assert p.poll() is None, f"{p.args[0]} exited {p.returncode}"
            try:
                r = query(base, "count_over_time(up{job='kpulse'}[1m])")
                if r["data"]["result"]:
                    samples = float(r["data"]["result"][0]["value"][1])
            except OSError:
                pass
            if samples >= 20:
                break
            time.sleep(1)
        assert samples >= 20, f"only {samples} scrapes in time"
        yield base
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        return json.load(e)


def series(base, match):
    url = f"{base}/api/v1/series?" + urllib.parse.urlencode({"match[]": match, "start": time.time() - 300})
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["data"]


def test_every_dashboard_query_returns_data(stack):
    empty, failed, checked = [], [], 0
    for where, expr in dashboard_queries():
        promql = substitute(expr)
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", promql)
        if m:
            got = {s.get(m.group(2)) for s in series(stack, m.group(1))} - {None}
            if not got:
                empty.append(f"{where}: {expr} has no {m.group(2)} values")
            checked += 1
            continue
        r = query(stack, promql)
        if r.get("status") != "success":
            failed.append(f"{where}: {promql}: {r.get('error')}")
            continue
        if any(name in promql for name in NEEDS_EVENT):
            continue
        values = [float(s["value"][1]) for s in r["data"]["result"]]
        if not any(math.isfinite(v) for v in values):
            empty.append(f"{where}: {promql} -> {r['data']['result']}")
        checked += 1
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert checked >= 80
