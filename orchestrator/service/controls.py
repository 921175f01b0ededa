"""One controls protocol for every client: what can be asked of the service, and read.

:class:`Controls` is what a client holds, whether the service runs in its own
process (:class:`LocalControls`, over an :class:`Orchestrator`) or in a daemon
(:class:`orchestrator.control.remote.RemoteControls`, over its control socket).
Every call is async and a refusal is a :class:`BackgroundAssetsError` with its
code in both; reads return the views of :mod:`orchestrator.service.views`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import orchestrator.service.views as views
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import EventBus
from orchestrator.model.device import Device
from orchestrator.service.apps import AppDelegate
from orchestrator.service.downloads import Tracked
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.views import DownloadView, HistoryEntry, PackView, Snapshot


class PackAction(StrEnum):
    """What may be done to one asset pack of an app."""

    ENSURE = "ensure"
    REMOVE = "remove"
    ROLLBACK = "rollback"


class Controls(Protocol):
    """The service as a client sees it.

    ``install`` and ``update`` take the app manifest to read, or None for the one
    the service installed the app from (read again, so an edited version is an
    update); both return the app's id. ``pause_install``, ``resume_install`` and
    ``cancel_install`` act on an install or update as a whole while the app is not
    launchable yet, and return how many of its downloads they paused, resumed or
    cancelled. Download calls name the download by id, in
    ``app_id``'s downloads when given (ids are unique within one app only), and
    return the id of the app it belongs to.
    """

    events: EventBus

    def snapshot(self) -> Snapshot: ...

    def download(self, app_id: str, download_id: str) -> DownloadView | None: ...

    async def downloads(self, app_id: str | None = None) -> list[DownloadView]: ...

    async def history(self, app_id: str, download_id: str) -> list[HistoryEntry]: ...

    async def install(self, app_id: str | None, manifest: Path | None = None) -> str: ...

    async def update(self, app_id: str | None, manifest: Path | None = None) -> str: ...

    async def periodic(self, app_id: str) -> None: ...

    async def launch(self, app_id: str) -> None: ...

    async def terminate(self, app_id: str) -> None: ...

    async def uninstall(self, app_id: str) -> None: ...

    async def pause_install(self, app_id: str) -> int: ...

    async def resume_install(self, app_id: str) -> int: ...

    async def cancel_install(self, app_id: str) -> int: ...

    async def packs(self, app_id: str) -> list[PackView]: ...

    async def pack_action(self, app_id: str, pack_id: str, action: PackAction) -> int | str: ...

    async def check_packs(self, app_id: str) -> tuple[list[str], list[str]]: ...

    async def promote(self, download_id: str, app_id: str | None = None) -> str: ...

    async def pause(self, download_id: str, app_id: str | None = None) -> str: ...

    async def resume(self, download_id: str, app_id: str | None = None) -> str: ...

    async def cancel(self, download_id: str, app_id: str | None = None) -> str: ...

    async def purge(self, bytes_to_free: int | None = None, app_id: str | None = None) -> int: ...

    async def set_device(self, device: Device) -> Device: ...


class LocalControls:
    """:class:`Controls` over an orchestrator running in this process."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.events = orchestrator.events

    def snapshot(self, app_id: str | None = None) -> Snapshot:
        """The whole snapshot, or with ``app_id`` only that app's view (the journal reads
        of the others' are not made)."""
        return views.snapshot(self.orchestrator, app_id)

    def installed(self, app_id: str) -> bool:
        """Whether ``app_id`` is installed: what a request's scope is checked against,
        without the journal reads of a whole snapshot."""
        return app_id in self.orchestrator.apps

    def download(self, app_id: str, download_id: str) -> DownloadView | None:
        return views.download_view(self.orchestrator, app_id, download_id)

    async def downloads(self, app_id: str | None = None) -> list[DownloadView]:
        return views.download_views(self.orchestrator, app_id)

    async def history(self, app_id: str, download_id: str) -> list[HistoryEntry]:
        return views.download_history(self.orchestrator, app_id, download_id)

    # Apps -----------------------------------------------------------------------

    def _manifest(self, app_id: str | None, manifest: Path | None) -> Path:
        if manifest is not None:
            return manifest
        if app_id is None:
            raise BackgroundAssetsError("name the app or its manifest", ErrorCode.REQUEST_INVALID)
        loaded = self.orchestrator.apps.get(app_id)
        if loaded is None:
            raise BackgroundAssetsError(f"{app_id} is not installed", ErrorCode.APP_NOT_INSTALLED)
        return loaded.manifest

    async def install(self, app_id: str | None, manifest: Path | None = None) -> str:
        return await self.orchestrator.install(self._manifest(app_id, manifest))

    async def update(self, app_id: str | None, manifest: Path | None = None) -> str:
        return await self.orchestrator.update(self._manifest(app_id, manifest))

    async def periodic(self, app_id: str) -> None:
        await self.orchestrator.periodic(app_id)

    async def launch(self, app_id: str, delegate: AppDelegate | None = None) -> None:
        """The app runs; with ``delegate`` its callbacks go there instead of the extension."""
        self.orchestrator.launch(app_id, delegate)

    async def schedule(self, app_id: str, request: DownloadView) -> DownloadView:
        """Schedule the background download ``request`` describes for running app
        ``app_id``; its view once scheduled."""
        if request.essential:
            raise BackgroundAssetsError(
                f"{request.id}: an app schedules background downloads only; essential ones "
                "are the extension's, at install",
                ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED)
        self.orchestrator.schedule(app_id, request.id, request.url, size=request.total,
                                   sha256=request.sha256, priority=request.priority)
        view = self.download(app_id, request.id)
        assert view is not None
        return view

    async def until_launchable(self, app_id: str, timeout: float) -> bool:
        """Whether the app is launchable, waiting at most ``timeout`` seconds for it."""
        try:
            await self.orchestrator.wait(app_id, "essential", timeout)
        except TimeoutError:
            return False
        return True

    async def disconnect(self, app_id: str, delegate: AppDelegate) -> None:
        """A connected app left: it stops running, unless another connection replaced it."""
        loaded = self.orchestrator.apps.get(app_id)
        if loaded is not None and loaded.delegate is delegate:
            self.orchestrator.terminate(app_id)

    async def terminate(self, app_id: str) -> None:
        self.orchestrator.terminate(app_id)

    async def uninstall(self, app_id: str) -> None:
        await self.orchestrator.uninstall(app_id)

    async def pause_install(self, app_id: str) -> int:
        return self.orchestrator.pause_install(app_id)

    async def resume_install(self, app_id: str) -> int:
        return self.orchestrator.resume_install(app_id)

    async def cancel_install(self, app_id: str) -> int:
        return await self.orchestrator.cancel_install(app_id)

    # Asset packs ------------------------------------------------------------------

    async def packs(self, app_id: str) -> list[PackView]:
        return views.pack_views(self.orchestrator, app_id)

    async def pack_action(self, app_id: str, pack_id: str, action: PackAction) -> int | str:
        """ensure: downloads scheduled; remove: bytes freed; rollback: the version now."""
        orchestrator = self.orchestrator
        if action is PackAction.ENSURE:
            return orchestrator.ensure_pack(app_id, pack_id)
        if action is PackAction.REMOVE:
            return orchestrator.remove_pack(app_id, pack_id)
        return orchestrator.rollback_pack(app_id, pack_id)

    async def check_packs(self, app_id: str) -> tuple[list[str], list[str]]:
        return await self.orchestrator.check_packs(app_id)

    # Downloads ------------------------------------------------------------------

    def _tracked(self, download_id: str, app_id: str | None) -> Tracked:
        """The pending download ``download_id``, of ``app_id`` when given."""
        orchestrator = self.orchestrator
        loaded = orchestrator.apps.get(app_id) if app_id is not None else None
        if loaded is not None:
            tracked = orchestrator.queue.tracked.get(f"{loaded.app.app_group}/{download_id}")
            if tracked is not None:
                return tracked
        tracked = orchestrator.find_download(download_id)
        if app_id is not None and tracked.app_id != app_id:
            raise BackgroundAssetsError(f"{download_id!r} is not a download of {app_id}",
                                        ErrorCode.DOWNLOAD_NOT_SCHEDULED)
        return tracked

    def _act(self, call: Callable[[str], None], download_id: str, app_id: str | None) -> str:
        """``call`` with the key of the pending download; the id of its app."""
        tracked = self._tracked(download_id, app_id)
        call(tracked.key)
        return tracked.app_id

    async def promote(self, download_id: str, app_id: str | None = None) -> str:
        return self._act(self.orchestrator.promote, download_id, app_id)

    async def pause(self, download_id: str, app_id: str | None = None) -> str:
        return self._act(self.orchestrator.pause, download_id, app_id)

    async def resume(self, download_id: str, app_id: str | None = None) -> str:
        return self._act(self.orchestrator.resume, download_id, app_id)

    async def cancel(self, download_id: str, app_id: str | None = None) -> str:
        return self._act(self.orchestrator.cancel, download_id, app_id)

    # Storage and device ---------------------------------------------------------

    async def purge(self, bytes_to_free: int | None = None, app_id: str | None = None) -> int:
        return self.orchestrator.purge(bytes_to_free, app_id=app_id)

    async def set_device(self, device: Device) -> Device:
        self.orchestrator.set_device(device)
        return self.orchestrator.device
