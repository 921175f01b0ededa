"""The orchestrator's time: one clock object that every time-dependent part reads.

Budgets and day boundaries, the periodic schedule, launch history, retry backoff and
the waits for disk space all ask a :class:`Clock` for the time and sleep on it.
:class:`SystemClock` is the machine's time, for ``simulate``, ``run`` and the daemon.
:class:`VirtualClock` runs at the machine's pace while work is being done and jumps
ahead, on request, to the next moment something sleeps until: a scenario plays days of
device life in seconds while real bytes still move over loopback.

Work that virtual time must not jump over (a download, a content request, a handler
call) runs inside
:meth:`Clock.busy`; a download waiting to try again steps out of it with
:meth:`Clock.idle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# A quiet spell, after which :meth:`VirtualClock.run_until` skips ahead: this many turns
# of the loop, this far apart (real seconds), with nobody busy and nothing stirring.
SETTLE_TURNS, SETTLE_PAUSE = 3, 0.002


class Clock(Protocol):
    """What the orchestrator reads the time from."""

    def time(self) -> float:
        """Wall time, in seconds since the epoch (journal stamps, days, launch history)."""

    def monotonic(self) -> float:
        """Seconds that never go back, for intervals."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Mark work in progress: virtual time does not jump while any is."""

    def idle(self) -> contextlib.AbstractContextManager[None]:
        """Set the caller's own :meth:`busy` mark aside while it waits (a retry's backoff
        inside a busy download)."""


class SystemClock:
    """The machine's own time."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def idle(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


SYSTEM_CLOCK = SystemClock()


@dataclass(eq=False)
class _Sleeper:
    due: float
    future: asyncio.Future[None]
    timer: asyncio.TimerHandle | None = field(default=None)


class VirtualClock:
    """Time that passes at the machine's pace and skips ahead when told to.

    ``start`` is the wall time (epoch seconds) of the clock's zero. :attr:`elapsed` is
    the virtual time since then: the real seconds since the clock was made, plus every
    skip. :meth:`advance` skips to a later moment and wakes whoever slept until then;
    a sleeper whose moment comes with the real time passing wakes on its own.
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self._real_zero = time.monotonic()
        self._skipped = 0.0
        self._sleepers: set[_Sleeper] = set()
        # Busy marks by the task that holds them (None: code outside any task).
        self._busy: Counter[asyncio.Task[Any] | None] = Counter()
        # Set, and counted in ``stirs``, whenever a sleep begins or a busy mark is taken,
        # given back or set aside: a watcher that saw no stir for a while knows that nobody
        # was about to start work in between, not only that nobody is busy at this instant.
        self.changed = asyncio.Event()
        self.stirs = 0

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the clock's zero."""
        return time.monotonic() - self._real_zero + self._skipped

    @property
    def skipped(self) -> float:
        """Seconds skipped so far: virtual time that took no real time."""
        return self._skipped

    def time(self) -> float:
        return self.start + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        sleeper = _Sleeper(self.elapsed + max(0.0, seconds), loop.create_future())
        self._sleepers.add(sleeper)
        self._arm(sleeper, loop)
        self._stir()
        try:
            await sleeper.future
        finally:
            self._sleepers.discard(sleeper)
            if sleeper.timer is not None:
                sleeper.timer.cancel()
            self._stir()  # the sleeper goes on with its work

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        task = _current_task()
        self._busy[task] += 1
        self._stir()
        try:
            yield
        finally:
            self._busy[task] -= 1
            if self._busy[task] <= 0:
                del self._busy[task]
            self._stir()

    @contextlib.contextmanager
    def idle(self) -> Iterator[None]:
        """Set aside the calling task's own busy marks (never another task's)."""
        task = _current_task()
        held = self._busy.pop(task, 0)
        self._stir()
        try:
            yield
        finally:
            if held:
                self._busy[task] += held
                self._stir()

    def _stir(self) -> None:
        self.stirs += 1
        self.changed.set()

    @property
    def is_busy(self) -> bool:
        """Whether work is in progress that time must not jump over."""
        return bool(self._busy)

    async def run_until(self, target: float, *, activity: Callable[[], int] = lambda: 0,
                        done: Callable[[], bool] | None = None) -> bool:
        """Let virtual time run to ``target`` (in :attr:`elapsed`); True as soon as
        ``done()`` holds, False at ``target``.

        Time passes at the machine's pace while anything is busy, and skips to the next
        sleeper's moment (or ``target``) after each quiet spell: :data:`SETTLE_TURNS`
        turns of the loop in which nobody was busy, nobody stirred, and ``activity()``
        (a count of events, say) stayed the same.
        """
        while True:
            if done is not None and done():
                return True
            now = self.elapsed
            if now >= target:
                return False
            if await self._quiet(activity):
                if done is not None and done():
                    return True
                due = self.next_due()
                self.advance(target if due is None else min(due, target))
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(min(0.01, target - now))

    async def _quiet(self, activity: Callable[[], int]) -> bool:
        """A quiet spell. Being idle at each look is not enough: a content request sets
        its busy mark aside while its catalog download starts in a task of its own, and
        a look in between would find nobody busy; the stirs show the hand-over."""
        for _ in range(SETTLE_TURNS):
            seen, stirs = activity(), self.stirs
            await asyncio.sleep(SETTLE_PAUSE)
            if self.is_busy or activity() != seen or self.stirs != stirs:
                return False
        return True

    def next_due(self) -> float | None:
        """The earliest virtual moment someone sleeps until, or None when nobody sleeps."""
        waiting = [s.due for s in self._sleepers if not s.future.done()]
        return min(waiting) if waiting else None

    def advance(self, to: float) -> None:
        """Skip ahead to virtual moment ``to`` (never back), waking the sleepers it reaches."""
        now = self.elapsed
        if to <= now:
            return
        self._skipped += to - now
        loop = asyncio.get_running_loop()
        for sleeper in list(self._sleepers):
            self._arm(sleeper, loop)

    def _arm(self, sleeper: _Sleeper, loop: asyncio.AbstractEventLoop) -> None:
        if sleeper.timer is not None:
            sleeper.timer.cancel()
            sleeper.timer = None
        if sleeper.future.done():
            return
        left = sleeper.due - self.elapsed
        if left <= 0:
            sleeper.future.set_result(None)
        else:
            sleeper.timer = loop.call_later(left, _wake, sleeper.future)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop runs: code outside any task
        return None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
