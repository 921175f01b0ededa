"""``pack build``: a pack catalog and content-addressed objects that any static host serves.

Layout of the output folder::

    packs.json                       the pack catalog (written last, atomically)
    objects/<sha256[:2]>/<sha256>    a file's bytes, or a bundle of small files

A file of at least ``SMALL_FILE`` bytes is an object of its own. Smaller files of one
pack are concatenated, in path order, into bundles of about ``BUNDLE_TARGET`` bytes:
a pack of thousands of small files costs a few requests, and one changed file is still
fetched alone, as the byte range of its bundle. Object names are their sha256, so an
unchanged file keeps its object from build to build, and a host may keep old objects
for clients of an older catalog.

The same packs and files give byte-identical output: files are taken in sorted order,
nothing depends on time, and the catalog's JSON has a fixed key order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.model.pack import AssetPack, BuiltPack, PackCatalog, PackFile, PackObject
from orchestrator.packs.selection import Selection

SMALL_FILE = 64 * 1024
BUNDLE_TARGET = 4 * 1024 * 1024
CHUNK = 1 << 20
CATALOG_NAME = "packs.json"
OBJECTS = "objects"

Progress = Callable[[int, int, int], None]
"""``(files done, files in all, bytes done)``, called as the build goes."""


@dataclass(frozen=True)
class BuildResult:
    catalog: PackCatalog
    path: Path
    objects_written: int


class _Output:
    """The output folder: objects written once each, under their sha256."""

    def __init__(self, out: Path, base_url: str | None) -> None:
        self.out = out
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.written = 0
        (out / OBJECTS).mkdir(parents=True, exist_ok=True)

    def url(self, digest: str) -> str:
        return f"{self.base_url}{OBJECTS}/{digest[:2]}/{digest}"

    def _final(self, digest: str) -> Path:
        return self.out / OBJECTS / digest[:2] / digest

    def temporary(self) -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(prefix=".part-", dir=self.out / OBJECTS)
        return fd, Path(name)

    def keep(self, temporary: Path, digest: str, size: int) -> None:
        """Move a written object under its name, unless the same object is there."""
        final = self._final(digest)
        try:
            same = final.stat().st_size == size
        except FileNotFoundError:
            same = False
        if same:
            temporary.unlink()
            return
        final.parent.mkdir(exist_ok=True)
        os.replace(temporary, final)
        self.written += 1

    def put(self, data: bytes) -> PackObject:
        digest = hashlib.sha256(data).hexdigest()
        if not (self._final(digest).is_file()
                and self._final(digest).stat().st_size == len(data)):
            fd, temporary = self.temporary()
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self.keep(temporary, digest, len(data))
        return PackObject(self.url(digest), len(data), digest)

    def copy(self, source: Path) -> PackObject:
        """A large file streamed into an object, hashed as it is copied."""
        hasher, size = hashlib.sha256(), 0
        fd, temporary = self.temporary()
        try:
            with os.fdopen(fd, "wb") as handle, open(source, "rb") as reading:
                while chunk := reading.read(CHUNK):
                    hasher.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        digest = hasher.hexdigest()
        self.keep(temporary, digest, size)
        return PackObject(self.url(digest), size, digest)


def _version(files: Sequence[PackFile]) -> str:
    """A pack version from its content: paths, sizes and hashes, nothing else."""
    listing = "".join(f"{f.path}\0{f.size}\0{f.sha256}\n" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


class _Counter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress, self.files, self.bytes = total, progress, 0, 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.progress is not None:
            self.progress(self.files, self.total, self.bytes)


def _build_pack(pack: AssetPack, paths: Sequence[str], source: Path, output: _Output,
                counter: _Counter) -> BuiltPack:
    files: list[PackFile] = []
    objects: dict[str, PackObject] = {}
    bundle: list[tuple[str, bytes]] = []

    def flush() -> None:
        if not bundle:
            return
        data = b"".join(chunk for _, chunk in bundle)
        stored = output.put(data)
        objects.setdefault(stored.url, stored)
        offset = 0
        for path, chunk in bundle:
            files.append(PackFile(path, len(chunk), hashlib.sha256(chunk).hexdigest(),
                                  stored.url, offset))
            offset += len(chunk)
        bundle.clear()

    pending = 0
    for path in paths:
        file = source / path
        size = file.stat().st_size
        if size >= SMALL_FILE:
            stored = output.copy(file)
            objects.setdefault(stored.url, stored)
            files.append(PackFile(path, stored.size, stored.sha256, stored.url))
            counter.add(stored.size)
            continue
        data = file.read_bytes()
        bundle.append((path, data))
        pending += len(data)
        counter.add(len(data))
        if pending >= BUNDLE_TARGET:
            flush()
            pending = 0
    flush()
    files.sort(key=lambda f: f.path)
    return BuiltPack(pack, _version(files), tuple(files), tuple(objects.values()))


def write_catalog(catalog: PackCatalog, out: Path) -> Path:
    """``packs.json`` written whole or not at all (temp file, fsync, rename, fsync folder)."""
    text = json.dumps(catalog.to_json(), indent=2, ensure_ascii=False) + "\n"
    fd, name = tempfile.mkstemp(prefix=".packs-", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, out / CATALOG_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    folder = os.open(out, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return out / CATALOG_NAME


def build(packs: Sequence[AssetPack], selection: Selection, source: Path, out: Path, *,
          base_url: str | None = None, progress: Progress | None = None) -> BuildResult:
    """Write every pack's objects, then the catalog; packs in id order."""
    output = _Output(out, base_url)
    ordered = sorted(packs, key=lambda pack: pack.id)
    counter = _Counter(sum(len(selection.files[pack.id]) for pack in ordered), progress)
    built = tuple(_build_pack(pack, selection.files[pack.id], source, output, counter)
                  for pack in ordered)
    catalog = PackCatalog(built)
    return BuildResult(catalog, write_catalog(catalog, out), output.written)
