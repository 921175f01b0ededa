"""What ``bgassets fetch`` downloads: URLs and list files turned into destinations.

Pure functions, no network: every problem is a :class:`UsageError` that names
the URL or the ``LIST:LINE`` it comes from, so a typo in line 9,000 of a list
stops the run before the first byte is fetched.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO
from urllib.parse import SplitResult, unquote, urlsplit

from orchestrator.errors import UsageError
from orchestrator.model.units import parse_size

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_LIST_KEYS = ("sha256", "size", "out")


@dataclass(frozen=True)
class FetchItem:
    """One file to fetch: where from, where to, and what it must be."""

    url: str
    destination: Path
    sha256: str | None = None
    size: int | None = None
    where: str = "command line"


@dataclass(frozen=True)
class FetchOptions:
    """The flags that shape every download of a run."""

    jobs: int = 16
    connections: int | None = None
    allowed_hosts: tuple[str, ...] | None = None
    netrc_file: Path | None = None


def checked_url(url: str) -> SplitResult | str:
    """``url``'s parts when it is an http(s) URL with a host, else why it cannot be fetched."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        return f"{url!r} is not a valid URL ({error})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http:// or https:// URL"
    if not parts.hostname:
        return f"{url!r} has no host"
    return parts


def file_name_for(url: str | SplitResult) -> str:
    """The file name a URL is saved under: its last path segment, percent-decoded.

    Separators and NUL become ``_`` so that a name can never leave the folder;
    an empty name, ``.`` or ``..`` becomes ``index.html``, as wget does.
    """
    parts = urlsplit(url) if isinstance(url, str) else url
    name = unquote(parts.path.rsplit("/", 1)[-1])
    for bad in ("/", "\\", "\0"):
        name = name.replace(bad, "_")
    return "index.html" if name in ("", ".", "..") else name


def sha256_value(text: str, where: str) -> str:
    """``text`` as lower-case hex, or a usage error naming ``where``."""
    if not _SHA256.match(text):
        raise UsageError(f"{where}: sha256 must be 64 hexadecimal digits, got {text!r}")
    return text.lower()


def size_value(text: str, where: str) -> int:
    """``text`` as a byte count (``1048576`` or ``1MiB``), or a usage error naming ``where``."""
    if text.isascii() and text.isdigit() and len(text) < 19:  # plain bytes, within MAX_SIZE
        return int(text)
    try:
        return parse_size(text)
    except ValueError as error:
        raise UsageError(f"{where}: size: {error}") from None


def out_path(text: str, directory: Path, where: str) -> Path:
    """``out=`` as a path inside ``directory``: relative, without ``..``."""
    relative = PurePosixPath(text)
    if not text or relative.is_absolute() or ".." in relative.parts or "\0" in text:
        raise UsageError(f"{where}: out={text!r} must be a relative path without '..'")
    return directory.joinpath(*relative.parts)


def parse_list_line(line: str, where: str, directory: Path) -> FetchItem | None:
    """One line of a list file; None for a blank line or a ``#`` comment."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    url, options = words[0], words[1:]
    parts = checked_url(url)
    if isinstance(parts, str):
        raise UsageError(f"{where}: {parts}")
    values: dict[str, str] = {}
    for option in options:
        key, equals, value = option.partition("=")
        if not equals or key not in _LIST_KEYS:
            raise UsageError(f"{where}: unknown option {option!r}: expected "
                             "sha256=HEX, size=N or out=PATH after the URL")
        if key in values:
            raise UsageError(f"{where}: {key}= given twice")
        values[key] = value
    return FetchItem(
        url=url,
        destination=(out_path(values["out"], directory, where) if "out" in values
                     else directory / file_name_for(parts)),
        sha256=sha256_value(values["sha256"], where) if "sha256" in values else None,
        size=size_value(values["size"], where) if "size" in values else None,
        where=where,
    )


def read_list(lines: Iterable[str], name: str, directory: Path) -> list[FetchItem]:
    """Every item of a list file called ``name`` (used in messages as ``name:LINE``)."""
    items = []
    for number, line in enumerate(lines, start=1):
        item = parse_list_line(line, f"{name}:{number}", directory)
        if item is not None:
            items.append(item)
    return items


def open_list(list_file: str, directory: Path, stdin: TextIO | None = None) -> list[FetchItem]:
    """Read ``list_file`` (``-`` is standard input) into items."""
    if list_file == "-":
        return read_list(stdin or sys.stdin, "<stdin>", directory)
    try:
        with open(list_file, encoding="utf-8") as handle:
            return read_list(handle, list_file, directory)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read list {list_file}: {error}") from None


def collect_items(urls: Sequence[str], list_file: str | None, directory: Path,
                  sha256: str | None, size: int | None) -> list[FetchItem]:
    """The items of one ``fetch`` run, checked: valid URLs and no two at the same path."""
    items = []
    for url in urls:
        parts = checked_url(url)
        if isinstance(parts, str):
            raise UsageError(parts)
        items.append(FetchItem(url=url, destination=directory / file_name_for(parts)))
    if list_file is not None:
        items.extend(open_list(list_file, directory))
    if not items:
        raise UsageError("nothing to fetch: give at least one URL or -i LIST")
    if sha256 is not None or size is not None:
        if len(items) != 1:
            raise UsageError("--sha256 and --size apply to exactly one URL; "
                             "use sha256=... size=... in a -i list for several")
        only = items[0]
        items[0] = FetchItem(only.url, only.destination,
                             sha256=sha256 if sha256 is not None else only.sha256,
                             size=size if size is not None else only.size, where=only.where)
    _refuse_shared_destinations(items)
    return items


def _refuse_shared_destinations(items: Sequence[FetchItem]) -> None:
    seen: dict[str, FetchItem] = {}
    for item in items:
        key = os.path.normpath(item.destination)
        first = seen.setdefault(key, item)
        if first is not item:
            raise UsageError(f"{_place(item)}{item.url} would be saved to {item.destination}, "
                             f"as {first.url} would be; use out= in a -i list to choose a path")


def _place(item: FetchItem) -> str:
    return "" if item.where == "command line" else f"{item.where}: "
