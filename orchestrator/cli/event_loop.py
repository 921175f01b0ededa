"""The event loop commands run on: uvloop where it is installed, asyncio's own otherwise.

uvloop's transports and loop are written in C: for many small downloads the loop's own
work (a send, a receive and a few callbacks per file) is a large part of the time.
``BGASSETS_EVENT_LOOP=asyncio`` keeps the standard loop (to compare, or to rule uvloop
out when something looks wrong).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENVIRONMENT = "BGASSETS_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when it is importable and not turned off; None: asyncio's."""
    if os.environ.get(ENVIRONMENT, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
