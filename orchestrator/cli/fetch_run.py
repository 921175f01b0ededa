"""The asyncio side of ``bgassets fetch``: one engine, ``--jobs`` workers, clean interrupts.

Ctrl-C (or SIGTERM) cancels the workers; leaving the engine's context pauses
the running downloads and saves their state, so the next run resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import netrc
import signal
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from orchestrator.cli.fetch_list import FetchItem, FetchOptions
from orchestrator.cli.progress import FetchView
from orchestrator.engine import CredentialProvider, DownloadRequest, Engine, SidecarStore
from orchestrator.errors import DownloadError, ErrorCode, UsageError

_HASH_BLOCK = 1 << 20


@dataclass
class FetchOutcome:
    """What the command prints at the end: one line per failed file, or that it was stopped."""

    failure_lines: list[str] = field(default_factory=list)
    interrupted_by: int = 0   # the signal that stopped the run (SIGINT: Ctrl-C), 0 when none
    summary: str = ""


def netrc_credentials(path: Path) -> CredentialProvider:
    """A credential provider answering from a netrc file, by host name of the origin."""
    try:
        table = netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError) as error:
        raise UsageError(f"--netrc: cannot read {path}: {error}") from None

    async def provide(origin: str, realm: str | None) -> tuple[str, str] | None:
        host = urlsplit(origin).hostname or ""
        entry = table.authenticators(host)
        if entry is None:
            return None
        login, _account, password = entry
        return (login or "", password or "")

    return provide


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


async def already_complete(item: FetchItem) -> tuple[int, str | None] | None:
    """``(size, sha256)`` of a file already at its path that matches what is expected.

    A partial download beside it (``.part``) means the last run did not finish
    this one, so it is not complete; without size and sha256 an existing file is
    taken as complete, because bgassets only ever renames verified files into place.
    """
    destination = item.destination
    staging = destination.with_name(destination.name + ".part")
    try:
        status = destination.stat()
    except OSError:
        return None
    size = status.st_size
    if not stat.S_ISREG(status.st_mode):
        return None
    if staging.exists() or SidecarStore.path_for(str(destination)).exists():
        return None
    if item.size is not None and size != item.size:
        return None
    if item.sha256 is None:
        return size, None
    digest = await asyncio.to_thread(_file_sha256, destination)
    return (size, digest) if digest == item.sha256 else None


async def fetch_one(engine: Engine, item: FetchItem, options: FetchOptions,
                    view: FetchView, folders: set[Path]) -> str | None:
    """Fetch one item; the failure line for it, or None when it is verified in place.

    ``folders`` remembers the folders made so far: 20,000 files in one folder
    need one ``mkdir``, not 20,000.
    """
    key = str(item.destination)
    existing = await already_complete(item)
    if existing is not None:
        size, digest = existing
        view.finished(key, item.url, path=key, size=size, sha256=digest, skipped=True)
        return None
    view.started(key, item.url, item.size)
    folder = item.destination.parent
    if folder not in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = DownloadError(f"cannot create folder {folder}: {error.strerror}",
                                    ErrorCode.DISK_ERROR)
            return _failed(view, key, item, problem, 0)
        folders.add(folder)
    request = DownloadRequest(url=item.url, destination=item.destination, size=item.size,
                              sha256=item.sha256, connections=options.connections,
                              allowed_hosts=options.allowed_hosts)
    result = await engine.fetch(
        request, on_progress=lambda p: view.progress(key, item.url, p.bytes, p.total))
    if result.error is None:
        view.finished(key, item.url, path=str(result.path), size=result.size,
                      sha256=result.sha256)
        return None
    return _failed(view, key, item, result.error,
                   result.resumed_from + result.bytes_transferred)


def _failed(view: FetchView, key: str, item: FetchItem, error: DownloadError,
            done: int) -> str:
    view.failed(key, item.url, error, done, item.size)
    return f"{item.url}: error {int(error.code)} {error.code.title}: {error.message}"


async def _run_workers(items: Sequence[FetchItem], options: FetchOptions, view: FetchView,
                       credentials: CredentialProvider | None, outcome: FetchOutcome) -> None:
    engine = Engine(state_store=SidecarStore(), credentials=credentials,
                    max_connections_per_host=max(16, options.jobs, options.connections or 0))
    queue = iter(enumerate(items))
    failures: dict[int, str] = {}
    folders: set[Path] = set()

    async def worker() -> None:
        for index, item in queue:  # one shared iterator: each item goes to exactly one worker
            line = await fetch_one(engine, item, options, view, folders)
            if line is not None:
                failures[index] = line

    try:
        async with engine, asyncio.TaskGroup() as group:
            for _ in range(min(options.jobs, len(items))):
                group.create_task(worker())
    finally:
        outcome.failure_lines = [failures[index] for index in sorted(failures)]


async def _fetch_main(items: Sequence[FetchItem], options: FetchOptions, view: FetchView,
                      credentials: CredentialProvider | None) -> FetchOutcome:
    outcome = FetchOutcome()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def interrupt(signum: int) -> None:
        if not outcome.interrupted_by:  # a second Ctrl-C must not cut the state saving short
            outcome.interrupted_by = signum
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    drawer = asyncio.create_task(view.keep_drawing()) if view.terminal else None
    try:
        await _run_workers(items, options, view, credentials, outcome)
    except asyncio.CancelledError:
        if not outcome.interrupted_by:
            raise
        main.uncancel()
        view.paused_all()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if drawer is not None:
            drawer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drawer
        view.clear()
    outcome.summary = view.summary()
    return outcome


def fetch_all(items: Sequence[FetchItem], options: FetchOptions, *,
              terminal: TextIO | None, events: TextIO | None) -> FetchOutcome:
    """Fetch ``items`` with ``options.jobs`` at once; never raises for a failed download."""
    credentials = netrc_credentials(options.netrc_file) if options.netrc_file else None
    view = FetchView(len(items), terminal=terminal, events=events)
    return asyncio.run(_fetch_main(items, options, view, credentials))

