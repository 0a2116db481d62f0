"""Time-to-threshold predictions of the running daemon: a loop-mounted ext4
that the test fills at a steady rate must be predicted full at about the time
its free space and the fill rate imply, within the prediction's range, and
the prediction must be alert-worthy inside the configured horizon.

The filesystem series come from the /proc pass (kpulse_filesystem_avail_bytes
per mount); on a build without them the test skips, naming the series."""

import json
import os
import threading
import time

import pytest

from conftest import Api, free_port, run_cmd, umount, wait_until

ADMIN_PASSWORD = "predictions-test-password"
IMAGE_MIB = 128
FILL_BYTES_PER_S = 2 << 20  # 2 MiB/s, in 256 KiB writes
CHUNK = 256 << 10


@pytest.fixture
def ext4(workdir, daemons):
    img = os.path.join(workdir, "fs.img")
    mnt = os.path.join(workdir, "ext4")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(IMAGE_MIB << 20)
    run_cmd(["mkfs.ext4", "-q", "-F", "-m", "0", img])
    run_cmd(["mount", "-o", "loop", img, mnt])
    try:
        yield mnt
    finally:
        daemons.kill_all()
        umount(mnt)


class Filler(threading.Thread):
    """Writes CHUNK bytes every CHUNK / FILL_BYTES_PER_S seconds, synced."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = os.path.join(path, "filler")
        self.stop = threading.Event()
        self.written = 0

    def run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        block = b"\1" * CHUNK
        period = CHUNK / FILL_BYTES_PER_S
        next_t = time.monotonic()
        try:
            while not self.stop.is_set():
                try:
                    os.write(fd, block)
                    os.fsync(fd)
                    self.written += CHUNK
                except OSError:
                    break  # full
                next_t += period
                self.stop.wait(max(0.0, next_t - time.monotonic()))
        finally:
            os.close(fd)


def test_a_filling_filesystem_is_predicted_full(daemons, ext4):
    port = free_port()
    d = daemons.start(env={"KPULSE_LISTEN": f"127.0.0.1:{port}",
                           "KPULSE_ADMIN_PASSWORD": ADMIN_PASSWORD,
                           "KPULSE_PREDICT_WINDOW": "60s",
                           "KPULSE_PREDICT_MIN_HISTORY": "10s",
                           "KPULSE_PREDICT_HORIZON": "1h"})
    api = Api(port, ADMIN_PASSWORD)  # the daemon logs "running" once the API listens
    api.login()

    def fs_listed():
        # 503 until the first round is published (the API listens before it)
        status, body = api.get("/api/v1/live", api.token)
        if status == 503:
            return False
        assert status == 200, body
        return any(m["name"] == "kpulse_filesystem_avail_bytes" and
                   m.get("labels", {}).get("mountpoint") == ext4
                   for m in json.loads(body)["metrics"])

    wait_until(fs_listed, 60, f"kpulse_filesystem_avail_bytes for the test's mount {ext4}")

    filler = Filler(ext4)
    filler.start()
    try:
        pred = None
        t0 = time.time()
        while time.time() - t0 < 45 and pred is None:
            time.sleep(1)
            if time.time() - t0 < 15:  # let the trend settle over 15 s of filling
                continue
            for p in api.json("/api/v1/predictions")["predictions"]:
                if p["kind"] == "filesystem_full" and p["labels"].get("mountpoint") == ext4:
                    pred = p
        st = os.statvfs(ext4)
        avail_now = st.f_bavail * st.f_frsize
        now = time.time()
    finally:
        filler.stop.set()
        filler.join()
    assert pred, f"no filesystem_full prediction for {ext4}:\n{d.log_tail()}"
    assert pred["series"] == "kpulse_filesystem_avail_bytes"
    assert pred["limit"] == 0
    # the fill rate, seen through statvfs (ext4 metadata adds a little)
    assert -1.5 * FILL_BYTES_PER_S < pred["rate_per_s"] < -0.5 * FILL_BYTES_PER_S
    expected_at = now + avail_now / FILL_BYTES_PER_S
    # full at the time free space and rate imply, give or take a third
    assert abs(pred["predicted_at"] - expected_at) < (expected_at - now) / 3 + 5
    assert pred["predicted_at_lo"] <= pred["predicted_at"] <= pred["predicted_at_hi"]
    assert pred["significant"] and pred["alert"]
