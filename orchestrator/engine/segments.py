"""Segment planning for multi-connection downloads, and work stealing.

A segment is a byte range [start, end) of the file with ``done`` bytes written from its
start. When a connection finishes its segment it takes half of the largest remaining one,
so all connections stay busy until the end instead of waiting on one slow straggler.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MIN_STEAL = 1 << 20
KEEP_MIN = 64 << 10
# A segment due to finish sooner than this is left alone: a new request (and the bytes
# already in flight on the victim's connection) would cost more than it saves.
WORTH_STEALING = 0.3
STALLED = 0.5


@dataclass
class Segment:
    """A byte range being fetched; mutable because its end moves when work is stolen."""

    start: int
    end: int
    done: int = 0
    active: bool = False
    started: float | None = None   # when the current connection began on it (monotonic)
    base: int = 0                  # ``done`` at that moment
    marked: int = 0                # ``done`` as the last progress mark claimed it
    announced: bool = False        # its bounds were in a progress mark before its first byte

    def begin(self, now: float) -> None:
        """A connection starts on this segment: its rate is measured from here."""
        self.active, self.started, self.base = True, now, self.done

    def rate(self, now: float) -> float | None:
        """Bytes per second of the connection working on it, None while too early to say."""
        if not self.active or self.started is None:
            return None
        elapsed, got = now - self.started, self.done - self.base
        if got <= 0:
            return 0.0 if elapsed >= STALLED else None
        return got / elapsed if elapsed >= 0.05 else None

    def time_left(self, now: float) -> float | None:
        """Seconds until its connection is done at the current rate (inf when stalled)."""
        rate = self.rate(now)
        if rate is None:
            return None
        return self.remaining / rate if rate > 0 else math.inf

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


def steal(segments: list[Segment], min_size: int = MIN_STEAL, now: float | None = None,
          thief_rate: float | None = None) -> Segment | None:
    """Split off the tail of the segment that will finish last as a new idle segment.

    The victim keeps what it can fetch while the thief fetches the rest (a straggler at
    256 KiB/s keeps little); without rates it is split in half. Nothing is stolen below
    ``min_size``: a new request would cost more than it saves.
    """
    at = 0.0 if now is None else now
    candidates = [s for s in segments if s.remaining >= min_size + KEEP_MIN
                  and (now is None or (s.time_left(at) or 0.0) >= WORTH_STEALING)]
    if not candidates:
        return None
    victim = max(candidates, key=lambda s: (s.time_left(at) or 0.0, s.remaining))
    victim_rate = victim.rate(at) if now is not None else None
    keep = victim.remaining // 2
    if victim_rate and thief_rate:
        keep = max(KEEP_MIN, int(victim.remaining * victim_rate / (victim_rate + thief_rate)))
    if victim.remaining - keep < min_size:
        return None
    middle = victim.position + keep
    stolen = Segment(middle, victim.end)
    victim.end = middle
    segments.append(stolen)
    segments.sort(key=lambda s: s.start)
    return stolen


def stragglers(segments: Iterable[Segment], now: float) -> bool:
    """Whether some connection will still be busy for a while (worth waiting to steal)."""
    def busy(segment: Segment) -> bool:
        left = segment.time_left(now)
        return left is None or left >= WORTH_STEALING

    return any(s.active and s.remaining > KEEP_MIN and busy(s) for s in segments)


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


def from_runs(runs: list[tuple[int, int]], size: int) -> list[Segment]:
    """Segments tiling [0, size) from runs of written bytes (each run starts a segment)."""
    runs = [(a, min(b, size)) for a, b in sorted(runs) if a < size and b > a]
    segments: list[Segment] = []
    if not runs or runs[0][0] > 0:
        segments.append(Segment(0, runs[0][0] if runs else size))
    for index, (start, end) in enumerate(runs):
        following = runs[index + 1][0] if index + 1 < len(runs) else size
        segments.append(Segment(start, following, end - start))
    return segments


def clamp_to_disk(segments: list[Segment], size_on_disk: int) -> None:
    """Forget claimed bytes beyond the end of the .part file (a crash before fsync)."""
    for segment in segments:
        if segment.position > size_on_disk:
            segment.done = max(0, size_on_disk - segment.start)


@dataclass
class ConnectionRamp:
    """How many connections a segmented download wants, from the throughput it measures.

    Automatic mode starts with one and doubles while each doubling raises the total rate by
    ``growth``: a per-connection throttle keeps it climbing to ``limit``; a first connection
    already at ``fast`` or more is not throttled and stays alone (measured: 1 GiB from a local
    nginx on 2 cores, two connections were 20-40 % slower than one, paying CPU and a
    read-back for the hash). A fixed count asks for exactly that from the start.
    """

    limit: int
    fixed: bool = False
    growth: float = 1.2
    fast: float = 64 << 20
    wanted: int = 1
    growing: bool = True
    previous: float | None = None

    def __post_init__(self) -> None:
        if self.fixed:
            self.wanted, self.growing = self.limit, False

    def observe(self, rate: float) -> int:
        """Feed the total rate of the last tick (at full strength); the connections wanted.

        A first connection below half of ``fast`` is throttled per connection: it jumps
        straight to eight (what aria2c users pick by hand), then doubles as before.
        """
        if self.growing:
            if self.previous is None:
                self.growing = rate < self.fast
                step = 8 if rate < self.fast / 2 else 2
            else:
                self.growing = rate > self.previous * self.growth
                step = 2
            if self.growing:
                self.wanted = min(self.limit, self.wanted * step)
            self.previous = rate
        return self.wanted
