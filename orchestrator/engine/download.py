"""One download as a small state machine: restore, attempt (with retries), verify, publish.

States: waiting -> downloading -> finished | failed, with paused in between. Every
attempt starts from what is verifiably on disk; every decision about an answer is made by
:func:`orchestrator.engine.ranges.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from orchestrator.engine.attempt import attempt, finish
from orchestrator.engine.commit import GroupCommit
from orchestrator.engine.confined import confinement_of, open_file
from orchestrator.engine.http import CredentialCache
from orchestrator.engine.marks import IDENTITY, ProgressMark
from orchestrator.engine.request import DownloadRequest, DownloadResult, Progress, RetryPolicy
from orchestrator.engine.retry import backoff_delay, classify_exception, disk_error, should_retry
from orchestrator.engine.segments import (
    Segment,
    bytes_done,
    clamp_to_disk,
    from_runs,
    from_state,
)
from orchestrator.engine.staging import StagingFile, file_sha256
from orchestrator.engine.state import SidecarStore, StateStore
from orchestrator.engine.transfer import MARK_BYTES, EndlessBody, Staged
from orchestrator.errors import DownloadError, ErrorCode

if TYPE_CHECKING:
    from orchestrator.engine.engine import HostSlots

PROGRESS_INTERVAL = 0.1
CONTENT_ERRORS = (ErrorCode.SIZE_MISMATCH, ErrorCode.CHECKSUM_MISMATCH)
# Failures whose bytes are never kept for a resume.
DISCARDED = (*CONTENT_ERRORS, ErrorCode.CATALOG_TOO_LARGE)


@dataclass
class _RetryCount:
    """Retries so far, reset by progress beyond the best position reached."""

    tries: int = 0
    total: int = 0
    best: int = 0
    content_failures: int = 0

    def again(self, error: DownloadError, progress: int, policy: RetryPolicy) -> bool:
        if progress > self.best:
            self.best, self.tries = progress, 0
        if not should_retry(error, self.tries, policy) or self.total >= 4 * policy.attempts:
            return False
        self.tries += 1
        self.total += 1
        return True


@dataclass
class EngineContext:
    """What every download of one Engine shares."""

    session: aiohttp.ClientSession
    store: StateStore
    retry: RetryPolicy
    credentials: CredentialCache
    slots: HostSlots
    max_connections: int
    group_commit: GroupCommit = field(default_factory=lambda: GroupCommit())
    folders: set[Path] = field(default_factory=set)


class Download:
    """The state machine of one request; ``run`` may be called again after a pause."""

    def __init__(self, request: DownloadRequest, context: EngineContext,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.request = request
        self.key = request.state_key
        # A sidecar lives next to the .part whatever the key is; other stores use the key.
        staging = str(request.staging_path)
        self.store_key = (staging.removesuffix(".part") if isinstance(context.store, SidecarStore)
                          else self.key)
        self.context = context
        self.on_progress = on_progress
        self.foreground = request.foreground
        self.state = "waiting"
        self.staged: Staged | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.force_single = False
        self.saved = False
        self.connections = 0
        self.resumed_from = 0
        self.speed = 0.0
        self.sha256: str | None = None
        self._emitted_at = 0.0
        self._speed_mark = (time.monotonic(), 0)
        self._checkpoint_task: asyncio.Task | None = None
        self.generation = 0  # bumped whenever the staged bytes are forgotten

    @property
    def files(self) -> Staged:
        """The staged bytes; only used once the download has opened its .part."""
        if self.staged is None:
            raise RuntimeError("the download has not opened its staging file yet")
        return self.staged

    # -- progress -------------------------------------------------------------------------
    def progress(self) -> Progress:
        staged = self.staged
        done = bytes_done(staged.segments) if staged else 0
        total = staged.size if staged else self.request.size
        return Progress(self.key, self.request.url, done, total, self.speed, self.connections,
                        self.state)

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._emitted_at < PROGRESS_INTERVAL:
            return
        received = self.staged.received if self.staged else 0
        mark_time, mark_bytes = self._speed_mark
        if now - mark_time >= PROGRESS_INTERVAL:
            current = (received - mark_bytes) / (now - mark_time)
            self.speed = current if self.speed == 0 else 0.7 * self.speed + 0.3 * current
            self._speed_mark = (now, received)
        self._emitted_at = now
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def _on_chunk(self) -> None:
        staged = self.files
        if staged.checkpoint_due() and self._checkpoint_task is None:
            self._checkpoint_task = asyncio.ensure_future(self._checkpoint())
        elif staged.unmarked >= MARK_BYTES * max(1, self.connections) and (
                staged.mark is not None and staged.size is not None):
            staged.write_mark(self.identity())
        if time.monotonic() - self._emitted_at >= PROGRESS_INTERVAL:
            self.emit()

    # -- persisted state ------------------------------------------------------------------
    def identity(self) -> dict:
        """What names the answer being staged: a state record without the progress."""
        return {"url": self.request.url, "size": self.files.size,
                "sha256": self.request.sha256, "etag": self.etag,
                "last_modified": self.last_modified}

    def state_record(self) -> dict:
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
            record, generation = self.state_record(), self.generation
            staged.unsaved, staged.last_checkpoint = 0, time.monotonic()
            await staged.drain()
            if self.request.sha256 is None:
                await asyncio.to_thread(staged.part.sync)
            if generation != self.generation:
                return  # the bytes were forgotten meanwhile: this record is stale
            await asyncio.to_thread(self.context.store.save, self.store_key, record)
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
            self.context.store.save(self.store_key, self.state_record())
            self.saved = True

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

    def _restore(self, part: StagingFile, mark: ProgressMark) -> Staged:
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
                request.sha256 in (None, record.get("sha256"))):
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

    # -- running --------------------------------------------------------------------------
    async def run(self) -> DownloadResult:
        """Download with retries; never raises for download failures (see result.error)."""
        try:
            skipped = await self._already_in_place()
            if skipped is not None:
                return skipped
            self._open()
            return await self._attempts()
        except DownloadError as error:
            return self._failed(error)

    async def _already_in_place(self) -> DownloadResult | None:
        request = self.request
        if request.sha256 is None:
            return None
        confinement = confinement_of(request.destination)
        try:
            # A confined destination is read through its walked folder, never a symlink.
            found: Path | int = (request.destination if confinement is None
                                 else open_file(confinement))
        except (OSError, DownloadError):
            return None
        try:
            info = os.stat(found)
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode) or request.size not in (
                None, info.st_size):
            if isinstance(found, int):
                os.close(found)
            return None
        size = info.st_size
        digest = await asyncio.to_thread(file_sha256, found)
        if digest != request.sha256.lower():
            return None
        self.state = "finished"
        self.emit(force=True)
        return DownloadResult(self.key, request.url, request.destination, size, digest, None,
                              0, size)

    def _open(self) -> None:
        if self.staged is not None and not self.staged.part.closed:
            return
        staging = self.request.staging_path
        folders = {staging.parent}
        if confinement_of(self.request.destination) is None:  # else made when published
            folders.add(self.request.destination.parent)
        for folder in folders:
            if folder not in self.context.folders:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise disk_error(exc, folder) from exc
                self.context.folders.add(folder)
        part = StagingFile(staging)
        if self.staged is None:
            mark = ProgressMark(staging)
            self.staged = self._restore(part, mark)
            self.staged.mark = mark if mark.enabled else None
        else:
            self.staged.part = part
            clamp_to_disk(self.staged.segments, part.size_on_disk())
        self.staged.on_chunk = self._on_chunk
        self.staged.max_size = self.request.max_size
        self.resumed_from = bytes_done(self.staged.segments)

    async def _attempts(self) -> DownloadResult:
        """Attempts until a verified file or a final failure.

        A failed attempt that got further than any before it resets the retry count (a
        flaky link still finishes), within a hard cap so a server that keeps sending the
        same bytes cannot loop forever.
        """
        policy, retry = self.context.retry, _RetryCount()
        self.state = "downloading"
        self.emit(force=True)
        try:
            while True:
                try:
                    body = await attempt(self)
                    return await finish(self, body)
                except DownloadError as error:
                    self._after_failure(error, retry)
                    failure = error
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    failure = classify_exception(exc, self.request.url,
                                                 foreground=self.foreground)
                    failure.__cause__ = exc
                progress = bytes_done(self.files.segments)
                if not retry.again(failure, progress, policy):
                    raise failure
                await asyncio.sleep(backoff_delay(retry.tries - 1, policy, failure.retry_after))
        except asyncio.CancelledError:
            self.save_now()
            with contextlib.suppress(OSError, DownloadError):
                self.files.close()
            raise

    def _after_failure(self, error: DownloadError, retry: _RetryCount) -> None:
        if isinstance(error, EndlessBody) and self.request.sha256:
            return  # the bytes up to the size stay; the next attempt verifies them
        if error.code in CONTENT_ERRORS:
            self.forget_bytes()
            retry.content_failures += 1
            error.transient = retry.content_failures < 2
        elif error.code == ErrorCode.RANGE_NOT_HONOURED:
            self.force_single = True
            self.forget_bytes()

    def forget_bytes(self) -> None:
        """Start over from byte 0: the staged bytes cannot be trusted."""
        self.generation += 1
        self.files.reset([], self.request.size)
        self.etag = self.last_modified = None
        if self.saved:
            self.context.store.delete(self.store_key)
            self.saved = False

    def crashed(self, exc: Exception) -> DownloadResult:
        """The result for an unexpected exception (a bug): failed, with the .part kept."""
        error = DownloadError(f"{self.request.url}: internal error ({type(exc).__name__}: {exc})",
                              ErrorCode.DOWNLOAD_INVALID)
        return self._failed(error)

    def _failed(self, error: DownloadError) -> DownloadResult:
        self.state = "failed"
        if self.staged is not None:
            nothing_kept = bytes_done(self.staged.segments) == 0 and not self.saved
            if error.code in DISCARDED or nothing_kept:
                self.forget()
            else:
                self.save_now()
                with contextlib.suppress(OSError, DownloadError):
                    self.staged.close()
        self.emit(force=True)
        received = self.staged.received if self.staged else 0
        return DownloadResult(self.key, self.request.url, None, 0, None, error, received,
                              self.resumed_from)


def _mark_is_newer(mark: dict, record: dict | None) -> bool:
    """Whether a progress mark supersedes the store's checkpoint: same answer, more bytes.

    A checkpoint taken after the last mark (a pause saves one) claims more and wins.
    """
    if record is None:
        return True
    same = all(mark.get(name) == record.get(name) for name in IDENTITY)
    bytes_of = [value if isinstance(value, int) else 0
                for value in (mark.get("bytes"), record.get("bytes"))]
    return same and bytes_of[0] >= bytes_of[1]
