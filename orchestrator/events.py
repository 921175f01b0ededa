"""One event type, many readers: the orchestrator publishes, the CLI, TUI and API subscribe.

An event serialises to one JSON object per line with at least ``ts``,
``event`` and ``app``; download events add ``download``, ``essential``,
``bytes`` and ``total`` (DESIGN section 3).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

APP_PROGRESS = "app.progress"
APP_LAUNCHABLE = "app.launchable"
APP_INSTALLED = "app.installed"
APP_LAUNCHED = "app.launched"
APP_UNINSTALLED = "app.uninstalled"
CATALOG_FETCHED = "catalog.fetched"
EXTENSION_REQUEST = "extension.request"
EXTENSION_TERMINATED = "extension.terminated"
PLAN_REJECTED = "plan.rejected"
EVENT_REFUSED = "event.refused"
DOWNLOAD_SCHEDULED = "download.scheduled"
DOWNLOAD_STARTED = "download.started"
DOWNLOAD_PROGRESS = "download.progress"
DOWNLOAD_PAUSED = "download.paused"
DOWNLOAD_FINISHED = "download.finished"
DOWNLOAD_FAILED = "download.failed"
DOWNLOAD_REENQUEUED = "download.reenqueued"
ASSET_PURGED = "asset.purged"
DEVICE_CHANGED = "device.changed"


@dataclass(frozen=True)
class Event:
    """Something that happened; ``data`` holds the kind-specific fields."""

    ts: float
    event: str
    app: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ts": round(self.ts, 6), "event": self.event, "app": self.app, **self.data}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), default=str)


class EventBus:
    """Fan-out of events to subscribers: callbacks run inline, queues never block the publisher.

    A queue subscriber that falls behind loses the oldest progress events
    first; every other event is kept (progress replaces progress, as the TUI
    wants anyway).
    """

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Event], None]] = []
        self._queues: list[asyncio.Queue[Event]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def queue(self, maxsize: int = 10_000) -> asyncio.Queue[Event]:
        """A queue that receives every event from now on."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    def unqueue(self, queue: asyncio.Queue[Event]) -> None:
        """Stop feeding ``queue``."""
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        for callback in list(self._callbacks):
            callback(event)
        for queue in self._queues:
            if queue.full():
                if event.event == DOWNLOAD_PROGRESS:
                    continue
                queue.get_nowait()
            queue.put_nowait(event)
