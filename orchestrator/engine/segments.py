"""Segment planning for multi-connection downloads, and work stealing.

A segment is a byte range [start, end) of the file with ``done`` bytes written from its
start. When a connection finishes its segment it takes half of the largest remaining one,
so all connections stay busy until the end instead of waiting on one slow straggler.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_STEAL = 4 << 20


@dataclass
class Segment:
    """A byte range being fetched; mutable because its end moves when work is stolen."""

    start: int
    end: int
    done: int = 0
    active: bool = False

    @property
    def position(self) -> int:
        return self.start + self.done

    @property
    def remaining(self) -> int:
        return self.end - self.position

    def to_state(self) -> list[int]:
        return [self.start, self.end, self.done]


def plan_segments(size: int, count: int) -> list[Segment]:
    """Split [0, size) into ``count`` nearly equal segments (at least one byte each)."""
    count = max(1, min(count, size)) if size > 0 else 1
    bounds = [size * index // count for index in range(count + 1)]
    return [Segment(bounds[i], bounds[i + 1]) for i in range(count)]


def steal(segments: list[Segment], min_size: int = MIN_STEAL) -> Segment | None:
    """Split off the second half of the largest remaining segment as a new idle segment.

    Nothing is stolen when the largest remainder is below ``2 * min_size``: a new
    connection would cost more than it saves.
    """
    candidates = [s for s in segments if s.remaining >= 2 * min_size]
    if not candidates:
        return None
    victim = max(candidates, key=lambda s: s.remaining)
    middle = victim.position + victim.remaining // 2
    stolen = Segment(middle, victim.end)
    victim.end = middle
    segments.append(stolen)
    segments.sort(key=lambda s: s.start)
    return stolen


def next_idle(segments: Iterable[Segment]) -> Segment | None:
    """An unfinished segment no connection is working on, lowest offset first."""
    for segment in sorted(segments, key=lambda s: s.start):
        if not segment.active and segment.remaining > 0:
            return segment
    return None


def contiguous_prefix(segments: Iterable[Segment]) -> int:
    """Bytes from 0 that are all on disk (the hash can follow this prefix)."""
    prefix = 0
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.start != prefix:
            break
        prefix = segment.position
        if segment.remaining:
            break
    return prefix


def bytes_done(segments: Iterable[Segment]) -> int:
    return sum(segment.done for segment in segments)


def from_state(raw: object, size: int) -> list[Segment] | None:
    """Segments from persisted state, or None when they do not tile [0, size) sanely."""
    if not isinstance(raw, list) or not raw:
        return None
    try:
        segments = sorted((Segment(int(a), int(b), int(c)) for a, b, c in raw),
                          key=lambda s: s.start)
    except (TypeError, ValueError):
        return None
    expected = 0
    for segment in segments:
        if segment.start != expected or not 0 <= segment.done <= segment.end - segment.start:
            return None
        expected = segment.end
    return segments if expected == size else None


def clamp_to_disk(segments: list[Segment], size_on_disk: int) -> None:
    """Forget claimed bytes beyond the end of the .part file (a crash before fsync)."""
    for segment in segments:
        if segment.position > size_on_disk:
            segment.done = max(0, size_on_disk - segment.start)
