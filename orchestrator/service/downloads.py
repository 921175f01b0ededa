"""The download side of the orchestrator: a queue of tracked downloads over the engine.

Decisions (which start, which pause) come from ``orchestrator.scheduler.queue``;
this module only applies them: it starts engine downloads, turns their
progress into events, and hands results back to the orchestrator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.engine import DownloadHandle, DownloadRequest, DownloadResult, Engine, Progress
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.scheduler.queue import (
    Candidate,
    Conditions,
    downloads_to_pause,
    downloads_to_start,
    pause_reason,
)

BY_REQUEST = "paused by request"


@dataclass
class Tracked:
    """One scheduled download while it is not finished."""

    download: Download
    app_id: str
    order: int
    ephemeral: Path
    allowed_hosts: tuple[str, ...] | None = None
    exact_size: bool = True
    foreground: bool = False
    state: DownloadState = DownloadState.WAITING
    handle: DownloadHandle | None = None
    paused: str | None = None
    bytes: int = 0
    speed: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return self.download.key

    @property
    def running(self) -> bool:
        return self.handle is not None and self.paused is None

    def candidate(self) -> Candidate:
        host = urlsplit(self.download.url).netloc
        return Candidate(self.key, self.app_id, host, self.download.essential,
                         self.download.priority, self.foreground, self.order)

    def request(self, connections: int | None) -> DownloadRequest:
        download = self.download
        return DownloadRequest(
            url=download.url, destination=self.ephemeral,
            size=download.size if (self.exact_size or download.essential) else None,
            sha256=download.sha256, priority=download.priority, foreground=self.foreground,
            connections=connections, allowed_hosts=self.allowed_hosts, key=self.key,
        )


Started = Callable[[Tracked], None]
Ended = Callable[[Tracked, DownloadResult], Awaitable[None]]
Progressed = Callable[[Tracked], None]
Paused = Callable[[Tracked, str], None]


class DownloadQueue:
    """Tracks scheduled downloads and runs them on the engine under the queue's rules."""

    def __init__(self, engine: Engine, *, on_started: Started, on_progress: Progressed,
                 on_paused: Paused, on_ended: Ended, max_active: int = 8,
                 max_per_host: int = 6, connections: int | None = None) -> None:
        self.engine = engine
        self.tracked: dict[str, Tracked] = {}
        self.conditions = Conditions()
        self.max_active, self.max_per_host = max_active, max_per_host
        self.connections = connections
        self._on_started, self._on_progress = on_started, on_progress
        self._on_paused, self._on_ended = on_paused, on_ended
        self._order = 0
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.create_task(self._run(), name="bgassets-queue")

    async def stop(self) -> None:
        """Stop starting new work and pause what runs (its state stays resumable)."""
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        tasks = [t.task for t in self.tracked.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def add(self, tracked: Tracked) -> None:
        self._order += 1
        tracked.order = self._order
        self.tracked[tracked.key] = tracked
        self.poke()

    def poke(self) -> None:
        """Something changed: decide again."""
        self._wake.set()

    def set_conditions(self, conditions: Conditions) -> None:
        self.conditions = conditions
        for candidate in downloads_to_pause(self._running(), conditions):
            tracked = self.tracked[candidate.key]
            reason = "paused"
            if tracked.handle is not None:
                tracked.handle.pause()
                tracked.paused = reason = _reason(candidate, conditions)
            self._on_paused(tracked, reason)
        self.poke()

    def _running(self) -> list[Candidate]:
        return [t.candidate() for t in self.tracked.values() if t.running]

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._start_ready()

    def _start_ready(self) -> None:
        waiting = [t.candidate() for t in self.tracked.values()
                   if not t.running and t.paused != BY_REQUEST]
        chosen = downloads_to_start(waiting, self._running(), self.conditions,
                                    max_active=self.max_active, max_per_host=self.max_per_host)
        for candidate in chosen:
            self._launch(self.tracked[candidate.key])

    def _launch(self, tracked: Tracked) -> None:
        if tracked.handle is not None:
            tracked.paused = None
            tracked.handle.resume()
            return
        request = tracked.request(self.connections)
        tracked.handle = self.engine.start(request, lambda p: self._progress(tracked, p))
        tracked.state = DownloadState.DOWNLOADING
        tracked.task = asyncio.create_task(self._finish(tracked))
        self._on_started(tracked)

    def _progress(self, tracked: Tracked, progress: Progress) -> None:
        tracked.bytes, tracked.speed = progress.bytes, progress.speed
        self._on_progress(tracked)

    async def _finish(self, tracked: Tracked) -> None:
        assert tracked.handle is not None
        result = await tracked.handle.wait()
        self.tracked.pop(tracked.key, None)
        self.poke()
        await self._on_ended(tracked, result)

    def promote(self, key: str) -> None:
        tracked = self.tracked[key]
        tracked.foreground = True
        if tracked.handle is not None:
            tracked.handle.promote()
        self.poke()

    def cancel(self, key: str) -> bool:
        """Cancel a download; False when it was only waiting (then it is simply dropped)."""
        tracked = self.tracked[key]
        if tracked.handle is not None:
            tracked.handle.cancel()
            return True
        del self.tracked[key]
        return False

    def pause(self, key: str) -> None:
        tracked = self.tracked[key]
        tracked.paused = BY_REQUEST
        if tracked.handle is not None:
            tracked.handle.pause()
        self._on_paused(tracked, tracked.paused)

    def resume(self, key: str) -> None:
        tracked = self.tracked[key]
        if tracked.paused == BY_REQUEST:
            tracked.paused = None
            if tracked.handle is not None:
                tracked.handle.resume()
        self.poke()


def _reason(candidate: Candidate, conditions: Conditions) -> str:
    return pause_reason(candidate, conditions) or "paused"
