"""App group containers and staging on disk: where files are handed over and delivered.

Layout under the state dir::

    containers/<app group>/...           what apps and extensions own
    containers/<app group>/Library/Caches/...   purgeable
    containers/<app group>/tmp/bgassets/<key>-<name>   a file handed to the app's
                                           delegate: it moves the file before returning
    staging/<app group>/<key>-<name>      ephemeral: the engine's .part files and
                                           finished files waiting to be handed over
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from orchestrator.engine.confined import (
    Confinement,
    confined_path,
    confinement_of,
    open_folder,
    rename_into,
)
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.scheduler.checks import destination_problem

CACHES = PurePosixPath("Library/Caches")
HANDOVER = PurePosixPath("tmp/bgassets")


@dataclass(frozen=True)
class Layout:
    """Paths of one state dir.

    Per app group folders are built once: an install of 20,000 files asks for them
    20,000 times, and each pathlib join costs microseconds.
    """

    root: Path
    _folders: dict[tuple[str, str], Path] = field(default_factory=dict, compare=False,
                                                 repr=False)

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    def container(self, app_group: str) -> Path:
        return self._folder("containers", app_group)

    def staging_dir(self, app_group: str) -> Path:
        return self._folder("staging", app_group)

    def _folder(self, kind: str, app_group: str) -> Path:
        folder = self._folders.get((kind, app_group))
        if folder is None:
            folder = self._folders[kind, app_group] = self.root / kind / app_group
        return folder

    def handover_dir(self, app_group: str) -> Path:
        """Inside the container: where a delegate gets its files (ephemeral)."""
        return self.container(app_group) / HANDOVER

    def ephemeral_path(self, app_group: str, download_id: str, url: str) -> Path:
        """Where the engine puts a finished download before it is handed over."""
        key = hashlib.sha256(download_id.encode()).hexdigest()[:16]
        return self.staging_dir(app_group) / f"{key}-{url_file_name(url)}"


def url_file_name(url: str) -> str:
    """The last segment of the URL's path, percent-decoded; ``download`` when empty."""
    scheme_end = url.find("://")
    name = url[url.rfind("/") + 1:]
    if scheme_end < 0 or url.find("/", scheme_end + 3) < 0 or not name or name in (".", "..") \
            or "?" in url or "#" in url or "%" in url or not name.isprintable():
        name = PurePosixPath(unquote(urlsplit(url).path)).name  # the general case
    return name or "download"


_DEVICES: dict[Path, int] = {}


def same_file_system(folder: Path, staging: Path) -> bool:
    """Whether a file staged in ``staging`` can be renamed into ``folder``.

    The staging folder is created; a container's folder is not (it is made when a file is
    published into it, without following symlinks), so the nearest existing folder above
    it stands for it. Asked once per folder: deliveries of 20,000 files into one folder
    stat it once.
    """
    device = _DEVICES.get(staging)
    if device is None:
        staging.mkdir(parents=True, exist_ok=True)
        device = _DEVICES[staging] = os.stat(staging).st_dev
    return _device(folder) == device


def _device(folder: Path) -> int:
    device = _DEVICES.get(folder)
    if device is None:
        probe = folder
        while True:
            try:
                device = os.stat(probe).st_dev
                break
            except FileNotFoundError:
                if probe.parent == probe:
                    raise
                probe = probe.parent
        _DEVICES[folder] = device
    return device


def is_purgeable(destination: str) -> bool:
    """Files under the container's ``Library/Caches`` may be removed under storage pressure."""
    if "Caches" not in destination:
        return False  # the common case, without building a path
    return PurePosixPath(destination).is_relative_to(CACHES)


def container_path(container: Path, destination: str) -> Path:
    """The path of ``destination`` inside ``container``, refusing ``..`` and absolute paths.

    The path is confined: it is published by walking its folders from the state dir
    (``container``'s grandparent) without following symlinks, at the moment the file
    arrives, so a folder swapped for a symlink after this call leads nowhere. Nothing is
    created here.
    """
    problem = destination_problem(destination)
    if problem:
        raise BackgroundAssetsError(problem, ErrorCode.PATH_OUTSIDE_CONTAINER)
    *folders, name = [part for part in destination.split("/") if part not in ("", ".")]
    return confined_path(container.parent.parent, (container.parent.name, container.name,
                                                   *folders), name)


def ensure_container(container: Path) -> None:
    """Make ``container`` (``STATE/containers/<group>``) without following symlinks.

    A ``containers/`` or container folder that is a symlink refuses the app with
    ``PATH_OUTSIDE_CONTAINER`` before anything is created where it points.
    """
    confinement = Confinement(container.parent.parent, (container.parent.name, container.name),
                              "")
    os.close(open_folder(confinement, create=True))


def confined_stat(path: Path) -> os.stat_result | None:
    """The stat of a delivered regular file, never through a symlink; None if there is none."""
    confinement = confinement_of(path)
    try:
        if confinement is None:
            found = path.stat(follow_symlinks=False)
        else:
            folder = open_folder(confinement, create=False)
            try:
                found = os.stat(confinement.name, dir_fd=folder, follow_symlinks=False)
            finally:
                os.close(folder)
    except (OSError, BackgroundAssetsError):
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def forget_container(container: Path) -> None:
    """Drop what is known of a removed container's (or staging folder's) folders."""
    for folder in [f for f in _DEVICES if f == container or container in f.parents]:
        del _DEVICES[folder]


def move_into(source: Path, container: Path, destination: str) -> Path:
    """Move a handed-over file to its destination with an atomic rename.

    The destination's folders are walked without following symlinks (a symlink on the
    way refuses the file with ``PATH_OUTSIDE_CONTAINER``). The folder is not fsynced: a
    rename survives a crash of the process, and after a power loss the journal
    (``synchronous=NORMAL``) forgets the delivery too, so the next run fetches the file
    again. This keeps 20,000 small deliveries cheap.
    """
    target = container_path(container, destination)
    confinement = confinement_of(target)
    assert confinement is not None
    rename_into(source, confinement, sync_folder=False)
    return target


def move_out(source: Path, ephemeral: Path) -> Path:
    """Move a file the engine published at its destination back to ``ephemeral``.

    For a delegate or handler that appeared after the download was scheduled: they get
    the file at an ephemeral path, as the framework hands it over.
    """
    confinement = confinement_of(source)
    try:
        if confinement is None:
            os.replace(source, ephemeral)
        else:  # taken from the folder the engine published into, never through a symlink
            folder = open_folder(confinement, create=False)
            try:
                os.replace(confinement.name, ephemeral, src_dir_fd=folder)
            finally:
                os.close(folder)
    except OSError as error:
        raise BackgroundAssetsError(f"cannot hand over {source}: {error.strerror}",
                                    ErrorCode.DISK_ERROR) from error
    return ephemeral


STAGING_SUFFIXES = (".part.json.tmp", ".part.json", ".part.mark", ".part")


def staged_name(path: Path) -> str:
    """The ephemeral file name a staging file belongs to (without the engine's suffixes)."""
    name = path.name
    for suffix in STAGING_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def discard(path: Path) -> None:
    """Delete what nobody moved after a callback (a confined path never through a symlink)."""
    confinement = confinement_of(path)
    if confinement is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    with contextlib.suppress(OSError, BackgroundAssetsError):
        folder = open_folder(confinement, create=False)
        try:
            os.unlink(confinement.name, dir_fd=folder)
        finally:
            os.close(folder)


def remove_tree(path: Path) -> None:
    forget_container(path)
    shutil.rmtree(path, ignore_errors=True)
