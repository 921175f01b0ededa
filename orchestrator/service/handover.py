"""What happens as downloads start, progress and end: handover and failure policy."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orchestrator.storage.containers as containers
from orchestrator.engine import DownloadResult
from orchestrator.engine.retry import disk_error
from orchestrator.errors import (
    BackgroundAssetsError,
    DownloadError,
    ErrorCode,
    JournalError,
    disk_full,
)
from orchestrator.events import EventKind
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.model.extension import EssentialFailure
from orchestrator.service.apps import AppDelegate, LoadedApp
from orchestrator.service.context import JOURNAL_SPACE, ServiceContext
from orchestrator.service.downloads import Tracked
from orchestrator.service.handler import HandlerRunner
from orchestrator.service.packs import Packs
from orchestrator.service.runtime import ExtensionRuntime
from orchestrator.service.tracking import Tracking

# A failed background download that the extension's ``onFailure.retries`` allows again
# is scheduled again after RETRY_BASE * 2**n seconds (n: its tries so far), at most
# RETRY_CAP. Only a transient failure (a 5xx, a reset, a timeout) is: a 404 or a refusal
# would fail the same way.
RETRY_BASE, RETRY_CAP = 30.0, 1800.0


class Handover:
    """Answers the download queue's callbacks: journals each transition, hands finished
    files to the app's delegate, its handler or its container, and applies the failure
    policy."""

    def __init__(self, ctx: ServiceContext, tracking: Tracking,
                 runtime: ExtensionRuntime, packs: Packs) -> None:
        self.ctx, self.tracking, self.runtime, self.packs = ctx, tracking, runtime, packs
        self._journal_commit: asyncio.Future[None] | None = None
        self._tries: Counter[str] = Counter()  # download key -> policy retries so far
        self._retrying: Counter[str] = Counter()  # app id -> retries waiting their turn

    def retrying(self, app_id: str) -> int:
        """How many of the app's failed downloads wait to be tried again."""
        return self._retrying[app_id]

    # Download callbacks ------------------------------------------------------------

    def started(self, tracked: Tracked) -> None:
        self.ctx.journal.defer_download_state(
            tracked.key, DownloadState.DOWNLOADING, reason="started",
            from_state=DownloadState.WAITING, at=self.ctx.clock.time())
        self.ctx.emit_download(EventKind.DOWNLOAD_STARTED, tracked, foreground=tracked.foreground)

    def progressed(self, tracked: Tracked) -> None:
        ctx = self.ctx
        ctx.emit_download(EventKind.DOWNLOAD_PROGRESS, tracked, speed=round(tracked.speed))
        loaded = ctx.apps.get(tracked.app_id)
        if loaded is not None and loaded.progress is not None and tracked.download.essential:
            moving = sum(t.bytes for t in ctx.queue.running.values()
                         if t.app_id == tracked.app_id and t.download.essential)
            loaded.progress = replace(loaded.progress,
                                      essential_done=loaded.essential_done + moving)
            ctx.emit_progress(loaded)

    def paused(self, tracked: Tracked, reason: str) -> None:
        self.ctx.emit_download(EventKind.DOWNLOAD_PAUSED, tracked, reason=reason)

    def resumed(self, tracked: Tracked) -> None:
        """A paused transfer moves again (resumed by request, or its condition lifted)."""
        self.ctx.emit_download(EventKind.DOWNLOAD_RESUMED, tracked, foreground=tracked.foreground)

    async def ended(self, tracked: Tracked, result: DownloadResult) -> None:
        loaded = self.ctx.apps.get(tracked.app_id)
        if loaded is None:
            return
        # The download still counts as pending in the queue until this returns, so the
        # launch gate and ``wait`` hold while the handler is being called back.
        try:
            if result.error is None:
                tracked.bytes = result.size
                await self.deliver(loaded, tracked, result.path or tracked.ephemeral)
            else:
                await self.failed(loaded, tracked, result.error)
        except JournalError:
            pass  # a full journal: the failure was reported, the re-enqueued copy is not made

    def settled(self, tracked: Tracked) -> None:
        """The queue no longer holds anything back for this download: re-check the gate."""
        loaded = self.ctx.apps.get(tracked.app_id)
        if loaded is not None:
            self.tracking.check_launchable(loaded)
        self.ctx.changed.set()

    # Delivery ------------------------------------------------------------------------

    async def deliver(self, loaded: LoadedApp, tracked: Tracked, path: Path) -> None:
        """Hand the finished file over: the running app's delegate, else the extension."""
        try:
            if self.packs.is_pack_download(tracked.download):
                # The system's own: into the pack store, never to a delegate or handler.
                self.packs.delivered(loaded, tracked, path)
                await self._delivered_to_journal(loaded, tracked, None)
                return
            runner = self.runtime.runner(loaded)
            delegate = loaded.delegate if loaded.running else None
            if delegate is not None:
                path = self._to_handover(loaded, tracked, path)
            elif path == tracked.direct and runner is not None:
                path = containers.move_out(path, tracked.ephemeral)
            final = await self._hand_over(loaded, tracked, path, runner, delegate)
        except (BackgroundAssetsError, OSError) as failure:
            # An OSError: the container's file system refused the file (full, another one).
            error = failure if isinstance(failure, BackgroundAssetsError) else disk_error(
                failure, self.ctx.layout.container(loaded.app.app_group)
                / tracked.download.destination)
            containers.discard(path)
            await self.failed(loaded, tracked, error)
            return
        if final is None:
            containers.discard(path)  # whatever the delegate did not move
        await self._delivered_to_journal(loaded, tracked, final)

    async def _delivered_to_journal(self, loaded: LoadedApp, tracked: Tracked,
                                    final: Path | None) -> None:
        """Journal the delivery (batched with others), then announce it."""
        self.ctx.journal.defer_download_state(
            tracked.key, DownloadState.FINISHED, reason="finished", bytes_on_disk=tracked.bytes,
            delivered=True, from_state=DownloadState.DOWNLOADING, at=self.ctx.clock.time())
        try:
            await self._journal_written()
        except JournalError as error:
            await self.failed(loaded, tracked, error)
            return
        self._delivered(loaded, tracked, final)

    def _to_handover(self, loaded: LoadedApp, tracked: Tracked, path: Path) -> Path:
        """The file at its ephemeral path inside the app group container, for the delegate
        (a rename: the staging folder is on the container's file system)."""
        folder = self.ctx.layout.handover_dir(loaded.app.app_group)
        target = folder / tracked.ephemeral.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BackgroundAssetsError(f"cannot hand over {path}: {error.strerror}",
                                        ErrorCode.DISK_ERROR) from error
        return containers.move_out(path, target)

    async def _hand_over(self, loaded: LoadedApp, tracked: Tracked, path: Path,
                         runner: HandlerRunner | None,
                         delegate: AppDelegate | None) -> Path | None:
        """Give the file to whoever takes it; where it is in the container, if it is."""
        download = tracked.download
        if path == tracked.direct:
            return path  # the engine published it at its destination already
        if delegate is not None and await self._taken(delegate, download, path):
            return None
        if runner is not None:
            outcome = await runner.finished(download, path, budget=self.runtime.left(loaded))
            self.runtime.charge(loaded, "finished", outcome)
            if not outcome.ok:  # nobody took the file: it is not delivered
                raise BackgroundAssetsError(
                    f"{download.id}: the extension's finished() ended: "
                    f"{outcome.terminated}", ErrorCode.EXTENSION_FAILED)
        else:
            container = self.ctx.layout.container(loaded.app.app_group)
            return containers.move_into(path, container, download.destination)
        return None

    @staticmethod
    async def _taken(delegate: AppDelegate, download: Download, path: Path) -> bool:
        """Whether the app's delegate returned from ``finished`` (an app in another process
        may go away first: then the extension gets the file)."""
        answer = delegate.finished(download, path)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer is not False

    def _delivered(self, loaded: LoadedApp, tracked: Tracked, final: Path | None) -> None:
        download = tracked.download
        if download.essential:
            loaded.essential_done += tracked.bytes
            if loaded.progress is not None:
                loaded.progress = replace(loaded.progress, essential_done=loaded.essential_done)
                self.ctx.emit_progress(loaded, force=True)
        purgeable = containers.is_purgeable(download.destination)
        self.ctx.disk.stored(tracked.key, tracked.app_id, tracked.bytes, purgeable)
        self.ctx.emit_download(EventKind.DOWNLOAD_FINISHED, tracked, sha256=download.sha256,
                               path=str(final) if final else None, purgeable=purgeable)

    async def _journal_written(self) -> None:
        """Return once what was deferred so far is committed.

        Deliveries finishing in the same turn of the event loop share one transaction:
        20,000 small downloads then cost a few hundred commits, not 20,000, and an event
        still goes out only after its transition is in the journal.
        """
        if self._journal_commit is None:
            self._journal_commit = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._commit_journal)
        await asyncio.shield(self._journal_commit)

    def _commit_journal(self) -> None:
        done, self._journal_commit = self._journal_commit, None
        assert done is not None
        try:
            self.ctx.journal.flush()
        except BaseException as error:  # the waiters report it
            done.set_exception(error)
            done.exception()  # retrieved: waiters cancelled meanwhile (a stop) leave it be
        else:
            done.set_result(None)

    # Failures ------------------------------------------------------------------------

    async def failed(self, loaded: LoadedApp, tracked: Tracked,
                     error: BackgroundAssetsError) -> None:
        """Journal and report the failure, then schedule again what its answer asks for."""
        download = tracked.download
        # A full disk: the failure waits with the deferred transitions (reads see it) and
        # reaches the journal with the next transaction that fits; it is reported at once.
        with contextlib.suppress(JournalError):
            self.ctx.journal.set_download_state(
                tracked.key, DownloadState.FAILED, reason=error.code.title,
                error_code=int(error.code), error_message=error.message, at=self.ctx.clock.time())
        self.ctx.emit_download(EventKind.DOWNLOAD_FAILED, tracked, **error.as_dict())
        again = await self._failure_answer(loaded, download, error)
        if not disk_full(error):
            self.tracking.reschedule(loaded, again, error)
            return
        # Not the download's fault: it comes back once space is back, whoever heard of the
        # failure. An essential one comes back only as the copy its extension asked for:
        # essential downloads are never scheduled after the install.
        if not download.essential and download.key not in {d.key for d in again}:
            again.append(download)
        if again:
            needed = max(JOURNAL_SPACE, (download.size or 0) - tracked.bytes)
            self.ctx.in_background(self.tracking.retry_when_space(loaded, again, needed, error))

    async def _failure_answer(self, loaded: LoadedApp, download: Download,
                              error: BackgroundAssetsError) -> list[Download]:
        """Tell the app's delegate or extension of a failure; the downloads it wants again.

        A pack download is the system's: an essential one comes back as a background one,
        as the framework fetches an essential pack later when it could not at install."""
        if self.packs.is_pack_download(download):
            cancelled = error.code == ErrorCode.CANCELLED
            return [download.removing_essential()] if download.essential and not cancelled \
                else []
        if loaded.running and loaded.delegate is not None:
            loaded.delegate.failed(download, error)
            return []
        runner = self.runtime.runner(loaded)
        if runner is not None:
            retries, outcome = await runner.failed(download, error,
                                                   budget=self.runtime.left(loaded))
            self.runtime.charge(loaded, "failed", outcome)
            return list(retries)
        policy = loaded.extension.on_failure
        cancelled = error.code == ErrorCode.CANCELLED
        if download.essential and not cancelled \
                and policy.essential is EssentialFailure.REENQUEUE_NONESSENTIAL:
            return [download.removing_essential()]
        tries = self._tries[download.key]
        if not download.essential and isinstance(error, DownloadError) and error.transient \
                and tries < policy.retries:
            self._tries[download.key] = tries + 1
            self._retrying[loaded.app.id] += 1
            self.ctx.in_background(self._retry_later(loaded, download, error, tries))
        return []

    async def _retry_later(self, loaded: LoadedApp, download: Download,
                           error: BackgroundAssetsError, tries: int) -> None:
        try:
            await self.ctx.clock.sleep(min(RETRY_CAP, RETRY_BASE * 2 ** tries))
            if self.ctx.apps.get(loaded.app.id) is loaded:
                self.tracking.reschedule(loaded, [download], error)
        finally:
            self._retrying[loaded.app.id] -= 1
