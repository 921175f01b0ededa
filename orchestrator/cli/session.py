"""What ``run`` sets up before any UI: the built-in asset server and the orchestrator.

Shared by the headless summary and the Textual app so both drive the same job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode


def app_manifests(directory: Path) -> list[Path]:
    """Every ``<app>/app.yaml`` under ``directory``, sorted."""
    return sorted(directory.glob("*/app.yaml"))


def default_device(directory: Path) -> Path | None:
    candidate = directory / "devices" / "default.yaml"
    return candidate if candidate.is_file() else None


SERVED_CONTENT = "demo-content"


def served_root(args: argparse.Namespace) -> Path | None:
    """The folder the built-in server serves for DIR's apps (None: no server), prepared
    once: ``run`` asks before its UI starts, so a missing file is a line on stderr.
    Every file is checked before anything is written."""
    from orchestrator.cli.served import plan_content

    if not hasattr(args, "served_root"):
        content = None if args.no_server else plan_content(
            args.directory, app_manifests(args.directory), args.port)
        args.served_root = None if content is None else content.root(
            Path(args.state_dir) / SERVED_CONTENT)
    return args.served_root  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def demo_session(args: argparse.Namespace) -> AsyncIterator[object]:
    """Serve what DIR's apps fetch from the built-in server (see ``served``), and yield
    a running Orchestrator (not yet installing)."""
    from orchestrator.manifests import load_device
    from orchestrator.service import Orchestrator

    state_dir = Path(args.state_dir)
    device_path = args.device or default_device(args.directory)
    device = load_device(device_path) if device_path else None
    async with contextlib.AsyncExitStack() as stack:
        root = served_root(args)
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
