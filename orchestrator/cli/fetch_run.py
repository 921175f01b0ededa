"""The asyncio side of ``bgassets fetch``: one engine, ``--jobs`` workers, clean interrupts.

Ctrl-C (or SIGTERM) cancels the workers; leaving the engine's context pauses
the running downloads and saves their state, so the next run resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import netrc
import signal
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from yarl import URL

from orchestrator.bulk import rare_collections
from orchestrator.cli import event_loop
from orchestrator.cli.fetch_list import FetchItem, FetchOptions
from orchestrator.cli.progress import FetchView
from orchestrator.engine import (
    CredentialProvider,
    DownloadHandle,
    DownloadRequest,
    DownloadResult,
    Engine,
    SidecarStore,
)
from orchestrator.engine.http import origin_of
from orchestrator.errors import DownloadError, ErrorCode, UsageError
from orchestrator.model.auth import AuthScheme, Challenge, Credential
from orchestrator.service.credentials import read_netrc


@dataclass
class FetchOutcome:
    """What the command prints at the end: one line per failed file, or that it was stopped."""

    failure_lines: list[str] = field(default_factory=list)
    interrupted_by: int = 0   # the signal that stopped the run (SIGINT: Ctrl-C), 0 when none
    summary: str = ""


def netrc_credentials(path: Path) -> CredentialProvider:
    """A credential provider answering Basic challenges from a netrc file, by host name."""
    try:
        netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError) as error:
        raise UsageError(f"--netrc: cannot read {path}: {error}") from None

    async def provide(challenge: Challenge) -> Credential | None:
        if challenge.scheme is not AuthScheme.BASIC:
            return None
        try:
            return read_netrc(path, challenge.host)
        except (OSError, netrc.NetrcParseError):
            return None

    return provide


def already_complete(item: FetchItem) -> int | None:
    """The size of a file already at its path that can stand without a sha256, else None.

    With a sha256 the engine itself checks the file in place. Without one, a file
    at its path with the expected size (if any) and no ``.part`` beside it is taken
    as complete: bgassets only ever renames complete files into place.
    """
    if item.sha256 is not None:
        return None
    destination = item.destination
    try:
        status = destination.stat()
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode) or item.size not in (None, status.st_size):
        return None
    staging = destination.with_name(destination.name + ".part")
    if staging.exists() or SidecarStore.path_for(str(destination)).exists():
        return None
    return status.st_size


class Unreachable:
    """Servers this run could not connect to at all, after a file's full retry policy.

    The other files from such a server fail at once instead of each waiting through
    its own retries (20,000 files from a server that is down would take hours); a
    file from it that succeeds meanwhile clears the mark. Running the command again
    retries them all.
    """

    def __init__(self) -> None:
        self.first_failure: dict[str, str] = {}

    @staticmethod
    def server(url: str) -> str:
        return origin_of(URL(url))

    def refusal(self, url: str) -> DownloadError | None:
        if not self.first_failure:
            return None
        server = self.server(url)
        first = self.first_failure.get(server)
        if first is None:
            return None
        return DownloadError(f"not tried: {server} could not be reached ({first}); run the "
                             "command again to retry", ErrorCode.NETWORK_ERROR, unreachable=True)

    def record(self, url: str, error: DownloadError | None) -> None:
        if error is None and not self.first_failure:
            return
        if error is None:
            self.first_failure.pop(self.server(url), None)
        elif error.unreachable:
            self.first_failure.setdefault(self.server(url), error.message)


def start_one(engine: Engine, item: FetchItem, options: FetchOptions, view: FetchView,
              unreachable: Unreachable) -> DownloadHandle | str | None:
    """Start fetching ``item``: its handle, or (nothing to fetch) its failure line or None."""
    key = str(item.destination)
    size = already_complete(item)
    if size is not None:
        view.finished(key, item.url, path=key, size=size, sha256=None, skipped=True)
        return None
    refused = unreachable.refusal(item.url)
    if refused is not None:
        view.failed(key, item.url, refused, 0, item.size)
        return _failure_line(item.url, refused)
    request = DownloadRequest(url=item.url, destination=item.destination, size=item.size,
                              sha256=item.sha256, connections=options.connections,
                              allowed_hosts=options.allowed_hosts)
    view.started(key, item.url, item.size)
    return engine.start(request,
                        on_progress=lambda p: view.progress(key, item.url, p.bytes, p.total))


def report(item: FetchItem, result: DownloadResult, view: FetchView,
           unreachable: Unreachable) -> str | None:
    """Show how ``item`` ended; its failure line, or None when it is verified in place."""
    key = str(item.destination)
    error = result.error
    unreachable.record(item.url, error)
    if error is None:
        in_place = result.bytes_transferred == 0 and result.resumed_from == result.size
        view.finished(key, item.url, path=str(result.path), size=result.size,
                      sha256=result.sha256, skipped=in_place)
        return None
    view.failed(key, item.url, error, result.resumed_from + result.bytes_transferred, item.size)
    return _failure_line(item.url, error)


def _failure_line(url: str, error: DownloadError) -> str:
    return f"{url}: error {int(error.code)} {error.code.title}: {error.message}"


async def _run_workers(items: Sequence[FetchItem], options: FetchOptions, view: FetchView,
                       credentials: CredentialProvider | None, outcome: FetchOutcome,
                       publisher_holds: tuple[int, ...]) -> None:
    engine = Engine(state_store=SidecarStore(), credentials=credentials,
                    max_connections_per_host=max(16, options.jobs, options.connections or 0),
                    publisher_holds=publisher_holds)
    queue = iter(enumerate(items))
    failures: dict[int, str] = {}
    unreachable = Unreachable()
    publishing: dict[DownloadHandle, tuple[int, FetchItem]] = {}

    def finish(index: int, item: FetchItem, result: DownloadResult) -> None:
        line = report(item, result, view, unreachable)
        if line is not None:
            failures[index] = line

    def published(handle: DownloadHandle, result: DownloadResult) -> None:
        entry = publishing.pop(handle, None)
        if entry is not None:  # None: the run was interrupted, and the file is not reported
            finish(*entry, result)

    async def worker() -> None:
        # One shared iterator: each item goes to exactly one worker. A worker takes the
        # next item once a file's bytes are in: while a small file is verified and
        # published, the next one transfers.
        for index, item in queue:
            started = start_one(engine, item, options, view, unreachable)
            if isinstance(started, DownloadHandle):
                await started.transferred()
                if started.state.ended:  # reported before the next start (Unreachable)
                    finish(index, item, await started.wait())
                    continue
                publishing[started] = (index, item)
                started.add_done_callback(published)
            elif started is not None:
                failures[index] = started

    try:
        async with engine:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(options.jobs, len(items))):
                        group.create_task(worker())
                while publishing:
                    handle = next(iter(publishing))
                    published(handle, await handle.wait())
            finally:
                publishing.clear()  # interrupted: the engine saves what it has
    finally:
        outcome.failure_lines = [failures[index] for index in sorted(failures)]


async def _fetch_main(items: Sequence[FetchItem], options: FetchOptions, view: FetchView,
                      credentials: CredentialProvider | None,
                      publisher_holds: tuple[int, ...]) -> FetchOutcome:
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
        await _run_workers(items, options, view, credentials, outcome, publisher_holds)
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
              terminal: TextIO | None, events: TextIO | None,
              publisher_holds: tuple[int, ...] = ()) -> FetchOutcome:
    """Fetch ``items`` with ``options.jobs`` at once; never raises for a failed download.

    ``publisher_holds`` are descriptors the publishing process keeps open while it lives
    (the folder's lock, see ``fetch_lock``)."""
    credentials = netrc_credentials(options.netrc_file) if options.netrc_file else None
    view = FetchView(len(items), terminal=terminal, events=events)
    # A file allocates a few hundred short-lived objects that form few cycles.
    with rare_collections():
        return event_loop.run(_fetch_main(items, options, view, credentials, publisher_holds))

