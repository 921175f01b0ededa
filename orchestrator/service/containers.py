"""App group containers and staging on disk: where files are handed over and delivered.

Layout under the state dir::

    containers/<app group>/...           what apps and extensions own
    containers/<app group>/Library/Caches/...   purgeable
    staging/<app group>/<download>/<name>  ephemeral: the engine's .part files and
                                           finished files waiting to be handed over
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.scheduler.checks import destination_problem

CACHES = PurePosixPath("Library/Caches")


@dataclass(frozen=True)
class Layout:
    """Paths of one state dir."""

    root: Path

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    def container(self, app_group: str) -> Path:
        return self.containers / app_group

    def ephemeral_path(self, app_group: str, download_id: str, url: str) -> Path:
        """Where the engine puts a finished download before it is handed over."""
        name = PurePosixPath(unquote(urlsplit(url).path)).name or "download"
        folder = hashlib.sha256(download_id.encode()).hexdigest()[:16]
        return self.staging / app_group / folder / name


def is_purgeable(destination: str) -> bool:
    """Files under the container's ``Library/Caches`` may be removed under storage pressure."""
    return PurePosixPath(destination).is_relative_to(CACHES)


def container_path(container: Path, destination: str) -> Path:
    """The absolute path of ``destination`` inside ``container``, refusing any escape.

    Besides ``..`` and absolute paths, a symlinked folder pointing out of the
    container is refused: the resolved parent must stay inside.
    """
    problem = destination_problem(destination)
    if problem:
        raise BackgroundAssetsError(problem, ErrorCode.PATH_OUTSIDE_CONTAINER)
    target = container / destination
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(container.resolve()):
        raise BackgroundAssetsError(
            f"destination {destination!r} leads out of the container through a symlink",
            ErrorCode.PATH_OUTSIDE_CONTAINER,
        )
    return target


def move_into(source: Path, container: Path, destination: str) -> Path:
    """Move a handed-over file to its destination (atomic rename; the folder is fsynced)."""
    target = container_path(container, destination)
    os.replace(source, target)
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def discard(path: Path) -> None:
    """Delete what nobody moved after a callback (and its now empty staging folder)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
