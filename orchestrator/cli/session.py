"""What ``run`` sets up before any UI: demo content, the asset server, the orchestrator.

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


@contextlib.asynccontextmanager
async def demo_session(args: argparse.Namespace) -> AsyncIterator[object]:
    """Generate content, serve it, and yield a running Orchestrator (not yet installing)."""
    from orchestrator.demo.content import generate_content
    from orchestrator.devserver import DevServer
    from orchestrator.manifests import load_device
    from orchestrator.service import Orchestrator

    state_dir = Path(args.state_dir)
    device_path = args.device or default_device(args.directory)
    device = load_device(device_path) if device_path else None
    async with contextlib.AsyncExitStack() as stack:
        if not args.no_server:
            content = state_dir / "demo-content"
            generate_content(args.directory, content)
            server = DevServer(content, port=args.port, rate_per_connection=args.rate)
            try:
                await stack.enter_async_context(server)
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                raise BackgroundAssetsError(
                    f"port {args.port} is already in use (another bgassets run?); stop it or "
                    "pass --port (the example manifestURLs expect 8470)",
                    ErrorCode.NETWORK_ERROR) from None
        orchestrator = Orchestrator(state_dir, device=device, max_active=6)
        await stack.enter_async_context(orchestrator)
        await stack.enter_async_context(periodic_runs(orchestrator))
        yield orchestrator


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
