"""What the service's collaborators share: settings, the apps in memory, the journal and queue."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orchestrator.storage.containers as containers
from orchestrator.clock import Clock
from orchestrator.engine import Engine
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import Event, EventBus, EventKind
from orchestrator.journal import Journal
from orchestrator.model.device import Device
from orchestrator.scheduler.queue import Conditions
from orchestrator.scheduler.space import Space
from orchestrator.service.apps import LoadedApp
from orchestrator.service.catalogs import CatalogLimits
from orchestrator.service.downloads import DownloadQueue, Tracked
from orchestrator.service.network import NetworkWaits
from orchestrator.service.space import DiskSpace

PROGRESS_INTERVAL = 0.1
DISK_RETRY_INTERVAL = 30.0
# Free bytes a journal transaction (and a small catalog) is given before it is tried again.
JOURNAL_SPACE = 256 * 1024
_ADDED = frozenset({EventKind.DOWNLOAD_SCHEDULED, EventKind.DOWNLOAD_REENQUEUED})


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s file system (0 when
    that cannot be told)."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return 0
    return found.f_bavail * found.f_frsize


def day_of(ts: float) -> str:
    """The UTC day a runtime charge at ``ts`` counts towards."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


class ServiceContext:
    """The state of one orchestrator that its collaborators read and change.

    Made with the orchestrator; ``journal``, ``engine`` and ``queue`` are bound by
    :meth:`open` when it starts, before any collaborator is called. ``changed`` is set
    on every event so that waiters re-check what they wait for.
    """

    disk_retry_interval = DISK_RETRY_INTERVAL
    journal: Journal
    engine: Engine
    queue: DownloadQueue

    def __init__(self, state_dir: Path, *, device: Device, clock: Clock,
                 bypass_allotment: bool, catalog_limits: CatalogLimits) -> None:
        self.state_dir = state_dir
        self.layout = containers.Layout(state_dir)
        self.device = device
        self.clock = clock
        self.bypass_allotment = bypass_allotment
        self.catalog_limits = catalog_limits
        self.events = EventBus()
        self.apps: dict[str, LoadedApp] = {}
        self.network = NetworkWaits(device.network.online)
        self.disk = DiskSpace(state_dir)
        self.changed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    def open(self, journal: Journal, engine: Engine, queue: DownloadQueue) -> None:
        """Bind what exists only while the orchestrator runs."""
        self.journal, self.engine, self.queue = journal, engine, queue

    # Events ------------------------------------------------------------------

    def emit(self, kind: EventKind, app: str | None, /, **data: Any) -> None:
        self.events.publish(Event(self.clock.time(), kind, app, data))
        self.changed.set()

    def emit_download(self, kind: EventKind, tracked: Tracked, /, **data: Any) -> None:
        download = tracked.download
        self.emit(kind, tracked.app_id, download=download.id, essential=download.essential,
                  bytes=tracked.bytes, total=download.size, **data)
        if kind in _ADDED and tracked.paused is not None:
            # Held from the start (its install is paused): said once it was announced.
            self.emit(EventKind.DOWNLOAD_PAUSED, tracked.app_id, download=download.id,
                      essential=download.essential, bytes=tracked.bytes, total=download.size,
                      reason=tracked.paused)

    def emit_progress(self, loaded: LoadedApp, force: bool = False) -> None:
        """The app's install progress, at most every ``PROGRESS_INTERVAL`` unless forced."""
        now = time.monotonic()
        if loaded.progress is None or (
                not force and now - loaded.last_progress_event < PROGRESS_INTERVAL):
            return
        loaded.last_progress_event = now
        progress = loaded.progress
        self.emit(EventKind.APP_PROGRESS, loaded.app.id, fraction=round(progress.fraction, 4),
                  bytes=progress.done, total=progress.total, phases=progress.phases(),
                  refined=progress.refined)

    # Background work -----------------------------------------------------------

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task of its own, cancelled when the orchestrator stops."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop_background(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def space_back(self, needed: int, wanted: Callable[[], bool]) -> bool:
        """Wait until ``needed`` bytes are free in the state dir, checked every
        ``disk_retry_interval`` seconds; False once not ``wanted``."""
        while True:
            await self.clock.sleep(self.disk_retry_interval)
            if not wanted():
                return False
            if free_bytes(self.state_dir) >= needed:
                return True

    # Reading the state -----------------------------------------------------------

    def space(self) -> Space | None:
        """The disk now (see :meth:`DiskSpace.space`), with what running downloads wrote
        and what ended ones hold until they are delivered."""
        queue = self.queue
        in_flight = sum(t.bytes for t in queue.running.values()) \
            + sum(t.bytes for t in queue.ending.values())
        return self.disk.space(self.device.storage, in_flight)

    def committed(self) -> int:
        """Bytes the running downloads of known size still have to write."""
        return sum(max(0, (t.download.size or 0) - t.bytes) for t in self.queue.running.values())

    def loaded(self, app_id: str) -> LoadedApp:
        try:
            return self.apps[app_id]
        except KeyError:
            raise BackgroundAssetsError(f"{app_id} is not installed",
                                        ErrorCode.APP_NOT_INSTALLED) from None

    def conditions(self) -> Conditions:
        return Conditions(
            online=self.device.network.online, metered=self.device.network.metered,
            low_power_mode=self.device.low_power_mode,
            allow_metered={a: x.app.network_policy.allow_metered for a, x in self.apps.items()},
        )

    def day(self) -> str:
        return day_of(self.clock.time())
