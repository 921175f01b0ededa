"""An install or update as a whole while it runs: paused, resumed, or given up; and
removing an app.

While the app is not launchable yet, a person may pause its install (every download of
the app holds where it is, and those its plan adds later come held), resume it (the
transfers continue from the bytes on disk), or cancel it (the app ends not installed).
"""

from __future__ import annotations

import asyncio
import contextlib

import orchestrator.storage.containers as containers
from orchestrator.errors import BackgroundAssetsError, ErrorCode, JournalError, disk_full
from orchestrator.events import EventKind
from orchestrator.service.apps import LoadedApp
from orchestrator.service.context import ServiceContext
from orchestrator.service.downloads import BY_REQUEST, INSTALL_PAUSED
from orchestrator.service.packs import Packs
from orchestrator.service.requests import ContentRequests
from orchestrator.service.tracking import Tracking


class Installs:
    """Pauses, resumes and cancels an app's install or update until the app is
    launchable, and uninstalls apps.

    A pause is journaled first, so a restart keeps the install paused (recovery tracks
    its downloads held); the launch gate stays shut until the install is resumed. A
    download paused by request before the install was stays paused by request after it
    is resumed.
    """

    def __init__(self, ctx: ServiceContext, tracking: Tracking,
                 requests: ContentRequests, packs: Packs) -> None:
        self.ctx, self.tracking, self.requests, self.packs = ctx, tracking, requests, packs

    def _installing(self, app_id: str, verb: str) -> LoadedApp:
        """The app, whose install or update must still run; 1041 once it is launchable."""
        loaded = self.ctx.loaded(app_id)
        if loaded.launchable:
            raise BackgroundAssetsError(
                f"{app_id} has no install to {verb}: it is installed and launchable "
                "(pause or cancel its downloads one by one instead)",
                ErrorCode.INSTALL_NOT_IN_PROGRESS)
        return loaded

    def pause(self, app_id: str) -> int:
        """Hold every download of the app's install; how many were paused now."""
        loaded = self._installing(app_id, "pause")
        if loaded.install_paused:
            raise BackgroundAssetsError(f"the install of {app_id} is paused already; "
                                        "resume-install it to go on", ErrorCode.INSTALL_PAUSED)
        self.ctx.journal.set_install_paused(app_id, self.ctx.clock.time())
        loaded.install_paused = True
        held = [t for t in self.tracking.pending(app_id) if t.paused != BY_REQUEST]
        for tracked in held:
            self.ctx.queue.pause(tracked.key, INSTALL_PAUSED)
        self._emit(EventKind.INSTALL_PAUSED, loaded, len(held))
        return len(held)

    def resume(self, app_id: str) -> int:
        """Let the paused install go on; how many downloads were resumed."""
        loaded = self._installing(app_id, "resume")
        if not loaded.install_paused:
            raise BackgroundAssetsError(f"the install of {app_id} is not paused",
                                        ErrorCode.INSTALL_NOT_PAUSED)
        self.ctx.journal.set_install_paused(app_id, None)
        loaded.install_paused = False
        resumed = [t for t in self.tracking.pending(app_id)
                   if self.ctx.queue.resume(t.key, INSTALL_PAUSED)]
        self._emit(EventKind.INSTALL_RESUMED, loaded, len(resumed))
        self.tracking.check_launchable(loaded)  # a plan without essential downloads
        return len(resumed)

    async def cancel(self, app_id: str) -> int:
        """Give the install up: the app ends not installed. Refused for an app launched
        before (its data would go with it). How many downloads were cancelled."""
        loaded = self._installing(app_id, "cancel")
        if loaded.launched:
            raise BackgroundAssetsError(
                f"{app_id} was launched before: cancelling its update would remove the app "
                "and its data; resume-install it, or uninstall it",
                ErrorCode.UPDATE_NOT_CANCELLABLE)
        await self.requests.stop(app_id)
        pending = len(self.tracking.pending(app_id))
        await self._remove(loaded)
        self._emit(EventKind.INSTALL_CANCELLED, loaded, pending)
        return pending

    async def uninstall(self, app_id: str) -> None:
        """Remove the app, its container, its staging files and its journal rows; an
        install or update request being made is stopped first."""
        loaded = self.ctx.loaded(app_id)
        await self.requests.stop(app_id)
        await self._remove(loaded)
        self.ctx.emit(EventKind.APP_UNINSTALLED, app_id)

    async def _remove(self, loaded: LoadedApp) -> None:
        app_id, ctx = loaded.app.id, self.ctx
        group = loaded.app.app_group
        # The journal first: one it cannot write leaves the app installed, files, downloads
        # and all.
        try:
            ctx.journal.remove_app(app_id)
        except JournalError as error:
            if not disk_full(error):
                raise
            # Its partial downloads are of no use any more, and their room may be enough.
            await self._stop_downloads(loaded)
            containers.remove_tree(ctx.layout.staging_dir(group))
            try:
                ctx.journal.remove_app(app_id)
            except BaseException:
                ctx.apps[app_id] = loaded  # still installed, its downloads cancelled
                raise
        else:
            await self._stop_downloads(loaded)
        containers.remove_tree(ctx.layout.container(group))
        containers.remove_tree(ctx.layout.staging_dir(group))
        ctx.network.forget(app_id)
        ctx.engine.credentials.forget(app_id)
        ctx.disk.forget(app_id)
        self.packs.forget(app_id)
        ctx.queue.poke()  # its room may be what waiting downloads need

    async def _stop_downloads(self, loaded: LoadedApp) -> None:
        """Cancel every download of the app, out of the apps first: the queue's callbacks
        then leave them alone (no failure policy, no journal, no launch gate opened by the
        essential ones ending, no other download started meanwhile)."""
        app_id = loaded.app.id
        self.ctx.apps.pop(app_id, None)
        pending = self.tracking.pending(app_id)
        for tracked in pending:
            self.ctx.queue.cancel(tracked.key)
        for tracked in pending:
            if tracked.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await tracked.task

    def _emit(self, kind: EventKind, loaded: LoadedApp, downloads: int) -> None:
        progress = loaded.progress.fraction if loaded.progress is not None else 0.0
        self.ctx.emit(kind, loaded.app.id, downloads=downloads, progress=round(progress, 4))
