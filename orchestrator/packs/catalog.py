"""Reading a pack catalog (``packs.json``) as a server answered it: checked to the last field.

A pack catalog comes from the network, so every field is checked before anything is
planned from it: the format, unique pack ids, policies, file paths that stay inside the
pack (no ``..``, no absolute path, no backslash, no two files at one path), sizes and
sha256 values, object URLs that resolve against the catalog's URL, a file's byte range
inside its object, and the sizes the catalog claims against what its files add up to.
A problem is a :class:`ManifestError` naming the field (``packs[2].files[7].path``),
never an exception from deep inside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

from orchestrator.errors import ManifestError
from orchestrator.model.pack import (
    CATALOG_FORMAT,
    AssetPack,
    BuiltPack,
    DownloadPolicy,
    InstallationEvent,
    PackCatalog,
    PackFile,
    PackObject,
)

MAX_PACK_CATALOG = 64 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
PACK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.where}: {path}: {problem}")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, found {type(value).__name__}")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, found {type(value).__name__}")
        return value

    def count(self, value: Any, path: str) -> int:
        if type(value) is not int or value < 0:
            raise self.fail(path, f"expected a byte count, found {value!r:.40}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected text, found {value!r:.40}")
        return value

    def digest(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise self.fail(path, f"expected 64 lower-case hex digits, found {value!r:.80}")
        return value


def _relative_path(reader: _Reader, value: Any, path: str) -> str:
    text = reader.text(value, path)
    pure = PurePosixPath(text)
    if (text.startswith("/") or "\\" in text or "\0" in text or pure.as_posix() != text
            or any(part in ("..", ".") for part in pure.parts)):
        raise reader.fail(path, f"{text!r:.80} is not a normalised relative path inside "
                          "the pack")
    return text


def _object_url(reader: _Reader, value: Any, path: str, base_url: str) -> str:
    text = reader.text(value, path)
    try:
        absolute = urljoin(base_url, text)
        scheme = urlsplit(absolute).scheme
    except ValueError as error:
        raise reader.fail(path, f"{text!r:.80} is not a URL: {error}") from None
    if scheme not in ("http", "https"):
        raise reader.fail(path, f"{text!r:.80} does not resolve to an http(s) URL")
    return absolute


def _policy(reader: _Reader, value: Any, path: str
            ) -> tuple[DownloadPolicy, frozenset[InstallationEvent]]:
    data = reader.mapping(value, path)
    if len(data) != 1:
        raise reader.fail(path, "expected exactly one of essential, prefetch, onDemand")
    name, settings = next(iter(data.items()))
    try:
        policy = DownloadPolicy(name)
    except ValueError:
        raise reader.fail(path, f"unknown policy {name!r:.40}") from None
    events: set[InstallationEvent] = set()
    if policy is not DownloadPolicy.ON_DEMAND:
        listed = reader.listing(reader.mapping(settings, f"{path}.{name}").get(
            "installationEventTypes"), f"{path}.{name}.installationEventTypes")
        for index, event in enumerate(listed):
            try:
                events.add(InstallationEvent(event))
            except ValueError:
                raise reader.fail(f"{path}.{name}.installationEventTypes[{index}]",
                                  f"unknown event {event!r:.40}") from None
    return policy, frozenset(events)


def _pack(reader: _Reader, value: Any, path: str, base_url: str) -> BuiltPack:
    data = reader.mapping(value, path)
    pack_id = reader.text(data.get("id"), f"{path}.id")
    if not PACK_ID.fullmatch(pack_id):
        raise reader.fail(f"{path}.id", f"{pack_id!r:.40} is not a pack id")
    version = reader.text(data.get("version"), f"{path}.version")
    policy, events = _policy(reader, data.get("downloadPolicy"), f"{path}.downloadPolicy")
    objects: dict[str, PackObject] = {}
    for index, item in enumerate(reader.listing(data.get("objects"), f"{path}.objects")):
        where = f"{path}.objects[{index}]"
        entry = reader.mapping(item, where)
        url = _object_url(reader, entry.get("url"), f"{where}.url", base_url)
        if url in objects:
            raise reader.fail(f"{where}.url", "listed twice")
        objects[url] = PackObject(url, reader.count(entry.get("size"), f"{where}.size"),
                                  reader.digest(entry.get("sha256"), f"{where}.sha256"))
    files: list[PackFile] = []
    seen: set[str] = set()
    for index, item in enumerate(reader.listing(data.get("files"), f"{path}.files")):
        where = f"{path}.files[{index}]"
        entry = reader.mapping(item, where)
        file_path = _relative_path(reader, entry.get("path"), f"{where}.path")
        if file_path.casefold() in seen:
            raise reader.fail(f"{where}.path", f"{file_path!r:.80} is in the pack twice")
        seen.add(file_path.casefold())
        size = reader.count(entry.get("size"), f"{where}.size")
        url = _object_url(reader, entry.get("object"), f"{where}.object", base_url)
        stored = objects.get(url)
        if stored is None:
            raise reader.fail(f"{where}.object", "not among the pack's objects")
        offset = None if entry.get("offset") is None else reader.count(
            entry.get("offset"), f"{where}.offset")
        if (offset or 0) + size > stored.size or (offset is None and size != stored.size):
            raise reader.fail(where, f"{size} bytes at {offset or 0} do not fit its object "
                              f"of {stored.size} bytes")
        files.append(PackFile(file_path, size, reader.digest(entry.get("sha256"),
                                                             f"{where}.sha256"), url, offset))
    folders = {parent for f in files for parent in PurePosixPath(f.path.casefold()).parents}
    for index, built in enumerate(files):
        if PurePosixPath(built.path.casefold()) in folders:
            raise reader.fail(f"{path}.files[{index}].path", f"{built.path!r:.80} is a file "
                              "and a folder of other files at once")
    for name, claimed, actual in (
            ("installedSize", data.get("installedSize"), sum(f.size for f in files)),
            ("downloadSize", data.get("downloadSize"), sum(o.size for o in objects.values()))):
        if reader.count(claimed, f"{path}.{name}") != actual:
            raise reader.fail(f"{path}.{name}", f"{claimed} bytes, but its "
                              f"{'files' if name == 'installedSize' else 'objects'} add up "
                              f"to {actual}")
    platforms = data.get("platforms") or []
    pack = AssetPack(pack_id, policy, events, (), tuple(
        reader.text(p, f"{path}.platforms[{i}]")
        for i, p in enumerate(reader.listing(platforms, f"{path}.platforms"))),
        str(data.get("description") or ""))
    return BuiltPack(pack, version, tuple(files), tuple(objects.values()))


def read_pack_catalog(data: bytes, url: str) -> PackCatalog:
    """The pack catalog served at ``url``; object URLs come back absolute."""
    reader = _Reader(url)
    if len(data) > MAX_PACK_CATALOG:
        raise reader.fail("packs.json", f"{len(data)} bytes, more than the "
                          f"{MAX_PACK_CATALOG} a pack catalog may have")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise reader.fail("packs.json", f"not JSON: {str(error)[:120]}") from None
    top = reader.mapping(document, "packs.json")
    if top.get("format") != CATALOG_FORMAT:
        raise reader.fail("format", f"expected {CATALOG_FORMAT}, found {top.get('format')!r:.40}"
                          " (a newer bgassets wrote it?)")
    packs = [_pack(reader, item, f"packs[{index}]", url)
             for index, item in enumerate(reader.listing(top.get("packs"), "packs"))]
    ids = [pack.pack.id for pack in packs]
    for index, pack_id in enumerate(ids):
        if pack_id in ids[:index]:
            raise reader.fail(f"packs[{index}].id", f"{pack_id!r} is listed twice")
    return PackCatalog(tuple(packs))
