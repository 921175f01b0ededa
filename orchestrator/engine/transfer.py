"""Moving body bytes from a response into the staging file, one segment at a time.

The prefix hash follows the bytes as they arrive when a chunk lands exactly where the hash
has reached (always so for a single stream); other bytes are hashed back from disk later.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import aiohttp

from orchestrator.engine.segments import Segment, contiguous_prefix
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import DownloadError, ErrorCode

# Checkpoints: the .part is fsynced and the state saved at most this often (a state save
# per chunk would cost more than the download); a crash re-downloads at most this much.
CHECKPOINT_BYTES = 16 << 20
CHECKPOINT_SECONDS = 1.0


class Staged:
    """The staging file with its segments and running sha256: what is on disk, exactly."""

    def __init__(self, part: StagingFile, segments: list[Segment], size: int | None) -> None:
        self.part = part
        self.segments = segments
        self.size = size
        self.hasher = hashlib.sha256()
        self.hashed_to = 0
        self.hashing = False
        self.received = 0
        self.unsaved = 0
        self.last_checkpoint = time.monotonic()
        self.on_chunk: Callable[[], None] | None = None

    def write(self, chunk: bytes, segment: Segment) -> None:
        offset = segment.position
        self.part.write_at(chunk, offset)
        if offset == self.hashed_to and not self.hashing:
            self.hasher.update(chunk)
            self.hashed_to += len(chunk)
        segment.done += len(chunk)
        self.received += len(chunk)
        self.unsaved += len(chunk)
        if self.on_chunk is not None:
            self.on_chunk()

    def checkpoint_due(self) -> bool:
        return self.unsaved >= CHECKPOINT_BYTES or (
            self.unsaved > 0 and time.monotonic() - self.last_checkpoint >= CHECKPOINT_SECONDS)

    async def catch_up_hash(self) -> None:
        """Hash from disk whatever contiguous bytes the running hash has not seen yet."""
        target = contiguous_prefix(self.segments)
        if target <= self.hashed_to or self.hashing:
            return
        self.hashing = True
        try:
            start = self.hashed_to
            if target - start < (1 << 18):
                self.part.hash_into(self.hasher, start, target)
            else:
                await asyncio.to_thread(self.part.hash_into, self.hasher, start, target)
            self.hashed_to = target
        finally:
            self.hashing = False

    def reset(self, segments: list[Segment], size: int | None) -> None:
        """Start over from byte 0: truncate the file and forget the hash."""
        self.part.truncate(0)
        self.segments = segments
        self.size = size
        self.hasher = hashlib.sha256()
        self.hashed_to = 0


async def pump(response: aiohttp.ClientResponse, segment: Segment, staged: Staged,
               url: str) -> None:
    """Stream the body into ``segment`` until its end (which may move when work is stolen).

    Never writes past the segment: at the end of the file a body that keeps coming is cut
    off and the attempt fails (the endless-data defence); a body that stops early fails too.
    """
    content = response.content
    unbounded = staged.size is None
    segment.active = True
    try:
        while unbounded or segment.remaining > 0:
            chunk = await content.readany()
            if not chunk:
                break
            room = segment.remaining
            if not unbounded and len(chunk) > room:
                staged.write(chunk[:room], segment)
                _overflow(segment, staged, url)
                return
            staged.write(chunk, segment)
        if not unbounded and segment.remaining > 0:
            raise DownloadError(f"{url} ended after {segment.position} of {segment.end} bytes",
                                ErrorCode.NETWORK_ERROR, transient=True)
        if not unbounded and segment.end == staged.size and await content.readany():
            _overflow(segment, staged, url)
    finally:
        segment.active = False


def _overflow(segment: Segment, staged: Staged, url: str) -> None:
    """More bytes than the segment holds: fine when its end was stolen, else endless data."""
    if segment.end != staged.size:
        return
    # The bytes up to the size are kept: the next attempt verifies them without the network.
    raise DownloadError(f"{url} sent more than the expected {staged.size} bytes; cut off",
                        ErrorCode.BAD_SERVER_ANSWER, transient=True, retry_after=0)
