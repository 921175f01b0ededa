"""The read model: typed, immutable views of the service that every client reads.

The TUI (in process or attached to a daemon), the control API and the CLI's daemon
commands read these and nothing else of the service: :func:`snapshot` and
:func:`download_views` build them from a running :class:`Orchestrator`,
:func:`to_json` writes them as the control API answers them, and the ``*_from_json``
functions read such an answer back into the same views, so a client of a daemon
holds exactly what an in-process client holds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Flag, StrEnum, auto
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.device import BackgroundRefresh, Device, Network, Storage
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.scheduler.space import over_max_install_size
from orchestrator.storage.containers import is_purgeable

if TYPE_CHECKING:
    from orchestrator.journal.journal import DownloadRecord
    from orchestrator.model.download import Download
    from orchestrator.service.downloads import Tracked
    from orchestrator.service.orchestrator import Orchestrator

# The ended downloads of each app a list of downloads shows, newest last.
RECENT = 50
_NO_PHASES: Mapping[str, float] = MappingProxyType({})


class AppState(StrEnum):
    """Where an installed app stands, as the framework names it; ``paused`` is an install
    or update paused as a whole (``pause-install``): not launchable, nothing of it moves
    until it is resumed."""

    INSTALLING = "installing"
    PAUSED = "paused"
    LAUNCHABLE = "launchable"
    LAUNCHED = "launched"


@dataclass(frozen=True, slots=True)
class AppView:
    """One installed app: its state, install progress, allowances, runtime, next run.

    ``waiting_request`` is the content request waiting for the network, if one
    does; the allowances are None once the app was launched (no longer restricted).
    ``size_on_disk`` is the app's own size and the bytes delivered to it that are kept,
    against ``maxInstallSize`` (0 when the manifest sets none).
    """

    id: str
    name: str
    version: str
    state: AppState
    running: bool = False
    waiting_request: ContentRequest | None = None
    progress: float = 0.0
    phases: Mapping[str, float] = field(default_factory=lambda: _NO_PHASES)
    pending: int = 0
    download_allowance: int | None = None
    download_bytes_used: int = 0
    essential_download_allowance: int | None = None
    essential_bytes_used: int = 0
    runtime_today: float = 0.0
    runtime_allotment: float = 0.0
    next_periodic_run: float | None = None
    periodic_interval: float | None = None
    app_group: str = ""
    size_on_disk: int = 0
    max_install_size: int = 0

    @property
    def over_max_install_size(self) -> int:
        """Bytes the app and what was delivered to it take beyond its ``maxInstallSize``."""
        return over_max_install_size(0, self.size_on_disk, self.max_install_size)

    @property
    def launched(self) -> bool:
        return self.state == AppState.LAUNCHED

    @property
    def launchable(self) -> bool:
        return self.state in (AppState.LAUNCHABLE, AppState.LAUNCHED)

    @property
    def install_paused(self) -> bool:
        return self.state == AppState.PAUSED


@dataclass(frozen=True, slots=True)
class DownloadView:
    """One download, pending or ended.

    ``reason`` says why a paused download does not move; ``error`` and ``message``
    why one failed; ``speed`` is None unless it transfers now.
    """

    app: str
    id: str
    state: DownloadState
    essential: bool = False
    priority: int = 50
    bytes: int = 0
    total: int | None = None
    speed: float | None = None
    reason: str | None = None
    foreground: bool = False
    error: int | None = None
    message: str | None = None
    purgeable: bool = False
    url: str = ""
    destination: str = ""
    sha256: str | None = None

    @property
    def key(self) -> str:
        """``app/id``: unique across apps (ids are unique within one app only)."""
        return f"{self.app}/{self.id}"

    @property
    def pending(self) -> bool:
        return not self.state.ended


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One move of a download, as the journal keeps it: when, to which state, and why."""

    at: float
    state: DownloadState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StorageView:
    """The disk downloads go to, as the service measured it for the snapshot.

    ``simulated`` when the numbers come from the device's storage (then ``used`` grows
    with ``delivered``), else measured on the state dir's file system. ``available`` is
    what downloads may still use above the ``reserve``; ``purgeable`` the bytes of
    purgeable files the orchestrator may remove to make room; ``delivered`` the bytes of
    every delivered file it keeps (those two of one app only in a snapshot scoped to it).
    All 0 when the file system could not be read.
    """

    simulated: bool = False
    capacity: int = 0
    free: int = 0
    reserve: int = 0
    available: int = 0
    purgeable: int = 0
    delivered: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every installed app (by id, in id order), the device and its disk, at the
    service's time ``at`` (what the next periodic runs are measured against)."""

    apps: Mapping[str, AppView]
    device: Device
    at: float
    storage: StorageView = field(default_factory=StorageView)

    def app(self, app_id: str) -> AppView | None:
        return self.apps.get(app_id)


# Building from the service -------------------------------------------------------


class PackStatus(Flag):
    """The status of one asset pack, as the framework's ``AssetPackManager`` reports it.

    ``DOWNLOADED``: a version is local. ``UP_TO_DATE``: the local version is the pack
    catalog's. ``OUT_OF_DATE``: the local version is not the catalog's, and
    ``UPDATE_AVAILABLE`` when nothing fetches the new one yet. ``DOWNLOAD_AVAILABLE``:
    the catalog has it and nothing is local. ``OBSOLETE``: local, but the catalog dropped
    it. ``DOWNLOADING``: some of its files are on their way.
    """

    DOWNLOAD_AVAILABLE = auto()
    UPDATE_AVAILABLE = auto()
    UP_TO_DATE = auto()
    OUT_OF_DATE = auto()
    OBSOLETE = auto()
    DOWNLOADING = auto()
    DOWNLOADED = auto()


@dataclass(frozen=True)
class PackView:
    """One asset pack of an app: the catalog's version and the local one."""

    app: str
    id: str
    policy: str | None = None
    latest_version: str | None = None
    local_version: str | None = None
    download_size: int = 0
    installed_size: int = 0
    local_size: int = 0
    pending: int = 0
    pending_bytes: int = 0

    @property
    def status(self) -> PackStatus:
        flags = PackStatus(0)
        if self.pending:
            flags |= PackStatus.DOWNLOADING
        if self.local_version is None:
            return flags | PackStatus.DOWNLOAD_AVAILABLE if self.latest_version else flags
        flags |= PackStatus.DOWNLOADED
        if self.latest_version is None:
            return flags | PackStatus.OBSOLETE
        if self.local_version == self.latest_version:
            return flags | PackStatus.UP_TO_DATE
        flags |= PackStatus.OUT_OF_DATE
        return flags if self.pending else flags | PackStatus.UPDATE_AVAILABLE


def pack_views(orchestrator: Orchestrator, app_id: str) -> list[PackView]:
    """The app's asset packs, local or in its pack catalog, by id."""
    views = []
    for pack_id, state in orchestrator.packs(app_id).items():
        built = state.pack
        views.append(PackView(
            app_id, pack_id, policy=built.pack.policy.value if built else None,
            latest_version=built.version if built else None, local_version=state.local_version,
            download_size=built.download_size if built else 0,
            installed_size=built.installed_size if built else 0, local_size=state.local_size,
            pending=state.pending, pending_bytes=state.pending_bytes))
    return views


def pack_from_json(data: Mapping[str, Any]) -> PackView:
    return PackView(
        str(data.get("app", "")), str(data.get("pack", "")), policy=_text(data.get("policy")),
        latest_version=_text(data.get("latestVersion")),
        local_version=_text(data.get("localVersion")),
        download_size=_count(data.get("downloadSize")),
        installed_size=_count(data.get("installedSize")),
        local_size=_count(data.get("localSize")), pending=_count(data.get("pending")),
        pending_bytes=_count(data.get("pendingBytes")))


def app_view(orchestrator: Orchestrator, app_id: str) -> AppView:
    """The view of installed app ``app_id``."""
    loaded = orchestrator.apps[app_id]
    app, record = loaded.app, orchestrator.journal.app(app_id)
    state = AppState.PAUSED if loaded.install_paused else AppState.LAUNCHED if loaded.launched \
        else AppState.LAUNCHABLE if loaded.launchable else AppState.INSTALLING
    restricted = not loaded.launched
    spent, allotment = orchestrator.runtime_today(app_id)
    progress = loaded.progress
    return AppView(
        id=app_id, name=app.display_name, version=app.version, state=state,
        running=loaded.running, waiting_request=orchestrator.waiting_request(app_id),
        progress=progress.fraction if progress else 1.0,
        phases=MappingProxyType(progress.phases()) if progress else _NO_PHASES,
        pending=orchestrator.queue.pending[app_id],
        download_allowance=app.restrictions.download_allowance if restricted else None,
        download_bytes_used=record.download_bytes_used if record else 0,
        essential_download_allowance=(app.restrictions.essential_download_allowance
                                      if restricted else None),
        essential_bytes_used=record.essential_bytes_used if record else 0,
        runtime_today=spent, runtime_allotment=allotment,
        next_periodic_run=orchestrator.next_periodic(app_id),
        periodic_interval=orchestrator.periodic_interval(app_id), app_group=app.app_group,
        size_on_disk=app.size + orchestrator.delivered_bytes(app_id),
        max_install_size=app.max_install_size)


def storage_view(orchestrator: Orchestrator, app_id: str | None = None) -> StorageView:
    """The disk now, as the orchestrator decides on it; with ``app_id``, the purgeable and
    delivered bytes are that app's only."""
    space = orchestrator.space()
    delivered = orchestrator.delivered_bytes(app_id)
    simulated = orchestrator.device.storage.simulated
    if space is None:
        return StorageView(simulated=simulated, delivered=delivered)
    return StorageView(simulated=simulated, capacity=space.capacity, free=space.free,
                       reserve=space.reserve, available=space.available,
                       purgeable=orchestrator.purgeable_bytes(app_id), delivered=delivered)


def snapshot(orchestrator: Orchestrator, app_id: str | None = None) -> Snapshot:
    """Every installed app (only ``app_id`` when given: none when it is not installed)
    and the device."""
    if app_id is None:
        ids = sorted(orchestrator.apps)
    else:
        ids = [app_id] if app_id in orchestrator.apps else []
    return Snapshot(MappingProxyType({i: app_view(orchestrator, i) for i in ids}),
                    orchestrator.device, orchestrator.clock.time(),
                    storage_view(orchestrator, app_id))


def pending_view(orchestrator: Orchestrator, tracked: Tracked) -> DownloadView:
    """A scheduled download as it stands now (see ``DownloadQueue.shown_state``); the
    speed only while it transfers, not the last one of a transfer now paused."""
    d = tracked.download
    state = orchestrator.queue.shown_state(tracked)
    return DownloadView(
        app=tracked.app_id, id=d.id, state=state, essential=d.essential, priority=d.priority,
        bytes=tracked.bytes, total=d.size,
        speed=tracked.speed if state == DownloadState.DOWNLOADING else None,
        reason=tracked.paused or tracked.deferred, foreground=tracked.foreground,
        url=d.url, destination=d.destination, sha256=d.sha256)


def of_download(app_id: str, download: Download, state: DownloadState,
                done: int = 0) -> DownloadView:
    """The view of ``download`` of ``app_id`` as a callback tells it (``done`` bytes)."""
    return DownloadView(
        app=app_id, id=download.id, state=state, essential=download.essential,
        priority=download.priority, bytes=done, total=download.size, url=download.url,
        destination=download.destination, sha256=download.sha256)


def ended_view(record: DownloadRecord) -> DownloadView:
    """A finished or failed download as the journal keeps it."""
    d = record.download
    return DownloadView(
        app=record.app_id, id=d.id, state=d.state, essential=d.essential, priority=d.priority,
        bytes=record.bytes_on_disk, total=d.size, error=record.error_code,
        message=record.error_message,
        purgeable=record.delivered and is_purgeable(d.destination),
        url=d.url, destination=d.destination, sha256=d.sha256)


def download_views(orchestrator: Orchestrator, app_id: str | None = None, *,
                   recent: int | None = RECENT) -> list[DownloadView]:
    """Pending downloads, then the ``recent`` most recent ended ones of each app (None:
    every one)."""
    views = [pending_view(orchestrator, tracked)
             for tracked in orchestrator.queue.tracked.values()
             if app_id is None or tracked.app_id == app_id]
    ended = {DownloadState.FINISHED, DownloadState.FAILED}
    for app in ([app_id] if app_id else list(orchestrator.apps)):
        records = orchestrator.journal.downloads(app, ended)
        views += [ended_view(r) for r in (records if recent is None else records[-recent:])]
    return views


def download_view(orchestrator: Orchestrator, app_id: str, download_id: str) -> DownloadView | None:
    """Download ``download_id`` of ``app_id``: pending, else as the journal last kept it."""
    loaded = orchestrator.apps.get(app_id)
    if loaded is None:
        return None
    key = f"{loaded.app.app_group}/{download_id}"
    tracked = orchestrator.queue.tracked.get(key)
    if tracked is not None:
        return pending_view(orchestrator, tracked)
    record = orchestrator.journal.download(key)
    return None if record is None else ended_view(record)


def download_history(orchestrator: Orchestrator, app_id: str,
                     download_id: str) -> list[HistoryEntry]:
    """Every move of download ``download_id`` of ``app_id`` the journal holds, oldest first;
    it outlives the process (a restarted service shows what happened before)."""
    loaded = orchestrator.apps.get(app_id)
    if loaded is None:
        raise BackgroundAssetsError(f"{app_id} is not installed", ErrorCode.APP_NOT_INSTALLED)
    moves = orchestrator.journal.transitions(f"{loaded.app.app_group}/{download_id}")
    if not moves:
        raise BackgroundAssetsError(f"no download {download_id!r} of {app_id}",
                                    ErrorCode.DOWNLOAD_NOT_SCHEDULED)
    return [HistoryEntry(move.at, move.state, move.reason) for move in moves]


# JSON, as the control API answers -------------------------------------------------


def to_json(view: AppView | DownloadView | HistoryEntry | Snapshot | StorageView | Device
            | PackView) -> dict[str, Any]:
    """``view`` as the control API answers it (camelCase names, enums by name)."""
    if isinstance(view, PackView):
        return {"app": view.app, "pack": view.id, "policy": view.policy,
                "latestVersion": view.latest_version, "localVersion": view.local_version,
                "downloadSize": view.download_size, "installedSize": view.installed_size,
                "localSize": view.local_size, "pending": view.pending,
                "pendingBytes": view.pending_bytes,
                "status": sorted(flag.name for flag in PackStatus
                                 if flag in view.status and flag.name)}
    if isinstance(view, HistoryEntry):
        return {"at": view.at, "state": view.state.label, "reason": view.reason}
    if isinstance(view, Snapshot):
        return {"apps": [to_json(app) for app in view.apps.values()],
                "device": to_json(view.device), "storage": to_json(view.storage),
                "at": view.at}
    if isinstance(view, StorageView):
        return {"simulated": view.simulated, "capacity": view.capacity, "free": view.free,
                "reserve": view.reserve, "available": view.available,
                "purgeable": view.purgeable, "delivered": view.delivered}
    if isinstance(view, AppView):
        return _app_json(view)
    if isinstance(view, DownloadView):
        return _download_json(view)
    return _device_json(view)


def _app_json(view: AppView) -> dict[str, Any]:
    waiting = view.waiting_request
    return {"app": view.id, "name": view.name, "version": view.version,
            "state": str(view.state), "running": view.running,
            "waitingRequest": None if waiting is None else waiting.name.lower(),
            "progress": view.progress, "phases": dict(view.phases), "pending": view.pending,
            "downloadAllowance": view.download_allowance,
            "downloadBytesUsed": view.download_bytes_used,
            "essentialDownloadAllowance": view.essential_download_allowance,
            "essentialBytesUsed": view.essential_bytes_used,
            "runtimeToday": view.runtime_today, "runtimeAllotment": view.runtime_allotment,
            "nextPeriodicRun": view.next_periodic_run,
            "periodicInterval": view.periodic_interval, "appGroup": view.app_group,
            "sizeOnDisk": view.size_on_disk, "maxInstallSize": view.max_install_size}


def _download_json(view: DownloadView) -> dict[str, Any]:
    return {"app": view.app, "download": view.id, "essential": view.essential,
            "priority": view.priority, "state": view.state.label, "reason": view.reason,
            "foreground": view.foreground, "bytes": view.bytes, "total": view.total,
            "speed": view.speed, "error": view.error, "message": view.message,
            "purgeable": view.purgeable, "url": view.url, "destination": view.destination,
            "sha256": view.sha256}


def _device_json(device: Device) -> dict[str, Any]:
    refresh, network, storage = device.background_refresh, device.network, device.storage
    return {"name": device.name, "lowPowerMode": device.low_power_mode,
            "backgroundRefresh": {"enabled": refresh.enabled, "apps": dict(refresh.apps)},
            "inAppContent": device.in_app_content,
            "online": network.online, "metered": network.metered,
            "storage": {"capacity": storage.capacity, "reserve": storage.reserve,
                        "used": storage.used},
            "dailyAllotmentSeconds": device.daily_allotment_seconds}


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else default


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _optional_count(value: Any) -> int | None:
    return None if value is None else _count(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _request(name: Any) -> ContentRequest | None:
    """The content request called ``name``; None for one this version does not know."""
    try:
        return ContentRequest[str(name).upper()]
    except KeyError:
        return None


def _download_state(label: Any) -> DownloadState:
    """The state ``label`` names; waiting for one this version does not know."""
    try:
        return DownloadState.from_label(str(label))
    except ValueError:
        return DownloadState.WAITING


def app_from_json(data: Mapping[str, Any]) -> AppView:
    """The :class:`AppView` that :func:`to_json` wrote as ``data``.

    Fields a newer daemon adds are ignored, values of an unknown kind read as the
    defaults, so a client never fails on an answer it half understands.
    """
    try:
        state = AppState(str(data.get("state")))
    except ValueError:
        state = AppState.INSTALLING
    waiting = data.get("waitingRequest")
    phases = data.get("phases")
    phases = phases if isinstance(phases, Mapping) else {}
    when, interval = data.get("nextPeriodicRun"), data.get("periodicInterval")
    return AppView(
        id=str(data["app"]), name=str(data.get("name") or data["app"]),
        version=str(data.get("version") or ""), state=state,
        running=bool(data.get("running")),
        waiting_request=None if waiting is None else _request(waiting),
        progress=_number(data.get("progress")),
        phases=MappingProxyType({str(k): _number(v) for k, v in phases.items()}),
        pending=_count(data.get("pending")),
        download_allowance=_optional_count(data.get("downloadAllowance")),
        download_bytes_used=_count(data.get("downloadBytesUsed")),
        essential_download_allowance=_optional_count(data.get("essentialDownloadAllowance")),
        essential_bytes_used=_count(data.get("essentialBytesUsed")),
        runtime_today=_number(data.get("runtimeToday")),
        runtime_allotment=_number(data.get("runtimeAllotment")),
        next_periodic_run=None if when is None else _number(when),
        periodic_interval=None if interval is None else _number(interval),
        app_group=str(data.get("appGroup") or ""),
        size_on_disk=_count(data.get("sizeOnDisk")),
        max_install_size=_count(data.get("maxInstallSize")))


def download_from_json(data: Mapping[str, Any]) -> DownloadView:
    """The :class:`DownloadView` that :func:`to_json` wrote as ``data``."""
    speed = data.get("speed")
    return DownloadView(
        app=str(data["app"]), id=str(data["download"]),
        state=_download_state(data.get("state")),
        essential=bool(data.get("essential")), priority=_count(data.get("priority", 50)),
        bytes=_count(data.get("bytes")), total=_optional_count(data.get("total")),
        speed=None if speed is None else _number(speed), reason=_text(data.get("reason")),
        foreground=bool(data.get("foreground")), error=_optional_count(data.get("error")),
        message=_text(data.get("message")), purgeable=bool(data.get("purgeable")),
        url=str(data.get("url") or ""), destination=str(data.get("destination") or ""),
        sha256=_text(data.get("sha256")))


def history_from_json(data: Mapping[str, Any]) -> HistoryEntry:
    """The :class:`HistoryEntry` that :func:`to_json` wrote as ``data``."""
    return HistoryEntry(_number(data.get("at")), _download_state(data.get("state")),
                        _text(data.get("reason")))


def device_from_json(data: Mapping[str, Any]) -> Device:
    """The :class:`Device` that :func:`to_json` wrote as ``data``."""
    refresh, storage = data.get("backgroundRefresh") or {}, data.get("storage") or {}
    return Device(
        low_power_mode=bool(data.get("lowPowerMode", False)),
        background_refresh=BackgroundRefresh(
            enabled=bool(refresh.get("enabled", True)),
            apps=MappingProxyType({str(k): bool(v)
                                   for k, v in (refresh.get("apps") or {}).items()})),
        in_app_content=bool(data.get("inAppContent", True)),
        network=Network(online=bool(data.get("online", True)),
                        metered=bool(data.get("metered", False))),
        storage=Storage(capacity=_optional_count(storage.get("capacity")),
                        reserve=_count(storage.get("reserve")), used=_count(storage.get("used"))),
        daily_allotment_seconds=_count(data.get("dailyAllotmentSeconds", 600)),
        name=_text(data.get("name")))


def storage_from_json(data: Mapping[str, Any]) -> StorageView:
    """The :class:`StorageView` that :func:`to_json` wrote as ``data``."""
    return StorageView(
        simulated=bool(data.get("simulated")), capacity=_count(data.get("capacity")),
        free=_count(data.get("free")), reserve=_count(data.get("reserve")),
        available=_count(data.get("available")), purgeable=_count(data.get("purgeable")),
        delivered=_count(data.get("delivered")))


def snapshot_from_json(data: Mapping[str, Any]) -> Snapshot:
    """The :class:`Snapshot` that :func:`to_json` wrote as ``data`` (``GET /v1/status``)."""
    apps = [app_from_json(app) for app in data.get("apps") or ()]
    storage = data.get("storage")
    return Snapshot(MappingProxyType({app.id: app for app in sorted(apps, key=lambda a: a.id)}),
                    device_from_json(data.get("device") or {}),
                    _number(data.get("at"), time.time()),
                    storage_from_json(storage if isinstance(storage, Mapping) else {}))
