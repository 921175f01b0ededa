"""Content requests and the network: offline, no catalog is fetched and requests wait."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

from orchestrator.errors import WentOffline
from orchestrator.model.enums import ContentRequest

T = TypeVar("T")


def outranks(request: ContentRequest, waiting: ContentRequest | None) -> bool:
    """Whether ``request`` takes the place of ``waiting`` as an app's one pending request.

    An install or update is not replaced by a periodic request: the periodic one would
    not plan the app's essential downloads.
    """
    return waiting is None or waiting == ContentRequest.PERIODIC \
        or request != ContentRequest.PERIODIC


class NetworkWaits:
    """Whether the device is online, and the content requests waiting until it is.

    One request waits per app (see :func:`outranks`). The orchestrator tells it when
    the network changes and makes the requests :meth:`take` hands back.
    """

    def __init__(self, online: bool) -> None:
        self._offline = asyncio.Event()
        self._waiting: dict[str, ContentRequest] = {}
        self.set_online(online)

    @property
    def online(self) -> bool:
        return not self._offline.is_set()

    def set_online(self, online: bool) -> None:
        """The device's network changed; going offline stops what runs :meth:`while_online`."""
        if online:
            self._offline.clear()
        else:
            self._offline.set()

    def keep(self, app_id: str, request: ContentRequest) -> None:
        """``request`` of ``app_id`` waits for the network."""
        if outranks(request, self._waiting.get(app_id)):
            self._waiting[app_id] = request

    def waiting(self, app_id: str) -> ContentRequest | None:
        """The content request of ``app_id`` waiting for the network, if any."""
        return self._waiting.get(app_id)

    def forget(self, app_id: str) -> None:
        """The app is gone: nothing of it waits any more."""
        self._waiting.pop(app_id, None)

    def take(self) -> dict[str, ContentRequest]:
        """Online: every waiting request by app id, none of them waiting any more.
        Offline: nothing."""
        if not self.online:
            return {}
        taken, self._waiting = self._waiting, {}
        return taken

    async def while_online(self, work: Coroutine[Any, Any, T]) -> T:
        """``work``'s result; raises :class:`WentOffline` (and stops ``work``) when the
        device goes offline first."""
        stopped, result = await unless_set(self._offline, work)
        if stopped:
            raise WentOffline
        return cast(T, result)  # not stopped: work's own result


async def unless_set(stop: asyncio.Event,
                     work: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
    """Run ``work`` until it ends or ``stop`` is set, whichever comes first.

    ``(True, None)`` when ``stop`` came first (``work`` is then stopped, or never started
    when ``stop`` was set already); else ``(False, work's result)``. ``work``'s own
    exception is raised.
    """
    if stop.is_set():
        work.close()
        return True, None
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return True, None
    return False, task.result()
