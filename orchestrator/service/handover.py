"""What happens as downloads start, progress and end: handover, failure policy, launch gate."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orchestrator.service.containers as containers
from orchestrator.engine import DownloadResult
from orchestrator.engine.retry import disk_error
from orchestrator.errors import (
    BackgroundAssetsError,
    ErrorCode,
    JournalError,
    disk_full,
)
from orchestrator.events import EventKind
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.model.extension import EssentialFailure
from orchestrator.service.apps import LoadedApp
from orchestrator.service.downloads import Tracked

PROGRESS_INTERVAL = 0.1
DISK_RETRY_INTERVAL = 30.0
# Free bytes a journal transaction (and a small catalog) is given before it is tried again.
JOURNAL_SPACE = 256 * 1024


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s file system (0 when
    that cannot be told)."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return 0
    return found.f_bavail * found.f_frsize


class Handover:
    """Part of :class:`Orchestrator`; shares its attributes."""

    disk_retry_interval = DISK_RETRY_INTERVAL

    # Download callbacks ------------------------------------------------------------

    def _download_started(self, tracked: Tracked) -> None:
        self.journal.defer_download_state(tracked.key, DownloadState.DOWNLOADING, reason="started",
                                          from_state=DownloadState.WAITING, at=self.clock())
        self._download_event(EventKind.DOWNLOAD_STARTED, tracked, foreground=tracked.foreground)

    def _download_progress(self, tracked: Tracked) -> None:
        self._download_event(EventKind.DOWNLOAD_PROGRESS, tracked, speed=round(tracked.speed))
        loaded = self.apps.get(tracked.app_id)
        if loaded is not None and loaded.progress is not None and tracked.download.essential:
            moving = sum(t.bytes for t in self.queue.running.values()
                         if t.app_id == tracked.app_id and t.download.essential)
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.essential_done + moving)
            self._emit_progress(loaded)

    def _download_paused(self, tracked: Tracked, reason: str) -> None:
        self._download_event(EventKind.DOWNLOAD_PAUSED, tracked, reason=reason)

    def _download_resumed(self, tracked: Tracked) -> None:
        """A paused transfer moves again (resumed by request, or its condition lifted)."""
        self._download_event(EventKind.DOWNLOAD_RESUMED, tracked, foreground=tracked.foreground)

    async def _download_ended(self, tracked: Tracked, result: DownloadResult) -> None:
        loaded = self.apps.get(tracked.app_id)
        if loaded is None:
            return
        # The download still counts as pending in the queue until this returns, so the
        # launch gate and ``wait`` hold while the handler is being called back.
        try:
            if result.error is None:
                tracked.bytes = result.size
                await self._deliver(loaded, tracked, result.path or tracked.ephemeral)
            else:
                await self._failed(loaded, tracked, result.error)
        except JournalError:
            pass  # a full journal: the failure was reported, the re-enqueued copy is not made

    def _download_settled(self, tracked: Tracked) -> None:
        """The queue no longer holds anything back for this download: re-check the gate."""
        loaded = self.apps.get(tracked.app_id)
        if loaded is not None:
            self._check_launchable(loaded)
        self._changed.set()

    async def _deliver(self, loaded: LoadedApp, tracked: Tracked, path: Path) -> None:
        """Hand the finished file over: the running app's delegate, else the extension."""
        download = tracked.download
        container = self.layout.container(loaded.app.app_group)
        final: Path | None = None
        try:
            runner = self._runner(loaded)
            delegate = loaded.delegate if loaded.running else None
            if path == tracked.direct and (delegate is not None or runner is not None):
                path = containers.move_out(path, tracked.ephemeral)
            if path == tracked.direct:
                final = path  # the engine published it at its destination already
            elif delegate is not None:
                delegate.finished(download, path)
            elif runner is not None:
                outcome = await runner.finished(download, path,
                                                budget=self._runtime_left(loaded))
                self._charge(loaded, "finished", outcome)
                if not outcome.ok:  # nobody took the file: it is not delivered
                    raise BackgroundAssetsError(
                        f"{download.id}: the extension's finished() ended: "
                        f"{outcome.terminated}", ErrorCode.EXTENSION_FAILED)
            else:
                final = containers.move_into(path, container, download.destination)
        except (BackgroundAssetsError, OSError) as failure:
            # An OSError: the container's file system refused the file (full, another one).
            error = failure if isinstance(failure, BackgroundAssetsError) else disk_error(
                failure, container / download.destination)
            containers.discard(path)
            await self._failed(loaded, tracked, error)
            return
        if final is None:
            containers.discard(path)  # whatever the delegate did not move
        self.journal.defer_download_state(tracked.key, DownloadState.FINISHED, reason="finished",
                                          bytes_on_disk=tracked.bytes, delivered=True,
                                          from_state=DownloadState.DOWNLOADING, at=self.clock())
        try:
            await self._journal_written()
        except JournalError as error:
            await self._failed(loaded, tracked, error)
            return
        if download.essential:
            loaded.essential_done += tracked.bytes
            if loaded.progress is not None:
                loaded.progress = replace(loaded.progress, essential_done=loaded.essential_done)
                self._emit_progress(loaded, force=True)
        self._download_event(EventKind.DOWNLOAD_FINISHED, tracked, sha256=download.sha256,
                             path=str(final) if final else None,
                             purgeable=containers.is_purgeable(download.destination))

    async def _journal_written(self) -> None:
        """Return once what was deferred so far is committed.

        Deliveries finishing in the same turn of the event loop share one transaction:
        20,000 small downloads then cost a few hundred commits, not 20,000, and an event
        still goes out only after its transition is in the journal.
        """
        if self._journal_commit is None:
            self._journal_commit = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._commit_journal)
        await asyncio.shield(self._journal_commit)

    def _commit_journal(self) -> None:
        done, self._journal_commit = self._journal_commit, None
        assert done is not None
        try:
            self.journal.flush()
        except BaseException as error:  # the waiters report it
            done.set_exception(error)
            done.exception()  # retrieved: waiters cancelled meanwhile (a stop) leave it be
        else:
            done.set_result(None)

    async def _failed(self, loaded: LoadedApp, tracked: Tracked,
                      error: BackgroundAssetsError) -> None:
        download = tracked.download
        # A full disk: the failure waits with the deferred transitions (reads see it) and
        # reaches the journal with the next transaction that fits; it is reported at once.
        with contextlib.suppress(JournalError):
            self.journal.set_download_state(
                tracked.key, DownloadState.FAILED, reason=error.code.title,
                error_code=int(error.code), error_message=error.message, at=self.clock())
        self._download_event(EventKind.DOWNLOAD_FAILED, tracked, **error.as_dict())
        again = await self._failure_answer(loaded, download, error)
        if not disk_full(error):
            self._reschedule(loaded, again, error)
            return
        # Not the download's fault: it comes back once space is back, whoever heard of the
        # failure. An essential one comes back only as the copy its extension asked for:
        # essential downloads are never scheduled after the install.
        if not download.essential and download.key not in {d.key for d in again}:
            again.append(download)
        if again:
            needed = max(JOURNAL_SPACE, (download.size or 0) - tracked.bytes)
            self._in_background(self._retry_when_space(loaded, again, needed, error))

    async def _failure_answer(self, loaded: LoadedApp, download: Download,
                              error: BackgroundAssetsError) -> list[Download]:
        """Tell the app's delegate or extension of a failure; the downloads it wants again."""
        if loaded.running and loaded.delegate is not None:
            loaded.delegate.failed(download, error)
            return []
        runner = self._runner(loaded)
        if runner is not None:
            retries, outcome = await runner.failed(download, error,
                                                   budget=self._runtime_left(loaded))
            self._charge(loaded, "failed", outcome)
            return list(retries)
        policy = loaded.extension.on_failure
        cancelled = error.code == ErrorCode.CANCELLED
        if download.essential and not cancelled \
                and policy.essential is EssentialFailure.REENQUEUE_NONESSENTIAL:
            return [download.removing_essential()]
        return []

    async def _retry_when_space(self, loaded: LoadedApp, downloads: list[Download],
                                needed: int, error: BackgroundAssetsError) -> None:
        """Enqueue downloads a full disk failed (or had no room to re-enqueue) again once
        ``needed`` bytes are free, checked every ``disk_retry_interval`` seconds while the
        app stays installed."""
        def wanted() -> bool:
            return self.apps.get(loaded.app.id) is loaded

        if await self._space_back(needed, wanted):
            waiting = [d for d in downloads if d.key not in self.queue.tracked]
            self._reschedule(loaded, [d.with_state(DownloadState.WAITING) for d in waiting],
                             error)

    async def _space_back(self, needed: int, wanted: Callable[[], bool]) -> bool:
        """Wait until ``needed`` bytes are free in the state dir; False once not ``wanted``."""
        while True:
            await asyncio.sleep(self.disk_retry_interval)
            if not wanted():
                return False
            if free_bytes(self.state_dir) >= needed:
                return True

    def _reschedule(self, loaded: LoadedApp, downloads: list[Download],
                    error: BackgroundAssetsError) -> None:
        """Schedule again what a failure policy or a handler's failed() answered; only
        non-essential downloads may come back. A journal with no room for them keeps
        them for when space is back."""
        allowed = []
        for download in downloads:
            if download.essential:
                self.emit(EventKind.PLAN_REJECTED, loaded.app.id, download=download.id,
                          code=int(ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED),
                          name=ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED.title,
                          reason="essential downloads cannot be scheduled after the install")
            else:
                allowed.append(download)
        if not allowed:
            return
        try:
            self.journal.add_downloads(loaded.app.id, allowed, at=self.clock())
        except JournalError as full:
            if not disk_full(full):
                raise
            self._in_background(self._retry_when_space(loaded, allowed, JOURNAL_SPACE, error))
            return
        for download in allowed:
            tracked = self._track(loaded, download,
                                  exact_size=error.code != ErrorCode.SIZE_MISMATCH)
            self._download_event(EventKind.DOWNLOAD_REENQUEUED, tracked, reason=error.code.title)

    def _emit_progress(self, loaded: LoadedApp, force: bool = False) -> None:
        now = time.monotonic()
        if loaded.progress is None or (
                not force and now - loaded.last_progress_event < PROGRESS_INTERVAL):
            return
        loaded.last_progress_event = now
        progress = loaded.progress
        self.emit(EventKind.APP_PROGRESS, loaded.app.id, fraction=round(progress.fraction, 4),
                  bytes=progress.done, total=progress.total, phases=progress.phases(),
                  refined=progress.refined)

    def _check_launchable(self, loaded: LoadedApp) -> None:
        if loaded.launchable or loaded.unplanned \
                or self.queue.pending_essential[loaded.app.id] > 0:
            return
        if loaded.progress is not None and not loaded.progress.step_done:
            loaded.progress = loaded.progress.answered(loaded.progress.essential_done)
        loaded.launchable = True
        if loaded.progress is not None:
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.progress.essential_total)
            self._emit_progress(loaded, force=True)
        if not loaded.catalog_failed:  # that state is kept: installing again retries
            with contextlib.suppress(JournalError):  # recovery works launchable out again
                self.journal.set_app_state(loaded.app.id,
                                           "launched" if loaded.launched else "launchable")
        self.emit(EventKind.APP_LAUNCHABLE, loaded.app.id)

