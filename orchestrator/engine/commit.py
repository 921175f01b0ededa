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

A confined destination's folder is walked (without following symlinks) once per batch,
just before the renames, and the renames and syncs go through that folder's fd.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.confined import Confinement, confinement_of, open_folder
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


def sync_file_system(folder: Path | int) -> bool:
    """``syncfs`` the file system holding ``folder`` (a path or an open fd).

    False when the call is not available.
    """
    if _SYNCFS is None:
        return False
    fd = os.open(folder, os.O_RDONLY) if isinstance(folder, Path) else folder
    try:
        if _SYNCFS(fd) != 0:  # type: ignore[operator]
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        if fd is not folder:
            os.close(fd)
    return True


@dataclass
class _Pending:
    part: StagingFile
    data: bytes
    destination: Path
    done: asyncio.Future[None]
    error: DownloadError | None = field(default=None)


def _one_folder_per_device(folders: Iterable[Path | int]) -> list[Path | int]:
    devices: dict[int, Path | int] = {}
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
    confined: dict[tuple[Path, tuple[str, ...]], list[_Pending]] = {}
    for item in written:
        confinement = confinement_of(item.destination)
        if confinement is not None:
            confined.setdefault(confinement.folder_key, []).append(item)
            continue
        try:
            os.replace(item.part.path, item.destination)
            folders.add(item.destination.parent)
        except OSError as exc:
            item.error = disk_error(exc, item.destination)
    fds = [fd for items in confined.values() if (fd := _rename_confined(items)) >= 0]
    try:
        if not (synced and all([sync_file_system(f)
                                for f in _one_folder_per_device([*folders, *fds])])):
            for folder in folders:
                fsync_path(folder)
            for fd in fds:
                os.fsync(fd)
    finally:
        for fd in fds:
            os.close(fd)


def _rename_confined(items: list[_Pending]) -> int:
    """Rename items that share a confined folder through one walk of it; its fd, or -1."""
    first: Confinement | None = confinement_of(items[0].destination)
    assert first is not None
    try:
        fd = open_folder(first, create=True)
    except DownloadError as error:
        for item in items:
            item.error = error
        return -1
    except OSError as exc:
        for item in items:
            item.error = disk_error(exc, item.destination)
        return -1
    for item in items:
        confinement = confinement_of(item.destination)
        assert confinement is not None
        try:
            os.replace(item.part.path, confinement.name, dst_dir_fd=fd)
        except OSError as exc:
            item.error = disk_error(exc, item.destination)
    return fd


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
