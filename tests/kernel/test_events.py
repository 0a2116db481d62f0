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
from kptlib import PYTHON, report, run, series


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
        # On a cold page cache the exec of dd reads dd's binary from disk in
        # dd's pid, still named after its parent: run dd once first so that
        # its binary and libraries are cached, and match on dd's name too.
        run(["dd", "--version"], timeout=30)
        p = subprocess.Popen(["dd", f"if={fio_file['path']}", "of=/dev/null", "bs=4096",
                              "count=1", "skip=12345", "iflag=direct", "status=none"])
        assert p.wait(timeout=30) == 0
        ev = k.wait_event(lambda e: e.get("type") == "slow_io" and e.get("pid") == p.pid
                          and e.get("bytes") == 4096 and e.get("comm") == "dd", idx, timeout=8)
        assert ev, (f"no 4096-byte slow_io event from dd pid {p.pid}; slow_io events seen: "
                    f"{[e for e in k.events_since(idx) if e.get('type') == 'slow_io'][:5]}")
        report(f"INFO slow_io event: {ev}")
        assert ev["comm"] == "dd", ev
        assert ev["device"] == fio_file["disk"], ev
        assert ev["op"] == "read", ev
        assert 0 < ev["latency_s"] < 5, ev
    finally:
        k.stop()


# Burns a fixed amount of CPU, then exits: gone before the round reads /proc.
BURN = "n = 0\nfor i in range(3_000_000):\n    n += i\n"


def test_short_lived_processes_are_named_from_their_exec_events(kpulse_bin, tmp_path):
    """Processes that exec a binary called kpt-burner, burn CPU and exit between two
    rounds appear in the per-process CPU rows under comm kpt-burner (the name their
    exec and exit events carried), never as "?" nor as the parent's name."""
    burner = tmp_path / "kpt-burner"
    burner.symlink_to(PYTHON)  # comm is the name execve() was given
    k = _start(kpulse_bin, extra=("--top-k", "500", "--by-pid"))
    try:
        idx = k.index_of(k.next_snapshot())
        pids = []
        for _ in range(12):
            p = subprocess.run([str(burner), "-c", BURN], timeout=60)
            assert p.returncode == 0
        # subprocess.run does not keep the pid: take them from the exec events.
        k.next_snapshot()
        k.next_snapshot()
        pids = {e["pid"] for e in k.events_since(idx)
                if e.get("type") == "exec" and e.get("comm") == "kpt-burner"}
        assert len(pids) == 12, f"exec events of kpt-burner: {sorted(pids)}"
        rows = {}
        for snap in k.snapshots[idx:]:
            for m in series(snap, "kpulse_sched_process_cpu_seconds_total"):
                if int(m["labels"]["pid"]) in pids:
                    rows[int(m["labels"]["pid"])] = m["labels"]["comm"]
        report(f"INFO per-process rows of the 12 short-lived kpt-burner processes: {rows}")
        assert len(rows) >= 6, f"only {len(rows)} of 12 burners got a row: {rows}"
        bad = {pid: comm for pid, comm in rows.items() if comm != "kpt-burner"}
        assert not bad, f"rows named otherwise: {bad}"
    finally:
        k.stop()
