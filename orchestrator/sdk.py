"""What handler authors import: the extension base class and the framework's types.

A handler is a class named in the Extension manifest as ``spec.handler:
module:Class``. Each entry point runs in a fresh process (see
docs/handlers.md), so nothing kept in memory survives between calls: write
to the app group container (``self.container``) to remember anything.

    from orchestrator.sdk import DownloaderExtension, read_catalog

    class Downloader(DownloaderExtension):
        def downloads(self, request, manifest_path, info):
            catalog = read_catalog(manifest_path, self.catalog_url)
            return [self.download(a.id, a.url, size=a.size, sha256=a.sha256)
                    for a in catalog.assets]
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import orchestrator.storage.lock as lock
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.auth import (
    AuthScheme,
    Challenge,
    ChallengeAnswer,
    ChallengeDisposition,
    Credential,
)
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, DownloadState, Priority
from orchestrator.model.pack import AssetPack, DownloadPolicy, InstallationEvent
from orchestrator.model.plan import AppExtensionInfo

if TYPE_CHECKING:
    from orchestrator.model.catalog import Catalog

__all__ = [
    "AppExtensionInfo",
    "AssetPack",
    "AuthScheme",
    "BackgroundAssetsError",
    "Challenge",
    "ChallengeDisposition",
    "ContentRequest",
    "Credential",
    "Download",
    "DownloadPolicy",
    "DownloadState",
    "DownloaderExtension",
    "ErrorCode",
    "HandlerContext",
    "InstallationEvent",
    "Priority",
    "exclusive_control",
    "read_catalog",
    "with_exclusive_control",
]


@dataclass
class HandlerContext:
    """Where the running entry point lives; set by the handler process before each call.

    ``lock_seconds`` adds up the time exclusive control was held, which the
    orchestrator counts as runtime.
    """

    app_group: str
    container: Path | None = None
    state_dir: Path | None = None
    catalog_url: str | None = None
    lock_seconds: float = 0.0


_context: HandlerContext | None = None


def set_context(context: HandlerContext | None) -> None:
    """Install the context of the current call (the handler process does this)."""
    global _context
    _context = context


def current_context() -> HandlerContext:
    """The context of the running entry point; outside a handler call this is an error."""
    if _context is None:
        raise BackgroundAssetsError(
            "no handler call is running: orchestrator.sdk is only usable inside an entry point",
            ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED,
        )
    return _context


class DownloaderExtension:
    """Base class of handlers; override the entry points you need.

    The defaults behave like the declarative extension: no downloads, move a
    finished file to its destination, re-enqueue a failed essential download
    as non-essential.
    """

    @property
    def container(self) -> Path:
        """The app group container: the only place files survive."""
        container = current_context().container
        if container is None:
            raise BackgroundAssetsError("this call was made without the app group container",
                                        ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
        return container

    @property
    def app_group(self) -> str:
        """The app group every download must belong to."""
        return current_context().app_group

    @property
    def catalog_url(self) -> str | None:
        """The app's ``manifestURL`` (to resolve relative asset urls), when known."""
        return current_context().catalog_url

    def downloads(self, request: ContentRequest, manifest_path: Path,
                  info: AppExtensionInfo) -> Iterable[Download]:
        """Every download for this content request (the catalog is deleted afterwards)."""
        return ()

    def finished(self, download: Download, path: Path) -> None:
        """Move the file into the container before returning, else it is deleted."""
        self.move_into_container(path, download.destination or path.name)

    def failed(self, download: Download, error: BackgroundAssetsError) -> Iterable[Download]:
        """Downloads to schedule again after ``download`` failed with ``error``."""
        if download.essential:
            return [download.removing_essential()]
        return ()

    def should_download(self, pack: AssetPack) -> bool:
        """``shouldDownload(_:)``: whether an essential or prefetch ``pack`` of this install
        or update is downloaded (on-demand packs come when the app asks). Called for each
        such pack; the manifest's ``spec.packs`` rules are not asked when a handler is."""
        return True

    def challenge(self, download: Download, challenge: Challenge) -> ChallengeAnswer:
        """``backgroundDownload(_:didReceive:)``: answer a server's 401 or a proxy's 407
        for ``download`` (the catalog's id is ``@catalog``) with a :class:`Credential`,
        or ``ChallengeDisposition.CANCEL`` to fail it. None (the default) leaves the
        challenge unanswered: the download fails with 1025 ``authenticationFailed``.
        ``spec.credentials`` in the manifest, when one matches, answers before this."""
        return None

    def download(self, id: str, url: str, *, size: int | None = None,
                 sha256: str | None = None, essential: bool = False,
                 priority: int = int(Priority.DEFAULT),
                 destination: str | None = None) -> Download:
        """A download of this app group; ``destination`` defaults to the url's file name."""
        if destination is None:
            destination = PurePosixPath(unquote(urlsplit(url).path)).name or id
        return Download(id=id, url=url, app_group=self.app_group, essential=essential,
                        size=size, sha256=sha256, priority=priority, destination=destination)

    def start_foreground(self, download: Download) -> None:
        """``startForegroundDownload`` is the app's call, never the extension's: this
        always raises 50 ``callFromExtensionNotAllowed``. The app promotes a download
        with ``orchestrator.client.DownloadManager.start_foreground`` while it runs."""
        raise BackgroundAssetsError(
            f"{download.id}: only the running app may start a download in the foreground "
            "(DownloadManager.start_foreground); an extension schedules in the background",
            ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)

    def move_into_container(self, path: Path, destination: str) -> Path:
        """Move ``path`` to ``destination`` inside the container (no ``..``, no escape)."""
        from orchestrator.storage.containers import move_into

        return move_into(Path(path), self.container, destination)


def read_catalog(manifest_path: Path, base_url: str | None = None) -> Catalog:
    """Parse and validate the catalog the orchestrator fetched (JSON or YAML)."""
    from orchestrator.manifests.catalog import load_catalog

    path = Path(manifest_path)
    return load_catalog(path.read_bytes(), str(path), base_url)


def _monotonic_deadline(deadline: datetime | None, timeout: float | None) -> float | None:
    if deadline is not None:
        return time.monotonic() + (deadline.timestamp() - time.time())
    if timeout is not None:
        return time.monotonic() + timeout
    return None


def _state_dir(context: HandlerContext) -> Path:
    if context.state_dir is None:
        raise BackgroundAssetsError("exclusive control needs the orchestrator's state dir",
                                    ErrorCode.CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED)
    return context.state_dir


@contextlib.contextmanager
def with_exclusive_control(deadline: datetime | None = None, *,
                           timeout: float | None = None) -> Iterator[lock.Hold]:
    """Hold the app group's lock shared with the app (``withExclusiveControl``).

    ``deadline=datetime.now()`` tries once, as ``Date()`` does; ``timeout`` is
    seconds from now. Raises :class:`orchestrator.storage.lock.LockTimeout`
    (``lockTimeout``, 1052) when the lock is not obtained in time.
    """
    context = current_context()
    limit = _monotonic_deadline(deadline, timeout)
    with lock.exclusive_control_sync(_state_dir(context), context.app_group, limit) as hold:
        try:
            yield hold
        finally:
            context.lock_seconds += hold.held


@contextlib.asynccontextmanager
async def exclusive_control(deadline: datetime | None = None, *,
                            timeout: float | None = None) -> AsyncIterator[lock.Hold]:
    """The async twin of :func:`with_exclusive_control`, for ``async def`` entry points."""
    context = current_context()
    limit = _monotonic_deadline(deadline, timeout)
    async with lock.exclusive_control(_state_dir(context), context.app_group, limit) as hold:
        try:
            yield hold
        finally:
            context.lock_seconds += hold.held
