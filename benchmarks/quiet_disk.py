"""Runs of many small files must not pay for the deletion of an earlier run's files.

ext4 skips inodes freed in the last ~30 s when it allocates new ones, scanning past
each of them (``recently_deleted()`` in ``find_inode_bit``): a run that follows the
deletion of 20,000 files spends a fifth of its time there, whichever tool it is. So
benchmarks keep such outputs until they end, delete them all at once, note the time,
and a benchmark about to create many files first waits until those inodes are free.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

STAMP = Path(__file__).resolve().parents[1] / ".bench" / "mass-deletion"
RECENT = 35.0  # seconds; the kernel's window is dirty_expire_centisecs, 30 s by default


def settle() -> None:
    """Write out what earlier runs left dirty, so no run pays for another's writeback."""
    os.sync()
    time.sleep(0.5)


def delete_many(folders: list[Path]) -> None:
    """Delete ``folders`` and note when, for :func:`wait_for_free_inodes`."""
    if not folders:
        return
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    os.sync()
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(str(time.time()))


def wait_for_free_inodes() -> None:
    """Sleep until the last mass deletion is older than the kernel's window."""
    try:
        since = time.time() - float(STAMP.read_text())
    except (OSError, ValueError):
        return
    if since < RECENT:
        print(f"  (waiting {RECENT - since:.0f} s: ext4 holds back inodes deleted by the "
              "previous benchmark)", flush=True)
        time.sleep(RECENT - since)
