"""The download side of the orchestrator: a queue of tracked downloads over the engine.

Decisions (which start, which pause) come from ``orchestrator.scheduler.queue``;
this module only applies them: it starts engine downloads, turns their
progress into events, and hands results back to the orchestrator.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import insort
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.engine import DownloadHandle, DownloadRequest, DownloadResult, Engine, Progress
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.scheduler.packs import split_slice
from orchestrator.scheduler.queue import (
    Candidate,
    Conditions,
    downloads_to_pause,
    downloads_to_start,
    pause_reason,
)

BY_REQUEST = "paused by request"
# Every download of an app whose install is paused as a whole (pause-install).
INSTALL_PAUSED = "install paused"


@dataclass
class Tracked:
    """One scheduled download while it is not finished.

    ``direct`` is set when the engine publishes the file at its destination in the
    container itself (see ``Tracking._direct_destination``); otherwise the file is
    handed over at ``ephemeral``. ``state`` is the state the journal keeps (never
    ``PAUSED``) and ``paused`` why the download is paused, if it is;
    :meth:`DownloadQueue.shown_state` tells the two together as clients show them.
    ``deferred`` says why a download that was due to start waits for disk space.
    """

    download: Download
    app_id: str
    order: int
    ephemeral: Path
    allowed_hosts: tuple[str, ...] | None = None
    exact_size: bool = True
    direct: Path | None = None
    foreground: bool = False
    state: DownloadState = DownloadState.WAITING
    handle: DownloadHandle | None = None
    paused: str | None = None
    deferred: str | None = None
    bytes: int = 0
    speed: float = 0.0
    host: str = ""
    _candidate: Candidate | None = field(default=None, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return self.download.key

    def candidate(self) -> Candidate:
        """What the queue's decisions see; built once, again after a promotion."""
        cached = self._candidate
        if cached is None or cached.foreground != self.foreground or cached.order != self.order:
            if not self.host:
                self.host = urlsplit(self.download.url).netloc
            cached = self._candidate = Candidate(
                self.key, self.app_id, self.host, self.download.essential,
                self.download.priority, self.foreground, self.order)
        return cached

    def request(self, connections: int | None) -> DownloadRequest:
        download, ephemeral = self.download, self.ephemeral
        url, byte_range = split_slice(download.url)  # a pack file's range of its bundle
        return DownloadRequest(
            url=url, destination=self.direct or ephemeral, byte_range=byte_range,
            size=download.size if (self.exact_size or download.essential) else None,
            sha256=download.sha256, priority=download.priority, foreground=self.foreground,
            connections=connections, allowed_hosts=self.allowed_hosts, key=self.key,
            staging=ephemeral.with_name(ephemeral.name + ".part") if self.direct else None,
            auth_scope=self.app_id,
        )


Started = Callable[[Tracked], None]
Ended = Callable[[Tracked, DownloadResult], Awaitable[None]]
Progressed = Callable[[Tracked], None]
Paused = Callable[[Tracked, str], None]
Admit = Callable[[list[Tracked]], list[Tracked]]


class DownloadQueue:
    """Tracks scheduled downloads and runs them on the engine under the queue's rules.

    Waiting downloads are kept sorted per (app, host) group, so each decision looks
    only at the head of each group (at most ``max_active`` each): with 20,000
    downloads queued, deciding stays as cheap as with 20.
    """

    def __init__(self, engine: Engine, *, on_started: Started, on_progress: Progressed,
                 on_paused: Paused, on_ended: Ended, max_active: int = 16,
                 max_per_host: int = 16, connections: int | None = None) -> None:
        self.engine = engine
        self.tracked: dict[str, Tracked] = {}
        self.running: dict[str, Tracked] = {}
        # Transferred, and being handed over: their files are on disk but not delivered.
        self.ending: dict[str, Tracked] = {}
        self.pending: Counter[str] = Counter()
        self.pending_essential: Counter[str] = Counter()
        self.conditions = Conditions()
        self.max_active, self.max_per_host = max_active, max_per_host
        self.connections = connections
        self._groups: dict[tuple[str, str], list[tuple[tuple[bool, bool, int, int], str]]] = {}
        self._on_started, self._on_progress = on_started, on_progress
        self._on_paused, self._on_ended = on_paused, on_ended
        self._order = 0
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self.on_settled: Callable[[Tracked], None] | None = None
        self.on_resumed: Callable[[Tracked], None] | None = None
        # Of the downloads due to start, those the disk has room for (all when None).
        self.admit: Admit | None = None

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

    # Bookkeeping -------------------------------------------------------------------

    def add(self, tracked: Tracked, held: str | None = None) -> None:
        """Track a download; ``held`` (a pause reason) keeps it paused from the start,
        off the queue until :meth:`resume` with that reason."""
        self._order += 1
        tracked.order = self._order
        self.tracked[tracked.key] = tracked
        self.pending[tracked.app_id] += 1
        if tracked.download.essential:
            self.pending_essential[tracked.app_id] += 1
        if held is not None:
            tracked.paused = held
            return
        self._enqueue(tracked)
        self.poke()

    def _enqueue(self, tracked: Tracked) -> None:
        candidate = tracked.candidate()
        sort_key = (not candidate.foreground, not candidate.essential, -candidate.priority,
                    candidate.order)
        insort(self._groups.setdefault((candidate.app_id, candidate.host), []),
               (sort_key, tracked.key))

    def _dequeue(self, tracked: Tracked) -> None:
        group = self._groups.get((tracked.app_id, tracked.candidate().host), [])
        for index, (_, key) in enumerate(group):
            if key == tracked.key:
                del group[index]
                return

    def _forget(self, tracked: Tracked, *, settled: bool = True) -> None:
        """Drop a download; with ``settled=False`` it still counts as pending (see _finish)."""
        if self.tracked.pop(tracked.key, None) is None:
            return
        if self.running.pop(tracked.key, None) is None:
            self._dequeue(tracked)
        if settled:
            self._settle(tracked)

    def _settle(self, tracked: Tracked) -> None:
        self.pending[tracked.app_id] -= 1
        if tracked.download.essential:
            self.pending_essential[tracked.app_id] -= 1

    def poke(self) -> None:
        """Something changed: decide again."""
        self._wake.set()

    # Decisions ---------------------------------------------------------------------

    def set_conditions(self, conditions: Conditions) -> None:
        self.conditions = conditions
        running = [t.candidate() for t in self.running.values()]
        for candidate in downloads_to_pause(running, conditions):
            tracked = self.running.pop(candidate.key)
            assert tracked.handle is not None
            tracked.handle.pause()
            tracked.paused = _reason(candidate, conditions)
            self._enqueue(tracked)
            self._on_paused(tracked, tracked.paused)
        self.poke()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._start_ready()

    def _start_ready(self) -> None:
        heads = [self.tracked[key].candidate() for group in self._groups.values()
                 for _, key in group[: self.max_active]]
        running = [t.candidate() for t in self.running.values()]
        holding = frozenset(app for app, count in self.pending_essential.items() if count > 0)
        chosen = downloads_to_start(heads, running, self.conditions,
                                    max_active=self.max_active, max_per_host=self.max_per_host,
                                    holding=holding)
        if not chosen:
            return
        due = [self.tracked[candidate.key] for candidate in chosen]
        for tracked in (due if self.admit is None else self.admit(due)):
            self._launch(tracked)

    def _launch(self, tracked: Tracked) -> None:
        self._dequeue(tracked)
        self.running[tracked.key] = tracked
        if tracked.handle is not None:
            tracked.paused = None
            tracked.handle.resume()
            if self.on_resumed is not None:
                self.on_resumed(tracked)
            return
        request = tracked.request(self.connections)
        tracked.handle = self.engine.start(request, lambda p: self._progress(tracked, p))
        tracked.state = DownloadState.DOWNLOADING
        tracked.task = asyncio.create_task(self._finish(tracked))
        self._on_started(tracked)

    def _progress(self, tracked: Tracked, progress: Progress) -> None:
        tracked.bytes, tracked.speed = progress.bytes, progress.speed
        # Nothing moved yet, or the ending event says it all: no progress event.
        if progress.bytes and not progress.state.ended:
            self._on_progress(tracked)

    async def _finish(self, tracked: Tracked) -> None:
        assert tracked.handle is not None
        result = await tracked.handle.wait()
        # Its slot is free at once, but it stays pending (an essential one holding back its
        # app's other downloads and the launch gate) until ``on_ended`` has handed it over.
        self._forget(tracked, settled=False)
        self.ending[tracked.key] = tracked
        self.poke()
        try:
            # Busy on the clock until handed over: the journal's commit and the file's move
            # are work that virtual time must not jump over.
            with self.engine.clock.busy():
                await self._on_ended(tracked, result)
        finally:
            if self.ending.get(tracked.key) is tracked:
                del self.ending[tracked.key]
            self._settle(tracked)
            self.poke()
            if self.on_settled is not None:
                self.on_settled(tracked)

    # Control -----------------------------------------------------------------------

    def promote(self, key: str) -> None:
        tracked = self.tracked[key]
        if key not in self.running:
            self._dequeue(tracked)
        tracked.foreground = True
        if tracked.handle is not None:
            tracked.handle.promote()
        if key not in self.running:
            # startForegroundDownload starts it now, whatever paused it.
            tracked.paused = None
            self._enqueue(tracked)
        self.poke()

    def cancel(self, key: str) -> bool:
        """Cancel a download; False when it was only waiting (then it is simply dropped)."""
        tracked = self.tracked[key]
        if tracked.handle is not None:
            tracked.handle.cancel()
            return True
        self._forget(tracked)
        return False

    def pause(self, key: str, reason: str = BY_REQUEST) -> None:
        """Pause a download until :meth:`resume` with the same ``reason``; a transfer
        stops, keeping its ``.part`` to continue from."""
        tracked = self.tracked[key]
        if tracked.paused not in (BY_REQUEST, INSTALL_PAUSED) \
                and self.running.pop(key, None) is None:
            self._dequeue(tracked)  # waiting, or paused by the device: on the queue
        tracked.paused = reason
        if tracked.handle is not None:
            tracked.handle.pause()
        self._on_paused(tracked, tracked.paused)
        self.poke()

    def resume(self, key: str, reason: str = BY_REQUEST) -> bool:
        """Resume a download paused for ``reason``; False when it was not paused so."""
        tracked = self.tracked[key]
        if tracked.paused != reason:
            return False
        tracked.paused = None
        self._enqueue(tracked)
        self.poke()
        return True

    def is_running(self, key: str) -> bool:
        """Whether the download is transferring now (not waiting, not paused)."""
        return key in self.running

    def shown_state(self, tracked: Tracked) -> DownloadState:
        """What a pending download is doing now, as clients show it.

        ``PAUSED`` when paused (by request, or by the device: offline, low power mode, a
        metered network; ``tracked.paused`` says which) and ``WAITING`` (for a slot, or to
        be resumed) are told apart from ``DOWNLOADING``, which only a transfer in progress
        is: a paused transfer keeps ``tracked.state`` at ``DOWNLOADING``, as the journal
        does, though nothing moves then.
        """
        if tracked.paused:
            return DownloadState.PAUSED
        if tracked.state is DownloadState.DOWNLOADING and tracked.key not in self.running:
            return DownloadState.WAITING
        return tracked.state


def _reason(candidate: Candidate, conditions: Conditions) -> str:
    return pause_reason(candidate, conditions) or "paused"
