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
from pathlib import Path
from typing import Any

from orchestrator.clock import SYSTEM_CLOCK, Clock
from orchestrator.engine import Engine
from orchestrator.errors import (
    BackgroundAssetsError,
    DownloadError,
    ErrorCode,
    StateDirBusy,
    StateDirUnusable,
)
from orchestrator.events import EventKind
from orchestrator.journal import Journal
from orchestrator.manifests import load_app
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.enums import ContentRequest
from orchestrator.scheduler.budget import next_periodic_run, periodic_interval
from orchestrator.scheduler.space import Space, install_refusal
from orchestrator.service.apps import AppDelegate, LoadedApp
from orchestrator.service.catalogs import (
    CATALOG_DEADLINE,
    MAX_CATALOG_SIZE,
    MIN_CATALOG_RATE,
    CatalogLimits,
)
from orchestrator.service.challenges import Challenges
from orchestrator.service.context import ServiceContext
from orchestrator.service.downloads import INSTALL_PAUSED, DownloadQueue, Tracked
from orchestrator.service.gate import SpaceGate
from orchestrator.service.handover import Handover
from orchestrator.service.installs import Installs
from orchestrator.service.packs import Packs, PackState
from orchestrator.service.recovery import Recovery
from orchestrator.service.requests import CATALOG_FAILED, ContentRequests
from orchestrator.service.runtime import ExtensionRuntime
from orchestrator.service.tracking import Tracking
from orchestrator.storage.lock import try_flock

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


class Orchestrator:
    """The Background Assets system service, for one state dir.

    Use as an async context manager. ``clock`` is the time of the journal, the budget
    formulas, the periodic schedule and every wait (a scenario's :class:`VirtualClock`).
    ``max_catalog_size``, ``catalog_deadline`` (seconds) and ``catalog_min_rate`` (bytes
    per second) bound every catalog fetch.

    A facade: the state lives in a :class:`ServiceContext`, the work in the
    collaborators it shares, made when the orchestrator starts.
    """

    def __init__(self, state_dir: str | Path, *, device: Device | None = None,
                 engine: Engine | None = None, clock: Clock = SYSTEM_CLOCK,
                 bypass_allotment: bool = False, max_active: int = 16, max_per_host: int = 16,
                 connections: int | None = None, max_catalog_size: int = MAX_CATALOG_SIZE,
                 catalog_deadline: float = CATALOG_DEADLINE,
                 catalog_min_rate: float = MIN_CATALOG_RATE) -> None:
        self._ctx = ServiceContext(
            Path(state_dir), device=device or Device(), clock=clock,
            bypass_allotment=bypass_allotment,
            catalog_limits=CatalogLimits(max_catalog_size, catalog_deadline, catalog_min_rate))
        # The context's own objects, which it never replaces.
        ctx = self._ctx
        self.state_dir, self.layout, self.clock = ctx.state_dir, ctx.layout, ctx.clock
        self.events, self.apps, self.network = ctx.events, ctx.apps, ctx.network
        self.catalog_limits = ctx.catalog_limits
        self._engine = engine
        self._max_active, self._max_per_host = max_active, max_per_host
        self._connections = connections

    async def __aenter__(self) -> Orchestrator:
        ctx = self._ctx
        self._state_lock = _lock_state_dir(ctx.state_dir)
        journal = Journal.in_state_dir(ctx.state_dir)
        self._own_engine = self._engine is None
        self._tracking = Tracking(ctx)
        self._runtime = ExtensionRuntime(ctx)
        challenges = Challenges(ctx, self._runtime)
        engine = self._engine or Engine(state_store=journal, credentials=challenges.answer,
                                        clock=ctx.clock)
        if self._own_engine:
            await engine.__aenter__()
        elif engine.credentials.provider is None:  # a given engine answers as ours would
            engine.credentials.provider = challenges.answer
        self._packs = packs = Packs(ctx, self._tracking, self._runtime)
        self._handover = handover = Handover(ctx, self._tracking, self._runtime, packs)
        self._requests = ContentRequests(ctx, self._tracking, self._runtime, packs)
        self._recovery = Recovery(ctx, self._tracking, handover)
        self._installs = Installs(ctx, self._tracking, self._requests, packs)
        queue = DownloadQueue(
            engine, on_started=handover.started, on_progress=handover.progressed,
            on_paused=handover.paused, on_ended=handover.ended, max_active=self._max_active,
            max_per_host=self._max_per_host, connections=self._connections)
        queue.on_settled = handover.settled
        queue.on_resumed = handover.resumed
        self._gate = SpaceGate(ctx, self._tracking, handover, self._recovery)
        queue.admit = self._gate.admit
        ctx.open(journal, engine, queue)
        await self._recovery.recover()
        for loaded in ctx.apps.values():
            packs.recover(loaded)
        ctx.disk.load(journal)
        queue.set_conditions(ctx.conditions())  # with the recovered apps' policies
        queue.start()
        self._requests.resume_waiting()
        return self

    async def __aexit__(self, *exc: object) -> None:
        ctx = self._ctx
        try:
            await ctx.stop_background()
            await ctx.queue.stop()
            if self._own_engine:
                await ctx.engine.__aexit__(None, None, None)
            ctx.journal.close()
        finally:
            os.close(self._state_lock)  # releases the flock

    # The context's state, as clients read it and tests tune it -----------------

    @property
    def device(self) -> Device:
        """The device conditions now; :meth:`set_device` changes them."""
        return self._ctx.device

    @property
    def journal(self) -> Journal:
        return self._ctx.journal

    @property
    def queue(self) -> DownloadQueue:
        return self._ctx.queue

    @property
    def bypass_allotment(self) -> bool:
        """Whether extensions run without a daily runtime allotment."""
        return self._ctx.bypass_allotment

    @bypass_allotment.setter
    def bypass_allotment(self, bypass: bool) -> None:
        self._ctx.bypass_allotment = bypass

    @property
    def disk_retry_interval(self) -> float:
        """Seconds between checks for space once a full disk stopped work."""
        return self._ctx.disk_retry_interval

    @disk_retry_interval.setter
    def disk_retry_interval(self, seconds: float) -> None:
        self._ctx.disk_retry_interval = seconds

    def emit(self, kind: EventKind, app: str | None, /, **data: Any) -> None:
        """Publish an event on :attr:`events`."""
        self._ctx.emit(kind, app, **data)

    def space(self) -> Space | None:
        """The disk now: measured, or simulated by the device's storage (see
        ``service/space.py``); None when the state dir's file system cannot be read."""
        return self._ctx.space()

    def delivered_bytes(self, app_id: str | None = None) -> int:
        """Bytes of delivered files the orchestrator keeps for ``app_id`` (every app: None)."""
        return self._ctx.disk.delivered(app_id)

    def purgeable_bytes(self, app_id: str | None = None) -> int:
        """Bytes of delivered purgeable files of ``app_id`` (of every app when None)."""
        return self._ctx.disk.purgeable(app_id)

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
            held = "its install is paused: resume-install it" \
                if self.apps[app.id].install_paused else "pending downloads resumed"
            self.emit(EventKind.APP_INSTALLED, app.id, version=app.version, request="none",
                      reason=f"already installed at this version; {held}")
            return app.id
        loaded = self.apps.get(app.id)
        if loaded is not None and loaded.install_paused:
            raise BackgroundAssetsError(
                f"the install of {app.id} is paused: resume-install or cancel-install it "
                f"before installing version {app.version}", ErrorCode.INSTALL_PAUSED)
        # A first install, or one whose catalog could not be fetched, asks for ``install``.
        first = known is None or (retry and not known.launched)
        request = ContentRequest.INSTALL if first else ContentRequest.UPDATE
        self._ctx.engine.credentials.forget(app.id)  # its spec.credentials may have changed
        if request == ContentRequest.INSTALL:
            self._make_room_for_install(app)
        await self._requests.begin_install(app, extension, Path(manifest), request)
        return app.id

    def _make_room_for_install(self, app: App) -> None:
        """Refuse an install whose ``essentialMaxInstallSize`` does not fit above the
        reserve (1032), before anything is recorded or downloaded; purge what it needs."""
        space = self._ctx.space()
        if space is None:
            return
        refusal = install_refusal(app, space)
        if refusal is not None:
            self.emit(EventKind.EVENT_REFUSED, app.id, request="install", **refusal.as_dict())
            raise BackgroundAssetsError(refusal.reason, refusal.code)
        short = app.essential_max_install_size - space.available
        if short > 0:
            self.purge(short)

    async def update(self, manifest: str | Path) -> str:
        """Apply a new app version: an ``update`` content request."""
        app, _ = load_app(Path(manifest))
        if self.journal.app(app.id) is None:
            raise BackgroundAssetsError(f"{app.id} is not installed; install it first",
                                        ErrorCode.APP_NOT_INSTALLED)
        return await self.install(manifest)

    async def periodic(self, app_id: str) -> None:
        """A ``periodic`` content request, as the scheduler would send when it is due.

        Downloads that waited for space are looked at again too: the run fetches what
        is missing once there is room.
        """
        await self._requests.content_request(self._ctx.loaded(app_id), ContentRequest.PERIODIC)
        self.queue.poke()

    def next_periodic(self, app_id: str) -> float | None:
        """When the app's next periodic run is due (README's formula); None while forbidden."""
        record = self.journal.app(app_id)
        if record is None:
            return None
        return next_periodic_run(app_id, self.device, self.journal.launches(app_id),
                                 record.last_periodic_at, self.clock.time())

    def periodic_interval(self, app_id: str) -> float | None:
        """Seconds between the app's periodic runs as its launch history makes them now
        (README's formula); None while the device forbids them."""
        if self.next_periodic(app_id) is None:
            return None
        return periodic_interval(self.journal.launches(app_id), self.clock.time())

    def waiting_request(self, app_id: str) -> ContentRequest | None:
        """The app's content request waiting for the network, if one does."""
        return self.network.waiting(app_id)

    def due_periodic(self) -> list[str]:
        """Apps whose periodic run is due now."""
        now = self.clock.time()
        return [app_id for app_id in self.apps
                if (when := self.next_periodic(app_id)) is not None and when <= now]

    async def periodic_loop(self, every: float = 60.0) -> None:
        """Send ``periodic`` to each app when it is due.

        Between runs it sleeps until the next one is due, and at most ``every`` seconds,
        so a launch or a device change that brings a run forward is seen within
        ``every``.
        """
        while True:
            for app_id in self.due_periodic():
                # Reported as events (a full disk: made again once space is back).
                with contextlib.suppress(BackgroundAssetsError):
                    await self.periodic(app_id)
            await self.clock.sleep(self._until_next_periodic(every))

    def _until_next_periodic(self, every: float) -> float:
        now = self.clock.time()
        due = [when for app_id in self.apps
               if (when := self.next_periodic(app_id)) is not None]
        # At least a second: a run that could not be made is not tried in a busy loop.
        return max(1.0, min([every, *(when - now for when in due)]))

    def launch(self, app_id: str, delegate: AppDelegate | None = None) -> None:
        """Launch the app: refused while essential downloads are pending."""
        loaded = self._ctx.loaded(app_id)
        if loaded.install_paused:
            raise BackgroundAssetsError(f"{app_id} is not launchable: its install is paused; "
                                        "resume-install it first", ErrorCode.APP_NOT_LAUNCHABLE)
        pending = self._tracking.pending(app_id, essential=True)
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
        self.journal.record_launch(app_id, self.clock.time())
        loaded.launched = loaded.running = True
        loaded.delegate = delegate
        self._ctx.engine.credentials.forget(app_id)  # its delegate may answer differently
        self.emit(EventKind.APP_LAUNCHED, app_id)

    def schedule(self, app_id: str, download_id: str, url: str, *, size: int | None = None,
                 sha256: str | None = None, priority: int = 50) -> None:
        """A background download the running app asks for (never essential: those are
        the extension's, at install); see :meth:`Tracking.schedule`."""
        self._tracking.schedule(self._ctx.loaded(app_id), download_id, url, size=size,
                                sha256=sha256, priority=priority)

    def terminate(self, app_id: str) -> None:
        """The app stops running; callbacks go to its extension again."""
        loaded = self._ctx.loaded(app_id)
        loaded.running, loaded.delegate = False, None
        self._ctx.engine.credentials.forget(app_id)  # the extension answers again

    async def uninstall(self, app_id: str) -> None:
        """Remove the app, its container, its staging files and its journal rows."""
        await self._installs.uninstall(app_id)

    def pause_install(self, app_id: str) -> int:
        """Pause the app's install or update as a whole: every download of it holds, the
        app is not launchable until :meth:`resume_install`; a restart keeps it paused.
        Returns how many downloads were paused."""
        return self._installs.pause(app_id)

    def resume_install(self, app_id: str) -> int:
        """Resume a paused install: its transfers continue from the bytes on disk. Returns
        how many downloads were resumed."""
        return self._installs.resume(app_id)

    async def cancel_install(self, app_id: str) -> int:
        """Give up the app's install: its catalog fetch or extension run stops, its
        downloads are cancelled, and it ends not installed (no container, no journal
        rows). Refused once it is launchable, and for an update of an app launched before.
        Returns how many downloads were cancelled."""
        return await self._installs.cancel(app_id)

    # Managed asset packs ---------------------------------------------------------------

    def packs(self, app_id: str) -> dict[str, PackState]:
        """Every asset pack the app has locally or could download."""
        return self._packs.states(app_id)

    def ensure_pack(self, app_id: str, pack_id: str) -> int:
        """Download what the latest version of ``pack_id`` lacks (promoted to the
        foreground while the app runs); how many downloads that took."""
        loaded = self._ctx.loaded(app_id)
        return self._packs.ensure(app_id, pack_id, foreground=loaded.running)

    def remove_pack(self, app_id: str, pack_id: str) -> int:
        """Remove the pack's local versions; the bytes freed."""
        return self._packs.remove(app_id, pack_id)

    async def check_packs(self, app_id: str) -> tuple[list[str], list[str]]:
        """Read the app's pack catalog again: (packs updating, packs removed)."""
        return await self._packs.check(app_id)

    def rollback_pack(self, app_id: str, pack_id: str) -> str:
        """Make the pack's previous version current again; its version."""
        return self._packs.rollback(app_id, pack_id)

    def exclusive_control(self, app_id: str, deadline: float | None = None) -> Any:
        """The app group's lock across processes, for app code (``withExclusiveControl``).

        An async context manager; ``deadline`` is a ``time.monotonic()`` value, one in
        the past means "try once". Extensions get the same lock from ``orchestrator.sdk``.
        """
        from orchestrator.storage.lock import exclusive_control

        return exclusive_control(self.state_dir, self._ctx.loaded(app_id).app.app_group, deadline)

    def set_device(self, device: Device) -> None:
        """New device conditions: pause or resume downloads accordingly.

        Going offline stops catalog fetches and pauses every transfer; coming back
        online makes the content requests that waited meanwhile.
        """
        self._ctx.device = device
        self.network.set_online(device.network.online)
        self.queue.set_conditions(self._ctx.conditions())
        self.emit(EventKind.DEVICE_CHANGED, None, lowPowerMode=device.low_power_mode,
                  online=device.network.online, metered=device.network.metered,
                  inAppContent=device.in_app_content)
        self._requests.resume_waiting()

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
        download keeps waiting in the background, to start once the network is back. So
        they do on a disk without room for them above its reserve, even after purging
        (1031): they keep waiting for space.
        """
        tracked = self.find_download(key)
        self._refuse_while_install_paused(tracked, "promoted")
        if not self._ctx.loaded(tracked.app_id).running:
            raise BackgroundAssetsError(
                f"{tracked.app_id} is not running: only the running app may start a foreground "
                "download", ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
        if not self.device.network.online:
            raise BackgroundAssetsError(
                f"{tracked.download.id} cannot start in the foreground: the device is offline; "
                "it waits in the background and starts once the network is back",
                ErrorCode.NETWORK_ERROR)
        no_room = self._gate.foreground_refusal(tracked)
        if no_room is not None:
            raise no_room
        self.queue.promote(tracked.key)
        self._ctx.emit_download(EventKind.DOWNLOAD_STARTED, tracked, foreground=True, promoted=True)

    def pause(self, key: str) -> None:
        self.queue.pause(self.find_download(key).key)

    def resume(self, key: str) -> None:
        """Resume a download paused by request; ``download.resumed`` (or ``download.started``
        for one that never ran) follows once it transfers again, not while offline."""
        tracked = self.find_download(key)
        self._refuse_while_install_paused(tracked, "resumed")
        self.queue.resume(tracked.key)

    def _refuse_while_install_paused(self, tracked: Tracked, what: str) -> None:
        """A download of a paused install moves with its install only (1042)."""
        if tracked.paused == INSTALL_PAUSED or self._ctx.loaded(tracked.app_id).install_paused:
            raise BackgroundAssetsError(
                f"{tracked.download.id} cannot be {what} on its own: the install of "
                f"{tracked.app_id} is paused; resume-install it", ErrorCode.INSTALL_PAUSED)

    def is_running(self, key: str) -> bool:
        """Whether a download (by key or id) is transferring now."""
        return self.queue.is_running(self.find_download(key).key)

    def cancel(self, key: str) -> None:
        tracked = self.find_download(key)
        if not self.queue.cancel(tracked.key):
            loaded = self._ctx.loaded(tracked.app_id)
            error = DownloadError("cancelled before it started", ErrorCode.CANCELLED)

            async def report() -> None:
                await self._handover.failed(loaded, tracked, error)
                self._tracking.check_launchable(loaded)

            self._ctx.in_background(report())

    def runtime_today(self, app_id: str) -> tuple[float, float]:
        """Seconds of extension runtime the app spent today, and today's allotment."""
        return self._runtime.today(app_id)

    def purge(self, bytes_to_free: int | None = None, *, app_id: str | None = None) -> int:
        """Evict purgeable files (apps not running first, least recently used first).

        Frees at least ``bytes_to_free`` when possible (all purgeable files when
        None), of app ``app_id`` only when given; returns the bytes freed. The next
        periodic run fetches them again.
        """
        return self._recovery.purge(bytes_to_free, app_id=app_id)

    def settled(self, app_id: str, until: str = "essential") -> bool:
        """Whether :meth:`wait` with ``until`` would return now (an app not installed is).

        ``idle`` is ``all`` for a caller that cannot make room on the disk: it is also
        over once every download left waits for space.
        """
        loaded = self.apps.get(app_id)
        if loaded is None:
            return True
        if until == "essential":
            return loaded.launchable
        if not loaded.unplanned and self.queue.pending[app_id] == 0 \
                and not self._handover.retrying(app_id):
            return True
        return until == "idle" and self.waiting_for_space(app_id)

    def waiting_for_space(self, app_id: str) -> bool:
        """Whether the app's install is planned, something of it is pending and every
        pending download waits for disk space: only more room makes it move."""
        loaded = self.apps.get(app_id)
        if loaded is None or loaded.unplanned or self.queue.pending[app_id] == 0:
            return False
        return len(self._gate.waiting(app_id)) == self.queue.pending[app_id]

    async def wait(self, app_id: str, until: str = "essential",
                   timeout: float | None = None) -> None:
        """Wait until the app is launchable (``essential``), or its install is planned and
        nothing is pending (``all``), or nothing pending can move without more room on the
        disk (``idle``)."""
        async def settled() -> None:
            while True:
                self._ctx.changed.clear()
                if self.settled(app_id, until):
                    return
                await self._ctx.changed.wait()

        await asyncio.wait_for(settled(), timeout)
