"""One download as a state machine: restore, attempt (with retries), verify, publish.

Its states and the moves between them are in :mod:`orchestrator.engine.phases`; the bytes
on disk and how they resume in :mod:`orchestrator.engine.resumable`. Every attempt starts
from what is verifiably on disk and returns an :class:`~orchestrator.engine.attempt.Outcome`;
every decision about an answer is made by :func:`orchestrator.engine.ranges.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from orchestrator.engine.attempt import Outcome, attempt
from orchestrator.engine.confined import confinement_of, open_file
from orchestrator.engine.context import EngineContext
from orchestrator.engine.marks import mark_path
from orchestrator.engine.phases import check_move
from orchestrator.engine.request import DownloadRequest, DownloadResult, Progress, RetryPolicy
from orchestrator.engine.resumable import Resumable, make_folders
from orchestrator.engine.retry import backoff_delay, classify_exception, should_retry
from orchestrator.engine.segments import bytes_done
from orchestrator.engine.slices import size_conflict, sized
from orchestrator.engine.slots import Connection
from orchestrator.engine.small import fetch_small, is_small
from orchestrator.engine.staging import StagingFile, file_sha256
from orchestrator.errors import DownloadError, EndlessBody, ErrorCode
from orchestrator.model.enums import DownloadState

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


class Download:
    """One request through its states; ``run`` may be called again after a pause."""

    def __init__(self, request: DownloadRequest, context: EngineContext,
                 on_progress: Callable[[Progress], None] | None,
                 connection: Connection | None = None) -> None:
        self.request = sized(request)
        self.url = URL(request.url)
        self.connection = connection
        self.key = request.state_key
        self.context = context
        self.on_progress = on_progress
        self.foreground = request.foreground
        self.state = DownloadState.WAITING
        self.resumable = Resumable(request, context)
        self.resumable.on_chunk = self.emit  # throttled to PROGRESS_INTERVAL
        self.speed = 0.0
        self.sha256: str | None = None
        # A small file of known size is fetched into memory (``engine.small``): no .part
        # while it transfers, no state, no marks.
        self.in_memory = is_small(self.request)
        self.received_in_memory = 0
        self.staging_path = self.request.staging_path
        self._emitted_at = 0.0
        self._speed_mark = (time.monotonic(), 0)

    def move_to(self, state: DownloadState) -> None:
        """Enter ``state`` (PhaseError for a move the table forbids) and report it."""
        self.state = check_move(self.state, state)
        self.emit(force=True)

    # -- progress -------------------------------------------------------------------------
    def progress(self) -> Progress:
        staged = self.resumable.staged
        done = bytes_done(staged.segments) if staged else self.received_in_memory
        total = staged.size if staged else self.request.size
        return Progress(self.key, self.request.url, done, total, self.speed,
                        self.resumable.connections, self.state)

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._emitted_at < PROGRESS_INTERVAL:
            return
        staged = self.resumable.staged
        received = staged.received if staged else self.received_in_memory
        mark_time, mark_bytes = self._speed_mark
        if now - mark_time >= PROGRESS_INTERVAL:
            current = (received - mark_bytes) / (now - mark_time)
            self.speed = current if self.speed == 0 else 0.7 * self.speed + 0.3 * current
            self._speed_mark = (now, received)
        self._emitted_at = now
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def forget(self) -> None:
        """Remove the .part and the state (cancel)."""
        self.resumable.forget()

    # -- running --------------------------------------------------------------------------
    async def run(self) -> DownloadResult:
        """Download with retries; never raises for download failures (see result.error).

        The whole run is busy on the engine's clock but for the waits between tries."""
        with self.context.clock.busy():
            return await self._run()

    async def _run(self) -> DownloadResult:
        try:
            conflict = size_conflict(self.request)
            if conflict is not None:
                raise conflict
            skipped = await self._already_in_place()
            if skipped is not None:
                return skipped
            if self.in_memory and not self.context.listings.surely_absent(
                    self.staging_path) and os.path.lexists(self.staging_path):
                self.in_memory = False  # bytes of an earlier run to resume: a .part owns them
            if not self.in_memory:
                self.resumable.open()
            return await self._attempts()
        except DownloadError as error:
            return self._failed(error)

    async def _already_in_place(self) -> DownloadResult | None:
        request = self.request
        if request.sha256 is None or self.context.listings.surely_absent(request.destination):
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
        if confinement is None and not os.path.lexists(self.staging_path):
            self._drop_lone_state()
        self.move_to(DownloadState.FINISHED)
        return DownloadResult(self.key, request.url, request.destination, size, digest, None,
                              0, size)

    def _drop_lone_state(self) -> None:
        """Remove the state and progress mark of a file already published: a crash between
        the rename that published it and their removal leaves them with no .part."""
        self.context.store.delete(self.resumable.store_key)
        with contextlib.suppress(OSError):
            os.unlink(mark_path(self.staging_path))

    async def _attempts(self) -> DownloadResult:
        """Attempts until a verified file or a final failure.

        A failed attempt that got further than any before it resets the retry count (a
        flaky link still finishes), within a hard cap so a server that keeps sending the
        same bytes cannot loop forever.
        """
        policy, retry = self.context.retry, _RetryCount()
        self.move_to(DownloadState.DOWNLOADING)
        try:
            while True:
                try:
                    if self.in_memory:
                        return await self._fetch_in_memory()
                    if self.connection is not None:
                        await self.connection.take()  # given back when a small file came
                    outcome = await attempt(self.resumable)
                    return await self._finish(outcome)
                except DownloadError as error:
                    self._after_failure(error, retry)
                    failure = error
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    failure = classify_exception(exc, self.request.url,
                                                 foreground=self.foreground)
                    failure.__cause__ = exc
                staged = self.resumable.staged
                progress = bytes_done(staged.segments) if staged else 0
                if not retry.again(failure, progress, policy):
                    raise failure
                with self.context.clock.idle():
                    await self.context.clock.sleep(
                        backoff_delay(retry.tries - 1, policy, failure.retry_after))
        except asyncio.CancelledError:
            self.resumable.save_now()
            if self.resumable.staged is not None:
                with contextlib.suppress(OSError, DownloadError):
                    self.resumable.staged.close()
            raise

    def _after_failure(self, error: DownloadError, retry: _RetryCount) -> None:
        if isinstance(error, EndlessBody) and self.request.sha256:
            return  # the bytes up to the size stay; the next attempt verifies them
        if error.code in CONTENT_ERRORS:
            if self.resumable.staged is not None:
                self.resumable.forget_bytes()
            retry.content_failures += 1
            error.transient = retry.content_failures < 2
        elif error.code == ErrorCode.RANGE_NOT_HONOURED:
            self.resumable.force_single = True
            if self.resumable.staged is not None:
                self.resumable.forget_bytes()

    def crashed(self, exc: Exception) -> DownloadResult:
        """The result for an unexpected exception (a bug): failed, with the .part kept."""
        error = DownloadError(f"{self.request.url}: internal error ({type(exc).__name__}: {exc})",
                              ErrorCode.DOWNLOAD_INVALID)
        if self.state.ended:  # the bug came after the end: report it, keep the state
            return DownloadResult(self.key, self.request.url, None, 0, None, error, 0,
                                  self.resumable.resumed_from)
        return self._failed(error)

    def _failed(self, error: DownloadError) -> DownloadResult:
        resumable = self.resumable
        staged = resumable.staged
        if staged is not None:
            nothing_kept = bytes_done(staged.segments) == 0 and not resumable.saved
            if error.code in DISCARDED or nothing_kept:
                resumable.forget()
            else:
                resumable.save_now()
                with contextlib.suppress(OSError, DownloadError):
                    staged.close()
        self.move_to(DownloadState.FAILED)
        received = staged.received if staged else self.received_in_memory
        return DownloadResult(self.key, self.request.url, None, 0, None, error, received,
                              resumable.resumed_from)

    # -- verify and publish --------------------------------------------------------------
    async def _finish(self, outcome: Outcome) -> DownloadResult:
        """Check size and sha256, then publish; a wrong file never reaches the destination."""
        staged, request = self.resumable.files, self.request
        if outcome.body is not None:
            return await self._finish_small(outcome.body)
        if staged.size is None:
            staged.size = staged.segments[0].position if staged.segments else 0
            if staged.segments:
                staged.segments[0].end = staged.size
        size = staged.size
        if request.size is not None and size != request.size:
            raise DownloadError(f"{request.url} gave {size} bytes, expected {request.size}",
                                ErrorCode.SIZE_MISMATCH)
        if bytes_done(staged.segments) != size:
            raise DownloadError(f"{request.url}: {bytes_done(staged.segments)} of {size} bytes "
                                "on disk", ErrorCode.NETWORK_ERROR, transient=True)
        await staged.drain()
        while staged.hashed_to < size:
            await staged.catch_up_hash()
        digest = staged.hasher.hexdigest()
        if request.sha256 is not None and digest != request.sha256.lower():
            raise DownloadError(f"{request.url}: sha256 {digest} does not match the expected "
                                f"{request.sha256.lower()}", ErrorCode.CHECKSUM_MISMATCH)
        staged.close_writer()
        await self.resumable.settle_checkpoint()
        await asyncio.to_thread(staged.part.publish, request.destination)
        return self._finished(size, digest)

    async def _publish_body(self, staging: StagingFile, body: bytes) -> str:
        """Hand a body in memory to the group commit, which verifies and publishes it
        (its digest); the connection is given back once there is room for it."""
        request = self.request
        await self.context.group_commit.room()
        if self.connection is not None:
            self.connection.give_back()
        return await self.context.group_commit.publish_verified(
            staging, body, request.destination,
            sha256=request.sha256.lower() if request.sha256 else None, source=request.url)

    async def _finish_small(self, body: bytes) -> DownloadResult:
        staged = self.resumable.files
        digest = await self._publish_body(staged.part, body)
        if staged.segments:  # an empty slice has none
            staged.segments[0].done = len(body)
        return self._finished(len(body), digest)

    async def _fetch_in_memory(self) -> DownloadResult:
        """One attempt of a small file: its body into memory, then verified and published."""
        request, context, connection = self.request, self.context, self.connection
        make_folders(context, self.staging_path, request.destination)
        if connection is not None:
            await connection.take()  # again, when a retry follows bytes that failed the sha256
        body = await fetch_small(request, context, self.url)
        self.received_in_memory += len(body)
        digest = await self._publish_body(StagingFile(self.staging_path), body)
        return self._finished(len(body), digest)

    def _finished(self, size: int, digest: str) -> DownloadResult:
        resumable, request = self.resumable, self.request
        staged = resumable.staged
        received = self.received_in_memory
        if staged is not None:
            staged.discard_mark()
            received = staged.received
        if resumable.saved:
            self.context.store.delete(resumable.store_key)
            resumable.saved = False
        self.sha256 = digest
        self.move_to(DownloadState.FINISHED)
        return DownloadResult(self.key, request.url, request.destination, size, digest, None,
                              received, resumable.resumed_from)
