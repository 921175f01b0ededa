"""Downloads start only when the disk has room for them above the device's reserve.

The queue asks :class:`SpaceGate` which of the downloads due to start may start. The
decision is :func:`orchestrator.scheduler.space.admit`'s; the gate applies it: it
purges purgeable files when that makes room, defers background downloads that still
do not fit (``download.deferred``; they start once space is back) and fails essential
and foreground ones at once (1031).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

from orchestrator.errors import BackgroundAssetsError, ErrorCode, JournalError
from orchestrator.events import EventKind
from orchestrator.scheduler.space import Admission, Need, Space, admit, shortage
from orchestrator.service.context import ServiceContext
from orchestrator.service.downloads import Tracked
from orchestrator.service.handover import Handover
from orchestrator.service.recovery import Recovery
from orchestrator.service.tracking import Tracking


def needed(tracked: Tracked) -> int:
    """What the download still has to write (0 when its size is not known)."""
    return max(0, (tracked.download.size or 0) - tracked.bytes)


class SpaceGate:
    """The queue's ``admit``: which due downloads the disk has room for."""

    def __init__(self, ctx: ServiceContext, tracking: Tracking, handover: Handover,
                 recovery: Recovery) -> None:
        self.ctx, self.tracking, self.handover, self.recovery = ctx, tracking, handover, recovery
        # The downloads waiting for space, by key (some may have left the queue since).
        self._deferred: dict[str, Tracked] = {}
        self._watching = False

    def admit(self, due: list[Tracked]) -> list[Tracked]:
        """The downloads of ``due`` (in start order) that start now; the others wait or fail."""
        space = self.ctx.space()
        if space is None:
            return due
        committed = self.ctx.committed()
        needs = [Need(t.key, needed(t), t.download.essential or t.foreground) for t in due]
        decision = admit(needs, space, committed)
        if decision.purge:
            # A journal a full disk cannot write stops the purge where it is: what it
            # freed is freed, and the second answer below sees it.
            with contextlib.suppress(JournalError):
                self.recovery.purge(decision.purge)
            space = self.ctx.space()
            if space is None:
                return due
            # What purging could free is freed: the second answer does not count on more.
            space = replace(space, purgeable=0)
            decision = admit(needs, space, committed)
        return self._apply(due, decision, space, committed)

    def _apply(self, due: list[Tracked], decision: Admission, space: Space,
               committed: int) -> list[Tracked]:
        by_key = {t.key: t for t in due}
        started = [by_key[key] for key in decision.start]
        taken = committed + sum(needed(t) for t in started)  # by the downloads that run
        for key in decision.wait:
            self._defer(by_key[key], space, taken)
        for key in decision.refuse:
            tracked = by_key[key]
            if tracked.handle is not None:  # part of it is on disk already: it waits
                self._defer(tracked, space, taken)
            else:
                self._refuse(tracked, space, taken)
        for tracked in started:
            tracked.deferred = None
            self._deferred.pop(tracked.key, None)
        return started

    def waiting(self, app_id: str | None = None) -> list[Tracked]:
        """The pending downloads (of ``app_id`` when given) that wait for space."""
        tracked = self.ctx.queue.tracked
        for key in [k for k, t in self._deferred.items()
                    if tracked.get(k) is not t or t.deferred is None]:
            del self._deferred[key]  # left the queue, or started meanwhile
        return [t for t in self._deferred.values() if app_id in (None, t.app_id)]

    def foreground_refusal(self, tracked: Tracked) -> BackgroundAssetsError | None:
        """Why ``tracked`` cannot start in the foreground now for lack of space (even
        after purging), or None; it then keeps waiting in the background."""
        space = self.ctx.space()
        if space is None or self.ctx.queue.is_running(tracked.key):
            return None
        committed = self.ctx.committed()
        decision = admit([Need(tracked.key, needed(tracked), urgent=True)], space, committed)
        if not decision.refuse:
            return None
        return BackgroundAssetsError(
            f"{tracked.download.id} cannot start in the foreground: "
            f"{shortage(needed(tracked), space, committed)}; it waits in the background "
            "and starts once space is back", ErrorCode.NOT_ENOUGH_STORAGE)

    def _defer(self, tracked: Tracked, space: Space, committed: int) -> None:
        if tracked.deferred is None:
            reason = f"waiting for space: {shortage(needed(tracked), space, committed)}"
            tracked.deferred = reason
            self._deferred[tracked.key] = tracked
            self.ctx.emit_download(EventKind.DOWNLOAD_DEFERRED, tracked, reason=reason,
                                   code=int(ErrorCode.NOT_ENOUGH_STORAGE),
                                   name=ErrorCode.NOT_ENOUGH_STORAGE.title,
                                   needed=needed(tracked), available=space.available)
        self._watch()

    def _refuse(self, tracked: Tracked, space: Space, committed: int) -> None:
        loaded = self.ctx.apps.get(tracked.app_id)
        self.ctx.queue.cancel(tracked.key)  # never started: it leaves the queue
        if loaded is None:
            return
        kind = "essential" if tracked.download.essential else "foreground"
        error = BackgroundAssetsError(
            f"{tracked.download.id}: {shortage(needed(tracked), space, committed)}; "
            f"{kind} downloads do not wait for space", ErrorCode.NOT_ENOUGH_STORAGE)

        async def report() -> None:
            await self.handover.failed(loaded, tracked, error)
            self.tracking.check_launchable(loaded)

        self.ctx.in_background(report())

    def _watch(self) -> None:
        """While downloads wait for space, ask the queue again every
        ``disk_retry_interval`` seconds: a measured disk may be freed by anyone."""
        if not self._watching:
            self._watching = True
            self.ctx.in_background(self._recheck())

    async def _recheck(self) -> None:
        try:
            while self.waiting():
                await self.ctx.clock.sleep(self.ctx.disk_retry_interval)
                self.ctx.queue.poke()
        finally:
            self._watching = False
