"""The orchestrator: app lifecycle, content requests and callbacks over the journal and engine.

It wires the layers: manifests are loaded by ``orchestrator.manifests``, plans
are decided by ``orchestrator.scheduler``, files move through
``orchestrator.engine``, everything durable goes to ``orchestrator.journal``,
and everything that happens is published on ``self.events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orchestrator.service.containers as containers
from orchestrator.engine import Engine
from orchestrator.errors import (
    BackgroundAssetsError,
    DownloadError,
    ErrorCode,
    JournalError,
    StateDirBusy,
    StateDirUnusable,
    disk_full,
)
from orchestrator.events import Event, EventBus, EventKind
from orchestrator.journal import Journal
from orchestrator.manifests import load_app
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.enums import ContentRequest
from orchestrator.model.extension import Extension
from orchestrator.scheduler.budget import next_periodic_run
from orchestrator.scheduler.queue import Conditions
from orchestrator.service.apps import AppDelegate, LoadedApp
from orchestrator.service.catalogs import (
    CATALOG_DEADLINE,
    MAX_CATALOG_SIZE,
    MIN_CATALOG_RATE,
    CatalogLimits,
)
from orchestrator.service.downloads import DownloadQueue, Tracked
from orchestrator.service.handover import Handover
from orchestrator.service.lock import try_flock
from orchestrator.service.network import NetworkWaits
from orchestrator.service.progress import InstallProgress
from orchestrator.service.recovery import Recovery
from orchestrator.service.requests import CATALOG_FAILED, ContentRequests

__all__ = ["AppDelegate", "LoadedApp", "Orchestrator"]

STATE_LOCK = "orchestrator.lock"


def _lock_state_dir(state_dir: Path) -> int:
    """One orchestrator per state dir: two would download the same files twice over."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = try_flock(state_dir / STATE_LOCK)
    except OSError as error:
        raise StateDirUnusable(f"state dir {state_dir} cannot be used "
                               f"({error.strerror or error}); choose another") from None
    if fd is None:
        raise StateDirBusy(state_dir)
    return fd


class Orchestrator(ContentRequests, Handover, Recovery):
    """The Background Assets system service, for one state dir.

    Use as an async context manager. ``clock`` gives wall time for the journal
    and the budget formulas; tests pass their own. ``max_catalog_size``,
    ``catalog_deadline`` (seconds) and ``catalog_min_rate`` (bytes per second) bound
    every catalog fetch.
    """

    def __init__(self, state_dir: str | Path, *, device: Device | None = None,
                 engine: Engine | None = None, clock: Callable[[], float] = time.time,
                 bypass_allotment: bool = False, max_active: int = 16, max_per_host: int = 16,
                 connections: int | None = None, max_catalog_size: int = MAX_CATALOG_SIZE,
                 catalog_deadline: float = CATALOG_DEADLINE,
                 catalog_min_rate: float = MIN_CATALOG_RATE) -> None:
        self.state_dir = Path(state_dir)
        self.catalog_limits = CatalogLimits(max_catalog_size, catalog_deadline, catalog_min_rate)
        self.layout = containers.Layout(self.state_dir)
        self.device = device or Device()
        self.clock = clock
        self.bypass_allotment = bypass_allotment
        self.events = EventBus()
        self.apps: dict[str, LoadedApp] = {}
        self._own_engine = engine is None
        self._engine = engine
        self._queue_options = {"max_active": max_active, "max_per_host": max_per_host,
                               "connections": connections}
        self._changed = asyncio.Event()
        self.network = NetworkWaits(self.device.network.online)
        self._journal_commit: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._space_waits: dict[str, tuple[LoadedApp, ContentRequest]] = {}
        self.journal: Journal
        self.queue: DownloadQueue

    async def __aenter__(self) -> Orchestrator:
        self._state_lock = _lock_state_dir(self.state_dir)
        self.journal = Journal.in_state_dir(self.state_dir)
        if self._engine is None:
            self._engine = Engine(state_store=self.journal)
            await self._engine.__aenter__()
        self.queue = DownloadQueue(
            self._engine, on_started=self._download_started, on_progress=self._download_progress,
            on_paused=self._download_paused, on_ended=self._download_ended,
            **self._queue_options,  # type: ignore[arg-type]
        )
        self.queue.on_settled = self._download_settled
        self.queue.on_resumed = self._download_resumed
        await self._recover()
        self.queue.set_conditions(self._conditions())  # with the recovered apps' policies
        self.queue.start()
        self._resume_waiting()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.queue.stop()
            if self._own_engine and self._engine is not None:
                await self._engine.__aexit__(None, None, None)
            self.journal.close()
        finally:
            os.close(self._state_lock)  # releases the flock

    # Events ------------------------------------------------------------------

    def emit(self, kind: EventKind, app: str | None, /, **data: Any) -> None:
        self.events.publish(Event(self.clock(), kind, app, data))
        self._changed.set()

    def _download_event(self, kind: EventKind, tracked: Tracked, /, **data: Any) -> None:
        download = tracked.download
        self.emit(kind, tracked.app_id, download=download.id, essential=download.essential,
                  bytes=tracked.bytes, total=download.size, **data)

    # Lifecycle -----------------------------------------------------------------

    async def install(self, manifest: str | Path) -> str:
        """Install (or update, when the version changed) the app of ``manifest``.

        Installing an app already installed at this version changes nothing: its
        pending downloads were resumed from the journal when the orchestrator started.
        """
        app, extension = load_app(Path(manifest))
        known = self.journal.app(app.id)
        retry = known is not None and known.state == CATALOG_FAILED
        if known is not None and known.version == app.version and app.id in self.apps \
                and not retry:
            # Installed already: what was pending resumed when the journal was recovered.
            self.emit(EventKind.APP_INSTALLED, app.id, version=app.version, request="none",
                      reason="already installed at this version; pending downloads resumed")
            return app.id
        # A first install, or one whose catalog could not be fetched, asks for ``install``.
        first = known is None or (retry and not known.launched)
        request = ContentRequest.INSTALL if first else ContentRequest.UPDATE
        await self._begin_install(app, extension, Path(manifest), request)
        return app.id

    async def update(self, manifest: str | Path) -> str:
        """Apply a new app version: an ``update`` content request."""
        app, _ = load_app(Path(manifest))
        if self.journal.app(app.id) is None:
            raise BackgroundAssetsError(f"{app.id} is not installed; install it first",
                                        ErrorCode.APP_NOT_INSTALLED)
        return await self.install(manifest)

    async def _begin_install(self, app: App, extension: Extension, manifest: Path,
                             request: ContentRequest) -> None:
        container = self.layout.container(app.app_group)
        try:
            containers.ensure_container(container)  # before any record
        except OSError as error:
            raise BackgroundAssetsError(f"{container}: cannot make the app's container: "
                                        f"{error.strerror or error}", ErrorCode.DISK_ERROR) \
                from error
        known = self.journal.app(app.id)
        self.journal.put_app(app.id, version=app.version, app_group=app.app_group,
                             manifest_path=str(manifest.resolve()), state="installing",
                             pending_request=request, at=self.clock())
        loaded = LoadedApp(app, extension, manifest, launched=bool(known and known.launched),
                           unplanned=True)
        loaded.progress = InstallProgress(app.size, app.restrictions.essential_download_allowance)
        self.apps[app.id] = loaded
        self.queue.set_conditions(self._conditions())  # the app's network policy
        self.emit(EventKind.APP_INSTALLED, app.id, version=app.version,
                  request=request.name.lower())
        self._emit_progress(loaded, force=True)
        await self._planned_install(loaded, request)

    async def periodic(self, app_id: str) -> None:
        """A ``periodic`` content request, as the scheduler would send when it is due."""
        await self._content_request(self._loaded(app_id), ContentRequest.PERIODIC)

    def next_periodic(self, app_id: str) -> float | None:
        """When the app's next periodic run is due (README's formula); None while forbidden."""
        record = self.journal.app(app_id)
        if record is None:
            return None
        return next_periodic_run(app_id, self.device, self.journal.launches(app_id),
                                 record.last_periodic_at, self.clock())

    def waiting_request(self, app_id: str) -> ContentRequest | None:
        """The app's content request waiting for the network, if one does."""
        return self.network.waiting(app_id)

    def due_periodic(self) -> list[str]:
        """Apps whose periodic run is due now."""
        now = self.clock()
        return [app_id for app_id in self.apps
                if (when := self.next_periodic(app_id)) is not None and when <= now]

    async def periodic_loop(self, every: float = 60.0) -> None:
        """Send ``periodic`` to each app when it is due, checking every ``every`` seconds."""
        while True:
            for app_id in self.due_periodic():
                # Reported as events (a full disk: made again once space is back).
                with contextlib.suppress(BackgroundAssetsError):
                    await self.periodic(app_id)
            await asyncio.sleep(every)

    def launch(self, app_id: str, delegate: AppDelegate | None = None) -> None:
        """Launch the app: refused while essential downloads are pending."""
        loaded = self._loaded(app_id)
        pending = self._pending(app_id, essential=True)
        if pending:
            names = ", ".join(sorted(t.download.id for t in pending)[:5])
            raise BackgroundAssetsError(
                f"{app_id} is not launchable yet: {len(pending)} essential download(s) pending "
                f"({names})", ErrorCode.APP_NOT_LAUNCHABLE)
        if not loaded.launchable:
            why = ("the device is offline: its catalog is fetched once the network is back"
                   if self.network.waiting(app_id) is not None else
                   "the catalog is being fetched or the extension has not answered")
            raise BackgroundAssetsError(
                f"{app_id} is not launchable yet: its install has not been planned ({why})",
                ErrorCode.APP_NOT_LAUNCHABLE)
        self.journal.record_launch(app_id, self.clock())
        loaded.launched = loaded.running = True
        loaded.delegate = delegate
        self.emit(EventKind.APP_LAUNCHED, app_id)

    def terminate(self, app_id: str) -> None:
        """The app stops running; callbacks go to its extension again."""
        loaded = self._loaded(app_id)
        loaded.running, loaded.delegate = False, None

    async def uninstall(self, app_id: str) -> None:
        """Remove the app, its container, its staging files and its journal rows."""
        loaded = self._loaded(app_id)
        for tracked in self._pending(app_id):
            self.queue.cancel(tracked.key)
            if tracked.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await tracked.task
        group = loaded.app.app_group
        # The journal first: one it cannot write leaves the app installed, files and all.
        try:
            self.journal.remove_app(app_id)
        except JournalError as error:
            if not disk_full(error):
                raise
            # Its partial downloads are of no use any more, and their room may be enough.
            containers.remove_tree(self.layout.staging_dir(group))
            self.journal.remove_app(app_id)
        containers.remove_tree(self.layout.container(group))
        containers.remove_tree(self.layout.staging_dir(group))
        self.network.forget(app_id)
        del self.apps[app_id]
        self.emit(EventKind.APP_UNINSTALLED, app_id)

    def exclusive_control(self, app_id: str, deadline: float | None = None) -> Any:
        """The app group's lock across processes, for app code (``withExclusiveControl``).

        An async context manager; ``deadline`` is a ``time.monotonic()`` value, one in
        the past means "try once". Extensions get the same lock from ``orchestrator.sdk``.
        """
        from orchestrator.service.lock import exclusive_control

        return exclusive_control(self.state_dir, self._loaded(app_id).app.app_group, deadline)

    def set_device(self, device: Device) -> None:
        """New device conditions: pause or resume downloads accordingly.

        Going offline stops catalog fetches and pauses every transfer; coming back
        online makes the content requests that waited meanwhile.
        """
        self.device = device
        self.network.set_online(device.network.online)
        self.queue.set_conditions(self._conditions())
        self.emit(EventKind.DEVICE_CHANGED, None, lowPowerMode=device.low_power_mode,
                  online=device.network.online, metered=device.network.metered,
                  inAppContent=device.in_app_content)
        self._resume_waiting()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task of its own, cancelled when the orchestrator stops."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _conditions(self) -> Conditions:
        return Conditions(
            online=self.device.network.online, metered=self.device.network.metered,
            low_power_mode=self.device.low_power_mode,
            allow_metered={a: x.app.network_policy.allow_metered for a, x in self.apps.items()},
        )

    def _loaded(self, app_id: str) -> LoadedApp:
        try:
            return self.apps[app_id]
        except KeyError:
            raise BackgroundAssetsError(f"{app_id} is not installed",
                                        ErrorCode.APP_NOT_INSTALLED) from None

    def _pending(self, app_id: str, *, essential: bool | None = None) -> list[Tracked]:
        return [t for t in self.queue.tracked.values() if t.app_id == app_id
                and (essential is None or t.download.essential == essential)]

    # Control ---------------------------------------------------------------------

    def find_download(self, key: str) -> Tracked:
        """A pending download by key or by id (the first app's, when ids repeat)."""
        tracked = self.queue.tracked.get(key) or next(
            (t for t in self.queue.tracked.values() if t.download.id == key), None)
        if tracked is None:
            raise BackgroundAssetsError(f"no scheduled download {key!r}",
                                        ErrorCode.DOWNLOAD_NOT_SCHEDULED)
        return tracked

    def promote(self, key: str) -> None:
        """Foreground promotion, allowed to the running app only, and only while online.

        Foreground downloads fail fast offline: the promotion is refused and the
        download keeps waiting in the background, to start once the network is back.
        """
        tracked = self.find_download(key)
        if not self._loaded(tracked.app_id).running:
            raise BackgroundAssetsError(
                f"{tracked.app_id} is not running: only the running app may start a foreground "
                "download", ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
        if not self.device.network.online:
            raise BackgroundAssetsError(
                f"{tracked.download.id} cannot start in the foreground: the device is offline; "
                "it waits in the background and starts once the network is back",
                ErrorCode.NETWORK_ERROR)
        self.queue.promote(tracked.key)
        self._download_event(EventKind.DOWNLOAD_STARTED, tracked, foreground=True, promoted=True)

    def pause(self, key: str) -> None:
        self.queue.pause(self.find_download(key).key)

    def resume(self, key: str) -> None:
        """Resume a download paused by request; ``download.resumed`` (or ``download.started``
        for one that never ran) follows once it transfers again, not while offline."""
        self.queue.resume(self.find_download(key).key)

    def is_running(self, key: str) -> bool:
        """Whether a download (by key or id) is transferring now."""
        return self.queue.is_running(self.find_download(key).key)

    def cancel(self, key: str) -> None:
        tracked = self.find_download(key)
        if not self.queue.cancel(tracked.key):
            loaded = self._loaded(tracked.app_id)
            error = DownloadError("cancelled before it started", ErrorCode.CANCELLED)

            async def report() -> None:
                await self._failed(loaded, tracked, error)
                self._check_launchable(loaded)

            self._in_background(report())

    def settled(self, app_id: str, until: str = "essential") -> bool:
        """Whether :meth:`wait` with ``until`` would return now (an app not installed is)."""
        loaded = self.apps.get(app_id)
        if loaded is None:
            return True
        if until == "essential":
            return loaded.launchable
        return not loaded.unplanned and self.queue.pending[app_id] == 0

    async def wait(self, app_id: str, until: str = "essential",
                   timeout: float | None = None) -> None:
        """Wait until the app is launchable (``essential``) or its install is planned and
        nothing is pending (``all``)."""
        async def settled() -> None:
            while True:
                self._changed.clear()
                if self.settled(app_id, until):
                    return
                await self._changed.wait()

        await asyncio.wait_for(settled(), timeout)
