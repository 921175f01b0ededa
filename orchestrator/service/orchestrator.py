"""The orchestrator: app lifecycle, content requests and callbacks over the journal and engine.

It wires the layers: manifests are loaded by ``orchestrator.manifests``, plans
are decided by ``orchestrator.scheduler``, files move through
``orchestrator.engine``, everything durable goes to ``orchestrator.journal``,
and everything that happens is published on ``self.events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from orchestrator import events as ev
from orchestrator.engine import DownloadResult, Engine
from orchestrator.errors import BackgroundAssetsError, DownloadError, ErrorCode
from orchestrator.events import Event, EventBus
from orchestrator.journal import Journal
from orchestrator.manifests import load_app
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.model.extension import EssentialFailure, Extension
from orchestrator.model.plan import Plan
from orchestrator.scheduler.budget import daily_allotment, next_periodic_run
from orchestrator.scheduler.checks import PlanContext, check_plan, event_refusal
from orchestrator.scheduler.queue import Conditions
from orchestrator.scheduler.rules import PresentFile, decide_downloads
from orchestrator.service import containers
from orchestrator.service.catalogs import CATALOG_ID, FetchedCatalog, fetch_catalog
from orchestrator.service.downloads import DownloadQueue, Tracked
from orchestrator.service.progress import InstallProgress

PROGRESS_INTERVAL = 0.1


class AppDelegate(Protocol):
    """What a connected app registers to receive callbacks instead of its extension."""

    def finished(self, download: Download, path: Path) -> None: ...

    def failed(self, download: Download, error: BackgroundAssetsError) -> None: ...


@dataclass
class LoadedApp:
    """An installed app in memory: its manifests and what this process knows of it."""

    app: App
    extension: Extension
    manifest: Path
    launched: bool = False
    running: bool = False
    delegate: AppDelegate | None = None
    progress: InstallProgress | None = None
    launchable: bool = False
    last_progress_event: float = 0.0
    essential_done: int = 0


class Orchestrator:
    """The system service of the seed talk, for one state dir.

    Use as an async context manager. ``clock`` gives wall time for the journal
    and the budget formulas; tests pass their own.
    """

    def __init__(self, state_dir: str | Path, *, device: Device | None = None,
                 engine: Engine | None = None, clock: Callable[[], float] = time.time,
                 bypass_allotment: bool = False, max_active: int = 8, max_per_host: int = 6,
                 connections: int | None = None) -> None:
        self.state_dir = Path(state_dir)
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
        self.journal: Journal
        self.queue: DownloadQueue

    async def __aenter__(self) -> Orchestrator:
        self.journal = Journal.in_state_dir(self.state_dir)
        if self._engine is None:
            self._engine = Engine(state_store=self.journal)
            await self._engine.__aenter__()
        self.queue = DownloadQueue(
            self._engine, on_started=self._download_started, on_progress=self._download_progress,
            on_paused=self._download_paused, on_ended=self._download_ended,
            **self._queue_options,  # type: ignore[arg-type]
        )
        self.queue.set_conditions(self._conditions())
        await self._recover()
        self.queue.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.stop()
        if self._own_engine and self._engine is not None:
            await self._engine.__aexit__(None, None, None)
        self.journal.close()

    # Events ------------------------------------------------------------------

    def emit(self, kind: str, app: str | None, /, **data: Any) -> None:
        self.events.publish(Event(self.clock(), kind, app, data))
        self._changed.set()

    def _download_event(self, kind: str, tracked: Tracked, /, **data: Any) -> None:
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
        if known is not None and known.version == app.version and app.id in self.apps:
            # Installed already: what was pending resumed when the journal was recovered.
            return app.id
        request = ContentRequest.INSTALL if known is None else ContentRequest.UPDATE
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
        known = self.journal.app(app.id)
        self.journal.put_app(app.id, version=app.version, app_group=app.app_group,
                             manifest_path=str(manifest.resolve()), state="installing",
                             at=self.clock())
        # An install or update is the app's latest content request: periodic ones follow it.
        self.journal.record_periodic(app.id, self.clock())
        loaded = LoadedApp(app, extension, manifest, launched=bool(known and known.launched))
        loaded.progress = InstallProgress(app.size, app.restrictions.essential_download_allowance)
        self.apps[app.id] = loaded
        self.layout.container(app.app_group).mkdir(parents=True, exist_ok=True)
        self.emit(ev.APP_INSTALLED, app.id, version=app.version, request=request.name.lower())
        self._emit_progress(loaded, force=True)
        await self._content_request(loaded, request)
        self._check_launchable(loaded)

    async def periodic(self, app_id: str) -> None:
        """A ``periodic`` content request, as the scheduler would send when it is due."""
        loaded = self._loaded(app_id)
        self.journal.record_periodic(app_id, self.clock())
        await self._content_request(loaded, ContentRequest.PERIODIC)

    def due_periodic(self) -> list[str]:
        """Apps whose periodic run is due now (see README's formula)."""
        now, due = self.clock(), []
        for app_id in self.apps:
            record = self.journal.app(app_id)
            if record is None:
                continue
            when = next_periodic_run(app_id, self.device, self.journal.launches(app_id),
                                     record.last_periodic_at, now)
            if when is not None and when <= now:
                due.append(app_id)
        return due

    async def periodic_loop(self, every: float = 60.0) -> None:
        """Send ``periodic`` to each app when it is due, checking every ``every`` seconds."""
        while True:
            for app_id in self.due_periodic():
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
            raise BackgroundAssetsError(
                f"{app_id} is not launchable yet: its install has not been planned (the "
                "catalog is being fetched or the extension has not answered)",
                ErrorCode.APP_NOT_LAUNCHABLE)
        self.journal.record_launch(app_id, self.clock())
        loaded.launched = loaded.running = True
        loaded.delegate = delegate
        self.journal.set_app_state(app_id, "launched")
        self.emit(ev.APP_LAUNCHED, app_id)

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
        containers.remove_tree(self.layout.container(group))
        containers.remove_tree(self.layout.staging / group)
        self.journal.remove_app(app_id)
        del self.apps[app_id]
        self.emit(ev.APP_UNINSTALLED, app_id)

    def set_device(self, device: Device) -> None:
        """New device conditions: pause or resume downloads accordingly."""
        self.device = device
        self.queue.set_conditions(self._conditions())
        self.emit(ev.DEVICE_CHANGED, None, lowPowerMode=device.low_power_mode,
                  online=device.network.online, metered=device.network.metered,
                  inAppContent=device.in_app_content)

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

    # Content requests ------------------------------------------------------------

    async def _content_request(self, loaded: LoadedApp, request: ContentRequest) -> None:
        app = loaded.app
        record = self.journal.app(app.id)
        assert record is not None
        context = PlanContext(
            app, request, self.device, launched=loaded.launched,
            download_bytes_used=record.download_bytes_used,
            essential_bytes_used=record.essential_bytes_used,
            scheduled_ids=frozenset(t.download.id for t in self._pending(app.id)),
        )
        refusal = event_refusal(context)
        if refusal is not None:
            self.emit(ev.EVENT_REFUSED, app.id, request=request.name.lower(),
                      **refusal.as_dict())
            return
        if not self._within_allotment(loaded):
            return
        fetched = await self._fetch_catalog(loaded, context)
        if fetched is None:
            return
        started = time.monotonic()
        try:
            downloads = decide_downloads(loaded.extension, fetched.catalog, request,
                                         self._present(app))
        finally:
            containers.discard(fetched.path)
            self.journal.add_runtime(app.id, self._day(), time.monotonic() - started)
        plan = check_plan(replace(context, catalog_bytes=fetched.size), downloads)
        self._schedule(loaded, plan)

    def _within_allotment(self, loaded: LoadedApp) -> bool:
        if self.bypass_allotment:
            return True
        app_id = loaded.app.id
        allotment = daily_allotment(self.device.daily_allotment_seconds,
                                    self.journal.launches(app_id), self.clock())
        spent = self.journal.runtime_spent(app_id, self._day())
        if spent < allotment:
            return True
        self.emit(ev.EXTENSION_TERMINATED, app_id, reason="daily runtime allotment exhausted",
                  spent=round(spent, 3), allotment=allotment)
        return False

    async def _fetch_catalog(self, loaded: LoadedApp,
                             context: PlanContext) -> FetchedCatalog | None:
        app = loaded.app
        remaining = None if loaded.launched else max(
            0, app.restrictions.download_allowance - context.download_bytes_used)
        try:
            fetched = await fetch_catalog(self._engine, self.layout, app,  # type: ignore[arg-type]
                                          launched=loaded.launched,
                                          allowance_remaining=remaining)
        except BackgroundAssetsError as error:
            self.emit(ev.DOWNLOAD_FAILED, app.id, download=CATALOG_ID, essential=False,
                      bytes=0, total=None, **error.as_dict())
            return None
        if not loaded.launched:
            self.journal.add_allowance_usage(app.id, download_bytes=fetched.size)
        self.emit(ev.CATALOG_FETCHED, app.id, download=CATALOG_ID, essential=False,
                  bytes=fetched.size, total=fetched.size, assets=len(fetched.catalog.assets))
        info = {"restrictedDownloadSizeRemaining": None if remaining is None
                else max(0, remaining - fetched.size),
                "restrictedEssentialDownloadSizeRemaining": None if loaded.launched else max(
                    0, app.restrictions.essential_download_allowance
                    - context.essential_bytes_used)}
        self.emit(ev.EXTENSION_REQUEST, app.id, request=context.request.name.lower(),
                  catalog=str(fetched.path), **info)
        return fetched

    def _present(self, app: App) -> dict[str, PresentFile]:
        container = self.layout.container(app.app_group)
        present = {}
        for record in self.journal.downloads(app.id, {DownloadState.FINISHED}):
            download = record.download
            if not record.delivered:
                continue
            path = container / download.destination
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                if download.size is None or size == download.size:
                    present[download.destination] = PresentFile(size, download.sha256)
        return present

    def _schedule(self, loaded: LoadedApp, plan: Plan) -> None:
        app = loaded.app
        for rejection in plan.rejections:
            self.emit(ev.PLAN_REJECTED, app.id, **rejection.as_dict())
        usage = plan.allowances
        if usage.restricted:
            record = self.journal.app(app.id)
            assert record is not None
            self.journal.add_allowance_usage(
                app.id,
                download_bytes=usage.download_bytes - record.download_bytes_used,
                essential_bytes=usage.essential_bytes - record.essential_bytes_used)
        self.journal.add_downloads(app.id, list(plan.accepted), at=self.clock())
        for download in plan.accepted:
            tracked = self._track(loaded, download)
            self._download_event(ev.DOWNLOAD_SCHEDULED, tracked, priority=download.priority)
        if loaded.progress is not None and plan.request != ContentRequest.PERIODIC:
            essential_total = sum(d.size or 0 for d in plan.essential)
            loaded.progress = loaded.progress.answered(essential_total)
            self._emit_progress(loaded, force=True)

    def _track(self, loaded: LoadedApp, download: Download, exact_size: bool = True) -> Tracked:
        app = loaded.app
        ephemeral = self.layout.ephemeral_path(app.app_group, download.id, download.url)
        allowed = None if loaded.launched else app.restrictions.domain_allow_list
        tracked = Tracked(download, app.id, 0, ephemeral, allowed, exact_size)
        self.queue.add(tracked)
        return tracked

    @staticmethod
    def _day_of(ts: float) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(ts))

    def _day(self) -> str:
        return self._day_of(self.clock())

    # Download callbacks ------------------------------------------------------------

    def _download_started(self, tracked: Tracked) -> None:
        self.journal.defer_download_state(tracked.key, DownloadState.DOWNLOADING, reason="started",
                                          from_state=DownloadState.WAITING, at=self.clock())
        self._download_event(ev.DOWNLOAD_STARTED, tracked, foreground=tracked.foreground)

    def _download_progress(self, tracked: Tracked) -> None:
        self._download_event(ev.DOWNLOAD_PROGRESS, tracked, speed=round(tracked.speed))
        loaded = self.apps.get(tracked.app_id)
        if loaded is not None and loaded.progress is not None and tracked.download.essential:
            moving = sum(t.bytes for t in self.queue.running.values()
                         if t.app_id == tracked.app_id and t.download.essential)
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.essential_done + moving)
            self._emit_progress(loaded)

    def _download_paused(self, tracked: Tracked, reason: str) -> None:
        self._download_event(ev.DOWNLOAD_PAUSED, tracked, reason=reason)

    async def _download_ended(self, tracked: Tracked, result: DownloadResult) -> None:
        loaded = self.apps.get(tracked.app_id)
        if loaded is None:
            return
        if result.error is None:
            tracked.bytes = result.size
            self._deliver(loaded, tracked, result.path or tracked.ephemeral)
        else:
            self._failed(loaded, tracked, result.error)
        self._check_launchable(loaded)
        self._changed.set()

    def _deliver(self, loaded: LoadedApp, tracked: Tracked, path: Path) -> None:
        """Hand the finished file over: the running app's delegate, else the extension."""
        download = tracked.download
        container = self.layout.container(loaded.app.app_group)
        final: Path | None = None
        try:
            if loaded.running and loaded.delegate is not None:
                loaded.delegate.finished(download, path)
            else:
                final = containers.move_into(path, container, download.destination)
        except BackgroundAssetsError as error:
            containers.discard(path)
            self._failed(loaded, tracked, error)
            return
        if final is None:
            containers.discard(path)  # whatever the delegate did not move
        self.journal.set_download_state(tracked.key, DownloadState.FINISHED, reason="finished",
                                        bytes_on_disk=tracked.bytes, delivered=True,
                                        from_state=DownloadState.DOWNLOADING, at=self.clock())
        if download.essential:
            loaded.essential_done += tracked.bytes
            if loaded.progress is not None:
                loaded.progress = replace(loaded.progress, essential_done=loaded.essential_done)
                self._emit_progress(loaded, force=True)
        self._download_event(ev.DOWNLOAD_FINISHED, tracked, sha256=download.sha256,
                             path=str(final) if final else None,
                             purgeable=containers.is_purgeable(download.destination))

    def _failed(self, loaded: LoadedApp, tracked: Tracked, error: BackgroundAssetsError) -> None:
        download = tracked.download
        self.journal.set_download_state(
            tracked.key, DownloadState.FAILED, reason=error.code.title,
            error_code=int(error.code), error_message=error.message, at=self.clock())
        self._download_event(ev.DOWNLOAD_FAILED, tracked, **error.as_dict())
        if loaded.running and loaded.delegate is not None:
            loaded.delegate.failed(download, error)
            return
        policy = loaded.extension.on_failure
        cancelled = error.code == ErrorCode.CANCELLED
        reenqueue = policy.essential is EssentialFailure.REENQUEUE_NONESSENTIAL
        if download.essential and reenqueue and not cancelled:
            copy = download.removing_essential()
            # An essential size must be exact; the non-essential copy trusts the server's.
            exact = error.code != ErrorCode.SIZE_MISMATCH
            self.journal.add_downloads(loaded.app.id, [copy], at=self.clock())
            again = self._track(loaded, copy, exact_size=exact)
            self._download_event(ev.DOWNLOAD_REENQUEUED, again, reason=error.code.title)

    def _emit_progress(self, loaded: LoadedApp, force: bool = False) -> None:
        now = time.monotonic()
        if loaded.progress is None or (
                not force and now - loaded.last_progress_event < PROGRESS_INTERVAL):
            return
        loaded.last_progress_event = now
        progress = loaded.progress
        self.emit(ev.APP_PROGRESS, loaded.app.id, fraction=round(progress.fraction, 4),
                  bytes=progress.done, total=progress.total, phases=progress.phases(),
                  refined=progress.refined)

    def _check_launchable(self, loaded: LoadedApp) -> None:
        if loaded.launchable or self.queue.pending_essential[loaded.app.id] > 0:
            return
        if loaded.progress is not None and not loaded.progress.step_done:
            loaded.progress = loaded.progress.answered(loaded.progress.essential_done)
        loaded.launchable = True
        if loaded.progress is not None:
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.progress.essential_total)
            self._emit_progress(loaded, force=True)
        self.journal.set_app_state(loaded.app.id, "launched" if loaded.launched else "launchable")
        self.emit(ev.APP_LAUNCHABLE, loaded.app.id)

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
        """Foreground promotion, allowed to the running app only."""
        tracked = self.find_download(key)
        if not self._loaded(tracked.app_id).running:
            raise BackgroundAssetsError(
                f"{tracked.app_id} is not running: only the running app may start a foreground "
                "download", ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
        self.queue.promote(tracked.key)
        self._download_event(ev.DOWNLOAD_STARTED, tracked, foreground=True, promoted=True)

    def pause(self, key: str) -> None:
        self.queue.pause(self.find_download(key).key)

    def resume(self, key: str) -> None:
        self.queue.resume(self.find_download(key).key)

    def cancel(self, key: str) -> None:
        tracked = self.find_download(key)
        if not self.queue.cancel(tracked.key):
            loaded = self._loaded(tracked.app_id)
            error = DownloadError("cancelled before it started", ErrorCode.CANCELLED)
            self._failed(loaded, tracked, error)
            self._check_launchable(loaded)

    async def wait(self, app_id: str, until: str = "essential",
                   timeout: float | None = None) -> None:
        """Wait until the app is launchable (``essential``) or nothing is pending (``all``)."""
        async def settled() -> None:
            while True:
                self._changed.clear()
                loaded = self.apps.get(app_id)
                if loaded is None or (loaded.launchable if until == "essential"
                                      else self.queue.pending[app_id] == 0):
                    return
                await self._changed.wait()

        await asyncio.wait_for(settled(), timeout)

    # Recovery and purge ----------------------------------------------------------------

    async def _recover(self) -> None:
        """After a restart: resume in-flight downloads, hand over finished ones, drop orphans."""
        for record in self.journal.apps():
            try:
                app, extension = load_app(Path(record.manifest_path))
            except BackgroundAssetsError as error:
                self.emit(ev.EVENT_REFUSED, record.id, request="recover", **error.as_dict())
                continue
            loaded = LoadedApp(app, extension, Path(record.manifest_path),
                               launched=record.launched)
            self.apps[app.id] = loaded
            self._recover_downloads(loaded)
            essential = [t for t in self._pending(app.id, essential=True)]
            if record.state == "installing" and essential:
                total = sum(t.download.size or 0 for t in essential)
                loaded.progress = InstallProgress(app.size, total, step_done=True, refined=True)
            loaded.launchable = not essential
        self._remove_orphans()

    def _recover_downloads(self, loaded: LoadedApp) -> None:
        active = {DownloadState.CREATED, DownloadState.WAITING, DownloadState.DOWNLOADING}
        for record in self.journal.downloads(loaded.app.id):
            download = record.download
            if download.state in active:
                self.journal.set_download_state(record.key, DownloadState.WAITING,
                                                reason="recovered", at=self.clock())
                self._track(loaded, download.with_state(DownloadState.WAITING))
            elif download.state == DownloadState.FINISHED and not record.delivered:
                tracked = Tracked(download, loaded.app.id, 0, self.layout.ephemeral_path(
                    loaded.app.app_group, download.id, download.url))
                if tracked.ephemeral.exists():
                    tracked.bytes = record.bytes_on_disk
                    self._deliver(loaded, tracked, tracked.ephemeral)
                else:
                    self.journal.add_downloads(loaded.app.id, [download], at=self.clock())
                    self._track(loaded, download.with_state(DownloadState.WAITING))

    def _remove_orphans(self) -> None:
        """Staging files that no pending download owns are left-overs of a crash."""
        owned = {t.ephemeral for t in self.queue.tracked.values()}
        if self.layout.staging.exists():
            for path in sorted(self.layout.staging.glob("*/*")):
                if path.is_file() and path.with_name(containers.staged_name(path)) not in owned:
                    containers.discard(path)
        keys = set(self.queue.tracked)
        for key in self.journal.engine_state_keys():
            if key not in keys:
                self.journal.delete(key)

    def purge(self, bytes_to_free: int | None = None) -> int:
        """Evict purgeable files (apps not running first, least recently used first).

        Frees at least ``bytes_to_free`` when possible (all purgeable files when
        None); returns the bytes freed. The next periodic run fetches them again.
        """
        candidates = []
        for app_id, loaded in self.apps.items():
            container = self.layout.container(loaded.app.app_group)
            for record in self.journal.downloads(app_id, {DownloadState.FINISHED}):
                destination = record.download.destination
                if not record.delivered or not containers.is_purgeable(destination):
                    continue
                path = container / destination
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    used = max(stat.st_atime, stat.st_mtime)
                    candidates.append((loaded.running, used, stat.st_size, path, record))
        candidates.sort(key=lambda c: (c[0], c[1]))
        freed = 0
        for _running, _used, size, path, record in candidates:
            if bytes_to_free is not None and freed >= bytes_to_free:
                break
            containers.discard(path)
            self.journal.update_download(record.key, delivered=False)
            freed += size
            self.emit(ev.ASSET_PURGED, record.app_id, download=record.download.id,
                      essential=record.download.essential, bytes=size, total=size,
                      path=str(path))
        return freed
