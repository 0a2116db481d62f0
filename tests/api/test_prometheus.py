"""/metrics is valid Prometheus text exposition: promtool accepts it, and a
real Prometheus server (Debian package prometheus) scrapes it with up == 1.
Everything listens on 127.0.0.1 only."""

import json
import os
import re
import subprocess
import time
import urllib.request

from apilib import HOST, free_port, need_tool


def test_promtool_check_metrics_passes(daemon):
    promtool = need_tool("promtool", "prometheus")
    # A custom metric too, so its family is checked as well.
    daemon.request("POST", "/api/v1/metrics",
                   {"metrics": [{"name": "promtool_probe_total", "type": "counter",
                                 "labels": {"q": 'a"b\\c'}, "value": 1}]},
                   token=daemon.tokens["operator"])
    r = daemon.request("GET", "/metrics")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = r.body
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       timeout=60)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


def test_histograms_are_cumulative_with_inf_sum_and_count(daemon):
    text = daemon.request("GET", "/metrics").body.decode()
    name = "kpulse_sched_runqueue_latency_seconds"
    assert f"# TYPE {name} histogram" in text
    buckets = [(m.group(1), float(m.group(2))) for m in
               re.finditer(rf'^{name}_bucket\{{le="([^"]+)"\}} (\S+)$', text, re.M)]
    assert buckets and buckets[-1][0] == "+Inf"
    counts = [c for _, c in buckets]
    assert counts == sorted(counts)
    count = float(re.search(rf"^{name}_count (\S+)$", text, re.M).group(1))
    assert counts[-1] == count
    assert re.search(rf"^{name}_sum \S+$", text, re.M)
    # Every family has HELP and TYPE.
    for fam in set(re.findall(r"^# TYPE (\S+) ", text, re.M)):
        assert f"# HELP {fam} " in text


def test_prometheus_server_scrapes_kpulse(daemon, tmpdir_clean):
    prometheus = need_tool("prometheus", "prometheus")
    web_port = free_port()
    config = os.path.join(tmpdir_clean, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: kpulse\n    static_configs:\n"
                f"      - targets: ['{HOST}:{daemon.port}']\n")
    log = open(os.path.join(tmpdir_clean, "prometheus.log"), "w")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}",
         f"--storage.tsdb.path={os.path.join(tmpdir_clean, 'tsdb')}",
         f"--web.listen-address={HOST}:{web_port}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmpdir_clean)
    try:
        deadline = time.time() + 60
        up = None
        last = None
        while time.time() < deadline:
            time.sleep(1)
            try:
                url = f"http://{HOST}:{web_port}/api/v1/query?query=up"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    last = json.load(resp)
            except OSError:
                continue
            result = last.get("data", {}).get("result", [])
            if result:
                up = result[0]["value"][1]
                if up == "1":
                    break
        assert up == "1", f"up={up}, last answer {last}"
        url = (f"http://{HOST}:{web_port}/api/v1/query?query="
               "kpulse_mem_total_bytes")
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert json.load(resp)["data"]["result"], "kpulse series not in Prometheus"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
