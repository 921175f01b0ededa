"""Destinations confined to a folder: published without following symlinks.

Whoever owns an app group container may replace any of its folders by a symlink at any
moment. A path checked once and remembered can then lead out of the container by the
time a file is renamed onto it. A confined destination is therefore walked at the moment
of publishing: from its anchor (opened as it is), each folder relative to the one before
with ``O_NOFOLLOW`` (created there when missing), and the file renamed relative to the
last one. A symlink anywhere on the way refuses the file before anything is created
beyond it.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import DownloadError, ErrorCode

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NO_FOLLOW = _FOLDER | os.O_NOFOLLOW


@dataclass(frozen=True)
class Confinement:
    """``anchor/folders.../name``: the anchor may be a symlink, nothing after it may."""

    anchor: Path
    folders: tuple[str, ...]
    name: str

    @property
    def folder_key(self) -> tuple[Path, tuple[str, ...]]:
        return self.anchor, self.folders


class ConfinedPath(type(Path())):  # type: ignore[misc]
    """A destination path that carries its :class:`Confinement`.

    Paths derived from it (its parent, a join) are plain: only the destination itself is
    published confined.
    """

    confinement: Confinement | None = None


def confined_path(anchor: Path, folders: tuple[str, ...], name: str) -> Path:
    """The path ``anchor/folders.../name``, published without following symlinks."""
    path = ConfinedPath(anchor, *folders, name)
    path.confinement = Confinement(anchor, folders, name)
    return path


def confinement_of(path: Path) -> Confinement | None:
    """The confinement of a destination, None for a plain path."""
    return getattr(path, "confinement", None)


def outside(confinement: Confinement, name: str) -> DownloadError:
    where = "/".join((*confinement.folders, confinement.name))
    return DownloadError(
        f"{where}: {name!r} is a symlink or not a folder, and a file is never published "
        f"through one (it could lead out of {confinement.anchor}); remove it and try again",
        ErrorCode.PATH_OUTSIDE_CONTAINER)


def open_folder(confinement: Confinement, *, create: bool) -> int:
    """An fd of the destination's folder, walked without following symlinks.

    Missing folders are made when ``create`` (else FileNotFoundError). Raises a
    ``PATH_OUTSIDE_CONTAINER`` DownloadError for a symlink (or a file) on the way.
    """
    try:
        fd = os.open(confinement.anchor, _FOLDER)
    except FileNotFoundError:
        if not create:
            raise
        confinement.anchor.mkdir(parents=True, exist_ok=True)  # the anchor is trusted
        fd = os.open(confinement.anchor, _FOLDER)
    try:
        for name in confinement.folders:
            child = _open_child(confinement, fd, name, create)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child(confinement: Confinement, parent: int, name: str, create: bool) -> int:
    try:
        return os.open(name, _NO_FOLLOW, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise outside(confinement, name) from exc
        raise
    with contextlib.suppress(FileExistsError):  # made meanwhile by another download
        os.mkdir(name, 0o777, dir_fd=parent)
    try:
        return os.open(name, _NO_FOLLOW, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise outside(confinement, name) from exc
        raise


def rename_into(source: Path, confinement: Confinement, *, sync_folder: bool) -> None:
    """Rename ``source`` onto the confined destination; fsync its folder when asked."""
    fd = open_folder(confinement, create=True)
    try:
        os.replace(source, confinement.name, dst_dir_fd=fd)
        if sync_folder:
            os.fsync(fd)
    finally:
        os.close(fd)


def open_file(confinement: Confinement) -> int:
    """An fd of the confined destination's file, read only; OSError when it is missing."""
    fd = open_folder(confinement, create=False)
    try:
        return os.open(confinement.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
