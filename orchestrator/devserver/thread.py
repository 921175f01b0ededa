"""Run a DevServer on its own event loop in a background thread, for synchronous callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.devserver.server import DevServer

_TIMEOUT = 10.0


@contextmanager
def serve_in_thread(root: Path, host: str = "127.0.0.1", port: int = 0,
                    **options: Any) -> Iterator[DevServer]:
    """Yield a started DevServer served from a daemon thread; stop it on exit.

    For tests and tools that are not async (urllib, subprocess-driven
    clients); ``options`` are DevServer's keyword arguments.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bgassets-devserver", daemon=True)
    thread.start()
    server = DevServer(root, host, port, **options)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(_TIMEOUT)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_TIMEOUT)
        loop.close()
