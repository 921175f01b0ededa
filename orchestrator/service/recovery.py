"""After a restart, and under storage pressure: recovery of the journal's work, purge."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import orchestrator.storage.containers as containers
from orchestrator.errors import BackgroundAssetsError, JournalError
from orchestrator.events import EventKind
from orchestrator.manifests import load_app
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.service.apps import LoadedApp
from orchestrator.service.context import ServiceContext
from orchestrator.service.downloads import Tracked
from orchestrator.service.handover import Handover
from orchestrator.service.progress import InstallProgress
from orchestrator.service.tracking import Tracking


class Recovery:
    """Brings back what the journal knows after a restart, and frees purgeable space."""

    def __init__(self, ctx: ServiceContext, tracking: Tracking, handover: Handover) -> None:
        self.ctx, self.tracking, self.handover = ctx, tracking, handover

    async def recover(self) -> None:
        """After a restart: resume in-flight downloads, hand over finished ones, drop orphans."""
        for record in self.ctx.journal.apps():
            try:
                app, extension = load_app(Path(record.manifest_path))
            except BackgroundAssetsError as error:
                self.ctx.emit(EventKind.EVENT_REFUSED, record.id, request="recover",
                              **error.as_dict())
                continue
            loaded = LoadedApp(app, extension, Path(record.manifest_path),
                               launched=record.launched,
                               install_paused=record.install_paused_at is not None)
            self.ctx.apps[app.id] = loaded
            await self._recover_downloads(loaded)
            pending = record.pending_request
            if pending is not None:
                # Stopped before it was made (offline, or while the catalog was being
                # fetched or the extension asked): made again once the device is online.
                self.ctx.network.keep(app.id, pending)
            if pending in (ContentRequest.INSTALL, ContentRequest.UPDATE):
                loaded.unplanned = True
                loaded.progress = InstallProgress(
                    app.size, app.restrictions.essential_download_allowance)
                continue
            loaded.progress = self._recovered_progress(loaded)
            loaded.launchable = not loaded.install_paused \
                and self.ctx.queue.pending_essential[app.id] == 0
        self._remove_orphans()

    def _recovered_progress(self, loaded: LoadedApp) -> InstallProgress:
        """Install progress as the journal tells it: complete once no essential download
        is pending, else the essential bytes delivered over those of the whole plan."""
        essential = [r for r in self.ctx.journal.downloads(loaded.app.id) if r.download.essential]
        total = sum(r.download.size or r.bytes_on_disk for r in essential)
        delivered = sum(r.download.size or r.bytes_on_disk for r in essential
                        if r.download.state == DownloadState.FINISHED)
        if self.ctx.queue.pending_essential[loaded.app.id] == 0:
            delivered = total
        loaded.essential_done = delivered
        return InstallProgress(loaded.app.size, total, essential_done=delivered,
                               step_done=True, refined=True)

    async def _recover_downloads(self, loaded: LoadedApp) -> None:
        active = {DownloadState.CREATED, DownloadState.WAITING, DownloadState.DOWNLOADING}
        for record in self.ctx.journal.downloads(loaded.app.id):
            download = record.download
            if download.state in active:
                self.ctx.journal.set_download_state(record.key, DownloadState.WAITING,
                                                    reason="recovered", at=self.ctx.clock.time())
                self.tracking.track(loaded, download.with_state(DownloadState.WAITING))
            elif download.state == DownloadState.FINISHED and not record.delivered:
                tracked = Tracked(download, loaded.app.id, 0, self.ctx.layout.ephemeral_path(
                    loaded.app.app_group, download.id, download.url))
                handed = self.ctx.layout.handover_dir(loaded.app.app_group) \
                    / tracked.ephemeral.name
                if handed.is_file() and not tracked.ephemeral.exists():
                    # Stopped while the app's delegate had it: handed over again.
                    with contextlib.suppress(OSError):
                        os.replace(handed, tracked.ephemeral)
                if tracked.ephemeral.exists():
                    tracked.bytes = record.bytes_on_disk
                    await self.handover.deliver(loaded, tracked, tracked.ephemeral)
                else:
                    # A full disk keeps the row finished and undelivered, which the next
                    # start recovers the same way: fetched again either way.
                    with contextlib.suppress(JournalError):
                        self.ctx.journal.add_downloads(loaded.app.id, [download],
                                                       at=self.ctx.clock.time())
                    self.tracking.track(loaded, download.with_state(DownloadState.WAITING))

    def _remove_orphans(self) -> None:
        """Staging files that no pending download owns are left-overs of a crash."""
        owned = {t.ephemeral for t in self.ctx.queue.tracked.values()}
        if self.ctx.layout.staging.exists():
            for path in sorted(self.ctx.layout.staging.glob("*/*")):
                if path.is_file() and path.with_name(containers.staged_name(path)) not in owned:
                    containers.discard(path)
        for loaded in self.ctx.apps.values():  # what delegates left when the daemon stopped
            containers.remove_tree(self.ctx.layout.handover_dir(loaded.app.app_group))
        keys = set(self.ctx.queue.tracked)
        for key in self.ctx.journal.engine_state_keys():
            if key not in keys:
                self.ctx.journal.delete(key)

    def purge(self, bytes_to_free: int | None = None, *, app_id: str | None = None) -> int:
        """Evict purgeable files (apps not running first, least recently used first).

        Frees at least ``bytes_to_free`` when possible (all purgeable files when
        None), of app ``app_id`` only when given; returns the bytes freed. The next
        periodic run fetches them again; downloads that waited for space are looked at
        again at once.
        """
        candidates = []
        apps = self.ctx.apps if app_id is None else {app_id: self.ctx.loaded(app_id)}
        for owner, loaded in apps.items():
            container = self.ctx.layout.container(loaded.app.app_group)
            for record in self.ctx.journal.downloads(owner, {DownloadState.FINISHED}):
                destination = record.download.destination
                if not record.delivered or not containers.is_purgeable(destination):
                    continue
                path = containers.container_path(container, destination)
                found = containers.confined_stat(path)
                if found is None:
                    self.ctx.disk.removed(record.key)  # gone already: it takes no space
                else:
                    used = max(found.st_atime, found.st_mtime)
                    candidates.append((loaded.running, used, found.st_size, path, record))
        candidates.sort(key=lambda c: (c[0], c[1]))
        freed = 0
        for _running, _used, size, path, record in candidates:
            if bytes_to_free is not None and freed >= bytes_to_free:
                break
            containers.discard(path)
            # A journal the full disk cannot write raises here, the file gone: its row still
            # says delivered, and the present-file checks read a missing file as absent.
            self.ctx.journal.update_download(record.key, delivered=False)
            self.ctx.disk.removed(record.key)
            freed += size
            self.ctx.emit(EventKind.ASSET_PURGED, record.app_id, download=record.download.id,
                          essential=record.download.essential, bytes=size, total=size,
                          path=str(path))
        if freed:
            self.ctx.queue.poke()
        return freed
