"""Exclusive control: a lock across processes per app group, with an optional deadline.

``fcntl.flock`` on a file in the state dir: the kernel drops it when the
holder dies, so a crashed extension never leaves an app locked. flock locks
belong to an open file description, so two holders in one process contend
just like two processes do.

Runtime is counted while an extension holds exclusive control (DESIGN 1.5),
so a :class:`Hold` records how long the lock was waited for and held.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import BackgroundAssetsError, ErrorCode, LockTimeout

POLL = 0.02


@dataclass
class Hold:
    """One hold of an app group's lock: seconds waited, and seconds held once released."""

    app_group: str
    waited: float = 0.0
    acquired_at: float | None = None
    released_at: float | None = None

    @property
    def held(self) -> float:
        """Seconds the lock has been held so far (up to now while still held)."""
        if self.acquired_at is None:
            return 0.0
        end = self.released_at if self.released_at is not None else time.monotonic()
        return end - self.acquired_at


def try_flock(path: Path) -> int | None:
    """``path`` opened (made when missing) and locked exclusively, or None while another
    process holds it; never waits."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_path(state_dir: Path, app_group: str) -> Path:
    """The lock file of ``app_group``; a name that could leave the locks folder is refused."""
    if not app_group or "/" in app_group or "\\" in app_group or app_group.startswith("."):
        raise BackgroundAssetsError(
            f"app group {app_group!r} cannot name a lock file (no '/', no leading '.')",
            ErrorCode.MANIFEST_INVALID,
        )
    return Path(state_dir) / "locks" / f"{app_group}.lock"


def _open(state_dir: Path, app_group: str) -> int:
    path = lock_path(state_dir, app_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int, hold: Hold, started: float, deadline: float | None) -> bool:
    """One attempt; raises :class:`LockTimeout` once the deadline has passed."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if deadline is not None and time.monotonic() >= deadline:
            raise LockTimeout(
                f"exclusive control of {hold.app_group} not obtained before the deadline"
                f" (waited {time.monotonic() - started:.2f} s)"
            ) from None
        return False
    hold.acquired_at = time.monotonic()
    hold.waited = hold.acquired_at - started
    return True


@contextlib.asynccontextmanager
async def exclusive_control(state_dir: Path, app_group: str,
                            deadline: float | None = None) -> AsyncIterator[Hold]:
    """Hold the app group's lock; yields a :class:`Hold` (``waited``, then ``held``).

    ``deadline`` is a ``time.monotonic()`` value; a deadline in the past means
    "try once", as passing ``Date()`` does in the framework. The lock is
    polled so that waiting never blocks the event loop.
    """
    hold, fd, started = Hold(app_group), _open(state_dir, app_group), time.monotonic()
    with _closing(fd):
        while not _try_lock(fd, hold, started, deadline):
            await asyncio.sleep(POLL)
        with _held(fd, hold):
            yield hold


@contextlib.contextmanager
def exclusive_control_sync(state_dir: Path, app_group: str,
                           deadline: float | None = None) -> Iterator[Hold]:
    """The blocking twin of :func:`exclusive_control`, for handler code without a loop."""
    hold, fd, started = Hold(app_group), _open(state_dir, app_group), time.monotonic()
    with _closing(fd):
        while not _try_lock(fd, hold, started, deadline):
            time.sleep(POLL)
        with _held(fd, hold):
            yield hold


@contextlib.contextmanager
def _closing(fd: int) -> Iterator[None]:
    try:
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _held(fd: int, hold: Hold) -> Iterator[None]:
    """The lock taken on ``fd`` is released, and the release time noted, when this ends."""
    try:
        yield
    finally:
        hold.released_at = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_UN)
