"""The engine's side of the publishing process (see :mod:`orchestrator.engine.publish_child`).

:class:`~orchestrator.engine.commit.GroupCommit` starts it once many small files wait to
be published, hands it each verified-on-arrival file (bytes, staging path, destination,
expected sha256) over a pipe, and reports a file done when the process answers that it
is durable at its destination. If the process cannot start or ends unexpectedly, the
files it held fail as retryable disk errors and the group commit goes on in its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.publish_child import (
    MISMATCH,
    NO_DIGEST,
    OK,
    RENAME_FAILED,
    REQUEST,
    RESULT,
    WRITE_FAILED,
)
from orchestrator.engine.retry import disk_error
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import DownloadError, ErrorCode

CHILD = Path(__file__).with_name("publish_child.py")


@dataclass
class Pending:
    """A small file waiting to be published: its bytes, where they go, and how it ended."""

    part: StagingFile
    data: bytes
    destination: Path
    done: asyncio.Future[None]
    error: DownloadError | None = field(default=None)
    verify: bool = False           # hash ``data`` before writing it
    expected_sha256: str | None = None
    source: str = ""               # what the bytes came from, for the mismatch message
    digest: str | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.data)


class PublishingProcess:
    """The running process and the files handed to it that it has not answered for yet."""

    def __init__(self, process: asyncio.subprocess.Process,
                 on_done: Callable[[Pending], None]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.alive = True
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._on_done = on_done
        self._pending: dict[int, Pending] = {}
        self._ids = itertools.count()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, on_done: Callable[[Pending], None], *,
                    holds: tuple[int, ...] = ()) -> PublishingProcess | None:
        """The process, or None when it cannot be started here; it keeps the descriptors
        ``holds`` open until it exits."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", str(CHILD), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, start_new_session=True, pass_fds=holds)
        except (OSError, RuntimeError, NotImplementedError):
            return None
        return cls(process, on_done)

    def submit(self, item: Pending) -> bool:
        """Hand ``item`` over; False when it must stay with the caller (no process, or an
        expected sha256 that is not hex)."""
        if not self.alive:
            return False
        try:
            expected = (bytes.fromhex(item.expected_sha256) if item.expected_sha256
                        else NO_DIGEST)
        except ValueError:
            return False
        if len(expected) != len(NO_DIGEST):
            return False
        ident = next(self._ids)
        staging, destination = os.fsencode(item.part.path), os.fsencode(item.destination)
        self._pending[ident] = item
        self._stdin.write(b"".join((REQUEST.pack(ident, len(staging), len(destination),
                                                 len(item.data), item.expected_sha256 is not None,
                                                 expected),
                                    staging, destination, item.data)))
        item.data = b""
        return True

    async def _read(self) -> None:
        try:
            while True:
                record = await self._stdout.readexactly(RESULT.size)
                ident, status, number, digest = RESULT.unpack(record)
                item = self._pending.pop(ident)
                item.digest = digest.hex()
                item.error = _error(item, status, number)
                self._on_done(item)
        except (asyncio.IncompleteReadError, OSError, KeyError):
            pass
        finally:
            self.alive = False
            pending, self._pending = self._pending, {}
            for item in pending.values():
                item.error = DownloadError(
                    f"cannot publish {item.destination}: the publishing process ended",
                    ErrorCode.DISK_ERROR, transient=True)
                self._on_done(item)

    async def close(self) -> None:
        """Let the process finish what it was handed, then end it."""
        self.alive = False
        with contextlib.suppress(OSError, RuntimeError):
            self._stdin.close()
        await asyncio.wait([self._reader])
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()


def _error(item: Pending, status: int, number: int) -> DownloadError | None:
    """The error of one answer, with the messages the thread would give."""
    if status == OK:
        return None
    if status == MISMATCH:
        return DownloadError(f"{item.source}: sha256 {item.digest} does not match the "
                             f"expected {item.expected_sha256}", ErrorCode.CHECKSUM_MISMATCH)
    where = (item.part.path if status == WRITE_FAILED
             else item.destination if status == RENAME_FAILED else item.destination.parent)
    return disk_error(OSError(number, os.strerror(number)), where)
