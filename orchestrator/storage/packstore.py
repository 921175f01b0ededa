"""The asset packs of one app group on disk: a content store and atomic generations.

Layout inside the app group container::

    .packs/store/<sha256>                       each file's bytes once, read-only
    .packs/packs/<pack>/gen-<version>/<path>    a generation: hard links into the store
    .packs/packs/<pack>/current -> gen-<v>      the generation apps read (a symlink)
    .packs/packs/<pack>/previous -> gen-<v>     the one before, kept for rollback

(``.packs/incoming/`` is where the engine puts pack objects before they are taken
apart; pack ids live under ``packs/``, so no id can land on those names.)

A new version links the files it shares with the old one instead of copying or
fetching them again, so an update costs only what changed. A generation is complete
before anything points at it: it is built under a temporary name, made durable, renamed,
and only then does ``current`` move, by renaming a new symlink over it (atomic on POSIX).
A crash at any point leaves the old ``current`` whole; what a crash left half-made is
removed on the next start. A store file whose only link is the store's own is used by
no generation, and is collected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

PACKS = ".packs"
STORE = "store"
GENERATIONS = "packs"
CURRENT, PREVIOUS = "current", "previous"
_TEMPORARY = ".tmp-"


@dataclass(frozen=True)
class Generation:
    """One version of a pack on disk."""

    pack: str
    version: str
    path: Path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe_relative(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("..", ".") for p in pure.parts):
        raise ValueError(f"{path!r} is not a relative path inside a pack")
    return pure


class PackStore:
    """The packs of the app group container ``container``."""

    def __init__(self, container: Path) -> None:
        self.root = container / PACKS
        self.store = self.root / STORE
        self.generations = self.root / GENERATIONS

    # The content store ---------------------------------------------------------------

    def stored(self, sha256: str) -> Path:
        return self.store / sha256

    def has(self, sha256: str) -> bool:
        return self.stored(sha256).is_file()

    def add(self, sha256: str, source: Path) -> Path:
        """Move a verified file (on this file system) into the store, read-only."""
        self.store.mkdir(parents=True, exist_ok=True)
        target = self.stored(sha256)
        if target.is_file():
            source.unlink(missing_ok=True)
            return target
        os.chmod(source, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(source, target)
        return target

    def add_bytes(self, sha256: str, data: bytes) -> Path:
        """Store ``data`` (already checked against ``sha256``), durable before it is used."""
        self.add_all([(sha256, data)])
        return self.stored(sha256)

    def add_all(self, files: Iterable[tuple[str, bytes]]) -> list[str]:
        """Store many small files (each already checked against its sha256) with one
        sync of the file system for all of them instead of an fsync each, then move each
        into place with :meth:`add`; the sha256 stored."""
        from orchestrator.engine.commit import sync_file_system
        from orchestrator.engine.staging import fsync_path

        self.store.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for sha256, data in files:
            if sha256 in written or self.has(sha256):
                continue
            temporary = written[sha256] = self.store / f"{_TEMPORARY}{sha256}"
            temporary.write_bytes(data)
        if written and not sync_file_system(self.store):
            for temporary in written.values():
                fsync_path(temporary)
        for sha256, temporary in written.items():
            self.add(sha256, temporary)
        if written:
            _fsync_folder(self.store)
        return list(written)

    # Generations ---------------------------------------------------------------------

    def _pack_dir(self, pack: str) -> Path:
        return self.generations / _safe_relative(pack).as_posix()

    def install(self, pack: str, version: str, files: Iterable[tuple[str, str]]) -> Generation:
        """Make generation ``version`` of ``pack`` from store files ``(path, sha256)`` and
        switch to it; the one it replaces becomes ``previous``. Every file must be stored."""
        folder = self._pack_dir(pack)
        final = folder / f"gen-{version}"
        current = self.current(pack)
        if current is not None and current.version == version:
            return current
        if not final.is_dir():
            building = folder / f"{_TEMPORARY}gen-{version}-{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            made: set[Path] = set()
            for path, sha256 in files:
                target = building / _safe_relative(path)
                if target.parent not in made:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.add(target.parent)
                os.link(self.stored(sha256), target)
            building.mkdir(parents=True, exist_ok=True)  # an empty pack is a generation too
            for directory in sorted(made | {building}, key=lambda p: len(p.parts),
                                    reverse=True):
                _fsync_folder(directory)
            os.replace(building, final)
            _fsync_folder(folder)
        if current is not None:
            self._point(folder, PREVIOUS, current.path.name)
        self._point(folder, CURRENT, final.name)
        self._collect_generations(folder)
        return Generation(pack, version, final)

    def _point(self, folder: Path, name: str, target: str) -> None:
        """``folder/name`` -> ``target``, replacing what was there in one rename."""
        link = folder / f"{_TEMPORARY}{name}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(target, link)
        os.replace(link, folder / name)
        _fsync_folder(folder)

    def _generation(self, pack: str, name: str) -> Generation | None:
        link = self._pack_dir(pack) / name
        try:
            target = os.readlink(link)
        except OSError:
            return None
        path = link.parent / target
        if not target.startswith("gen-") or not path.is_dir():
            return None
        return Generation(pack, target.removeprefix("gen-"), path)

    def current(self, pack: str) -> Generation | None:
        return self._generation(pack, CURRENT)

    def previous(self, pack: str) -> Generation | None:
        return self._generation(pack, PREVIOUS)

    def rollback(self, pack: str) -> Generation:
        """Switch back to the previous generation (which becomes the current one's
        previous in turn). Raises LookupError when there is none."""
        current, previous = self.current(pack), self.previous(pack)
        if previous is None or current is None:
            raise LookupError(f"pack {pack!r} has no previous version to go back to")
        folder = self._pack_dir(pack)
        self._point(folder, PREVIOUS, current.path.name)
        self._point(folder, CURRENT, previous.path.name)
        return previous

    def _collect_generations(self, folder: Path) -> None:
        """Keep the current and previous generations of a pack; remove the others."""
        keep = {os.readlink(folder / name) for name in (CURRENT, PREVIOUS)
                if (folder / name).is_symlink()}
        for entry in folder.iterdir():
            if entry.name.startswith("gen-") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    def remove(self, pack: str, keep: Iterable[str] = ()) -> int:
        """Remove every generation of ``pack``; the bytes of store files freed (``keep``:
        see :meth:`collect`)."""
        shutil.rmtree(self._pack_dir(pack), ignore_errors=True)
        return self.collect(keep)

    def packs(self) -> list[str]:
        """The packs with a current generation."""
        if not self.generations.is_dir():
            return []
        return sorted(entry.name for entry in self.generations.iterdir()
                      if (entry / CURRENT).is_symlink())

    # Cleaning ------------------------------------------------------------------------

    def collect(self, keep: Iterable[str] = ()) -> int:
        """Remove store files no generation links to; the bytes freed. ``keep`` are the
        sha256 of files a version on its way still needs (stored, not linked yet)."""
        freed = 0
        if not self.store.is_dir():
            return 0
        kept = set(keep)
        for entry in self.store.iterdir():
            if entry.name in kept:
                continue
            try:
                status = entry.lstat()
            except FileNotFoundError:
                continue
            if entry.name.startswith(_TEMPORARY) or status.st_nlink <= 1:
                entry.unlink(missing_ok=True)
                freed += status.st_size
        return freed

    def recover(self, keep: Iterable[str] = ()) -> None:
        """After a crash: remove what was being built; every ``current`` is whole
        (``keep``: see :meth:`collect`)."""
        for folder in self.generations.iterdir() if self.generations.is_dir() else ():
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name.startswith(_TEMPORARY):
                    if entry.is_symlink() or entry.is_file():
                        entry.unlink(missing_ok=True)
                    else:
                        shutil.rmtree(entry, ignore_errors=True)
        self.collect(keep)

    # Reading -------------------------------------------------------------------------

    def locate(self, relative: str, packs: Iterable[str] | None = None) -> Path | None:
        """The file at ``relative`` in the current generation of one of the packs (the
        build refuses two packs with one path), resolved: reading it goes on in that
        generation even if an update switches ``current`` meanwhile."""
        pure = _safe_relative(relative)
        for pack in packs if packs is not None else self.packs():
            generation = self.current(pack)
            if generation is None:
                continue
            candidate = generation.path / pure
            if candidate.is_file() and not candidate.is_symlink():
                return candidate
        return None

    def files(self, pack: str) -> Iterator[tuple[str, Path]]:
        """Every file of the pack's current generation: (relative path, path)."""
        generation = self.current(pack)
        if generation is None:
            return
        for root, _folders, names in os.walk(generation.path):
            for name in sorted(names):
                path = Path(root) / name
                yield path.relative_to(generation.path).as_posix(), path
