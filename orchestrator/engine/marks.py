"""Progress marks: where a download stands, written often and cheaply, trusted in one boot.

A checkpoint in the state store costs an fsync (milliseconds), so it is taken at most
every 8 MiB or second; a download killed between two of them would fetch up to that much
again. Between checkpoints the engine therefore writes a progress mark: the same state
record, in one ``pwrite`` at offset 0 of ``<staging>.mark``, with no fsync (a few
microseconds). The mark is written by the staging file's writer thread after every chunk
submitted before it, so it claims only bytes whose ``pwrite`` has returned.

A process killed with -9 leaves the kernel's page cache alone: those bytes are in the
``.part`` and the mark is too. A power cut can lose either, so a mark names the kernel
boot it was written in and is believed only within that boot; after a reboot the store's
checkpoint (taken after an fsync of the ``.part`` when no sha256 is pinned) is what counts.
As a second guard the mark keeps a CRC of the 4 KiB before each segment's position and is
ignored when the ``.part`` no longer holds those bytes.

Where the boot cannot be told (no ``/proc/sys/kernel/random/boot_id``), no marks are
written and resuming falls back to the checkpoints.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import struct
import zlib
from pathlib import Path

from orchestrator.engine.state import StateRecord

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
MAGIC = b"BGM2"
# magic, length of the JSON part, number of segments, crc32 of everything after the header
HEADER = struct.Struct("<4sIII")
SEGMENT = struct.Struct("<QQQI")  # start, end, done, crc32 of the 4 KiB before start + done
TAIL = 4096
MAX_MARK = 1 << 20  # a mark file larger than this is not ours
# The parts of a state record that name the answer; they change rarely, so their JSON is
# kept between marks and only the segments are packed each time.
IDENTITY = ("url", "size", "sha256", "etag", "last_modified", "byte_range")


@functools.cache
def boot_id() -> str | None:
    """The running kernel's boot id, or None when the platform does not give one."""
    try:
        text = BOOT_ID.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def mark_path(staging: Path) -> Path:
    return staging.with_name(staging.name + ".mark")


class ProgressMark:
    """The ``.mark`` file of one staging file; opened on the first write."""

    def __init__(self, staging: Path) -> None:
        self.path = mark_path(staging)
        self.enabled = boot_id() is not None
        self.exists = False
        self._fd = -1
        self._identity: tuple[object, ...] | None = None
        self._identity_json = b""

    def write(self, identity: StateRecord, segments: list[tuple[int, int, int]],
              part_fd: int) -> None:
        """Write a mark claiming ``segments`` (start, end, done) of the answer ``identity``
        names (the IDENTITY fields of a state record); OSError is left to the caller.

        ``part_fd`` is the ``.part``, read back for the CRC of each segment's last bytes.
        """
        key = tuple(identity.get(name) for name in IDENTITY)
        if key != self._identity:
            self._identity = key
            self._identity_json = json.dumps({**dict(zip(IDENTITY, key, strict=True)),
                                              "boot": boot_id()},
                                             separators=(",", ":")).encode()
        body = self._identity_json + b"".join(
            SEGMENT.pack(start, end, done, _tail_crc(part_fd, start + done, start))
            for start, end, done in segments)
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                               | os.O_CLOEXEC, 0o644)
            self.exists = True
        header = HEADER.pack(MAGIC, len(self._identity_json), len(segments), zlib.crc32(body))
        os.pwrite(self._fd, header + body, 0)

    def load(self, part_fd: int) -> StateRecord | None:
        """The state record of a mark written in this boot that matches the ``.part``."""
        if not self.enabled:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        self.exists = True
        try:
            data = os.pread(fd, MAX_MARK, 0)
        except OSError:
            return None
        finally:
            os.close(fd)
        return _decode(data, part_fd)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        """Close and delete the mark (the download finished, or its bytes were forgotten)."""
        self.close()
        if self.exists:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.exists = False


def _tail_crc(fd: int, position: int, start: int) -> int:
    begin = max(start, position - TAIL)
    return zlib.crc32(os.pread(fd, position - begin, begin)) if position > begin else 0


def _decode(data: bytes, part_fd: int) -> StateRecord | None:
    if len(data) < HEADER.size:
        return None
    magic, json_length, count, crc = HEADER.unpack_from(data)
    body = data[HEADER.size:HEADER.size + json_length + count * SEGMENT.size]
    if magic != MAGIC or len(body) != json_length + count * SEGMENT.size or (
            zlib.crc32(body) != crc):
        return None
    try:
        record = json.loads(body[:json_length])
        if not isinstance(record, dict) or record.pop("boot", None) != boot_id():
            return None
        segments = []
        for start, end, done, tail in SEGMENT.iter_unpack(body[json_length:]):
            if _tail_crc(part_fd, start + done, start) != tail:
                return None
            segments.append([start, end, done])
    except (ValueError, OSError):
        return None
    return {**record, "segments": segments, "bytes": sum(done for _s, _e, done in segments)}
