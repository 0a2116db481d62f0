"""A filesystem whose statvfs hangs (an NFS server gone, a FUSE daemon
stopped; here a real FUSE mount, bindfs, whose daemon is stopped): the
rounds go on, the mount is left out and reported stuck, and it comes back
once its call returns."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import INTERVAL_S, mounts_under, umount, wait_until


@pytest.fixture
def fuse_mount(workdir):
    if shutil.which("bindfs") is None or not os.path.exists("/dev/fuse"):
        pytest.fail("the hung-mount test needs bindfs and /dev/fuse", pytrace=False)
    src, mnt = os.path.join(workdir, "fuse-src"), os.path.join(workdir, "fuse")
    os.mkdir(src)
    os.mkdir(mnt)
    # -f: in the foreground, so that this process is the FUSE daemon
    proc = subprocess.Popen(["bindfs", "-f", src, mnt], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: mnt in mounts_under(mnt), 10, f"bindfs mounted on {mnt}")
        yield proc, mnt
    finally:
        proc.send_signal(signal.SIGCONT)
        umount(mnt)
        proc.terminate()
        proc.wait(timeout=10)


def _fs_rows(d, name, mnt):
    """[(ts_ms, value)] of name for the filesystem mounted on mnt."""
    rows = d.db.query("SELECT labels FROM series WHERE name = ?", (name,))
    for (labels,) in rows:
        if json.loads(labels).get("mountpoint") == mnt:
            return d.db.samples(name, labels)
    return []


def test_a_hung_mount_is_left_out_and_the_rounds_go_on(daemons, fuse_mount, report):
    proc, mnt = fuse_mount
    d = daemons.start(env={"KPULSE_FS_TYPES_INCLUDE": "zfs,fuse"})
    wait_until(lambda: _fs_rows(d, "kpulse_filesystem_size_bytes", mnt), 15,
               f"the size of {mnt} in the store")

    proc.send_signal(signal.SIGSTOP)
    t_stop = time.time()
    try:
        # statfs on the mount now blocks in the kernel until bindfs runs
        wait_until(lambda: any(v == 1 for _, v in _fs_rows(d, "kpulse_filesystem_stuck", mnt)),
                   15, f"{mnt} reported stuck")
        time.sleep(2.0)
        t_cont = time.time()
    finally:
        proc.send_signal(signal.SIGCONT)

    def back():
        return any(t / 1000.0 > t_cont for t, _ in
                   _fs_rows(d, "kpulse_filesystem_size_bytes", mnt))
    wait_until(back, 15, f"the size of {mnt} again after bindfs runs")
    assert d.stop() == 0, d.log_tail()

    # Rounds went on while the mount hung (a blocked round thread would
    # have collected none).
    ts = [t for t in d.db.timestamps() if t_stop * 1000 <= t <= t_cont * 1000]
    due = (t_cont - t_stop) / INTERVAL_S
    assert len(ts) >= due / 2, (
        f"{len(ts)} rounds in the {t_cont - t_stop:.1f}s the mount hung, ~{due:.0f} due")
    # Left out meanwhile: no size in the rounds that reported it stuck.
    stuck_ts = {t for t, v in _fs_rows(d, "kpulse_filesystem_stuck", mnt) if v == 1}
    size_ts = {t for t, _ in _fs_rows(d, "kpulse_filesystem_size_bytes", mnt)}
    assert stuck_ts and not (stuck_ts & size_ts), "a size stored while the mount was stuck"
    assert len(stuck_ts) >= due / 2, f"stuck in {len(stuck_ts)} rounds of ~{due:.0f}"
    total = d.db.max_value("kpulse_filesystem_stuck_total")
    report(f"hung mount: {len(ts)} rounds in {t_cont - t_stop:.1f}s of hang (~{due:.0f} due), "
           f"{len(stuck_ts)} reported it stuck; kpulse_filesystem_stuck_total {total:.0f}")
