"""Slices: downloads of bytes [offset, offset + length) of a remote resource.

One file of a bundle (many files concatenated in one object) is such a slice. Inside the
engine a slice is a file of ``length`` bytes like any other: its segments, ``.part``,
checkpoints and sha256 count from 0. Only here, at the HTTP edge, are positions moved by
``offset``: every request carries a bounded ``Range`` inside the slice, and only a 206
whose ``Content-Range`` is exactly the bytes asked for is written. A 200 is the whole
resource and is never cut down to the slice: its body is not read at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from orchestrator.engine.ranges import Action, Answer, http_failure, parse_content_range
from orchestrator.engine.request import DownloadRequest
from orchestrator.errors import DownloadError, ErrorCode


def sized(request: DownloadRequest) -> DownloadRequest:
    """The request with ``size`` pinned to the slice's length (a slice's size is known)."""
    if request.byte_range is None or request.size is not None:
        return request
    return dataclasses.replace(request, size=request.byte_range[1])


def size_conflict(request: DownloadRequest) -> DownloadError | None:
    """SIZE_MISMATCH when the request pins a size other than its slice's length."""
    if request.byte_range is None or request.size in (None, request.byte_range[1]):
        return None
    offset, length = request.byte_range
    return DownloadError(f"{request.url}: the slice at byte {offset} is {length} bytes, but "
                         f"its size is given as {request.size}; nothing was fetched",
                         ErrorCode.SIZE_MISMATCH)


def range_header(byte_range: tuple[int, int], start: int, end: int | None) -> str:
    """``Range`` for bytes [start, end) of the slice (``end`` None: to its end)."""
    offset, length = byte_range
    stop = length if end is None else end
    return f"bytes={offset + start}-{offset + stop - 1}"


def decide_slice(status: int, headers: Mapping[str, str], url: str,
                 byte_range: tuple[int, int], start: int, end: int | None, *,
                 conditional: bool) -> Answer:
    """What an answer to ``range_header(byte_range, start, end)`` means, in slice positions.

    ``conditional`` says the request carried ``If-Range``: a 200 then means the resource
    changed since the staged bytes came (RFC 9110 §13.1.5), and the slice starts over.
    Without it a 200 means the server ignores ranges, and retrying cannot help.
    """
    offset, length = byte_range
    stop = length if end is None else end
    asked = _bytes(offset + start, offset + stop)
    if status == 206:
        return _partial(headers, url, byte_range, start, stop)
    if status == 200 and conditional:
        return _fail(f"{url} changed while resuming the slice at byte {offset} (a 200 to "
                     "If-Range); fetching the slice again", transient=True, at_once=True)
    if status == 200:
        return _fail(f"{url} ignored the Range {asked} and answered 200 with the whole "
                     "resource; a slice needs a server that honours ranges (nothing was "
                     "written)", transient=False)
    if status == 416:
        content_range = parse_content_range(headers.get("Content-Range"))
        total = content_range.total if content_range else None
        size = "" if total is None else f" (it is {total} bytes)"
        return _fail(f"{url} cannot serve {asked}: the slice lies beyond its end{size}",
                     transient=False)
    return http_failure(status, url, headers)


def _partial(headers: Mapping[str, str], url: str, byte_range: tuple[int, int], start: int,
             stop: int) -> Answer:
    offset, length = byte_range
    content_range = parse_content_range(headers.get("Content-Range"))
    if content_range is None or content_range.start is None:
        return Answer(Action.FAIL, error=DownloadError(
            f"206 without a usable Content-Range from {url}", ErrorCode.BAD_SERVER_ANSWER,
            transient=True))
    if (content_range.start, content_range.end) == (offset + start, offset + stop):
        return Answer(Action.WRITE, start, stop, length)
    answered = _bytes(content_range.start, content_range.end or 0)
    asked = _bytes(offset + start, offset + stop)
    total = content_range.total
    if total is not None and total < offset + length:
        return _fail(f"{url} is {total} bytes: it ends before the slice does (at byte "
                     f"{offset + length}); answered {answered} for {asked}", transient=False)
    return _fail(f"{url} answered {answered}/{total if total is not None else '*'} when "
                 f"asked for {asked}; nothing of it is written", transient=True)


def _bytes(first: int, end: int) -> str:
    """Bytes [first, end) as Content-Range writes them (inclusive)."""
    return f"bytes {first}-{end - 1}"


def _fail(message: str, *, transient: bool, at_once: bool = False) -> Answer:
    error = DownloadError(message, ErrorCode.RANGE_NOT_HONOURED, transient=transient,
                          retry_after=0 if at_once else None)
    return Answer(Action.FAIL, error=error)
