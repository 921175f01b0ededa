"""What a download has on disk and how it resumes: the staged bytes, their validators,
checkpoints in the state store and progress marks between them.

Attempts (:mod:`orchestrator.engine.attempt`) work on a :class:`Resumable`; the
:class:`~orchestrator.engine.download.Download` owns one and moves through its phases.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.engine.confined import confinement_of
from orchestrator.engine.context import EngineContext
from orchestrator.engine.marks import IDENTITY, ProgressMark
from orchestrator.engine.request import DownloadRequest
from orchestrator.engine.retry import disk_error
from orchestrator.engine.segments import Segment, bytes_done, clamp_to_disk, from_runs, from_state
from orchestrator.engine.staging import StagingFile
from orchestrator.engine.state import SidecarStore, StateRecord
from orchestrator.engine.transfer import Staged
from orchestrator.errors import DownloadError


class Resumable:
    """The staged bytes of one request, the answer they came from, and their persistence."""

    def __init__(self, request: DownloadRequest, context: EngineContext) -> None:
        self.request = request
        self.context = context
        self._store_key: str | None = None
        self.staged: Staged | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.force_single = False  # the server broke a range: one connection from now on
        self.saved = False
        self.connections = 0
        self.resumed_from = 0
        self.generation = 0  # bumped whenever the staged bytes are forgotten
        self.on_chunk: Callable[[], None] | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        # A checkpoint saves from a thread, which cancelling its task does not stop; a
        # pause saves at once. One save at a time, and a record never replaces a newer one.
        self._save_lock = threading.Lock()
        self._records = self._stored = 0

    @property
    def store_key(self) -> str:
        """The key of this download's state: a sidecar lives next to the .part whatever the
        key is; other stores use the key."""
        if self._store_key is None:
            request = self.request
            self._store_key = (str(request.staging_path).removesuffix(".part")
                               if isinstance(self.context.store, SidecarStore)
                               else request.state_key)
        return self._store_key

    @property
    def files(self) -> Staged:
        """The staged bytes; only used once the download has opened its .part."""
        if self.staged is None:
            raise RuntimeError("the download has not opened its staging file yet")
        return self.staged

    def _after_chunk(self) -> None:
        staged = self.files
        if staged.checkpoint_due() and self._checkpoint_task is None:
            self._checkpoint_task = asyncio.ensure_future(self._checkpoint())
        if staged.mark_due:
            self._mark()
        if self.on_chunk is not None:
            self.on_chunk()

    def _mark(self) -> None:
        staged = self.files
        if staged.mark is not None and staged.size is not None:
            staged.write_mark(self.identity())

    # -- persisted state ------------------------------------------------------------------
    def identity(self) -> StateRecord:
        """What names the answer being staged: a state record without the progress."""
        return {"url": self.request.url, "size": self.files.size,
                "sha256": self.request.sha256, "etag": self.etag,
                "last_modified": self.last_modified,
                "byte_range": _byte_range_state(self.request)}

    def state_record(self) -> StateRecord:
        segments = self.files.segments
        # "bytes" lets a store (the journal) show progress without knowing segments.
        return {**self.identity(), "bytes": bytes_done(segments),
                "segments": [segment.to_state() for segment in segments]}

    async def _checkpoint(self) -> None:
        """Save a state that claims only bytes written (and, without a sha256, fsynced) before.

        With a pinned sha256 the .part is not fsynced here: a process crash keeps what the
        kernel has, and bytes lost to a power cut are caught by the final sha256 (the file
        is then fetched again, never published wrong). This keeps a fast download from
        being held to the disk's write speed by a flush every few MiB.
        """
        staged = self.files
        try:
            # A failed checkpoint only costs resumability; the writes themselves report
            # disk errors.
            (record, number), generation = self._new_record(), self.generation
            staged.unsaved, staged.last_checkpoint = 0, time.monotonic()
            await staged.drain()
            if self.request.sha256 is None:
                await asyncio.to_thread(staged.part.sync)
            if generation != self.generation:
                return  # the bytes were forgotten meanwhile: this record is stale
            if not await asyncio.to_thread(self._save, record, number):
                return  # a newer record (a pause's) was saved meanwhile
            if generation != self.generation:
                self.context.store.delete(self.store_key)
                return
            self.saved = True
        except (OSError, DownloadError):
            pass
        finally:
            self._checkpoint_task = None

    async def settle_checkpoint(self) -> None:
        """Let a running checkpoint finish before the file is published or closed."""
        if self._checkpoint_task is not None:
            await asyncio.wait([self._checkpoint_task])

    def save_now(self) -> None:
        """Synchronous checkpoint for pause, shutdown and failure (keeps what is on disk)."""
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            self._checkpoint_task = None
        staged = self.staged
        if staged is None or staged.part.closed or staged.size is None:
            return
        if bytes_done(staged.segments) == 0 and not self.saved:
            return
        with contextlib.suppress(OSError, DownloadError):
            staged.drain_now()
            staged.part.sync()
            self._save(*self._new_record())
            self.saved = True

    def _new_record(self) -> tuple[StateRecord, int]:
        """The state as it stands, and its number in the order records are made."""
        self._records += 1
        return self.state_record(), self._records

    def _save(self, record: StateRecord, number: int) -> bool:
        """Save the ``number``-th record made, unless a later one is saved already: a
        checkpoint's thread may still be saving when a pause saves (and both write the
        same sidecar's temporary file). False when it was not saved."""
        with self._save_lock:
            if number < self._stored:
                return False
            self.context.store.save(self.store_key, record)
            self._stored = number
            return True

    def forget(self) -> None:
        """Remove the .part and the state (cancel, checksum mismatch)."""
        self.generation += 1
        if self.staged is not None:
            with contextlib.suppress(OSError, DownloadError):
                self.staged.close()
            self.staged.part.discard()
            self.staged.discard_mark()
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.request.staging_path)
        self.context.store.delete(self.store_key)
        self.saved = False

    def restore(self, part: StagingFile, mark: ProgressMark) -> Staged:
        """Rebuild the staged bytes from the store, the progress mark and the .part
        (clamped to what is on disk)."""
        request, on_disk = self.request, part.size_on_disk()
        # No .part, nothing to resume: skip the state lookup (a syscall per small file).
        record = self.context.store.load(self.store_key) if part.existed else None
        if part.existed and on_disk > 0:
            marked = mark.load(part.fd)
            if marked is not None and _mark_is_newer(marked, record):
                record = marked
        segments: list[Segment] | None = None
        size = request.size
        if record and record.get("url") == request.url and record.get("size") and (
                request.size in (None, record["size"])) and (
                request.sha256 in (None, record.get("sha256"))) and (
                record.get("byte_range") == _byte_range_state(request)):
            size = int(record["size"])
            segments = from_state(record.get("segments"), size)
            self.etag, self.last_modified = record.get("etag"), record.get("last_modified")
            self.saved = True
        if segments is None and request.size and request.sha256 and 0 < on_disk <= request.size:
            # No state (a crash before the first checkpoint), but length and hash pinned:
            # what is on disk is checked by the final sha256, so take it back.
            runs = part.data_runs()
            segments = (from_runs(runs, request.size) if runs is not None
                        else [Segment(0, request.size, on_disk)])
            clamp_to_disk(segments, on_disk)
            return Staged(part, segments, size)
        if segments is None:
            part.truncate(0)
            return Staged(part, [], size)
        clamp_to_disk(segments, on_disk)
        if request.sha256:
            # Bytes written after the last checkpoint are taken back too: the pinned sha256
            # checks them (a wrong guess costs a fresh download, never a wrong file).
            for segment in segments:
                if segment.remaining and segment.position < on_disk:
                    end = part.written_end(segment.position, segment.end,
                                           sequential=len(segments) == 1)
                    segment.done = end - segment.start
        return Staged(part, segments, size)

    def open(self) -> None:
        if self.staged is not None and not self.staged.part.closed:
            return
        staging = self.request.staging_path
        make_folders(self.context, staging, self.request.destination)
        part = StagingFile(staging)
        if self.staged is None:
            mark = ProgressMark(staging)
            self.staged = self.restore(part, mark)
            self.staged.mark = mark if mark.enabled else None
        else:
            self.staged.part = part
            clamp_to_disk(self.staged.segments, part.size_on_disk())
        self.staged.on_chunk = self._after_chunk
        self.staged.on_new_segment = self._mark
        self.staged.max_size = self.request.max_size
        self.resumed_from = bytes_done(self.staged.segments)

    def forget_bytes(self) -> None:
        """Start over from byte 0: the staged bytes cannot be trusted."""
        self.generation += 1
        self.files.reset([], self.request.size)
        self.etag = self.last_modified = None
        if self.saved:
            self.context.store.delete(self.store_key)
            self.saved = False


def _mark_is_newer(mark: StateRecord, record: StateRecord | None) -> bool:
    """Whether a progress mark supersedes the store's checkpoint: same answer, more bytes.

    A checkpoint taken after the last mark (a pause saves one) claims more and wins.
    """
    if record is None:
        return True
    same = all(mark.get(name) == record.get(name) for name in IDENTITY)
    bytes_of = [value if isinstance(value, int) else 0
                for value in (mark.get("bytes"), record.get("bytes"))]
    return same and bytes_of[0] >= bytes_of[1]


def _byte_range_state(request: DownloadRequest) -> list[int] | None:
    """The slice as a state record keeps it (JSON has no tuples); None for a whole file,
    which is also what a record written before slices existed reads as."""
    return list(request.byte_range) if request.byte_range is not None else None


def make_folders(context: EngineContext, staging: Path, destination: Path) -> None:
    """Make the folders of the staging file and of the destination, once per engine (a
    confined destination's folders are made when it is published)."""
    made = context.folders
    folders = [os.path.dirname(staging)]
    if confinement_of(destination) is None:
        folders.append(os.path.dirname(destination))
    for folder in folders:
        if folder not in made:
            try:
                os.makedirs(folder or ".", exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, folder) from exc
            made.add(folder)
