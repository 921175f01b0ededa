"""One attempt of a download: open the first answer, then stream it over one or more connections.

With ``connections=None`` a large file on a server that honours ranges starts on one
connection and doubles the connection count every tick while the total throughput keeps
growing by at least a fifth: a per-connection throttle keeps it growing up to the host
limit; a single connection that is already fast stays alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING

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
from orchestrator.engine.request import DownloadResult
from orchestrator.engine.segments import (
    ConnectionRamp,
    Segment,
    bytes_done,
    next_idle,
    plan_segments,
    steal,
    stragglers,
)
from orchestrator.engine.transfer import BodyTooLarge, EndlessBody, pump
from orchestrator.errors import DownloadError, ErrorCode

if TYPE_CHECKING:
    from orchestrator.engine.download import Download

SEGMENT_THRESHOLD = 8 << 20
TICK = 0.15
RAMP_STEAL = 1 << 20
UNKNOWN_END = 1 << 62
SMALL_FILE = 1 << 20


def _range_headers(download: Download, start: int, end: int | None) -> dict[str, str]:
    headers = {"Range": f"bytes={start}-{'' if end is None else end - 1}"}
    validator = if_range_value(download.etag, download.last_modified)
    if start > 0 and validator:
        headers["If-Range"] = validator
    return headers


async def _open(download: Download, headers: dict[str, str]) -> tuple[aiohttp.ClientResponse, str]:
    request = download.request
    response, final_url = await open_response(
        download.context.session, request.url, headers, allowed_hosts=request.allowed_hosts,
        credentials=download.context.credentials)
    return response, str(final_url)


def _adopt(download: Download, response: aiohttp.ClientResponse, total: int | None,
           start: int) -> None:
    """Pin the size and validators from the first answer of an attempt."""
    staged, request = download.files, download.request
    if request.size is not None and total is not None and total != request.size:
        raise DownloadError(f"{request.url} is {total} bytes, expected {request.size}",
                            ErrorCode.SIZE_MISMATCH)
    if request.max_size is not None and total is not None and total > request.max_size:
        raise BodyTooLarge(request.url, request.max_size, total)
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    stored = {"etag": download.etag, "last_modified": download.last_modified}
    if start > 0 and validators_changed(stored, etag, modified):
        download.forget_bytes()
        raise DownloadError(f"{request.url} changed while resuming; starting over",
                            ErrorCode.BAD_SERVER_ANSWER, transient=True, retry_after=0)
    download.etag, download.last_modified = etag, modified
    size = request.size if request.size is not None else total
    if staged.size is None or not staged.segments:
        staged.size = size
    if not staged.segments:
        staged.segments = [Segment(0, size if size is not None else UNKNOWN_END)]


def _first_request(download: Download) -> tuple[Segment | None, int, bool]:
    """Where this attempt starts: (first idle segment, its offset, send a Range?)."""
    staged, request = download.files, download.request
    first = next_idle(staged.segments)
    start = first.position if first else 0
    probe = request.connections != 1 and not download.force_single and (
        request.connections is not None or request.size is None
        or request.size >= SEGMENT_THRESHOLD)
    # Even on one connection, ``bytes=0-`` makes the server state the total in Content-Range.
    ranged = start > 0 or probe or (request.size is None and not download.force_single)
    if start > 0 and not (if_range_value(download.etag, download.last_modified)
                          or request.sha256):
        download.forget_bytes()  # nothing could tell us the bytes are still the same
        return None, 0, probe
    return first, start, ranged


async def attempt(download: Download) -> bytes | None:
    """Open the first answer of this attempt and stream everything still missing.

    A small file comes back as bytes, to be written and published in one thread hop.
    """
    staged, request = download.files, download.request
    wanted = request.connections or 1
    if not staged.segments and request.size and wanted > 1 and not download.force_single:
        staged.size, staged.segments = request.size, plan_segments(request.size, wanted)
    if staged.segments and next_idle(staged.segments) is None:
        return None
    # Re-establish the running sha256 over what is already on disk, so that the new bytes
    # are hashed as they arrive instead of being read back at the end.
    await staged.catch_up_hash()
    first, start, ranged = _first_request(download)
    end = first.end if first is not None and first.end < (staged.size or 0) else None
    response, url = await _open(download, _range_headers(download, start, end) if ranged else {})
    try:
        answer = decide(response.status, response.headers, url, start if ranged else None,
                        staged.size)
        if answer.action is Action.CHECK_COMPLETE:
            response.release()
            await _check_complete(download, answer.total)
            return None
        segment, segmented = _first_answer(download, response, url, answer, ranged)
    except BaseException:
        response.close()
        raise
    if not segmented and segment is not None and segment.done == 0 and (
            len(staged.segments) == 1 and staged.size is not None
            and staged.size <= SMALL_FILE):
        return await _read_small(download, response, url, staged.size)
    await _run_workers(download, response, url, segment, segmented)
    return None


async def _read_small(download: Download, response: aiohttp.ClientResponse, url: str,
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
    download.files.received += min(received, size)
    if received < size:
        raise DownloadError(f"{url} ended after {received} of {size} bytes",
                            ErrorCode.NETWORK_ERROR, transient=True)
    if received > size:
        await asyncio.to_thread(download.files.part.write_at, body[:size], 0)
        download.files.segments[0].done = size
        raise EndlessBody(url, size)
    return body


def _first_answer(download: Download, response: aiohttp.ClientResponse, url: str,
                  answer: Answer, ranged: bool) -> tuple[Segment | None, bool]:
    """Adopt the attempt's first answer: the segment to stream and whether to segment."""
    staged, request = download.files, download.request
    if answer.action is not Action.WRITE:
        raise answer.error or DownloadError(f"unexpected HTTP {response.status} from {url}",
                                            ErrorCode.BAD_SERVER_ANSWER, transient=True)
    ignored_range = ranged and response.status == 200
    if ignored_range and staged.segments:
        download.forget_bytes()
    _adopt(download, response, answer.total, answer.start)
    ranges_ok = response.status == 206 or (
        response.headers.get("Accept-Ranges", "").lower() == "bytes")
    size = staged.size
    segmented = ranges_ok and not ignored_range and not download.force_single and (
        size is not None) and (request.connections is None and size >= SEGMENT_THRESHOLD
                               or (request.connections or 1) > 1)
    return next_idle(staged.segments), segmented


async def _check_complete(download: Download, total: int | None) -> None:
    """A 416 to a resume: finish when the .part is the whole file, else start over."""
    staged = download.files
    size = staged.size
    if size is not None and total in (None, size) and bytes_done(staged.segments) == size:
        return
    download.forget_bytes()
    raise DownloadError(f"{download.request.url} refused the range; starting over",
                        ErrorCode.RANGE_NOT_HONOURED, transient=True, retry_after=0)


async def _open_segment(download: Download, segment: Segment) -> aiohttp.ClientResponse:
    """A bounded range request for ``segment``; anything but its exact 206 is refused."""
    start = segment.position
    headers = _range_headers(download, start, segment.end)
    response, url = await _open(download, headers)
    answer = decide(response.status, response.headers, url, start, download.files.size)
    if answer.action is Action.WRITE and response.status == 206:
        stored = {"etag": download.etag, "last_modified": download.last_modified}
        if not validators_changed(stored, response.headers.get("ETag"),
                                  response.headers.get("Last-Modified")):
            return response
    response.close()
    if answer.action is Action.FAIL and answer.error is not None:
        raise answer.error
    raise DownloadError(f"{url} did not honour the range {headers['Range']} "
                        f"(HTTP {response.status}); starting over on one connection",
                        ErrorCode.RANGE_NOT_HONOURED, transient=True, retry_after=0)


async def _worker(download: Download, response: aiohttp.ClientResponse | None, url: str,
                  segment: Segment | None, may_steal: bool) -> None:
    """Fetch ``segment``, then idle segments, then (segmented) tails taken from others."""
    staged = download.files
    rate: float | None = None
    while segment is not None:
        segment.begin(time.monotonic())
        try:
            if response is None:
                response = await _open_segment(download, segment)
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


async def _run_workers(download: Download, response: aiohttp.ClientResponse, url: str,
                       segment: Segment | None, segmented: bool) -> None:
    """Stream on one connection, or several under a :class:`ConnectionRamp`."""
    if segment is not None:
        segment.active = True
    first = asyncio.ensure_future(_worker(download, response, url, segment, segmented))
    download.connections = 1
    if not segmented:
        try:
            await first
        finally:
            download.connections = 0
        return
    request, context = download.request, download.context
    ramp = ConnectionRamp(min(request.connections or context.max_connections,
                              context.max_connections), fixed=request.connections is not None)
    pool = _Pool(download, URL(url).host or "", url, {first})
    try:
        await pool.run(ramp)
    finally:
        await pool.stop()


class _Pool:
    """The connections of one segmented download, with the extra host slots they hold."""

    def __init__(self, download: Download, host: str, url: str, workers: set) -> None:
        self.download, self.host, self.url, self.workers = download, host, url, workers
        self.slots = download.context.slots
        self.extra = 0

    def grow(self, wanted: int) -> None:
        staged = self.download.files
        while len(self.workers) < wanted and self.slots.try_extra(self.host):
            new = next_idle(staged.segments) or steal(staged.segments, RAMP_STEAL)
            if new is None:
                self.slots.release(self.host)
                return
            new.active = True
            self.extra += 1
            self.workers.add(asyncio.ensure_future(
                _worker(self.download, None, self.url, new, True)))

    async def run(self, ramp: ConnectionRamp) -> None:
        staged = self.download.files
        mark = (time.monotonic(), staged.received)
        while self.workers:
            self.grow(ramp.wanted)
            self.download.connections = len(self.workers)
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
        self.download.connections = 0


async def finish(download: Download, body: bytes | None = None) -> DownloadResult:
    """Check size and sha256, then publish; a wrong file never reaches the destination."""
    staged, request = download.files, download.request
    if body is not None:
        return await _finish_small(download, body)
    if staged.size is None:
        staged.size = staged.segments[0].position if staged.segments else 0
        if staged.segments:
            staged.segments[0].end = staged.size
    size = staged.size
    if request.size is not None and size != request.size:
        raise DownloadError(f"{request.url} gave {size} bytes, expected {request.size}",
                            ErrorCode.SIZE_MISMATCH)
    if bytes_done(staged.segments) != size:
        raise DownloadError(f"{request.url}: {bytes_done(staged.segments)} of {size} bytes "
                            "on disk", ErrorCode.NETWORK_ERROR, transient=True)
    await staged.drain()
    while staged.hashed_to < size:
        await staged.catch_up_hash()
    digest = staged.hasher.hexdigest()
    if request.sha256 is not None and digest != request.sha256.lower():
        raise DownloadError(f"{request.url}: sha256 {digest} does not match the expected "
                            f"{request.sha256.lower()}", ErrorCode.CHECKSUM_MISMATCH)
    staged.close_writer()
    await download.settle_checkpoint()
    await asyncio.to_thread(staged.part.publish, request.destination)
    return _finished(download, size, digest)


async def _finish_small(download: Download, body: bytes) -> DownloadResult:
    staged, request = download.files, download.request
    digest = hashlib.sha256(body).hexdigest()
    if request.sha256 is not None and digest != request.sha256.lower():
        raise DownloadError(f"{request.url}: sha256 {digest} does not match the expected "
                            f"{request.sha256.lower()}", ErrorCode.CHECKSUM_MISMATCH)
    await download.context.group_commit.publish(staged.part, body, request.destination)
    staged.segments[0].done = len(body)
    return _finished(download, len(body), digest)


def _finished(download: Download, size: int, digest: str) -> DownloadResult:
    staged, request = download.files, download.request
    staged.discard_mark()
    if download.saved:
        download.context.store.delete(download.store_key)
        download.saved = False
    download.state = "finished"
    download.sha256 = digest
    download.emit(force=True)
    return DownloadResult(download.key, request.url, request.destination, size, digest, None,
                          staged.received, download.resumed_from)
