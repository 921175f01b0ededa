"""What ``run`` sets up before any UI: the built-in asset server and the orchestrator.

Shared by the headless summary and the Textual app so both drive the same job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode, StateDirBusy

if TYPE_CHECKING:
    from orchestrator.service import Orchestrator


def app_manifests(directory: Path) -> list[Path]:
    """Every ``<app>/app.yaml`` under ``directory``, sorted."""
    return sorted(directory.glob("*/app.yaml"))


def default_device(directory: Path) -> Path | None:
    candidate = directory / "devices" / "default.yaml"
    return candidate if candidate.is_file() else None


SERVED_LOCK = "demo-content.lock"
SERVED_CONTENT = "demo-content"


def hold_state_dir(state_dir: Path) -> int:
    """Lock the state dir's served content for this process; returns the lock's fd.

    The content folder is rewritten while it is prepared, so whoever serves it holds
    its lock from before the first write until the server stops. The Orchestrator
    takes its own lock only on enter, once the server is up (it resumes downloads at
    once), so that lock is tried here too: a state dir held by a daemon or a simulate
    is refused before a file is written or the port is taken.
    """
    from orchestrator.service.orchestrator import STATE_LOCK
    from orchestrator.storage.lock import try_flock

    served = try_flock(state_dir / SERVED_LOCK)
    if served is None:
        raise StateDirBusy(state_dir)
    orchestrator = try_flock(state_dir / STATE_LOCK)
    if orchestrator is None:
        os.close(served)
        raise StateDirBusy(state_dir)
    os.close(orchestrator)  # the Orchestrator takes it on enter
    return served


def served_root(args: argparse.Namespace) -> Path | None:
    """The folder the built-in server serves for DIR's apps (None: no server), prepared
    once: ``run`` asks before its UI starts, so a missing file is a line on stderr.

    Every file is checked before the state dir is locked and anything is written; the
    lock (``args.served_lock``) is released when the session ends.
    """
    from orchestrator.devserver.served import plan_content

    if not hasattr(args, "served_root"):
        content = None if args.no_server else plan_content(
            args.directory, app_manifests(args.directory), args.port)
        state_dir = Path(args.state_dir)
        args.served_lock = None if content is None else hold_state_dir(state_dir)
        try:
            args.served_root = None if content is None else content.root(
                state_dir / SERVED_CONTENT)
        except BaseException:
            _release(args)
            raise
    return args.served_root  # type: ignore[no-any-return]


def _release(args: argparse.Namespace) -> None:
    """Unlock the served content; a later session prepares it again."""
    lock = getattr(args, "served_lock", None)
    if lock is not None:
        os.close(lock)
    with contextlib.suppress(AttributeError):
        del args.served_lock, args.served_root


@contextlib.asynccontextmanager
async def demo_session(args: argparse.Namespace) -> AsyncIterator[Orchestrator]:
    """Serve what DIR's apps fetch from the built-in server (see ``served``), and yield
    a running Orchestrator (not yet installing)."""
    from orchestrator.manifests import load_device
    from orchestrator.service import Orchestrator

    state_dir = Path(args.state_dir)
    device_path = args.device or default_device(args.directory)
    device = load_device(device_path) if device_path else None
    async with contextlib.AsyncExitStack() as stack:
        root = served_root(args)
        stack.callback(_release, args)
        if root is not None:
            await stack.enter_async_context(_server(root, args))
        orchestrator = Orchestrator(state_dir, device=device, max_active=6)
        await stack.enter_async_context(orchestrator)
        await stack.enter_async_context(periodic_runs(orchestrator))
        yield orchestrator


@contextlib.asynccontextmanager
async def _server(root: Path, args: argparse.Namespace) -> AsyncIterator[None]:
    from orchestrator.devserver import DevServer

    server = DevServer(root, port=args.port, rate_per_connection=args.rate)
    try:
        await server.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise BackgroundAssetsError(
            f"port {args.port} is already in use (another bgassets run?), so the built-in "
            "server cannot start: stop that server, pass --port (where the manifestURLs "
            "point), or add --no-server if it already serves these catalogs",
            ErrorCode.PORT_UNAVAILABLE) from None
    try:
        yield
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def periodic_runs(orchestrator: Any) -> AsyncIterator[None]:
    """Send each app its periodic content request when due, while the block runs."""
    task = asyncio.create_task(orchestrator.periodic_loop(), name="bgassets-periodic")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
