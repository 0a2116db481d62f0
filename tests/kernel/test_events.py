"""Discrete events: a TCP connection's close and a slow block I/O, each
matched field by field against what the test itself did."""

import os
import socket
import subprocess
import tempfile
import threading
import time

import kptlib
from conftest import _start
from kptlib import report


def test_tcp_close_event_has_tuple_bytes_and_connect_latency(kpulse_module):
    """A loopback connection the test opens, uses and closes appears as a
    tcp_close event of this process with its ports, the bytes each way and a
    plausible connect latency and lifetime."""
    k = kpulse_module
    idx = k.index_of(k.next_snapshot())
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    sent, answer = b"x" * 100000, b"y" * 5000

    def serve():
        conn, _ = srv.accept()
        with conn:
            got = 0
            while got < len(sent):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
            conn.sendall(answer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        cli = socket.create_connection(("127.0.0.1", port), timeout=5)
        local_port = cli.getsockname()[1]
        cli.sendall(sent)
        got = b""
        while len(got) < len(answer):
            chunk = cli.recv(65536)
            if not chunk:
                break
            got += chunk
        time.sleep(0.2)
        cli.close()
        t.join(5)
    finally:
        srv.close()

    ev = k.wait_event(lambda e: e.get("type") == "tcp_close" and e.get("sport") == local_port
                      and e.get("dport") == port, idx, timeout=8)
    assert ev, f"no tcp_close event for 127.0.0.1:{local_port} -> :{port}"
    report(f"INFO tcp_close event: {ev}")
    assert ev["pid"] == os.getpid(), ev
    assert ev["saddr"] == "127.0.0.1" and ev["daddr"] == "127.0.0.1", ev
    # The kernel's own counters (tcp_info's bytes_acked / bytes_received)
    # count sequence space: the data plus one for an acked SYN and FIN.
    assert len(sent) <= ev["bytes_sent"] <= len(sent) + 2, ev
    assert len(answer) <= ev["bytes_received"] <= len(answer) + 1, ev
    assert 0 < ev["connect_latency_s"] < 1, ev
    assert 0.2 <= ev["lifetime_s"] < 10, ev


def test_slow_io_event_names_process_device_op_and_size(kpulse_bin, fio_file):
    """With the slow-I/O threshold at 1 us every read is slow: an O_DIRECT 4 KiB
    read by dd appears as a slow_io event with dd's pid and comm, the test
    file's disk, op read and 4096 bytes."""
    k = _start(kpulse_bin, extra=("--slow-io-ms", "0.001"))
    try:
        idx = k.index_of(k.next_snapshot())
        p = subprocess.Popen(["dd", f"if={fio_file['path']}", "of=/dev/null", "bs=4096",
                              "count=1", "skip=12345", "iflag=direct", "status=none"])
        assert p.wait(timeout=30) == 0
        # dd's own start-up may read its binary from disk too: look for the
        # 4 KiB direct read among its events.
        ev = k.wait_event(lambda e: e.get("type") == "slow_io" and e.get("pid") == p.pid
                          and e.get("bytes") == 4096, idx, timeout=8)
        assert ev, (f"no 4096-byte slow_io event from dd pid {p.pid}; slow_io events seen: "
                    f"{[e for e in k.events_since(idx) if e.get('type') == 'slow_io'][:5]}")
        report(f"INFO slow_io event: {ev}")
        assert ev["comm"] == "dd", ev
        assert ev["device"] == fio_file["disk"], ev
        assert ev["op"] == "read", ev
        assert 0 < ev["latency_s"] < 5, ev
    finally:
        k.stop()
