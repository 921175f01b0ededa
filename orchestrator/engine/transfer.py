"""Moving body bytes from a response into the staging file, one segment at a time.

The prefix hash follows the bytes as they arrive when a chunk lands exactly where the hash
has reached (always so for a single stream); other bytes are hashed back from disk later.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import aiohttp

from orchestrator.engine.marks import ProgressMark
from orchestrator.engine.segments import Segment, contiguous_prefix
from orchestrator.engine.staging import StagingFile
from orchestrator.engine.state import StateRecord
from orchestrator.errors import BodyTooLarge, DownloadError, EndlessBody, ErrorCode

# Checkpoints: the .part is fsynced and the state saved at most this often (a state save
# per chunk would cost more than the download).
CHECKPOINT_BYTES = 8 << 20
CHECKPOINT_SECONDS = 1.0
# Between checkpoints a progress mark (no fsync, see ``marks``) is written once a segment
# has this many bytes no mark claims, and when a segment completes: what a kill -9 makes
# the download fetch again, per connection.
MARK_BYTES = 512 << 10
# Chunks at least this big are written and hashed in threads (pwrite and sha256 release
# the GIL); smaller ones (small files) stay inline, where a thread hop costs more than it saves.
THREAD_CHUNK = 64 << 10
# Bytes handed to the write thread and not yet written; a kill -9 loses them, so they count
# against the resume bound. Python gives a waiting thread the GIL only every switch
# interval (5 ms by default: 2 MiB at 400 MB/s), so the bgassets command sets it to 1 ms
# (``cli.main``) to keep the write thread this close.
MAX_PENDING = 1 << 20
# Bytes written after which the write thread has the kernel start writing the .part out
# (``StagingFile.write_behind``), so that the fsync before publish finds little left.
WRITE_BEHIND_BYTES = 8 << 20


class Staged:
    """The staging file with its segments and running sha256: what is on disk, exactly."""

    def __init__(self, part: StagingFile, segments: list[Segment], size: int | None) -> None:
        self.part = part
        self.segments = segments
        self.size = size
        self.max_size: int | None = None
        self.hasher = hashlib.sha256()
        self.hashed_to = 0
        self.hashing = False
        self.received = 0
        self.unsaved = 0
        self.mark_due = False
        self.mark: ProgressMark | None = None
        self.on_new_segment: Callable[[], None] | None = None
        self.last_checkpoint = time.monotonic()
        self.on_chunk: Callable[[], None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._hash_thread: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[None], Future[None] | None, int]] = deque()
        self._pending_bytes = 0
        self._last_hash: Future[None] | None = None
        self._not_written_behind = 0

    def _submit(self, chunk: bytes, offset: int, hash_it: bool) -> None:
        if self._writer is None or self._hash_thread is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="bgassets-write")
            self._hash_thread = ThreadPoolExecutor(1, thread_name_prefix="bgassets-hash")
        written = self._writer.submit(self.part.write_at, chunk, offset)
        self._not_written_behind += len(chunk)
        if self._not_written_behind >= WRITE_BEHIND_BYTES:
            self._not_written_behind = 0
            self._writer.submit(self.part.write_behind)
        hashed = self._hash_thread.submit(self.hasher.update, chunk) if hash_it else None
        if hashed is not None:
            self._last_hash = hashed
        self._pending.append((written, hashed, len(chunk)))
        self._pending_bytes += len(chunk)

    async def write(self, chunk: bytes, segment: Segment) -> None:
        """Write ``chunk`` at the segment's position; it counts as done once submitted.

        Large chunks go to two threads, one writing and one hashing, so that receiving,
        writing and the sha256 (about 1 GB/s here) overlap on a 2-core machine.
        """
        if not segment.announced:
            # A segment's bounds go into a mark before its first byte: bytes of two
            # segments can meet in one block, and only the bounds tell whose they are.
            segment.announced = True
            if len(self.segments) > 1 and self.on_new_segment is not None:
                self.on_new_segment()
        offset = segment.position
        hash_it = offset == self.hashed_to and not self.hashing
        if hash_it:
            self.hashed_to += len(chunk)
        if len(chunk) < THREAD_CHUNK and not self._pending:
            self.part.write_at(chunk, offset)
            if hash_it:
                self.hasher.update(chunk)
        else:
            self._submit(chunk, offset, hash_it)
        # Counted before waiting for the write thread: meanwhile another connection may
        # steal this segment's tail, and it must split after these bytes, not under them.
        segment.done += len(chunk)
        self.received += len(chunk)
        self.unsaved += len(chunk)
        if segment.done - segment.marked >= MARK_BYTES or segment.remaining <= 0:
            self.mark_due = True
        if self.on_chunk is not None:
            self.on_chunk()
        while self._pending_bytes > MAX_PENDING:
            await self._settle_oldest()

    def write_mark(self, identity: StateRecord) -> None:
        """Write the progress mark once every chunk submitted so far is written.

        ``identity`` names the answer (url, size, sha256, validators). The segments are
        taken now; the writer thread writes the mark after the chunks submitted before it
        (one thread, first in first out), so it never claims a byte still unwritten.
        """
        self.mark_due = False
        if self.mark is None:
            return
        segments = []
        for segment in self.segments:
            segment.marked = segment.done
            segments.append((segment.start, segment.end, segment.done))
        if self._pending and self._writer is not None:
            self._pending.append((self._writer.submit(self._mark_now, identity, segments),
                                  None, 0))
        else:
            self._mark_now(identity, segments)

    def _mark_now(self, identity: StateRecord, segments: list[tuple[int, int, int]]) -> None:
        mark = self.mark
        if mark is None:
            return
        try:
            mark.write(identity, segments, self.part.fd)
        except (OSError, DownloadError):
            self.mark = None  # marks only save bytes: a download goes on without them
            mark.close()

    def _pop_done(self) -> None:
        while self._pending and all(f is None or f.done() for f in self._pending[0][:2]):
            written, hashed, size = self._pending.popleft()
            self._pending_bytes -= size
            written.result()
            if hashed is not None:
                hashed.result()

    async def _wait(self, *futures: Future[None] | None) -> None:
        waiting = [asyncio.wrap_future(f) for f in futures if f is not None and not f.done()]
        if waiting:
            await asyncio.wait(waiting)
        self._pop_done()

    async def _settle_oldest(self) -> None:
        await self._wait(*self._pending[0][:2])

    async def drain(self) -> None:
        """Wait until every chunk submitted so far is written and hashed."""
        if self._pending:
            # One thread each: when the last submitted job is done, all earlier ones are.
            await self._wait(self._pending[-1][0], self._last_hash)

    def drain_now(self) -> None:
        """Blocking drain, for pause and shutdown where the loop cannot wait."""
        while self._pending:
            written, hashed, size = self._pending.popleft()
            self._pending_bytes -= size
            written.result()
            if hashed is not None:
                hashed.result()

    def close_writer(self) -> None:
        """Stop the writer and hash threads (after a drain nothing is pending)."""
        for pool in (self._writer, self._hash_thread):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._hash_thread = None

    def close(self) -> None:
        """Finish pending writes, stop the threads, close the file (the mark stays)."""
        try:
            self.drain_now()
        finally:
            self.close_writer()
            self.part.close()
            if self.mark is not None:
                self.mark.close()

    def discard_mark(self) -> None:
        """Delete the progress mark: the bytes it claims are published or forgotten."""
        if self.mark is not None:
            self.mark.discard()

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
            await self.drain()  # only bytes submitted before ``target`` was taken are read
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
        self.drain_now()
        self.discard_mark()
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
    while unbounded or segment.remaining > 0:
        chunk = await content.readany()
        if not chunk:
            break
        if unbounded and staged.max_size is not None and (
                segment.position + len(chunk) > staged.max_size):
            await staged.write(chunk[:max(0, staged.max_size - segment.position)], segment)
            raise BodyTooLarge(url, staged.max_size)
        room = segment.remaining
        if not unbounded and len(chunk) > room:
            await staged.write(chunk[:room], segment)
            _overflow(segment, staged, url)
            return
        await staged.write(chunk, segment)
    if unbounded:
        # No declared length: the end of the body is the end of the file.
        segment.end = segment.position
        staged.size = segment.position
        return
    if segment.remaining > 0:
        raise DownloadError(f"{url} ended after {segment.position} of {segment.end} bytes",
                            ErrorCode.NETWORK_ERROR, transient=True)
    if segment.end == staged.size and await content.readany():
        _overflow(segment, staged, url)


def _overflow(segment: Segment, staged: Staged, url: str) -> None:
    """More bytes than the segment holds: fine when its end was stolen, else endless data."""
    if segment.end != staged.size:
        return
    raise EndlessBody(url, staged.size)
