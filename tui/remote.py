"""The UI attached to a daemon: a mirror of what the screens read of an orchestrator.

``bgassets tui`` runs the same :class:`tui.app.BgAssetsApp` as ``run``, but its
session yields a :class:`DaemonMirror` instead of an in-process Orchestrator.
The mirror answers the few things screens ask (``apps``, ``journal.app``,
``journal.download``, ``device``, ``runtime_today``, ``next_periodic``,
``clock``) from the control API's ``/v1/status`` and ``/v1/downloads``, and
republishes the daemon's ``/v1/events`` stream on its own :class:`EventBus`,
so the bridge worker folds daemon events exactly as it folds local ones.
Actions go through :class:`tui.remote_control.RemoteController`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.control import ControlClient
from orchestrator.control.views import device_from_view, waiting_request_from_view
from orchestrator.errors import BackgroundAssetsError, DaemonUnavailable
from orchestrator.events import Event, EventBus, EventKind
from orchestrator.model.device import Device
from orchestrator.model.enums import ContentRequest

# /v1/status is read again after app-level events, at most this often, and at least once
# a second for the clocks (runtime today, next periodic run).
STATUS_MIN_GAP = 0.25
STATUS_EVERY = 1.0
# /v1/downloads (every pending row) only after new downloads were scheduled, and rarely.
DOWNLOADS_MIN_GAP = 2.0
FULL_PHASES = {"app": 1.0, "install": 1.0, "essential": 1.0}


@dataclass(frozen=True)
class Restrictions:
    """The initial download restrictions left, as the daemon reports them (0 once launched)."""

    download_allowance: int
    essential_download_allowance: int


@dataclass(frozen=True)
class AppInfo:
    """The app manifest's fields the screens show."""

    id: str
    version: str
    display_name: str
    restrictions: Restrictions


@dataclass(frozen=True)
class InstallView:
    """Install progress: the overall fraction and each phase's own."""

    fraction: float
    by_phase: dict[str, float]

    def phases(self) -> dict[str, float]:
        return dict(self.by_phase)


@dataclass(frozen=True)
class MirroredApp:
    """An installed app as the daemon sees it (the screens' view of a ``LoadedApp``)."""

    app: AppInfo
    launched: bool
    running: bool
    launchable: bool
    progress: InstallView
    waiting_request: ContentRequest | None = None


@dataclass(frozen=True)
class AppRecord:
    """The journal's counters of one app (the screens' view of an ``AppRecord``)."""

    version: str
    launched: bool
    download_bytes_used: int
    essential_bytes_used: int


@dataclass(frozen=True)
class DownloadInfo:
    """Where one download comes from and goes to."""

    url: str
    destination: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class DownloadRecord:
    """The screens' view of a journal download record."""

    download: DownloadInfo


def mirrored_app(view: dict[str, Any]) -> tuple[MirroredApp, AppRecord]:
    """The app and journal stand-ins of one ``/v1/status`` app entry."""
    launched = view["state"] == "launched"
    restrictions = Restrictions(view.get("downloadAllowance") or 0,
                                view.get("essentialDownloadAllowance") or 0)
    info = AppInfo(view["app"], view["version"], view.get("name") or view["app"], restrictions)
    phases = view.get("phases") or (FULL_PHASES if view["progress"] >= 1 else {})
    app = MirroredApp(info, launched, bool(view.get("running")),
                      launched or view["state"] == "launchable",
                      InstallView(float(view["progress"]), dict(phases)),
                      waiting_request_from_view(view))
    record = AppRecord(view["version"], launched, int(view.get("downloadBytesUsed") or 0),
                       int(view.get("essentialBytesUsed") or 0))
    return app, record


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """An event of the daemon's NDJSON stream as the orchestrator published it; None for
    a kind this TUI does not know (a newer daemon's)."""
    try:
        kind = EventKind(data["event"])
    except (KeyError, ValueError):
        return None
    rest = {key: value for key, value in data.items() if key not in ("ts", "event", "app")}
    return Event(float(data.get("ts") or time.time()), kind, data.get("app"), rest)


@dataclass
class MirroredJournal:
    """Answers ``journal.app`` and ``journal.download`` from the daemon's last answers."""

    records: dict[str, AppRecord] = field(default_factory=dict)
    downloads: dict[str, DownloadRecord] = field(default_factory=dict)

    def app(self, app_id: str) -> AppRecord | None:
        return self.records.get(app_id)

    def download(self, key: str) -> DownloadRecord | None:
        """By ``app/id``, the key the remote controller gives the detail view."""
        return self.downloads.get(key)


class DaemonMirror:
    """What the screens read of an orchestrator, kept current from a daemon.

    ``lost`` holds why the daemon went away (None while attached); the
    mirror then keeps showing the last state it knew.
    """

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.path = client.path
        self.events = EventBus()
        self.apps: dict[str, MirroredApp] = {}
        self.journal = MirroredJournal()
        self.device = Device()
        self.clock = time.time
        self.initial_rows: list[dict[str, Any]] = []
        self.lost: str | None = None
        self._views: dict[str, dict[str, Any]] = {}
        self._status_wanted = asyncio.Event()
        self._downloads_wanted = False
        self._downloads_read_at = 0.0

    def runtime_today(self, app_id: str) -> tuple[float, float]:
        view = self._views.get(app_id) or {}
        return float(view.get("runtimeToday") or 0), float(view.get("runtimeAllotment") or 0)

    def waiting_request(self, app_id: str) -> ContentRequest | None:
        """The app's content request waiting for the network, if one does."""
        app = self.apps.get(app_id)
        return None if app is None else app.waiting_request

    def next_periodic(self, app_id: str) -> float | None:
        when = (self._views.get(app_id) or {}).get("nextPeriodicRun")
        return None if when is None else float(when)

    async def load_status(self) -> None:
        """Read ``/v1/status`` into the app, journal and device stand-ins."""
        status = await self.client.status()
        views = {view["app"]: view for view in status["apps"]}
        apps, records = {}, {}
        for app_id, view in views.items():
            apps[app_id], records[app_id] = mirrored_app(view)
        self._views, self.apps, self.journal.records = views, apps, records
        self.device = device_from_view(status["device"])

    async def load_downloads(self) -> list[dict[str, Any]]:
        """Read ``/v1/downloads``, keeping where each download comes from and goes to."""
        rows = await self.client.downloads()
        for row in rows:
            info = DownloadInfo(row.get("url") or "", row.get("destination") or "",
                                row.get("total"), row.get("sha256"))
            self.journal.downloads[f"{row['app']}/{row['download']}"] = DownloadRecord(info)
        self._downloads_wanted, self._downloads_read_at = False, time.monotonic()
        return rows

    def want_status(self) -> None:
        """Something changed that /v1/status shows: read it again soon."""
        self._status_wanted.set()

    async def follow(self, events: AsyncIterator[dict[str, Any]]) -> None:
        """Republish the daemon's events; its end becomes one ``daemon.lost`` event."""
        try:
            async for data in events:
                event = event_from_dict(data)
                if event is None:
                    continue
                if event.event not in (EventKind.DOWNLOAD_PROGRESS, EventKind.APP_PROGRESS):
                    self._status_wanted.set()
                if event.event == EventKind.DOWNLOAD_SCHEDULED:
                    self._downloads_wanted = True
                self.events.publish(event)
        except (DaemonUnavailable, ValueError) as error:
            self.lost = f"{error}; restart `bgassets tui` once the daemon runs again"
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
                    await self.load_downloads()
            except BackgroundAssetsError:
                return  # ``follow`` reports the lost daemon
            await asyncio.sleep(STATUS_MIN_GAP)


@contextlib.asynccontextmanager
async def attach(path: Path) -> AsyncIterator[DaemonMirror]:
    """Connect to the daemon on ``path``, read its state and follow it while the block runs.

    The event stream is open before the snapshot is read, so nothing that happens
    in between is missed. Leaving the block disconnects; the daemon keeps running.
    """
    async with ControlClient(path) as client, client.event_stream() as events:
        mirror = DaemonMirror(client)
        await mirror.load_status()
        mirror.initial_rows = await mirror.load_downloads()
        tasks = [asyncio.create_task(mirror.follow(events), name="bgassets-follow"),
                 asyncio.create_task(mirror.keep_current(), name="bgassets-status")]
        try:
            yield mirror
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
