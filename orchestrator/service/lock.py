"""Exclusive control: a lock across processes per app group, with an optional deadline.

``fcntl.flock`` on a file in the state dir: the kernel drops it when the
holder dies, so a crashed extension never leaves an app locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from orchestrator.errors import BackgroundAssetsError, ErrorCode

POLL = 0.02


class LockTimeout(BackgroundAssetsError):
    """Exclusive control was not obtained before the deadline."""

    code = ErrorCode.LOCK_TIMEOUT


def lock_path(state_dir: Path, app_group: str) -> Path:
    return Path(state_dir) / "locks" / f"{app_group}.lock"


@contextlib.asynccontextmanager
async def exclusive_control(state_dir: Path, app_group: str,
                            deadline: float | None = None) -> AsyncIterator[float]:
    """Hold the app group's lock; yields the seconds waited.

    ``deadline`` is a ``time.monotonic()`` value; a deadline in the past means
    "try once", as passing ``Date()`` does in the framework.
    """
    path = lock_path(state_dir, app_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"exclusive control of {app_group} not obtained before the deadline"
                    ) from None
                await asyncio.sleep(POLL)
        try:
            yield time.monotonic() - started
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
