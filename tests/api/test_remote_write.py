"""Remote write end to end: kpulse pushes to a real Prometheus started with
its remote-write receiver (--web.enable-remote-write-receiver) on
127.0.0.1, and the samples are queried back from it: gauges with the
values kpulse's own /metrics shows, counters, histogram buckets, and the
host label. With no receiver, the bounded queue drops and counts; when the
receiver comes up, the retries deliver."""

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from apilib import HOST, free_port, need_tool


class Prometheus:
    def __init__(self, tmp, port):
        self.port = port
        self.base = f"http://{HOST}:{port}"
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 15s\n")
        self.log = open(os.path.join(tmp, f"prometheus-{port}.log"), "w")
        self.proc = subprocess.Popen(
            [need_tool("prometheus", "prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(tmp, f'tsdb-{port}')}",
             f"--web.listen-address={HOST}:{port}", "--web.enable-remote-write-receiver"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "prometheus exited"
            try:
                with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("prometheus not ready")

    def query(self, expr):
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)["data"]["result"]

    def wait_for(self, expr, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            res = self.query(expr)
            if res:
                return res
            time.sleep(0.5)
        raise AssertionError(f"{expr}: nothing in Prometheus after {timeout}s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def metric_value(daemon, name, labels=""):
    text = daemon.request("GET", "/metrics").body.decode()
    pat = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    m = re.search(pat, text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture
def prom_factory(tmpdir_clean):
    made = []

    def make(port=None):
        p = Prometheus(tmpdir_clean, port or free_port())
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_pushed_series_are_queried_back(make_daemon, prom_factory):
    prom = prom_factory()
    d = make_daemon({"KPULSE_REMOTE_WRITE_URL": f"{prom.base}/api/v1/write",
                     "KPULSE_REMOTE_WRITE_HOST": "node-a",
                     "KPULSE_REMOTE_WRITE_FLUSH": "0.5s"})
    # a gauge that does not change: the pushed value is the one /metrics shows
    res = prom.wait_for('kpulse_mem_total_bytes{host="node-a"}')
    assert len(res) == 1
    labels = res[0]["metric"]
    assert labels["instance"] == "node-a" and labels["job"] == "kpulse"
    assert float(res[0]["value"][1]) == metric_value(d, "kpulse_mem_total_bytes")
    # counters grow, every CPU and mode arrives
    cpus = prom.wait_for('kpulse_cpu_seconds_total{host="node-a",mode="idle"}')
    assert len(cpus) == os.cpu_count()
    # histograms as /metrics shows them: buckets with le, _sum, _count
    buckets = prom.wait_for('kpulse_sched_runqueue_latency_seconds_bucket{host="node-a"}')
    les = {b["metric"]["le"] for b in buckets}
    assert "+Inf" in les and len(les) > 3
    prom.wait_for('kpulse_sched_runqueue_latency_seconds_count{host="node-a"} > 0')
    # rates over pushed counters work as over scraped ones
    prom.wait_for('rate(kpulse_sched_context_switches_total{host="node-a"}[30s]) > 0', 90)
    # kpulse's own account of it
    deadline = time.time() + 30
    while time.time() < deadline:
        sent = metric_value(d, "kpulse_remote_write_samples_total", '{result="sent"}')
        if sent:
            break
        time.sleep(0.5)
    assert sent > 0
    assert metric_value(d, "kpulse_remote_write_samples_total", '{result="failed"}') == 0
    assert metric_value(d, "kpulse_remote_write_last_success_timestamp_seconds") > 0
    assert "answered" not in d.logtext()  # no batch refused by the receiver


def test_receiver_down_drops_oldest_then_retries_deliver(make_daemon, prom_factory):
    port = free_port()
    d = make_daemon({"KPULSE_REMOTE_WRITE_URL": f"http://{HOST}:{port}/api/v1/write",
                     "KPULSE_REMOTE_WRITE_HOST": "node-b",
                     "KPULSE_REMOTE_WRITE_FLUSH": "0.5s",
                     "KPULSE_REMOTE_WRITE_QUEUE": "3000",
                     "KPULSE_REMOTE_WRITE_RETRIES": "1000"})
    # nothing listens: the queue fills to its bound, then the oldest rounds go
    deadline = time.time() + 60
    dropped = 0
    while time.time() < deadline and not dropped:
        dropped = metric_value(d, "kpulse_remote_write_samples_total", '{result="dropped"}')
        time.sleep(0.5)
    assert dropped > 0, d.logtext()
    queued = metric_value(d, "kpulse_remote_write_queue_samples")
    assert queued <= 3000 + 2000  # the bound, plus the newest round that is never dropped
    assert metric_value(d, "kpulse_remote_write_retries_total") > 0
    assert "remote write" in d.logtext()
    assert metric_value(d, "kpulse_remote_write_samples_total", '{result="sent"}') == 0
    # the receiver comes up on that port: the batch being retried and the
    # rounds after it arrive
    prom = prom_factory(port)
    prom.wait_for('kpulse_mem_total_bytes{host="node-b"}', 90)
    deadline = time.time() + 60
    while time.time() < deadline:
        if metric_value(d, "kpulse_remote_write_samples_total", '{result="sent"}'):
            break
        time.sleep(0.5)
    assert metric_value(d, "kpulse_remote_write_samples_total", '{result="sent"}') > 0


def test_bad_remote_write_settings_stop_start_up(make_daemon):
    d = make_daemon({"KPULSE_REMOTE_WRITE_URL": "ftp://example.invalid/write"}, ready=False)
    assert d.proc.wait(timeout=30) == 2
    assert "KPULSE_REMOTE_WRITE_URL" in d.logtext()
    d = make_daemon({"KPULSE_REMOTE_WRITE_URL": "http://192.0.2.1/api/v1/write",
                     "KPULSE_REMOTE_WRITE_BEARER_TOKEN": "secret-token-123"}, ready=False)
    assert d.proc.wait(timeout=30) != 0
    assert "https" in d.logtext() and "secret-token-123" not in d.logtext()
