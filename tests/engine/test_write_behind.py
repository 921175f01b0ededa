"""Write-behind: a large .part goes to disk while it is written, not all in the final fsync.

The kernel's own page-cache counters say where the bytes are: ``cachestat`` (Linux 6.5)
counts a file's pages that are dirty, that is not yet on their way to the disk.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
from pathlib import Path

import pytest

from orchestrator.engine.segments import Segment
from orchestrator.engine.staging import StagingFile
from orchestrator.engine.transfer import WRITE_BEHIND_BYTES, Staged

PAGE = os.sysconf("SC_PAGE_SIZE")
CHUNK = 256 << 10
_CACHESTAT = 451  # the same number on every architecture


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


_LIBC = ctypes.CDLL(None, use_errno=True)


def dirty_pages(fd: int) -> int:
    """Pages of the file at ``fd`` written and not yet sent to the disk."""
    stat, whole = _Stat(), _Range(0, 0)
    if _LIBC.syscall(_CACHESTAT, fd, ctypes.byref(whole), ctypes.byref(stat), 0) != 0:
        code = ctypes.get_errno()
        if code in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
            pytest.skip(f"cachestat is not available here: {os.strerror(code)}")
        raise OSError(code, os.strerror(code))
    return stat.nr_dirty


@pytest.fixture
def disk_folder(tmp_path: Path) -> Path:
    """A folder on a file system that keeps dirty pages (tmpfs has nothing to write)."""
    probe = StagingFile(tmp_path / "probe.part")
    probe.write_at(b"x" * PAGE, 0)
    if dirty_pages(probe.fd) == 0:
        pytest.skip("the temp folder's file system keeps no dirty pages")
    probe.close()
    return tmp_path


def test_write_behind_sends_the_dirty_pages_on_their_way_and_leaves_other_files(disk_folder):
    data = os.urandom(16 << 20)
    hinted, untouched = (StagingFile(disk_folder / f"{name}.part") for name in ("a", "b"))
    hinted.write_at(data, 0)
    untouched.write_at(data, 0)
    assert dirty_pages(hinted.fd) == dirty_pages(untouched.fd) == len(data) // PAGE
    hinted.write_behind()
    assert dirty_pages(hinted.fd) == 0
    assert dirty_pages(untouched.fd) == len(data) // PAGE  # left to the final fsync
    assert os.pread(hinted.fd, len(data), 0) == data
    hinted.close()
    untouched.close()


async def test_staged_bytes_leave_at_most_the_last_stretch_dirty(disk_folder):
    """What a large download writes reaches the disk as it comes: once every chunk is
    written, only bytes after the last write-behind can still be dirty."""
    size = 3 * WRITE_BEHIND_BYTES + 5 * CHUNK
    data = os.urandom(size)
    segment = Segment(0, size)
    staged = Staged(StagingFile(disk_folder / "large.part"), [segment], size)
    for offset in range(0, size, CHUNK):
        await staged.write(data[offset:offset + CHUNK], segment)
    await staged.drain()
    assert staged.hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    assert dirty_pages(staged.part.fd) <= (size - 3 * WRITE_BEHIND_BYTES) // PAGE
    assert os.pread(staged.part.fd, size, 0) == data
    staged.close()


async def test_a_file_that_refuses_write_behind_is_written_all_the_same():
    """A character device takes no sync_file_range (ESPIPE): the hint is dropped and the
    writes go on."""
    size = 2 * WRITE_BEHIND_BYTES + CHUNK
    data = os.urandom(size)
    segment = Segment(0, size)
    staged = Staged(StagingFile(Path(os.devnull)), [segment], size)
    for offset in range(0, size, CHUNK):
        await staged.write(data[offset:offset + CHUNK], segment)
    await staged.drain()
    assert segment.done == staged.received == size
    assert staged.hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    staged.part.write_behind()
    staged.close()
