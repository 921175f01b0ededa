"""Group commit for small files: many files made durable per thread hand-off, not one each.

A small file is written at once from the event loop (one write of at most
``SMALL_FILE`` bytes into the page cache), then queued. A single worker takes
everything queued so far and, in a thread: fdatasyncs the files (several at a time,
so the file system merges their journal commits), renames each onto its
destination, and fsyncs each destination folder once. Only then are the downloads
reported done: the guarantee of fsync, rename, fsync folder per file, at the cost of
one thread hand-off per batch. ``syncfs`` would need fewer calls but would also
flush every other program's dirty data on the file system (measured: 2x slower
right after another tool wrote 320 MB).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.retry import disk_error
from orchestrator.engine.staging import StagingFile, sync_folder
from orchestrator.errors import DownloadError


@dataclass
class _Pending:
    staging: Path
    destination: Path
    done: asyncio.Future[None]
    error: DownloadError | None = field(default=None)


_SYNCERS = ThreadPoolExecutor(8, thread_name_prefix="bgassets-datasync")


def _datasync(path: Path) -> OSError | None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    return None


def _commit(batch: list[_Pending]) -> None:
    """Data durable, then renames, then renames durable; errors land on each item."""
    for item, error in zip(batch, _SYNCERS.map(_datasync, [i.staging for i in batch]),
                           strict=True):
        if error is not None:
            item.error = disk_error(error, item.staging)
    folders: set[Path] = set()
    for item in batch:
        if item.error is not None:
            continue
        try:
            os.replace(item.staging, item.destination)
            folders.add(item.destination.parent)
        except OSError as exc:
            item.error = disk_error(exc, item.destination)
    for folder in folders:
        sync_folder(folder)


class GroupCommit:
    """Publishes small files in batches; see the module text for the guarantee."""

    def __init__(self) -> None:
        self._queue: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None

    async def publish(self, part: StagingFile, data: bytes, destination: Path) -> None:
        """Write ``data`` as the staging file and return once it is durably at ``destination``."""
        part.write_whole(data)
        item = _Pending(part.path, destination, asyncio.get_running_loop().create_future())
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
                error = disk_error(exc, batch[0].staging)
                for item in batch:
                    item.error = item.error or error
            for item in batch:
                if not item.done.done():
                    item.done.set_result(None)
