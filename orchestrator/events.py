"""One event type, many readers: the orchestrator publishes, the CLI, TUI and API subscribe.

An event serialises to one JSON object per line with at least ``ts``,
``event`` and ``app``; download events add ``download``, ``essential``,
``bytes`` and ``total`` (DESIGN section 3).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.model.units import format_size

_log = logging.getLogger("bgassets.events")

class EventKind(StrEnum):
    """What an event tells; the value is its ``event`` field on the wire."""

    APP_PROGRESS = "app.progress"
    APP_LAUNCHABLE = "app.launchable"
    APP_INSTALLED = "app.installed"
    APP_LAUNCHED = "app.launched"
    APP_UNINSTALLED = "app.uninstalled"
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
    ASSET_PURGED = "asset.purged"
    DEVICE_CHANGED = "device.changed"
    # Published by a TUI attached to a daemon when the daemon stops answering.
    DAEMON_LOST = "daemon.lost"


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
    if name == EventKind.EXTENSION_REQUEST:
        left = d.get("restrictedDownloadSizeRemaining")
        essential_left = d.get("restrictedEssentialDownloadSizeRemaining")
        limits = "unrestricted" if left is None else (
            f"{format_size(left)} allowance left, {format_size(essential_left or 0)} essential")
        return f"{name:<20} {d.get('request')} ({limits})"
    details = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None)
    return f"{name:<20} {details}".rstrip()
