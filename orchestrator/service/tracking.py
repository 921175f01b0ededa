"""Downloads on the queue: tracking them, scheduling them again, and the launch gate."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import orchestrator.storage.containers as containers
from orchestrator.errors import BackgroundAssetsError, ErrorCode, JournalError, disk_full
from orchestrator.events import EventKind
from orchestrator.model.catalog import CatalogAsset
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.scheduler.checks import destination_problem
from orchestrator.scheduler.packs import pack_of
from orchestrator.scheduler.rules import matching_rule, render_destination
from orchestrator.service.apps import LoadedApp
from orchestrator.service.context import JOURNAL_SPACE, ServiceContext
from orchestrator.service.downloads import INSTALL_PAUSED, Tracked


class Tracking:
    """Puts an app's downloads on the queue and opens its launch gate once they allow.

    Content requests schedule through it, the handover schedules again through it what
    a failure answered, and recovery tracks what the journal still has pending.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def pending(self, app_id: str, *, essential: bool | None = None) -> list[Tracked]:
        return [t for t in self.ctx.queue.tracked.values() if t.app_id == app_id
                and (essential is None or t.download.essential == essential)]

    def track(self, loaded: LoadedApp, download: Download, exact_size: bool = True) -> Tracked:
        app = loaded.app
        ephemeral = self.ctx.layout.ephemeral_path(app.app_group, download.id, download.url)
        allowed = None if loaded.launched else app.restrictions.domain_allow_list
        tracked = Tracked(download, app.id, 0, ephemeral, allowed, exact_size,
                          self._direct_destination(loaded, download))
        self.ctx.queue.add(tracked, held=INSTALL_PAUSED if loaded.install_paused else None)
        return tracked

    def schedule(self, loaded: LoadedApp, download_id: str, url: str, *, size: int | None,
                 sha256: str | None, priority: int) -> Tracked:
        """A background download the running app asks for (``BADownloadManager``'s
        ``scheduleDownload``): journaled, queued and announced like the extension's.

        Its destination, for an extension that gets the file instead of the app, is the
        one the extension's rules give an asset of that id and url.
        """
        app = loaded.app
        if not loaded.running:
            raise BackgroundAssetsError(f"{app.id} is not running: only the running app "
                                        "schedules downloads",
                                        ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
        if any(t.download.id == download_id for t in self.pending(app.id)):
            raise BackgroundAssetsError(f"{download_id!r} is scheduled already",
                                        ErrorCode.DOWNLOAD_ALREADY_SCHEDULED)
        asset = CatalogAsset(download_id, url, size or 0, sha256, False, priority)
        rule = matching_rule(loaded.extension.rules, asset)
        destination = render_destination(rule.destination if rule else "{filename}", asset)
        problem = destination_problem(destination)
        if problem is not None:
            raise BackgroundAssetsError(f"{download_id}: {problem}",
                                        ErrorCode.PATH_OUTSIDE_CONTAINER)
        download = Download(download_id, url, app.app_group, False, size, sha256, priority,
                            destination, DownloadState.WAITING)
        self.ctx.journal.add_downloads(app.id, [download], at=self.ctx.clock.time())
        tracked = self.track(loaded, download, exact_size=size is not None)
        self.ctx.emit_download(EventKind.DOWNLOAD_SCHEDULED, tracked, priority=priority)
        return tracked

    def _direct_destination(self, loaded: LoadedApp, download: Download) -> Path | None:
        """Where the engine may publish the file itself, or None to hand it over.

        A declarative extension would only move the file to its destination, so the
        engine's own atomic rename puts it there: one rename per file instead of two,
        and none on the event loop (20,000 small files: see benchmarks/plan.py). The
        staging file stays in the staging folder, on the same file system. A delegate
        that connects before the file is done still gets it at the ephemeral path.
        """
        if loaded.extension.handler is not None and pack_of(download.id) is None:
            return None
        layout, app_group = self.ctx.layout, loaded.app.app_group
        try:
            target = containers.container_path(layout.container(app_group),
                                               download.destination)
            if not containers.same_file_system(target.parent, layout.staging_dir(app_group)):
                return None
        except (BackgroundAssetsError, OSError):
            return None  # delivery moves it and fails it with the reason
        return target

    def reschedule(self, loaded: LoadedApp, downloads: list[Download],
                   error: BackgroundAssetsError) -> None:
        """Schedule again what a failure policy or a handler's failed() answered; only
        non-essential downloads may come back. A journal with no room for them keeps
        them for when space is back."""
        allowed = []
        for download in downloads:
            if download.essential:
                self.ctx.emit(EventKind.PLAN_REJECTED, loaded.app.id, download=download.id,
                              code=int(ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED),
                              name=ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED.title,
                              reason="essential downloads cannot be scheduled after the install")
            else:
                allowed.append(download)
        if not allowed:
            return
        try:
            self.ctx.journal.add_downloads(loaded.app.id, allowed, at=self.ctx.clock.time())
        except JournalError as full:
            if not disk_full(full):
                raise
            self.ctx.in_background(self.retry_when_space(loaded, allowed, JOURNAL_SPACE, error))
            return
        for download in allowed:
            tracked = self.track(loaded, download,
                                 exact_size=error.code != ErrorCode.SIZE_MISMATCH)
            self.ctx.emit_download(EventKind.DOWNLOAD_REENQUEUED, tracked,
                                   reason=error.code.title)

    async def retry_when_space(self, loaded: LoadedApp, downloads: list[Download],
                               needed: int, error: BackgroundAssetsError) -> None:
        """Enqueue downloads a full disk failed (or had no room to re-enqueue) again once
        ``needed`` bytes are free, checked every ``disk_retry_interval`` seconds while the
        app stays installed."""
        def wanted() -> bool:
            return self.ctx.apps.get(loaded.app.id) is loaded

        if await self.ctx.space_back(needed, wanted):
            waiting = [d for d in downloads if d.key not in self.ctx.queue.tracked]
            self.reschedule(loaded, [d.with_state(DownloadState.WAITING) for d in waiting],
                            error)

    def check_launchable(self, loaded: LoadedApp) -> None:
        """Open the launch gate once the install is planned, not paused, and no essential
        download is pending."""
        if loaded.launchable or loaded.unplanned or loaded.install_paused \
                or self.ctx.queue.pending_essential[loaded.app.id] > 0:
            return
        if loaded.progress is not None and not loaded.progress.step_done:
            loaded.progress = loaded.progress.answered(loaded.progress.essential_done)
        loaded.launchable = True
        if loaded.progress is not None:
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.progress.essential_total)
            self.ctx.emit_progress(loaded, force=True)
        if not loaded.catalog_failed:  # that state is kept: installing again retries
            with contextlib.suppress(JournalError):  # recovery works launchable out again
                self.ctx.journal.set_app_state(loaded.app.id,
                                               "launched" if loaded.launched else "launchable")
        self.ctx.emit(EventKind.APP_LAUNCHABLE, loaded.app.id)
