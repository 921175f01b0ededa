"""Group commit for small files: one ``syncfs`` for many files instead of an fsync each.

A small file's bytes (at most ``SMALL_FILE``) are queued with it. A single worker
takes everything queued so far and, in a thread: writes each staging file, makes
the data durable (``syncfs`` once per file system), renames every file onto its
destination, and makes the renames durable (``syncfs`` again). Creating files
stays off the event loop too: while a sync runs, ``open(O_CREAT)`` waits on the
file system's journal (0.2-0.8 ms per file measured here), which stalled every
other download when the loop created them. Only then are the downloads reported done,
so the guarantee is the same as fsync, rename, fsync folder per file — measured
on 20,000 files of 16 KiB it replaces 40,000 fsyncs and as many thread hand-offs
with a few hundred batches. Where ``syncfs`` is missing, each file is fsynced.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.retry import disk_error
from orchestrator.engine.staging import StagingFile, fsync_path
from orchestrator.errors import DownloadError


def _load_syncfs() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    return getattr(libc, "syncfs", None)


_SYNCFS = _load_syncfs()


def sync_file_system(folder: Path) -> bool:
    """``syncfs`` the file system holding ``folder``; False when the call is not available."""
    if _SYNCFS is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:  # type: ignore[operator]
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)
    return True


@dataclass
class _Pending:
    part: StagingFile
    data: bytes
    destination: Path
    done: asyncio.Future[None]
    error: DownloadError | None = field(default=None)


def _one_folder_per_device(folders: set[Path]) -> list[Path]:
    devices: dict[int, Path] = {}
    for folder in folders:
        devices.setdefault(os.stat(folder).st_dev, folder)
    return list(devices.values())


def _commit(batch: list[_Pending]) -> None:
    """Files written, data durable, renames, renames durable; errors land on each item."""
    written = []
    for item in batch:
        try:
            item.part.write_whole(item.data)
            written.append(item)
        except DownloadError as error:
            item.error = error
        item.data = b""
    staging_folders = {item.part.path.parent for item in written}
    synced = all([sync_file_system(f) for f in _one_folder_per_device(staging_folders)])
    if not synced:
        for item in written:
            fsync_path(item.part.path)
    folders: set[Path] = set()
    for item in written:
        try:
            os.replace(item.part.path, item.destination)
            folders.add(item.destination.parent)
        except OSError as exc:
            item.error = disk_error(exc, item.destination)
    if not (synced and all([sync_file_system(f) for f in _one_folder_per_device(folders)])):
        for folder in folders:
            fsync_path(folder)


class GroupCommit:
    """Publishes small files in batches; see the module text for the guarantee."""

    def __init__(self) -> None:
        self._queue: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None

    async def publish(self, part: StagingFile, data: bytes, destination: Path) -> None:
        """Write ``data`` as the staging file and return once it is durably at ``destination``."""
        item = _Pending(part, data, destination, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._run())
        await asyncio.shield(item.done)
        if item.error is not None:
            raise item.error

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(_commit, batch)
            except OSError as exc:
                error = disk_error(exc, batch[0].part.path)
                for item in batch:
                    item.error = item.error or error
            for item in batch:
                if not item.done.done():
                    item.done.set_result(None)
