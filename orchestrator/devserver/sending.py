"""Streaming a file's bytes to a client, with pacing and the body-level faults.

Reads use ``os.pread`` in 256 KiB chunks: on the page cache a read takes tens
of microseconds, less than handing it to a thread would cost.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

CHUNK_SIZE = 256 * 1024
SLOW_RATE = 256 * 1024
_FLUSH_WAIT = 1.0


class Pacer:
    """Holds a response to ``rate`` bytes per second, measured from its first byte."""

    def __init__(self, rate: int | None) -> None:
        self.rate = rate
        self._start: float | None = None
        self._sent = 0

    @property
    def chunk_size(self) -> int:
        """Smaller chunks when throttled, so the pace is smooth rather than bursty."""
        if self.rate is None:
            return CHUNK_SIZE
        return max(4096, min(CHUNK_SIZE, self.rate // 16))

    async def pace(self, sent: int) -> None:
        loop = asyncio.get_running_loop()
        if self.rate is None:
            return
        if self._start is None:
            self._start = loop.time()
        self._sent += sent
        delay = self._start + self._sent / self.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class BodyPlan:
    """Which bytes to send and how the body ends.

    ``ending`` is ``"complete"``, ``"reset"`` (RST after ``send``
    bytes), ``"close"`` (FIN after ``send`` bytes) or ``"endless"`` (filler
    bytes after the file until the client goes away).
    """

    offset: int
    send: int
    ending: str = "complete"
    rate: int | None = None


async def send_body(request: web.BaseRequest, response: web.StreamResponse, fd: int,
                    plan: BodyPlan, count: Callable[[int], None]) -> None:
    """Write the planned bytes; a client that goes away just ends the body."""
    pacer = Pacer(plan.rate)
    try:
        position, end = plan.offset, plan.offset + plan.send
        while position < end:
            chunk = os.pread(fd, min(pacer.chunk_size, end - position), position)
            if not chunk:
                break  # the file shrank while we served it
            await response.write(chunk)
            position += len(chunk)
            count(len(chunk))
            await pacer.pace(len(chunk))
        if plan.ending == "endless":
            filler = b"\xa5" * pacer.chunk_size
            while True:
                await response.write(filler)
                count(len(filler))
                await pacer.pace(len(filler))
    except ConnectionError:
        return
    if plan.ending == "reset":
        await _flush(request)
        _reset(request)
    elif plan.ending == "close" and request.transport is not None:
        request.transport.close()


async def _flush(request: web.BaseRequest) -> None:
    """Give the bytes already written a moment to leave, so the client sees part of the body."""
    transport = request.transport
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _FLUSH_WAIT
    while (transport is not None and not transport.is_closing()
           and transport.get_write_buffer_size() > 0 and loop.time() < deadline):
        await asyncio.sleep(0.005)


def _reset(request: web.BaseRequest) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), like a crashed server."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
