"""Pure decisions about HTTP answers: what a status and its headers mean for the staged bytes.

RFC 9110 §14.4 / §15.3.7: a 206 is merged only when its Content-Range starts exactly where
we asked and its total is the size we know; a 200 to a range request replaces the partial
file; a 416 means "check what you have". Nothing here does I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

from orchestrator.errors import DownloadError, ErrorCode

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$", re.IGNORECASE)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class ContentRange:
    """``bytes start-end/total`` with ``end`` exclusive; start/end None for ``bytes */total``."""

    start: int | None
    end: int | None
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """Parse a Content-Range header; None when absent or malformed (including end < start)."""
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    first, last, total = match.groups()
    size = None if total == "*" else int(total)
    if first is None:
        return ContentRange(None, None, size)
    start, end = int(first), int(last) + 1
    if end <= start or (size is not None and end > size):
        return None
    return ContentRange(start, end, size)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def strong_etag(etag: str | None) -> str | None:
    """The ETag if it is strong; If-Range must never carry a weak one (RFC 9110 §13.1.5)."""
    if not etag or etag.startswith(("W/", "w/")):
        return None
    return etag


def if_range_value(etag: str | None, last_modified: str | None) -> str | None:
    """What to send in If-Range: the strong ETag, else Last-Modified only when there is no ETag."""
    if etag:
        return strong_etag(etag)
    return last_modified or None


def validators_changed(stored: Mapping[str, str | None], etag: str | None,
                       last_modified: str | None) -> bool:
    """Whether the answer shows a different representation than the one staged."""
    if stored.get("etag") and etag and stored["etag"] != etag:
        return True
    return bool(stored.get("last_modified") and last_modified
                and stored["last_modified"] != last_modified and not stored.get("etag"))


class Action(Enum):
    """What to do with an answer."""

    WRITE = "write"            # body bytes go at ``start``
    CHECK_COMPLETE = "check"   # 416: the staged file may already be complete
    REDIRECT = "redirect"
    AUTHENTICATE = "authenticate"
    FAIL = "fail"


@dataclass(frozen=True)
class Answer:
    """The decision for one response; for WRITE the body covers [start, end) of ``total``."""

    action: Action
    start: int = 0
    end: int | None = None
    total: int | None = None
    error: DownloadError | None = None


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def http_failure(status: int, url: str, headers: Mapping[str, str]) -> Answer:
    """An HTTP error status: transient for 408, 429 and 5xx (honouring Retry-After)."""
    transient = status in (408, 429) or status >= 500
    retry_after = parse_retry_after(headers.get("Retry-After")) if transient else None
    error = DownloadError(f"HTTP {status} from {url}", ErrorCode.HTTP_ERROR,
                          transient=transient, retry_after=retry_after)
    return Answer(Action.FAIL, error=error)


def _partial(headers: Mapping[str, str], url: str, asked_start: int,
             known_size: int | None) -> Answer:
    content_range = parse_content_range(headers.get("Content-Range"))
    if content_range is None or content_range.start is None:
        error = DownloadError(f"206 without a usable Content-Range from {url}",
                              ErrorCode.BAD_SERVER_ANSWER, transient=True)
        return Answer(Action.FAIL, error=error)
    total = content_range.total
    if content_range.start != asked_start or (known_size is not None and total != known_size):
        error = DownloadError(
            f"{url} answered bytes {content_range.start}-{content_range.end}/{total} when asked "
            f"from byte {asked_start} of {known_size}; the partial file is not merged",
            ErrorCode.RANGE_NOT_HONOURED, transient=True)
        return Answer(Action.FAIL, error=error)
    return Answer(Action.WRITE, content_range.start, content_range.end, total)


def decide(status: int, headers: Mapping[str, str], url: str, asked_start: int | None,
           known_size: int | None) -> Answer:
    """Decide what a response means. ``asked_start`` is the Range start sent, None for no Range.

    A 200 is always a whole body from byte 0 (the caller truncates; never appends).
    """
    if status in REDIRECT_STATUSES and headers.get("Location"):
        return Answer(Action.REDIRECT)
    if status == 401:
        return Answer(Action.AUTHENTICATE)
    if status == 200:
        length = _content_length(headers)
        return Answer(Action.WRITE, 0, length, length)
    if status == 206:
        return _partial(headers, url, asked_start or 0, known_size)
    if status == 416 and asked_start is not None:
        content_range = parse_content_range(headers.get("Content-Range"))
        total = content_range.total if content_range else None
        return Answer(Action.CHECK_COMPLETE, total=total)
    return http_failure(status, url, headers)
