"""The staging file: bytes land in ``<destination>.part`` and are published atomically.

A file at its final path is always complete and verified: publish is fsync(file),
``os.replace`` onto the destination, fsync(folder).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
from pathlib import Path

from orchestrator.engine.confined import confinement_of, rename_into
from orchestrator.engine.publish_child import libc_function
from orchestrator.engine.retry import disk_error
from orchestrator.errors import DownloadError

HASH_BLOCK = 1 << 20
# Linux's sync_file_range: start writing a file's dirty pages out, without waiting.
_SYNC_FILE_RANGE = libc_function("sync_file_range")
if _SYNC_FILE_RANGE is not None:
    _SYNC_FILE_RANGE.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64,  # type: ignore[attr-defined]
                                 ctypes.c_uint)
_SYNC_FILE_RANGE_WRITE = 2


class StagingFile:
    """The ``.part`` file, written at explicit offsets (several segments share one file).

    It is opened on first use: a small file is written, synced and renamed in one thread
    hop by :class:`~orchestrator.engine.commit.GroupCommit`, keeping fsyncs off the event loop.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self.closed = False
        self.existed = True
        self._write_behind = _SYNC_FILE_RANGE is not None

    @property
    def fd(self) -> int:
        if self._fd < 0:
            if self.closed:  # a late checkpoint must not bring back a discarded file
                raise disk_error(OSError(9, "the staging file is closed"), self.path)
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise disk_error(exc, self.path) from exc
        return self._fd

    def size_on_disk(self) -> int:
        if self._fd >= 0:
            return os.fstat(self._fd).st_size
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            self.existed = False
            return 0
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def written_end(self, position: int, limit: int, *, sequential: bool) -> int:
        """How far bytes are surely written from ``position`` (at most ``limit``).

        After a crash the state's claims lag behind what was written. A file written
        ``sequential``-ly from 0 holds data up to its size; a segmented one is sparse and
        the next hole bounds each run. The block holding the end of a run may be only
        partly written, so the last block is not trusted. When no hole comes before
        ``limit`` (the next segment's data follows in the same or the next block), the
        run's end hides in the two blocks around ``limit``: neither is trusted. Returns
        ``position`` when the file system cannot tell.
        """
        info = os.fstat(self.fd)
        if info.st_blocks * 512 >= info.st_size:  # dense: no holes to go by
            return max(position, min(info.st_size, limit)) if sequential else position
        try:
            hole = os.lseek(self.fd, position, os.SEEK_HOLE)
        except OSError:
            return position
        block = max(info.st_blksize, 4096)
        if hole < limit or limit >= info.st_size:
            end = min(hole if hole == info.st_size else hole - block, limit)
        else:
            end = limit - limit % block - block
        return max(position, end)

    def data_runs(self) -> list[tuple[int, int]] | None:
        """The runs of surely written bytes in a sparse file, or None when it is dense.

        Block-granular, so each run is trimmed to whole blocks it surely owns: the first
        and last blocks may be shared with unwritten neighbours.
        """
        info = os.fstat(self.fd)
        if info.st_blocks * 512 >= info.st_size:
            return None
        block, runs, position = max(info.st_blksize, 4096), [], 0
        while position < info.st_size:
            try:
                data = os.lseek(self.fd, position, os.SEEK_DATA)
                hole = os.lseek(self.fd, data, os.SEEK_HOLE)
            except OSError:  # ENXIO: no data after position
                break
            start = data if data == 0 else -(-data // block) * block
            end = hole if hole == info.st_size else hole - block
            if end > start:
                runs.append((start, end))
            position = hole
        return runs

    def write_at(self, data: bytes | memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset`` (pwrite may write less than asked)."""
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(self.fd, view, offset)
                view = view[written:]
                offset += written
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def write_behind(self) -> None:
        """Have the kernel start writing the file's dirty pages out, not waiting for it.

        Only a hint: the fsync before publish is what makes the bytes durable. Left
        alone, the kernel holds dirty pages until they are 30 s old or a tenth of the
        memory, so a large file would go to disk only in that fsync, after its last
        byte arrived; started as the bytes come, the disk writes while the network
        delivers. Where the call is missing or the file system refuses it, nothing.
        """
        if not self._write_behind or self._fd < 0:
            return
        if _SYNC_FILE_RANGE(self._fd, 0, 0, _SYNC_FILE_RANGE_WRITE) != 0:  # type: ignore[operator]
            self._write_behind = False

    def truncate(self, size: int = 0) -> None:
        if self._fd < 0 and (not self.existed or self.size_on_disk() == size):
            return
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def hash_into(self, hasher: hashlib._Hash, start: int, end: int) -> None:
        """Feed bytes [start, end) of the file to ``hasher``, reading 1 MiB at a time."""
        position = start
        while position < end:
            block = os.pread(self.fd, min(HASH_BLOCK, end - position), position)
            if not block:
                raise disk_error(OSError(0, f"file shorter than {end} bytes"), self.path)
            hasher.update(block)
            position += len(block)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.closed = True

    def publish(self, destination: Path, sync_folder_too: bool = True) -> None:
        """fsync, rename onto ``destination``, fsync the folder; the file is closed after.

        ``sync_folder_too=False`` leaves the folder fsync to the caller, who batches it. A
        confined destination is walked now, without following symlinks.
        """
        try:
            os.fsync(self.fd)
            self.close()
            confinement = confinement_of(destination)
            if confinement is not None:
                rename_into(self.path, confinement, sync_folder=sync_folder_too)
                return
            os.replace(self.path, destination)
            if sync_folder_too:
                fsync_path(destination.parent)
        except OSError as exc:
            raise disk_error(exc, destination) from exc

    def write_whole(self, data: bytes) -> None:
        """Create the staging file holding exactly ``data`` (a small file, in one write).

        A write that fails (a full disk) removes what it wrote: the bytes are still in
        memory, and a part of them on disk would only take space.
        """
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise disk_error(exc, self.path) from exc
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        try:
            self.write_at(data, 0)
        except DownloadError:
            self.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise
        finally:
            self.close()

    def discard(self) -> None:
        """Close and delete the staging file (a bad or cancelled download)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder so that a rename inside it survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path | int) -> str | None:
    """The sha256 of a whole file (a path, or an fd it closes), or None when unreadable."""
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(HASH_BLOCK):
                hasher.update(block)
    except OSError:
        return None
    return hasher.hexdigest()
