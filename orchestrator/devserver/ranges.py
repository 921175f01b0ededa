"""Pure decisions about validators, conditional requests and byte ranges (RFC 9110).

Kept free of I/O so that each rule of the RFC can be tested on its own.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass

from orchestrator.errors import Unsatisfiable


@dataclass(frozen=True)
class Validators:
    """A file's strong ETag and Last-Modified, as the server announces them."""

    etag: str
    last_modified: int  # whole seconds since the epoch

    @classmethod
    def for_file(cls, size: int, mtime_ns: int, generation: int = 0) -> Validators:
        """Validators of a file; ``generation`` > 0 fakes a change (the etag-change fault)."""
        suffix = f"-g{generation}" if generation else ""
        return cls(etag=f'"{size:x}-{mtime_ns:x}{suffix}"',
                   last_modified=mtime_ns // 1_000_000_000 + generation)

    @property
    def last_modified_http(self) -> str:
        return email.utils.formatdate(self.last_modified, usegmt=True)


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``first``..``last`` of a file of ``size`` bytes."""

    first: int
    last: int
    size: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch of an HTTP date, or None when it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range to serve, or None to send the whole file (200).

    A missing, malformed or multi-range header gives None: RFC 9110 §14.2 lets
    a server ignore Range, and answering several ranges with one 200 is valid.
    Raises Unsatisfiable when the one range asked for lies beyond the end.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not (first_text.isdigit() or first_text == ""):
        return None
    if last_text and not last_text.isdigit():
        return None
    if first_text == "":
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1, size)
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise Unsatisfiable
    return ByteRange(first, min(last, size - 1), size)


def if_range_allows(if_range: str | None, validators: Validators) -> bool:
    """Whether the range may be honoured under ``If-Range`` (RFC 9110 §13.1.5).

    Only a strong entity tag or a date counts; a weak tag never matches.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == validators.etag
    date = parse_http_date(value)
    return date is not None and date == validators.last_modified


def not_modified(headers: dict[str, str], validators: Validators) -> bool:
    """Whether a GET or HEAD may be answered 304 (RFC 9110 §13.1.2 and §13.1.3)."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or validators.etag in tags
    since = headers.get("If-Modified-Since")
    if since is not None:
        date = parse_http_date(since)
        return date is not None and validators.last_modified <= date
    return False
