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


class TokenBucket:
    """``rate`` bytes per second with at most one chunk of credit; debt is paid by sleeping.

    One bucket per connection caps a keep-alive connection as a whole, as
    nginx's ``limit_rate`` does, rather than restarting the allowance with
    every request.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        # Smaller chunks when throttled, so the pace is smooth rather than bursty.
        self.chunk_size = max(4096, min(CHUNK_SIZE, rate // 16))
        self._tokens = float(self.chunk_size)
        self._stamp: float | None = None

    async def take(self, size: int) -> None:
        """Spend ``size`` bytes of credit, sleeping for whatever is missing."""
        now = asyncio.get_running_loop().time()
        if self._stamp is not None:
            self._tokens = min(self.chunk_size, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= size
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


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


async def send_body(request: web.BaseRequest, response: web.StreamResponse, fd: int,
                    plan: BodyPlan, bucket: TokenBucket | None,
                    count: Callable[[int], None]) -> None:
    """Write the planned bytes, paced by ``bucket``; a client that goes away ends the body."""
    chunk_size = bucket.chunk_size if bucket else CHUNK_SIZE
    try:
        position, end = plan.offset, plan.offset + plan.send
        while position < end:
            chunk = os.pread(fd, min(chunk_size, end - position), position)
            if not chunk:
                break  # the file shrank while we served it
            if bucket:
                await bucket.take(len(chunk))
            await response.write(chunk)
            position += len(chunk)
            count(len(chunk))
        if plan.ending == "endless":
            filler = b"\xa5" * chunk_size
            while True:
                if bucket:
                    await bucket.take(len(filler))
                await response.write(filler)
                count(len(filler))
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
