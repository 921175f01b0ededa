"""One event type, many readers: the orchestrator publishes, the CLI, TUI and API subscribe.

An event serialises to one JSON object per line with at least ``ts``,
``event`` and ``app``; download events add ``download``, ``essential``,
``bytes`` and ``total`` (DESIGN section 3).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType, UnionType
from typing import Any, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints

from orchestrator.model.units import format_size

_log = logging.getLogger("bgassets.events")


class EventKind(StrEnum):
    """What an event tells; the value is its ``event`` field on the wire."""

    APP_PROGRESS = "app.progress"
    APP_LAUNCHABLE = "app.launchable"
    APP_INSTALLED = "app.installed"
    APP_LAUNCHED = "app.launched"
    APP_UNINSTALLED = "app.uninstalled"
    # An install or update paused, resumed or cancelled as a whole (pause-install and its
    # siblings); ``downloads`` counts the downloads of the app it acted on.
    INSTALL_PAUSED = "install.paused"
    INSTALL_RESUMED = "install.resumed"
    INSTALL_CANCELLED = "install.cancelled"
    CATALOG_FETCHED = "catalog.fetched"
    EXTENSION_REQUEST = "extension.request"
    # A content request that waits for the network: its catalog is fetched once the device
    # is online again (``request``: install, update or periodic).
    REQUEST_WAITING = "request.waiting"
    EXTENSION_TERMINATED = "extension.terminated"
    PLAN_REJECTED = "plan.rejected"
    EVENT_REFUSED = "event.refused"
    DOWNLOAD_SCHEDULED = "download.scheduled"
    DOWNLOAD_STARTED = "download.started"
    DOWNLOAD_PROGRESS = "download.progress"
    DOWNLOAD_PAUSED = "download.paused"
    DOWNLOAD_RESUMED = "download.resumed"
    DOWNLOAD_FINISHED = "download.finished"
    DOWNLOAD_FAILED = "download.failed"
    DOWNLOAD_REENQUEUED = "download.reenqueued"
    # A background download due to start that the disk has no room for above its reserve,
    # even after purging: it waits and starts once space is back.
    DOWNLOAD_DEFERRED = "download.deferred"
    ASSET_PURGED = "asset.purged"
    # Managed asset packs: the pack catalog read at an install, update or check, a pack
    # version made current (all its files local), a pack removed.
    PACK_CATALOG = "pack.catalog"
    PACK_INSTALLED = "pack.installed"
    PACK_REMOVED = "pack.removed"
    DEVICE_CHANGED = "device.changed"
    # Published by a TUI attached to a daemon when the daemon stops answering.
    DAEMON_LOST = "daemon.lost"


# The payloads whose fields are known: ``data`` of an event of each kind holds these
# (with the ``NotRequired`` ones when they apply), and subscribers may read them so.


class DownloadFields(TypedDict):
    """Every ``download.*`` event, ``catalog.fetched`` and ``asset.purged``."""

    download: str
    essential: bool
    bytes: int
    total: int | None


class ScheduledFields(DownloadFields):
    priority: int


class StartedFields(DownloadFields):
    foreground: bool
    promoted: NotRequired[bool]


class ProgressFields(DownloadFields):
    speed: int


class PausedFields(DownloadFields):
    reason: str


class DeferredFields(DownloadFields):
    """``download.deferred``: ``needed`` bytes it still has to write, ``available`` above
    the reserve when it was deferred, and the code (1031) it would fail with if urgent."""

    reason: str
    code: int
    name: str
    needed: int
    available: int


class FinishedFields(DownloadFields):
    sha256: str | None
    path: str | None
    purgeable: bool


class FailedFields(DownloadFields):
    code: int
    name: str
    message: str


class CatalogFields(DownloadFields):
    assets: int


class PurgedFields(DownloadFields):
    path: str


class AppProgressFields(TypedDict):
    fraction: float
    bytes: int
    total: int
    phases: dict[str, float]
    refined: bool


class InstalledFields(TypedDict):
    version: str
    request: str
    reason: NotRequired[str]


class InstallFields(TypedDict):
    """``install.paused``, ``install.resumed`` and ``install.cancelled``: how many of the
    app's downloads it paused, resumed or cancelled, and the install progress then."""

    downloads: int
    progress: float


class RejectedFields(TypedDict):
    """``plan.rejected``, and the refusal of a whole event (``download`` None)."""

    download: str | None
    code: int
    name: str
    reason: str


class RefusedFields(TypedDict):
    """``event.refused``: ``reason`` for a refusal of the rules, ``message`` for an error."""

    request: str
    code: int
    name: str
    download: NotRequired[str | None]
    reason: NotRequired[str]
    message: NotRequired[str]


class WaitingFields(TypedDict):
    request: str
    reason: str
    code: NotRequired[int]
    name: NotRequired[str]
    message: NotRequired[str]


class ExtensionRequestFields(TypedDict):
    request: str
    catalog: str
    restrictedDownloadSizeRemaining: int | None
    restrictedEssentialDownloadSizeRemaining: int | None


class TerminatedFields(TypedDict):
    reason: str
    spent: NotRequired[float]
    allotment: NotRequired[float]
    entry: NotRequired[str]
    runtime: NotRequired[float]
    lockSeconds: NotRequired[float]


class DeviceFields(TypedDict):
    lowPowerMode: bool
    online: bool
    metered: bool
    inAppContent: bool


class LostFields(TypedDict):
    message: str
    socket: str


class PackCatalogFields(TypedDict):
    url: str
    packs: int
    wanted: list[str]


class PackInstalledFields(TypedDict):
    pack: str
    version: str
    files: int
    bytes: int
    previous: str | None


class PackRemovedFields(TypedDict):
    pack: str
    freed: int


class NoFields(TypedDict):
    pass


FIELDS: Mapping[EventKind, type[Mapping[str, Any]]] = MappingProxyType({
    EventKind.APP_PROGRESS: AppProgressFields, EventKind.APP_LAUNCHABLE: NoFields,
    EventKind.APP_INSTALLED: InstalledFields, EventKind.APP_LAUNCHED: NoFields,
    EventKind.APP_UNINSTALLED: NoFields, EventKind.INSTALL_PAUSED: InstallFields,
    EventKind.INSTALL_RESUMED: InstallFields, EventKind.INSTALL_CANCELLED: InstallFields,
    EventKind.CATALOG_FETCHED: CatalogFields,
    EventKind.EXTENSION_REQUEST: ExtensionRequestFields,
    EventKind.REQUEST_WAITING: WaitingFields, EventKind.EXTENSION_TERMINATED: TerminatedFields,
    EventKind.PLAN_REJECTED: RejectedFields, EventKind.EVENT_REFUSED: RefusedFields,
    EventKind.DOWNLOAD_SCHEDULED: ScheduledFields, EventKind.DOWNLOAD_STARTED: StartedFields,
    EventKind.DOWNLOAD_PROGRESS: ProgressFields, EventKind.DOWNLOAD_PAUSED: PausedFields,
    EventKind.DOWNLOAD_RESUMED: StartedFields, EventKind.DOWNLOAD_FINISHED: FinishedFields,
    EventKind.DOWNLOAD_FAILED: FailedFields, EventKind.DOWNLOAD_REENQUEUED: PausedFields,
    EventKind.DOWNLOAD_DEFERRED: DeferredFields,
    EventKind.ASSET_PURGED: PurgedFields, EventKind.DEVICE_CHANGED: DeviceFields,
    EventKind.PACK_CATALOG: PackCatalogFields, EventKind.PACK_INSTALLED: PackInstalledFields,
    EventKind.PACK_REMOVED: PackRemovedFields,
    EventKind.DAEMON_LOST: LostFields,
})


def _fits(value: Any, kind: Any) -> bool:
    """Whether ``value`` (read from JSON) is of the field type ``kind``."""
    if get_origin(kind) in (UnionType, Union):
        return any(_fits(value, option) for option in get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        return isinstance(value, list) and all(_fits(one, item) for one in value)
    return isinstance(value, dict)  # dict[str, float]: the phases


def field_problems(kind: EventKind, data: Mapping[str, Any]) -> list[str]:
    """What ``data`` lacks, or holds of the wrong type, for an event of ``kind``; [] when
    it has every field its payload requires. Fields it does not declare are allowed (a
    newer daemon's)."""
    fields = declared_fields(kind)
    problems = [f"no {name}" for name, (_, required) in fields.items()
                if required and name not in data]
    problems += [f"{name} is {data[name]!r}" for name, (hint, _) in fields.items()
                 if name in data and not _fits(data[name], hint)]
    return problems


@functools.cache
def declared_fields(kind: EventKind) -> Mapping[str, tuple[Any, bool]]:
    """Each field the payload of ``kind`` declares: its type, and whether it is required.

    Read from the annotations rather than ``__required_keys__``, which cannot see
    ``NotRequired`` through this module's postponed annotations; once per kind, since
    a client checks every event it reads from a daemon.
    """
    fields = {}
    for name, hint in get_type_hints(FIELDS[kind], include_extras=True).items():
        optional = get_origin(hint) is NotRequired
        fields[name] = (get_args(hint)[0] if optional else hint, not optional)
    return MappingProxyType(fields)


@dataclass(frozen=True)
class Event:
    """Something that happened; ``data`` holds the kind-specific fields."""

    ts: float
    event: EventKind
    app: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ts": round(self.ts, 6), "event": self.event, "app": self.app, **self.data}

    def to_json(self) -> str:
        return _ENCODER.encode(self.as_dict())


# One encoder for every event: json.dumps with options builds a new one per call, which
# was a third of the cost of each line (60,000 lines for 20,000 downloads).
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


class EventBus:
    """Fan-out of events to subscribers: callbacks run inline, queues never block the publisher.

    A queue subscriber that falls behind loses the oldest progress events
    first; every other event is kept (progress replaces progress, as the TUI
    wants anyway).
    """

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Event], None]] = []
        self._queues: list[EventQueue] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def queue(self, maxsize: int = 10_000) -> asyncio.Queue[Event]:
        """A queue that receives every event from now on."""
        queue = EventQueue(maxsize)
        self._queues.append(queue)
        return queue

    def unqueue(self, queue: asyncio.Queue[Event]) -> None:
        """Stop feeding ``queue``."""
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                # A reader's bug must not stop the orchestrator or the other readers.
                _log.exception("an event subscriber failed on %s", event.event)
        for queue in self._queues:
            queue.put_evicting(event)


class EventQueue(asyncio.Queue[Event]):
    """A subscriber's queue: when full, progress gives way first, then the oldest event."""

    def put_evicting(self, event: Event) -> None:
        if self.full():
            if event.event == EventKind.DOWNLOAD_PROGRESS:
                return
            buffer = self._queue  # type: ignore[attr-defined]
            stale = next((e for e in buffer if e.event == EventKind.DOWNLOAD_PROGRESS), None)
            if stale is not None:
                buffer.remove(stale)
                self.put_nowait(event)
                return
            self.get_nowait()
        self.put_nowait(event)


def describe(event: Event) -> str | None:
    """A short human line for ``event``, or None for events too chatty to print."""
    d: dict[str, Any] = event.data
    name = event.event
    who = d.get("download")
    size = f" ({format_size(d['total'])})" if d.get("total") else ""
    tag = " essential" if d.get("essential") else ""
    if name == EventKind.DOWNLOAD_PROGRESS:
        return None
    if name == EventKind.APP_PROGRESS:
        phases = d.get("phases", {})
        return (f"install progress {d['fraction']:.0%} (app {phases.get('app', 0):.0%}, "
                f"install step {phases.get('install', 0):.0%}, essential "
                f"{phases.get('essential', 0):.0%})")
    if name in (EventKind.DOWNLOAD_FAILED, EventKind.PLAN_REJECTED, EventKind.EVENT_REFUSED):
        target = f"{who}: " if who else ""
        return f"{name:<20} {target}error {d.get('code')} {d.get('name')}: " \
               f"{d.get('message') or d.get('reason')}"
    if name == EventKind.DOWNLOAD_SCHEDULED:
        return f"{name:<20} {who}{tag}{size} priority {d.get('priority')}"
    if name == EventKind.DOWNLOAD_FINISHED:
        where = f" -> {d['path']}" if d.get("path") else ""
        return f"{name:<20} {who}{tag}{size}{where}"
    if name.startswith("download.") or name == EventKind.ASSET_PURGED:
        extra = f" [{d['reason']}]" if d.get("reason") else ""
        return f"{name:<20} {who}{tag}{size}{extra}"
    if name == EventKind.REQUEST_WAITING:
        return f"{name:<20} {d.get('request')}: {d.get('reason')}"
    if name == EventKind.PACK_INSTALLED:
        was = f" (was {d['previous']})" if d.get("previous") else ""
        return (f"{name:<20} {d.get('pack')} version {d.get('version')}{was}: "
                f"{d.get('files')} files, {format_size(d.get('bytes') or 0)}")
    if name == EventKind.PACK_REMOVED:
        return f"{name:<20} {d.get('pack')}: {format_size(d.get('freed') or 0)} freed"
    if name == EventKind.PACK_CATALOG:
        wanted = ", ".join(d.get("wanted") or []) or "none"
        return f"{name:<20} {d.get('packs')} pack(s), downloading: {wanted}"
    if name == EventKind.EXTENSION_REQUEST:
        left = d.get("restrictedDownloadSizeRemaining")
        essential_left = d.get("restrictedEssentialDownloadSizeRemaining")
        limits = "unrestricted" if left is None else (
            f"{format_size(left)} allowance left, {format_size(essential_left or 0)} essential")
        return f"{name:<20} {d.get('request')} ({limits})"
    details = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None)
    return f"{name:<20} {details}".rstrip()
