"""What happens as downloads start, progress and end: handover, failure policy, launch gate."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import replace
from pathlib import Path

from orchestrator import events as ev
from orchestrator.engine import DownloadResult
from orchestrator.engine.retry import DiskFullError
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.journal import JournalError
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.model.extension import EssentialFailure
from orchestrator.service import containers
from orchestrator.service.apps import LoadedApp
from orchestrator.service.downloads import Tracked

PROGRESS_INTERVAL = 0.1
DISK_RETRY_INTERVAL = 30.0


class Handover:
    """Part of :class:`Orchestrator`; shares its attributes."""

    disk_retry_interval = DISK_RETRY_INTERVAL

    # Download callbacks ------------------------------------------------------------

    def _download_started(self, tracked: Tracked) -> None:
        self.journal.defer_download_state(tracked.key, DownloadState.DOWNLOADING, reason="started",
                                          from_state=DownloadState.WAITING, at=self.clock())
        self._download_event(ev.DOWNLOAD_STARTED, tracked, foreground=tracked.foreground)

    def _download_progress(self, tracked: Tracked) -> None:
        self._download_event(ev.DOWNLOAD_PROGRESS, tracked, speed=round(tracked.speed))
        loaded = self.apps.get(tracked.app_id)
        if loaded is not None and loaded.progress is not None and tracked.download.essential:
            moving = sum(t.bytes for t in self.queue.running.values()
                         if t.app_id == tracked.app_id and t.download.essential)
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.essential_done + moving)
            self._emit_progress(loaded)

    def _download_paused(self, tracked: Tracked, reason: str) -> None:
        self._download_event(ev.DOWNLOAD_PAUSED, tracked, reason=reason)

    def _download_resumed(self, tracked: Tracked) -> None:
        """A paused transfer moves again (resumed by request, or its condition lifted)."""
        self._download_event(ev.DOWNLOAD_RESUMED, tracked, foreground=tracked.foreground)

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
        except BackgroundAssetsError as error:
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
        self._download_event(ev.DOWNLOAD_FINISHED, tracked, sha256=download.sha256,
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
        else:
            done.set_result(None)

    async def _failed(self, loaded: LoadedApp, tracked: Tracked,
                      error: BackgroundAssetsError) -> None:
        download = tracked.download
        # A full disk: the row keeps its last state and is recovered as waiting at the
        # next start; the failure is reported all the same.
        with contextlib.suppress(JournalError):
            self.journal.set_download_state(
                tracked.key, DownloadState.FAILED, reason=error.code.title,
                error_code=int(error.code), error_message=error.message, at=self.clock())
        self._download_event(ev.DOWNLOAD_FAILED, tracked, **error.as_dict())
        if loaded.running and loaded.delegate is not None:
            loaded.delegate.failed(download, error)
            return
        runner = self._runner(loaded)
        if runner is not None:
            retries, outcome = await runner.failed(download, error,
                                                   budget=self._runtime_left(loaded))
            self._charge(loaded, "failed", outcome)
            self._reschedule(loaded, retries, error)
            return
        if isinstance(error, DiskFullError) and not download.essential:
            needed = download.size - tracked.bytes
            self._in_background(self._retry_when_space(loaded, download, needed, error))
            return
        policy = loaded.extension.on_failure
        cancelled = error.code == ErrorCode.CANCELLED
        reenqueue = policy.essential is EssentialFailure.REENQUEUE_NONESSENTIAL
        if download.essential and reenqueue and not cancelled:
            copy = download.removing_essential()
            # An essential size must be exact; the non-essential copy trusts the server's.
            exact = error.code != ErrorCode.SIZE_MISMATCH
            self.journal.add_downloads(loaded.app.id, [copy], at=self.clock())
            again = self._track(loaded, copy, exact_size=exact)
            self._download_event(ev.DOWNLOAD_REENQUEUED, again, reason=error.code.title)

    async def _retry_when_space(self, loaded: LoadedApp, download: Download, needed: int,
                                error: BackgroundAssetsError) -> None:
        """Enqueue a download the full disk failed again once its ``needed`` bytes fit,
        checked every ``disk_retry_interval`` seconds while the app stays installed."""
        staging = self.layout.staging
        while True:
            await asyncio.sleep(self.disk_retry_interval)
            if self.apps.get(loaded.app.id) is not loaded \
                    or download.key in self.queue.tracked:
                return
            with contextlib.suppress(OSError):
                free = os.statvfs(staging)
                if free.f_bavail * free.f_frsize >= needed:
                    break
        with contextlib.suppress(JournalError):
            self._reschedule(loaded, [download.with_state(DownloadState.WAITING)], error)

    def _reschedule(self, loaded: LoadedApp, downloads: list[Download],
                    error: BackgroundAssetsError) -> None:
        """What a handler's failed() answered: only non-essential downloads may come back."""
        for download in downloads:
            if download.essential:
                self.emit(ev.PLAN_REJECTED, loaded.app.id, download=download.id,
                          code=int(ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED),
                          name=ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED.title,
                          reason="essential downloads cannot be scheduled after the install")
                continue
            self.journal.add_downloads(loaded.app.id, [download], at=self.clock())
            tracked = self._track(loaded, download,
                                  exact_size=error.code != ErrorCode.SIZE_MISMATCH)
            self._download_event(ev.DOWNLOAD_REENQUEUED, tracked, reason=error.code.title)

    def _emit_progress(self, loaded: LoadedApp, force: bool = False) -> None:
        now = time.monotonic()
        if loaded.progress is None or (
                not force and now - loaded.last_progress_event < PROGRESS_INTERVAL):
            return
        loaded.last_progress_event = now
        progress = loaded.progress
        self.emit(ev.APP_PROGRESS, loaded.app.id, fraction=round(progress.fraction, 4),
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
        with contextlib.suppress(JournalError):  # recovery works launchable out again
            self.journal.set_app_state(loaded.app.id,
                                       "launched" if loaded.launched else "launchable")
        self.emit(ev.APP_LAUNCHABLE, loaded.app.id)

