"""One attempt of a download: open the first answer, then stream it over one or more connections.

With ``connections=None`` a large file on a server that honours ranges starts on one
connection and doubles the connection count every tick while the total throughput keeps
growing by at least a fifth: a per-connection throttle keeps it growing up to the host
limit; a single connection that is already fast stays alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from orchestrator.engine.http import open_response
from orchestrator.engine.ranges import (
    Action,
    Answer,
    decide,
    if_range_value,
    validators_changed,
)
from orchestrator.engine.resumable import Resumable
from orchestrator.engine.segments import (
    ConnectionRamp,
    Segment,
    bytes_done,
    next_idle,
    plan_segments,
    steal,
    stragglers,
)
from orchestrator.engine.slices import decide_slice, range_header
from orchestrator.engine.small import SMALL_FILE
from orchestrator.engine.transfer import pump
from orchestrator.errors import BodyTooLarge, DownloadError, EndlessBody, ErrorCode

SEGMENT_THRESHOLD = 8 << 20
TICK = 0.15
RAMP_STEAL = 1 << 20
UNKNOWN_END = 1 << 62


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended without a failure: every byte is in the ``.part`` (``body``
    None), or a small file came whole into memory, to be written and published at once."""

    body: bytes | None = None


COMPLETE = Outcome()


def _range_headers(resumable: Resumable, start: int, end: int | None) -> dict[str, str]:
    byte_range = resumable.request.byte_range
    headers = {"Range": range_header(byte_range, start, end) if byte_range is not None
               else f"bytes={start}-{'' if end is None else end - 1}"}
    validator = if_range_value(resumable.etag, resumable.last_modified)
    if (start > 0 or _resuming(resumable)) and validator:
        headers["If-Range"] = validator
    return headers


def _resuming(resumable: Resumable) -> bool:
    """Whether staged bytes are kept: an answer must then be of the same representation,
    even to a range from byte 0 (the bytes kept may be those of a later segment)."""
    return bytes_done(resumable.files.segments) > 0


def _decide(resumable: Resumable, response: aiohttp.ClientResponse, url: str,
            headers: dict[str, str], start: int, end: int | None) -> Answer:
    """The decision for an answer to ``headers`` (with a ``Range`` from ``start`` when it
    has one); a slice's answer is given in positions of the slice."""
    byte_range = resumable.request.byte_range
    if byte_range is not None:
        return decide_slice(response.status, response.headers, url, byte_range, start, end,
                            conditional="If-Range" in headers)
    return decide(response.status, response.headers, url,
                  start if "Range" in headers else None, resumable.files.size)


async def _open(resumable: Resumable,
                headers: dict[str, str]) -> tuple[aiohttp.ClientResponse, str]:
    request = resumable.request
    response, final_url = await open_response(
        resumable.context.session, request.url, headers, allowed_hosts=request.allowed_hosts,
        credentials=resumable.context.credentials, scope=request.auth_scope,
        key=request.state_key)
    return response, str(final_url)


def _adopt(resumable: Resumable, response: aiohttp.ClientResponse, total: int | None,
           start: int) -> None:
    """Pin the size and validators from the first answer of an attempt."""
    staged, request = resumable.files, resumable.request
    if request.size is not None and total is not None and total != request.size:
        raise DownloadError(f"{request.url} is {total} bytes, expected {request.size}",
                            ErrorCode.SIZE_MISMATCH)
    if request.max_size is not None and total is not None and total > request.max_size:
        raise BodyTooLarge(request.url, request.max_size, total)
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    stored = {"etag": resumable.etag, "last_modified": resumable.last_modified}
    if (start > 0 or _resuming(resumable)) and validators_changed(stored, etag, modified):
        resumable.forget_bytes()
        raise DownloadError(f"{request.url} changed while resuming; starting over",
                            ErrorCode.BAD_SERVER_ANSWER, transient=True, retry_after=0)
    resumable.etag, resumable.last_modified = etag, modified
    size = request.size if request.size is not None else total
    if staged.size is None or not staged.segments:
        staged.size = size
    if not staged.segments:
        staged.segments = [Segment(0, size if size is not None else UNKNOWN_END)]


def _first_request(resumable: Resumable) -> tuple[Segment | None, int, bool]:
    """Where this attempt starts: (first idle segment, its offset, send a Range?)."""
    staged, request = resumable.files, resumable.request
    first = next_idle(staged.segments)
    start = first.position if first else 0
    probe = request.connections != 1 and not resumable.force_single and (
        request.connections is not None or request.size is None
        or request.size >= SEGMENT_THRESHOLD)
    # Even on one connection, ``bytes=0-`` makes the server state the total in Content-Range.
    # A slice always asks for its bytes only.
    ranged = start > 0 or probe or (request.size is None and not resumable.force_single) or (
        request.byte_range is not None)
    if _resuming(resumable) and not (if_range_value(resumable.etag, resumable.last_modified)
                                     or request.sha256):
        resumable.forget_bytes()  # nothing could tell us the bytes are still the same
        return None, 0, probe or request.byte_range is not None
    return first, start, ranged


async def attempt(resumable: Resumable) -> Outcome:
    """Open the first answer of this attempt and stream everything still missing.

    A failure raises DownloadError (or an aiohttp/OS error, classified by the caller)
    after leaving the staged bytes as they can be trusted.
    """
    staged, request = resumable.files, resumable.request
    if request.byte_range is not None and request.byte_range[1] == 0:
        return Outcome(b"")  # an empty file of a bundle: no Range can ask for it
    wanted = request.connections or 1
    if not staged.segments and request.size and wanted > 1 and not resumable.force_single:
        staged.size, staged.segments = request.size, plan_segments(request.size, wanted)
    if staged.segments and next_idle(staged.segments) is None:
        return COMPLETE
    # Re-establish the running sha256 over what is already on disk, so that the new bytes
    # are hashed as they arrive instead of being read back at the end.
    await staged.catch_up_hash()
    first, start, ranged = _first_request(resumable)
    end = first.end if first is not None and first.end < (staged.size or 0) else None
    headers = _range_headers(resumable, start, end) if ranged else {}
    response, url = await _open(resumable, headers)
    try:
        answer = _decide(resumable, response, url, headers, start, end)
        if answer.action is Action.CHECK_COMPLETE:
            response.release()
            await _check_complete(resumable, answer.total)
            return COMPLETE
        segment, segmented = _first_answer(resumable, response, url, answer, ranged)
    except BaseException:
        response.close()
        raise
    if not segmented and segment is not None and segment.done == 0 and (
            len(staged.segments) == 1 and staged.size is not None
            and staged.size <= SMALL_FILE):
        return Outcome(await _read_small(resumable, response, url, staged.size))
    await _run_workers(resumable, response, url, segment, segmented)
    return COMPLETE


async def _read_small(resumable: Resumable, response: aiohttp.ClientResponse, url: str,
                      size: int) -> bytes:
    """The whole body of a small file, never more than its size (else: endless data)."""
    chunks: list[bytes] = []
    received = 0
    try:
        while chunk := await response.content.readany():
            chunks.append(chunk)
            received += len(chunk)
            if received > size:
                break
    finally:
        if received > size:
            response.close()
        else:
            response.release()
    body = b"".join(chunks)
    resumable.files.received += min(received, size)
    if received < size:
        raise DownloadError(f"{url} ended after {received} of {size} bytes",
                            ErrorCode.NETWORK_ERROR, transient=True)
    if received > size:
        await asyncio.to_thread(resumable.files.part.write_at, body[:size], 0)
        resumable.files.segments[0].done = size
        raise EndlessBody(url, size)
    return body


def _first_answer(resumable: Resumable, response: aiohttp.ClientResponse, url: str,
                  answer: Answer, ranged: bool) -> tuple[Segment | None, bool]:
    """Adopt the attempt's first answer: the segment to stream and whether to segment."""
    staged, request = resumable.files, resumable.request
    if answer.action is not Action.WRITE:
        raise answer.error or DownloadError(f"unexpected HTTP {response.status} from {url}",
                                            ErrorCode.BAD_SERVER_ANSWER, transient=True)
    ignored_range = ranged and response.status == 200
    if ignored_range and staged.segments:
        resumable.forget_bytes()
    _adopt(resumable, response, answer.total, answer.start)
    ranges_ok = response.status == 206 or (
        response.headers.get("Accept-Ranges", "").lower() == "bytes")
    size = staged.size
    segmented = ranges_ok and not ignored_range and not resumable.force_single and (
        size is not None) and (request.connections is None and size >= SEGMENT_THRESHOLD
                               or (request.connections or 1) > 1)
    return next_idle(staged.segments), segmented


async def _check_complete(resumable: Resumable, total: int | None) -> None:
    """A 416 to a resume: finish when the .part is the whole file, else start over."""
    staged = resumable.files
    size = staged.size
    if size is not None and total in (None, size) and bytes_done(staged.segments) == size:
        return
    resumable.forget_bytes()
    raise DownloadError(f"{resumable.request.url} refused the range; starting over",
                        ErrorCode.RANGE_NOT_HONOURED, transient=True, retry_after=0)


async def _open_segment(resumable: Resumable, segment: Segment) -> aiohttp.ClientResponse:
    """A bounded range request for ``segment``; anything but its exact 206 is refused."""
    # Taken now: another connection may steal the segment's tail while this one waits.
    start, end = segment.position, segment.end
    headers = _range_headers(resumable, start, end)
    response, url = await _open(resumable, headers)
    answer = _decide(resumable, response, url, headers, start, end)
    if answer.action is Action.WRITE and response.status == 206:
        stored = {"etag": resumable.etag, "last_modified": resumable.last_modified}
        if not validators_changed(stored, response.headers.get("ETag"),
                                  response.headers.get("Last-Modified")):
            return response
    response.close()
    if answer.action is Action.FAIL and answer.error is not None:
        raise answer.error
    raise DownloadError(f"{url} did not honour the range {headers['Range']} "
                        f"(HTTP {response.status}); starting over on one connection",
                        ErrorCode.RANGE_NOT_HONOURED, transient=True, retry_after=0)


async def _worker(resumable: Resumable, response: aiohttp.ClientResponse | None, url: str,
                  segment: Segment | None, may_steal: bool) -> None:
    """Fetch ``segment``, then idle segments, then (segmented) tails taken from others."""
    staged = resumable.files
    rate: float | None = None
    while segment is not None:
        segment.begin(time.monotonic())
        try:
            if response is None:
                response = await _open_segment(resumable, segment)
            await pump(response, segment, staged, url)
            elapsed = max(time.monotonic() - (segment.started or 0.0), 1e-3)
            rate = (segment.done - segment.base) / elapsed or rate
        finally:
            segment.active = False
            if response is not None:
                if response.content.at_eof():
                    response.release()
                else:
                    response.close()
            response = None
        segment = await _next_work(staged.segments, rate) if may_steal else (
            next_idle(staged.segments))


async def _next_work(segments: list[Segment], rate: float | None) -> Segment | None:
    """An idle segment, else a tail stolen from the slowest; waits while rates are unknown."""
    while True:
        segment = next_idle(segments) or steal(segments, now=time.monotonic(), thief_rate=rate)
        if segment is not None or not stragglers(segments, time.monotonic()):
            return segment
        await asyncio.sleep(TICK)


async def _run_workers(resumable: Resumable, response: aiohttp.ClientResponse, url: str,
                       segment: Segment | None, segmented: bool) -> None:
    """Stream on one connection, or several under a :class:`ConnectionRamp`."""
    if segment is not None:
        segment.active = True
    first = asyncio.ensure_future(_worker(resumable, response, url, segment, segmented))
    resumable.connections = 1
    if not segmented:
        try:
            await first
        finally:
            resumable.connections = 0
        return
    request, context = resumable.request, resumable.context
    ramp = ConnectionRamp(min(request.connections or context.max_connections,
                              context.max_connections), fixed=request.connections is not None)
    pool = _Pool(resumable, URL(url).host or "", url, {first})
    try:
        await pool.run(ramp)
    finally:
        await pool.stop()


class _Pool:
    """The connections of one segmented resumable, with the extra host slots they hold."""

    def __init__(self, resumable: Resumable, host: str, url: str,
                 workers: set[asyncio.Future[None]]) -> None:
        self.resumable, self.host, self.url, self.workers = resumable, host, url, workers
        self.slots = resumable.context.slots
        self.extra = 0

    def grow(self, wanted: int) -> None:
        staged = self.resumable.files
        while len(self.workers) < wanted and self.slots.try_extra(self.host):
            new = next_idle(staged.segments) or steal(staged.segments, RAMP_STEAL)
            if new is None:
                self.slots.release(self.host)
                return
            new.active = True
            self.extra += 1
            self.workers.add(asyncio.ensure_future(
                _worker(self.resumable, None, self.url, new, True)))

    async def run(self, ramp: ConnectionRamp) -> None:
        staged = self.resumable.files
        mark = (time.monotonic(), staged.received)
        while self.workers:
            self.grow(ramp.wanted)
            self.resumable.connections = len(self.workers)
            done, self.workers = await asyncio.wait(self.workers, timeout=TICK,
                                                    return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            await staged.catch_up_hash()
            if len(self.workers) >= ramp.wanted:
                now = time.monotonic()
                ramp.observe((staged.received - mark[1]) / max(now - mark[0], 1e-6))
                mark = (now, staged.received)

    async def stop(self) -> None:
        for task in self.workers:
            task.cancel()
        if self.workers:
            await asyncio.gather(*self.workers, return_exceptions=True)
        for _ in range(self.extra):
            self.slots.release(self.host)
        self.resumable.connections = 0
