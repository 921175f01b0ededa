"""The controls protocol over a daemon's control socket: a client of a daemon holds these.

:class:`RemoteControls` answers reads from the daemon's last answers (a
:class:`Snapshot` kept current from ``/v1/status``, downloads from
``/v1/downloads``) and republishes the daemon's event stream on its own
:class:`EventBus`, so a client folds daemon events exactly as it folds local
ones. :func:`attached` opens it and keeps it current while its block runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from orchestrator.control.client import ControlClient
from orchestrator.control.device import device_changes
from orchestrator.errors import BackgroundAssetsError, DaemonUnavailable, ErrorCode
from orchestrator.events import Event, EventBus, EventKind, field_problems
from orchestrator.model.device import Device
from orchestrator.model.enums import ContentRequest
from orchestrator.service.controls import PackAction
from orchestrator.service.views import (
    DownloadView,
    HistoryEntry,
    PackView,
    Snapshot,
    device_from_json,
)

# /v1/status is read again after app-level events, at most this often, and at least once
# a second for the clocks (runtime today, next periodic run).
STATUS_MIN_GAP = 0.25
STATUS_EVERY = 1.0
# /v1/downloads (every pending row) only after new downloads were scheduled, and rarely.
DOWNLOADS_MIN_GAP = 2.0
QUIET = frozenset({EventKind.DOWNLOAD_PROGRESS, EventKind.APP_PROGRESS})


def event_from_dict(data: Mapping[str, Any]) -> Event | None:
    """An event of the daemon's NDJSON stream as the orchestrator published it.

    None for a kind this client does not know (a newer daemon's), and for one without
    the fields its kind's payload requires, so that a subscriber may read those.
    """
    try:
        kind = EventKind(data["event"])
    except (KeyError, ValueError):
        return None
    ts, app = data.get("ts", time.time()), data.get("app")
    rest = {key: value for key, value in data.items() if key not in ("ts", "event", "app")}
    if not isinstance(ts, int | float) or isinstance(ts, bool) \
            or not (app is None or isinstance(app, str)) or field_problems(kind, rest):
        return None
    return Event(float(ts), kind, app, rest)


class RemoteControls:
    """:class:`orchestrator.service.controls.Controls` of the daemon ``client`` talks to.

    ``lost`` holds why the daemon went away (None while attached), followed by
    ``hint`` (what the person should do); reads then keep answering the last state known.
    """

    def __init__(self, client: ControlClient,
                 hint: str = "attach again once the daemon runs again") -> None:
        self.client = client
        self.hint = hint
        self.path = client.path
        self.events = EventBus()
        self.lost: str | None = None
        self._snapshot = Snapshot(MappingProxyType({}), Device(), time.time())
        self._downloads: dict[str, DownloadView] = {}
        self._status_wanted = asyncio.Event()
        self._downloads_wanted = False
        self._downloads_read_at = 0.0

    # Reads ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def download(self, app_id: str, download_id: str) -> DownloadView | None:
        return self._downloads.get(f"{app_id}/{download_id}")

    async def downloads(self, app_id: str | None = None) -> list[DownloadView]:
        views = await self.client.download_views()
        self._downloads.update((view.key, view) for view in views)
        self._downloads_wanted, self._downloads_read_at = False, time.monotonic()
        return [view for view in views if app_id is None or view.app == app_id]

    async def history(self, app_id: str, download_id: str) -> list[HistoryEntry]:
        return await self.client.history(app_id, download_id)

    async def load_status(self) -> None:
        self._snapshot = await self.client.snapshot()

    # Apps -----------------------------------------------------------------------

    async def _app_action(self, app_id: str, action: str) -> dict[str, Any]:
        answer = await self.client.app_action(app_id, action)
        self._status_wanted.set()
        return answer

    async def _manifest_action(self, request: ContentRequest, app_id: str | None,
                               manifest: Path | None) -> str:
        if manifest is None:
            if app_id is None:
                raise BackgroundAssetsError("name the app or its manifest",
                                            ErrorCode.REQUEST_INVALID)
            answer = await self._app_action(app_id, request.name.lower())
        else:
            answer = await self.client.install(manifest, request)
            self._status_wanted.set()
        # The daemon's new state, read before the caller looks at it.
        await self.load_status()
        return str(answer.get("app") or app_id)

    async def install(self, app_id: str | None, manifest: Path | None = None) -> str:
        return await self._manifest_action(ContentRequest.INSTALL, app_id, manifest)

    async def update(self, app_id: str | None, manifest: Path | None = None) -> str:
        return await self._manifest_action(ContentRequest.UPDATE, app_id, manifest)

    async def periodic(self, app_id: str) -> None:
        await self._app_action(app_id, "periodic")

    async def launch(self, app_id: str) -> None:
        await self._app_action(app_id, "launch")

    async def terminate(self, app_id: str) -> None:
        await self._app_action(app_id, "terminate")

    async def uninstall(self, app_id: str) -> None:
        await self._app_action(app_id, "uninstall")

    async def _install_action(self, app_id: str, action: str) -> int:
        answer = await self.client.install_action(app_id, action)
        await self.load_status()  # the app's new state, read before the caller looks at it
        return int(answer["downloads"])

    async def pause_install(self, app_id: str) -> int:
        return await self._install_action(app_id, "pause")

    async def resume_install(self, app_id: str) -> int:
        return await self._install_action(app_id, "resume")

    async def cancel_install(self, app_id: str) -> int:
        return await self._install_action(app_id, "cancel")

    # Asset packs ------------------------------------------------------------------

    async def packs(self, app_id: str) -> list[PackView]:
        return await self.client.packs(app_id)

    async def pack_action(self, app_id: str, pack_id: str, action: PackAction) -> int | str:
        return await self.client.pack_action(app_id, pack_id, action.value)

    async def check_packs(self, app_id: str) -> tuple[list[str], list[str]]:
        return await self.client.check_packs(app_id)

    # Downloads ------------------------------------------------------------------

    async def _act(self, verb: str, download_id: str, app_id: str | None) -> str:
        answer = await self.client.act(download_id, verb, app=app_id)
        self._status_wanted.set()
        return str(answer.get("app") or app_id)

    async def promote(self, download_id: str, app_id: str | None = None) -> str:
        return await self._act("promote", download_id, app_id)

    async def pause(self, download_id: str, app_id: str | None = None) -> str:
        return await self._act("pause", download_id, app_id)

    async def resume(self, download_id: str, app_id: str | None = None) -> str:
        return await self._act("resume", download_id, app_id)

    async def cancel(self, download_id: str, app_id: str | None = None) -> str:
        return await self._act("cancel", download_id, app_id)

    # Storage and device ---------------------------------------------------------

    async def purge(self, bytes_to_free: int | None = None, app_id: str | None = None) -> int:
        return await self.client.purge(bytes_to_free, app=app_id)

    async def set_device(self, device: Device) -> Device:
        """Set the switches in which ``device`` differs from the last device seen."""
        answer = await self.client.set_device(device_changes(self._snapshot.device, device))
        changed = device_from_json(answer)
        self._snapshot = replace(self._snapshot, device=changed)
        return changed

    # Keeping current ------------------------------------------------------------

    async def follow(self, events: AsyncIterator[dict[str, Any]]) -> None:
        """Republish the daemon's events; its end becomes one ``daemon.lost`` event."""
        try:
            async for data in events:
                event = event_from_dict(data)
                if event is None:
                    continue
                if event.event not in QUIET:
                    self._status_wanted.set()
                if event.event == EventKind.DOWNLOAD_SCHEDULED:
                    self._downloads_wanted = True
                self.events.publish(event)
        except (DaemonUnavailable, ValueError) as error:
            self.lost = f"{error}; {self.hint}"
            self.events.publish(Event(time.time(), EventKind.DAEMON_LOST, None,
                                      {"message": self.lost, "socket": str(self.path)}))

    async def keep_current(self) -> None:
        """Read /v1/status after app-level events and every second, until the daemon goes."""
        while self.lost is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_wanted.wait(), STATUS_EVERY)
            self._status_wanted.clear()
            try:
                await self.load_status()
                if self._downloads_wanted and \
                        time.monotonic() - self._downloads_read_at >= DOWNLOADS_MIN_GAP:
                    await self.downloads()
            except BackgroundAssetsError:
                return  # ``follow`` reports the lost daemon
            await asyncio.sleep(STATUS_MIN_GAP)


@contextlib.asynccontextmanager
async def attached(path: Path, hint: str | None = None) -> AsyncIterator[RemoteControls]:
    """The controls of the daemon listening on ``path``, kept current while the block runs.

    The event stream is open before the state is read, so nothing that happens in
    between is missed. Leaving the block disconnects; the daemon keeps running.
    """
    async with ControlClient(path) as client, client.event_stream() as events:
        controls = RemoteControls(client) if hint is None else RemoteControls(client, hint)
        await controls.load_status()
        await controls.downloads()
        tasks = [asyncio.create_task(controls.follow(events), name="bgassets-follow"),
                 asyncio.create_task(controls.keep_current(), name="bgassets-status")]
        try:
            yield controls
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
