"""Content requests: fetch the catalog, run the extension under its budget, schedule the plan."""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import replace
from pathlib import Path

import orchestrator.storage.containers as containers
from orchestrator.errors import (
    BackgroundAssetsError,
    DiskFullError,
    ErrorCode,
    JournalError,
    WentOffline,
    disk_full,
)
from orchestrator.events import EventKind
from orchestrator.journal import AppRecord
from orchestrator.model.app import App
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.model.extension import Extension
from orchestrator.model.plan import AppExtensionInfo, Plan
from orchestrator.scheduler.checks import PlanContext, check_plan, event_refusal
from orchestrator.scheduler.planning import rules_plan
from orchestrator.scheduler.rules import PresentFile
from orchestrator.service.apps import LoadedApp
from orchestrator.service.catalogs import CATALOG_ID, FetchedCatalog, fetch_catalog
from orchestrator.service.context import JOURNAL_SPACE, ServiceContext, free_bytes
from orchestrator.service.network import outranks
from orchestrator.service.packs import Packs
from orchestrator.service.progress import InstallProgress
from orchestrator.service.runtime import ExtensionRuntime
from orchestrator.service.tracking import Tracking

CATALOG_FAILED = "catalog-failed"


class RequestOutcome(enum.Enum):
    """What became of one content request, as its caller must know it.

    ``MADE``: made, whether planned, refused or failed. ``WAITING``: it waits for the
    network and is made by whoever brings the network back, perhaps already (a device
    back online while the fetch was being stopped), or for disk space and is made once
    space is back: the caller must leave it alone.
    """

    MADE = "made"
    WAITING = "waiting"


class ContentRequests:
    """Makes an app's content requests: the catalog, the extension, the plan.

    While the device is offline no catalog is fetched: a content request then waits
    (in the context's :class:`NetworkWaits`) and is made once the device is online
    again; one a full disk stopped waits until space is back.
    """

    def __init__(self, ctx: ServiceContext, tracking: Tracking,
                 runtime: ExtensionRuntime, packs: Packs) -> None:
        self.ctx, self.tracking, self.runtime, self.packs = ctx, tracking, runtime, packs
        # The content request of each app a full disk stopped, made again once space is back.
        self._space_waits: dict[str, tuple[LoadedApp, ContentRequest]] = {}
        # The install or update request of each app being made now, which a cancel stops.
        self._installing: dict[str, asyncio.Task[RequestOutcome]] = {}

    # Content requests ------------------------------------------------------------

    async def content_request(self, loaded: LoadedApp,
                              request: ContentRequest) -> RequestOutcome:
        """Make ``request``: refusal and allotment checks, then (online) the catalog, the
        extension and the plan.

        The request is pending in the journal from its start until it is made, so that
        a restart makes it again; a pending install or update is not replaced by a
        periodic request. A journal the full disk cannot write raises its
        :class:`JournalError` after the request was put aside for when space is back.
        The request is busy work on the clock from start to end.
        """
        with self.ctx.clock.busy():
            return await self._content_request(loaded, request)

    async def _content_request(self, loaded: LoadedApp,
                               request: ContentRequest) -> RequestOutcome:
        app_id = loaded.app.id
        record = self.ctx.journal.app(app_id)
        assert record is not None
        try:
            if request == ContentRequest.PERIODIC:  # the periodic runs follow the latest one
                self.ctx.journal.record_periodic(app_id, self.ctx.clock.time())
            if record.pending_request != request and outranks(request, record.pending_request):
                self.ctx.journal.set_pending_request(app_id, request)
            outcome = await self._try_request(loaded, request, record)
            if outcome == RequestOutcome.MADE:
                # An install or update whose catalog failed: installing again retries it;
                # the app stays usable meanwhile, as in the framework.
                failed = loaded.catalog_failed and request != ContentRequest.PERIODIC
                self.ctx.journal.request_made(app_id, request,
                                              state=CATALOG_FAILED if failed else None)
        except JournalError as error:
            if not disk_full(error):
                raise
            self._wait_for_space(loaded, request, error)
            raise
        return outcome

    async def _try_request(self, loaded: LoadedApp, request: ContentRequest,
                           record: AppRecord) -> RequestOutcome:
        app = loaded.app
        context = PlanContext(
            app, request, self.ctx.device, launched=loaded.launched,
            download_bytes_used=record.download_bytes_used,
            essential_bytes_used=record.essential_bytes_used,
            scheduled_ids=frozenset(t.download.id for t in self.tracking.pending(app.id)),
            space=self.ctx.space(),
        )
        refusal = event_refusal(context)
        if refusal is not None:
            self.ctx.emit(EventKind.EVENT_REFUSED, app.id, request=request.name.lower(),
                          **refusal.as_dict())
            return RequestOutcome.MADE
        if not self.runtime.within_allotment(loaded):
            return RequestOutcome.MADE
        if not self.ctx.network.online:
            self._wait_for_network(loaded, request)
            return RequestOutcome.WAITING
        try:
            fetched = await self._fetch_catalog(loaded, context)
        except WentOffline:
            self._wait_for_network(loaded, request)
            return RequestOutcome.WAITING
        except DiskFullError as error:
            self._wait_for_space(loaded, request, error)
            return RequestOutcome.WAITING
        loaded.catalog_failed = fetched is None
        if fetched is not None:
            await self._plan(loaded, context, fetched)
        return RequestOutcome.MADE

    async def _plan(self, loaded: LoadedApp, context: PlanContext,
                    fetched: FetchedCatalog) -> None:
        """The extension's downloads for the fetched catalog, checked and scheduled.

        A declarative extension's plan is :func:`rules_plan`'s, the one ``bgassets plan``
        prints; a handler's downloads go through the same checks.
        """
        app = loaded.app
        remaining = None if loaded.launched else max(
            0, app.restrictions.download_allowance - context.download_bytes_used - fetched.size)
        packs, pack_catalog_bytes = await self.packs.downloads_for(loaded, context.request,
                                                                   remaining)
        context = replace(context, catalog_bytes=fetched.size + pack_catalog_bytes)
        runner = self.runtime.runner(loaded)
        started = time.monotonic()
        try:
            if runner is None:
                plan = rules_plan(loaded.extension, fetched.catalog, self._now(context),
                                  self._present(app), extra=packs)
                self.ctx.journal.add_runtime(app.id, self.ctx.day(), time.monotonic() - started)
            else:
                downloads, outcome = await runner.downloads(
                    context.request, fetched.path,
                    self._extension_info(loaded, context, fetched.size),
                    budget=self.runtime.left(loaded), catalog_url=app.manifest_url)
                self.runtime.charge(loaded, "downloads", outcome)
                plan = check_plan(self._now(context), [*downloads, *packs])
        finally:
            containers.discard(fetched.path)
        self._schedule(loaded, plan)

    def _now(self, context: PlanContext) -> PlanContext:
        """``context`` with the downloads scheduled now: while the catalog was fetched and
        the extension answered, a failed download may have been scheduled again."""
        return replace(context, scheduled_ids=frozenset(
            t.download.id for t in self.tracking.pending(context.app.id)))

    async def begin_install(self, app: App, extension: Extension, manifest: Path,
                            request: ContentRequest) -> None:
        """Record the app as installing, load it, and make its install or update request."""
        ctx = self.ctx
        container = ctx.layout.container(app.app_group)
        try:
            containers.ensure_container(container)  # before any record
        except OSError as error:
            raise BackgroundAssetsError(f"{container}: cannot make the app's container: "
                                        f"{error.strerror or error}", ErrorCode.DISK_ERROR) \
                from error
        known = ctx.journal.app(app.id)
        ctx.journal.put_app(app.id, version=app.version, app_group=app.app_group,
                            manifest_path=str(manifest.resolve()), state="installing",
                            pending_request=request, at=ctx.clock.time())
        loaded = LoadedApp(app, extension, manifest, launched=bool(known and known.launched),
                           unplanned=True)
        loaded.progress = InstallProgress(app.size, app.restrictions.essential_download_allowance)
        ctx.apps[app.id] = loaded
        ctx.queue.set_conditions(ctx.conditions())  # the app's network policy
        ctx.emit(EventKind.APP_INSTALLED, app.id, version=app.version,
                 request=request.name.lower())
        ctx.emit_progress(loaded, force=True)
        await self._planned_install(loaded, request)

    async def _planned_install(self, loaded: LoadedApp, request: ContentRequest) -> None:
        """The install or update content request, then the launch gate.

        The app is unplanned, so not launchable, from the start of the request until it
        has been made. Offline, or on a full disk, the request waits and the call that
        makes it later opens the gate. :meth:`stop` ends it (1040 ``cancelled``).
        """
        loaded.unplanned = True
        outcome: RequestOutcome | None = None
        app_id = loaded.app.id
        made = asyncio.ensure_future(self.content_request(loaded, request))
        self._installing[app_id] = made
        try:
            outcome = await made
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not made.cancelled() or (current is not None and current.cancelling()):
                raise  # this caller is cancelled, not the request alone
            raise BackgroundAssetsError(
                f"the install of {app_id} was cancelled before its downloads were planned "
                "(cancel-install or uninstall)", ErrorCode.CANCELLED) from None
        finally:
            if self._installing.get(app_id) is made:
                del self._installing[app_id]
            if outcome == RequestOutcome.MADE:
                loaded.unplanned = False
            self.ctx.changed.set()
        if outcome == RequestOutcome.WAITING:
            return
        self.tracking.check_launchable(loaded)

    async def stop(self, app_id: str) -> None:
        """Stop the install or update request of ``app_id`` being made, if one is: its
        catalog fetch ends, its handler process is killed, nothing of it is planned."""
        made = self._installing.get(app_id)
        if made is not None and not made.done():
            made.cancel()
            await asyncio.wait([made])

    # Waiting for the network -----------------------------------------------------

    def _wait_for_network(self, loaded: LoadedApp, request: ContentRequest) -> None:
        """Offline: keep the request and make it once the device is online again."""
        self.ctx.network.keep(loaded.app.id, request)
        self.ctx.emit(EventKind.REQUEST_WAITING, loaded.app.id, request=request.name.lower(),
                      reason="offline: the catalog is fetched once the network is back")
        self.resume_waiting()  # back online already while the fetch was being stopped

    def resume_waiting(self) -> None:
        """Online: make every request that waited for the network, each in its own task."""
        for app_id, request in self.ctx.network.take().items():
            loaded = self.ctx.apps.get(app_id)
            if loaded is not None:
                self.ctx.in_background(self._make_request(loaded, request))

    async def _make_request(self, loaded: LoadedApp, request: ContentRequest) -> None:
        if self.ctx.apps.get(loaded.app.id) is not loaded:
            return  # uninstalled or installed again meanwhile
        # A full disk was reported (request.waiting) and the request put aside again; a
        # cancel meant it to end.
        try:
            if request == ContentRequest.PERIODIC:
                await self.content_request(loaded, request)
            else:
                await self._planned_install(loaded, request)
        except JournalError:
            pass
        except BackgroundAssetsError as error:
            if error.code != ErrorCode.CANCELLED:
                raise

    # Waiting for space -----------------------------------------------------------

    def _wait_for_space(self, loaded: LoadedApp, request: ContentRequest,
                        error: BackgroundAssetsError) -> None:
        """A full disk stopped ``request``: make it again once space is back.

        Space is back when more is free than when it failed (what a catalog needs is not
        known before it is fetched), checked every ``disk_retry_interval`` seconds. One
        request waits per app (see :func:`outranks`); the journal still has it pending if
        it could write that, so a restart makes it too.
        """
        app_id = loaded.app.id
        waiting = self._space_waits.get(app_id)
        if waiting is not None and waiting[0] is loaded:
            if outranks(request, waiting[1]):
                self._space_waits[app_id] = (loaded, request)
        else:  # none yet, or one of the app as it was before an update: that one ends
            self._space_waits[app_id] = (loaded, request)
            needed = free_bytes(self.ctx.state_dir) + JOURNAL_SPACE
            self.ctx.in_background(self._request_when_space(loaded, needed))
        self.ctx.emit(EventKind.REQUEST_WAITING, app_id, request=request.name.lower(),
                      reason="the disk is full: the request is made again once space is back",
                      **error.as_dict())

    async def _request_when_space(self, loaded: LoadedApp, needed: int) -> None:
        app_id = loaded.app.id
        back = False
        try:
            back = await self.ctx.space_back(needed, lambda: self.ctx.apps.get(app_id) is loaded)
        finally:
            waiting = self._space_waits.get(app_id)
            if waiting is not None and waiting[0] is loaded:
                del self._space_waits[app_id]
            else:
                waiting = None
        if back and waiting is not None:
            await self._make_request(loaded, waiting[1])

    def _extension_info(self, loaded: LoadedApp, context: PlanContext,
                        catalog_bytes: int) -> AppExtensionInfo:
        if loaded.launched:
            return AppExtensionInfo(None, None)
        restrictions = loaded.app.restrictions
        return AppExtensionInfo(
            max(0, restrictions.download_allowance - context.download_bytes_used - catalog_bytes),
            max(0, restrictions.essential_download_allowance - context.essential_bytes_used))

    async def _fetch_catalog(self, loaded: LoadedApp,
                             context: PlanContext) -> FetchedCatalog | None:
        app = loaded.app
        remaining = None if loaded.launched else max(
            0, app.restrictions.download_allowance - context.download_bytes_used)
        try:
            # The fetch is the engine's busy download; its waits between tries are not.
            with self.ctx.clock.idle():
                fetched = await self.ctx.network.while_online(fetch_catalog(
                    self.ctx.engine, self.ctx.layout, app,
                    launched=loaded.launched, allowance_remaining=remaining,
                    limits=self.ctx.catalog_limits))
        except BackgroundAssetsError as error:
            self.ctx.emit(EventKind.DOWNLOAD_FAILED, app.id, download=CATALOG_ID, essential=False,
                          bytes=0, total=None, **error.as_dict())
            if isinstance(error, DiskFullError):
                raise  # fetched again once space is back: nobody else is told
            await self._catalog_failed(loaded, error)
            return None
        if not loaded.launched:
            self.ctx.journal.add_allowance_usage(app.id, download_bytes=fetched.size)
        self.ctx.emit(EventKind.CATALOG_FETCHED, app.id, download=CATALOG_ID, essential=False,
                      bytes=fetched.size, total=fetched.size, assets=len(fetched.catalog.assets))
        info = {"restrictedDownloadSizeRemaining": None if remaining is None
                else max(0, remaining - fetched.size),
                "restrictedEssentialDownloadSizeRemaining": None if loaded.launched else max(
                    0, app.restrictions.essential_download_allowance
                    - context.essential_bytes_used)}
        self.ctx.emit(EventKind.EXTENSION_REQUEST, app.id, request=context.request.name.lower(),
                      catalog=str(fetched.path), **info)
        return fetched

    async def _catalog_failed(self, loaded: LoadedApp, error: BackgroundAssetsError) -> None:
        """A handler hears of the catalog's failure as a failed download of the manifest."""
        runner = self.runtime.runner(loaded)
        if runner is None:
            return
        app = loaded.app
        manifest = Download(id=CATALOG_ID, url=app.manifest_url, app_group=app.app_group)
        retries, outcome = await runner.failed(manifest, error,
                                               budget=self.runtime.left(loaded))
        self.runtime.charge(loaded, "failed", outcome)
        self.tracking.reschedule(loaded, retries, error)

    def _present(self, app: App) -> dict[str, PresentFile]:
        container = self.ctx.layout.container(app.app_group)
        present = {}
        for record in self.ctx.journal.downloads(app.id, {DownloadState.FINISHED}):
            download = record.download
            if not record.delivered:
                continue
            found = containers.confined_stat(
                containers.container_path(container, download.destination))
            if found is not None and download.size in (None, found.st_size):
                present[download.destination] = PresentFile(found.st_size, download.sha256)
        return present

    def _schedule(self, loaded: LoadedApp, plan: Plan) -> None:
        app = loaded.app
        for rejection in plan.rejections:
            self.ctx.emit(EventKind.PLAN_REJECTED, app.id, **rejection.as_dict())
        usage, counted = plan.allowances, {}
        if usage.restricted:
            record = self.ctx.journal.app(app.id)
            assert record is not None
            counted = {"download_bytes": usage.download_bytes - record.download_bytes_used,
                       "essential_bytes": usage.essential_bytes - record.essential_bytes_used}
        self.ctx.journal.add_downloads(app.id, list(plan.accepted), at=self.ctx.clock.time(),
                                       **counted)
        for download in plan.accepted:
            tracked = self.tracking.track(loaded, download)
            self.ctx.emit_download(EventKind.DOWNLOAD_SCHEDULED, tracked,
                                   priority=download.priority)
        if loaded.progress is not None and plan.request != ContentRequest.PERIODIC:
            essential_total = sum(d.size or 0 for d in plan.essential)
            loaded.progress = loaded.progress.answered(essential_total)
            self.ctx.emit_progress(loaded, force=True)
