"""Connection slots per host, handed to waiters by priority, then first come first served.

Waiters sit in a heap; a priority change pushes a fresh entry and retires the old one, so
that 20,000 queued downloads cost O(log n) per start instead of a scan.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Waiter:
    """One download waiting for a slot of ``host``."""

    key: Hashable
    host: str
    future: asyncio.Future[None]
    live: bool = True  # False once served or retired by a priority change


# In the heap: (-priority, arrival, waiter). Arrivals are unique, so tuples compare in C
# on two ints and never reach the waiter.
_Entry = tuple[int, int, _Waiter]


class HostSlots:
    """At most ``capacity`` connections per host; the rest wait in priority order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used: dict[str, int] = {}
        self.waiting: dict[str, list[_Entry]] = {}
        self.entries: dict[Hashable, _Waiter] = {}
        self._arrivals = itertools.count()

    def _free(self, host: str) -> bool:
        return self.used.get(host, 0) < self.capacity and not self.waiting.get(host)

    async def acquire(self, host: str, key: Hashable, priority: int) -> None:
        """Wait for a slot of ``host``; ``key`` names the waiter for :meth:`reprioritise`."""
        if self._free(host):
            self.used[host] = self.used.get(host, 0) + 1
            return
        future = asyncio.get_running_loop().create_future()
        self._push(host, key, priority, future)
        try:
            await future
        except asyncio.CancelledError:
            waiter = self.entries.pop(key, None)
            if waiter is not None:
                waiter.live = False
            if future.done() and not future.cancelled():
                self.release(host)
            raise

    def _push(self, host: str, key: Hashable, priority: int,
              future: asyncio.Future[None]) -> None:
        waiter = _Waiter(key, host, future)
        self.entries[key] = waiter
        heapq.heappush(self.waiting.setdefault(host, []), (-priority, next(self._arrivals),
                                                           waiter))

    def reprioritise(self, key: Hashable, priority: int) -> None:
        """Move a waiting download to its new priority (no effect on running ones)."""
        waiter = self.entries.get(key)
        if waiter is not None and waiter.live:
            waiter.live = False
            self._push(waiter.host, key, priority, waiter.future)

    def try_extra(self, host: str) -> bool:
        """Take a slot only if one is free and no download is waiting for it."""
        if self._free(host):
            self.used[host] = self.used.get(host, 0) + 1
            return True
        return False

    def release(self, host: str) -> None:
        queue = self.waiting.get(host)
        while queue:
            waiter = heapq.heappop(queue)[2]
            if waiter.live and not waiter.future.done():
                waiter.live = False
                self.entries.pop(waiter.key, None)
                waiter.future.set_result(None)
                return
        self.used[host] = self.used.get(host, 1) - 1


class Connection:
    """One download's hold on a slot of its host: taken to transfer, and given back as soon
    as its bytes are in, so that the next download transfers while this one is published.

    ``priority`` is read whenever the slot is taken again (a retry after the bytes came).
    """

    def __init__(self, slots: HostSlots, host: str, owner: Hashable,
                 priority: Callable[[], int],
                 on_give_back: Callable[[], None] | None = None) -> None:
        self.slots, self.host, self.owner = slots, host, owner
        self.priority = priority
        self.on_give_back = on_give_back
        self.held = False

    async def take(self) -> None:
        """Wait for a slot, unless this download holds one already."""
        if not self.held:
            await self.slots.acquire(self.host, self.owner, self.priority())
            self.held = True

    def give_back(self) -> None:
        """Free the slot (if held) for the next download waiting for it."""
        if self.held:
            self.held = False
            self.slots.release(self.host)
        if self.on_give_back is not None:
            self.on_give_back()
