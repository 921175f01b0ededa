"""The Engine: one HTTP session, per-host connection slots ordered by priority, and handles.

A download holds one slot of its host while it runs; a segmented download borrows extra
slots only when nobody is waiting, so a big file never starves the queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiohttp

from orchestrator.clock import SYSTEM_CLOCK, Clock
from orchestrator.engine.commit import GroupCommit
from orchestrator.engine.context import EngineContext
from orchestrator.engine.download import Download
from orchestrator.engine.http import CredentialCache, make_session
from orchestrator.engine.request import (
    CredentialProvider,
    DownloadRequest,
    DownloadResult,
    Progress,
    RetryPolicy,
)
from orchestrator.engine.slots import Connection, HostSlots
from orchestrator.engine.state import SidecarStore, StateStore
from orchestrator.errors import DownloadError, ErrorCode
from orchestrator.model.enums import DownloadState

DEFAULT_RETRY = RetryPolicy()


class DownloadHandle:
    """Control of one running download: pause, resume, cancel, priority, wait."""

    def __init__(self, engine: Engine, request: DownloadRequest,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.key = request.state_key
        self.priority = request.priority
        self._engine = engine
        loop = asyncio.get_running_loop()
        self._transferred: asyncio.Future[None] = loop.create_future()
        self._download = Download(request, engine.context, on_progress)
        self._connection = Connection(engine.context.slots, self._download.url.host or "", self,
                                      lambda: self.priority, self._mark_transferred)
        self._download.connection = self._connection
        self._result: asyncio.Future[DownloadResult] = loop.create_future()
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False
        # A resume while a pause still stops the transfer: it starts again once stopped.
        self._pausing = self._resume_after_pause = False
        self._start()

    @property
    def state(self) -> DownloadState:
        return self._download.state

    @property
    def progress(self) -> Progress:
        return self._download.progress()

    def _start(self) -> None:
        self._download.move_to(DownloadState.WAITING)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            await self._connection.take()
            try:
                result = await self._download.run()
            except Exception as exc:  # a bug must not leave wait() hanging forever
                result = self._download.crashed(exc)
        except asyncio.CancelledError:
            self._connection.give_back()
            if self._cancelled:
                self._finish_cancelled()
                return
            self._download.move_to(DownloadState.PAUSED)
            self._pausing, again = False, self._resume_after_pause
            self._resume_after_pause = False
            if again:
                self._start()
            return
        self._connection.give_back()
        if not self._result.done():
            self._result.set_result(result)

    def _mark_transferred(self) -> None:
        if not self._transferred.done():
            self._transferred.set_result(None)

    def _finish_cancelled(self) -> None:
        self._download.forget()
        self._download.move_to(DownloadState.FAILED)
        self._settle(DownloadError(f"{self._download.request.url}: cancelled",
                                   ErrorCode.CANCELLED))

    def _settle(self, error: DownloadError) -> None:
        if not self._result.done():
            request = self._download.request
            self._result.set_result(DownloadResult(self.key, request.url, None, 0, None, error,
                                                   0, self._download.resumable.resumed_from))

    def pause(self) -> None:
        """Stop the transfer, keep the .part and its state; :meth:`resume` continues it."""
        self._resume_after_pause = False
        if self._task is not None and not self._task.done():
            self._pausing = True
            self._task.cancel()

    def resume(self) -> None:
        """Continue a paused transfer from the bytes on disk (a Range request)."""
        if self._result.done():
            return
        if self._task is None or self._task.done():
            self._start()
        elif self._pausing:
            self._resume_after_pause = True

    def cancel(self) -> None:
        """End with CANCELLED (1040), removing the .part and its state."""
        if self._result.done():
            return
        self._cancelled = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        else:
            self._finish_cancelled()

    def set_priority(self, priority: int) -> None:
        """Reorder this download among those waiting; a running transfer is not restarted."""
        self.priority = max(0, min(100, int(priority)))
        self._engine.context.slots.reprioritise(self, self.priority)

    def promote(self) -> None:
        """Foreground and top priority, without restarting the transfer."""
        self.set_priority(100)
        self._download.foreground = True

    async def transferred(self) -> None:
        """Wait until this download needs no connection for now: its bytes are in (a small
        file may still be being verified and published), or it ended or stopped.

        A caller that limits how many files transfer at once starts the next one then,
        instead of waiting for :meth:`wait`.
        """
        await asyncio.shield(self._transferred)

    def add_done_callback(self, callback: Callable[[DownloadHandle, DownloadResult], None],
                          ) -> None:
        """Call ``callback(handle, result)`` once the result is there."""
        self._result.add_done_callback(lambda done: callback(self, done.result()))

    async def wait(self) -> DownloadResult:
        """The result; download failures are in ``result.error``, never raised."""
        return await asyncio.shield(self._result)

    async def _shutdown(self) -> None:
        self._resume_after_pause = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])  # unlike awaiting it, never swallows our own cancel
        self._settle(DownloadError(f"{self._download.request.url}: the engine stopped; "
                                   "the partial file is kept for resuming", ErrorCode.CANCELLED))


class Engine:
    """Downloads files: resumable, verified, segmented; one aiohttp session for all of them."""

    def __init__(self, *, state_store: StateStore | None = None,
                 max_connections_per_host: int = 16,
                 credentials: CredentialProvider | None = None,
                 retry: RetryPolicy = DEFAULT_RETRY, clock: Clock = SYSTEM_CLOCK,
                 publisher_holds: tuple[int, ...] = ()) -> None:
        """``publisher_holds``: descriptors the publishing process keeps open until it exits
        (a lock its caller holds then lasts until every file handed over is published)."""
        self.clock = clock
        self.publisher_holds = publisher_holds
        self.store = state_store if state_store is not None else SidecarStore()
        self.max_connections_per_host = max_connections_per_host
        self.credentials = CredentialCache(credentials)
        self.retry = retry
        self.session: aiohttp.ClientSession | None = None
        self.handles: list[DownloadHandle] = []
        self._context: EngineContext | None = None

    @property
    def context(self) -> EngineContext:
        if self._context is None:
            raise RuntimeError("use the Engine as 'async with Engine() as engine:'")
        return self._context

    async def __aenter__(self) -> Engine:
        self.session = make_session(self.max_connections_per_host)
        self._context = EngineContext(self.session, self.store, self.retry, self.credentials,
                                      HostSlots(self.max_connections_per_host),
                                      self.max_connections_per_host,
                                      group_commit=GroupCommit(self.publisher_holds),
                                      clock=self.clock)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for handle in list(self.handles):  # settling a handle removes it from the list
            await handle._shutdown()
        self.handles.clear()
        if self._context is not None:
            await self._context.group_commit.close()
        if self.session is not None:
            await self.session.close()
        self.session = None

    def start(self, request: DownloadRequest,
              on_progress: Callable[[Progress], None] | None = None) -> DownloadHandle:
        """Queue a download; it starts when its host has a free slot."""
        handle = DownloadHandle(self, request, on_progress)
        self.handles.append(handle)
        handle._result.add_done_callback(lambda _: self._forget(handle))
        return handle

    def _forget(self, handle: DownloadHandle) -> None:
        with contextlib.suppress(ValueError):
            self.handles.remove(handle)

    async def fetch(self, request: DownloadRequest,
                    on_progress: Callable[[Progress], None] | None = None) -> DownloadResult:
        """Start a download and wait for its result."""
        return await self.start(request, on_progress).wait()
