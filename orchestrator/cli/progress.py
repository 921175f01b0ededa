"""What ``bgassets fetch`` shows while it works: a status line on a terminal, JSON events.

Both readers get the same calls from the fetch loop. The terminal line is
redrawn by a ticker at most ten times a second, however many downloads report;
JSON progress events are throttled per download, and a download's bytes in
events are the engine's exact counts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from orchestrator.events import EventKind
from orchestrator.model.units import format_size

REDRAW_INTERVAL = 0.1      # the terminal line: at most 10 Hz
EVENT_INTERVAL = 0.5       # JSON progress: at most 2 events per second per download
SPEED_WINDOW = 3.0         # seconds of history for the overall speed


def utc_timestamp(now: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds, as every bgassets JSON event carries it."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:30`` or ``1:02:03``."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class _Entry:
    url: str
    bytes: int = 0
    total: int | None = None
    last_event: float = field(default=float("-inf"))


class FetchView:
    """Counts of one run, drawn on ``terminal`` and/or written as JSON lines to ``events``."""

    def __init__(self, files: int, *, terminal: TextIO | None = None,
                 events: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.files = files
        self.files_done = self.files_failed = self.files_skipped = 0
        self.terminal = terminal
        self.events = events
        self.clock = clock
        self.started_at = clock()
        self._entries: dict[str, _Entry] = {}
        self._finished_bytes = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._line_width = 0

    # Calls from the fetch loop -------------------------------------------------
    def started(self, key: str, url: str, total: int | None) -> None:
        self._entries[key] = _Entry(url=url, total=total)
        self._emit(EventKind.DOWNLOAD_STARTED, key, url, 0, total)

    def progress(self, key: str, url: str, done: int, total: int | None) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.bytes, entry.total = done, total if total is not None else entry.total
        now = self.clock()
        if self.events is not None and now - entry.last_event >= EVENT_INTERVAL:
            entry.last_event = now
            self._emit(EventKind.DOWNLOAD_PROGRESS, key, url, done, entry.total)

    def finished(self, key: str, url: str, *, path: str, size: int, sha256: str | None,
                 skipped: bool = False) -> None:
        self._entries.pop(key, None)
        self._finished_bytes += size
        self.files_done += 1
        self.files_skipped += skipped
        extra: dict[str, Any] = {"path": path, "sha256": sha256}
        if skipped:
            extra["skipped"] = True
        self._emit(EventKind.DOWNLOAD_FINISHED, key, url, size, size, **extra)

    def failed(self, key: str, url: str, error: Any, done: int, total: int | None) -> None:
        self._entries.pop(key, None)
        self.files_failed += 1
        self._emit(EventKind.DOWNLOAD_FAILED, key, url, done, total, code=int(error.code),
                   name=error.code.title, message=error.message)

    def paused_all(self) -> None:
        """The run was interrupted: every running download keeps its bytes for the next run."""
        for key, entry in list(self._entries.items()):
            self._emit(EventKind.DOWNLOAD_PAUSED, key, entry.url, entry.bytes, entry.total)

    # The terminal line -------------------------------------------------------
    def bytes_done(self) -> int:
        return self._finished_bytes + sum(entry.bytes for entry in self._entries.values())

    def status_line(self) -> str:
        """``3/20 files  1.2 GiB  45.0 MiB/s  ETA 0:12  1 failed``."""
        now = self.clock()
        done = self.bytes_done()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW:
            self._samples.popleft()
        first_time, first_bytes = self._samples[0]
        speed = (done - first_bytes) / (now - first_time) if now > first_time else 0.0
        parts = [f"{self.files_done + self.files_failed}/{self.files} files", format_size(done)]
        total = self._known_total()
        if total is not None:
            parts[-1] += f" of {format_size(total)}"
        parts.append(f"{format_size(int(speed))}/s")
        if total is not None and speed > 0:
            parts.append(f"ETA {format_duration(max(0, total - done) / speed)}")
        if self.files_failed:
            parts.append(f"{self.files_failed} failed")
        return "  ".join(parts)

    def _known_total(self) -> int | None:
        """The bytes of the whole run, when every running download knows its size."""
        if any(entry.total is None for entry in self._entries.values()):
            return None
        waiting = self.files - self.files_done - self.files_failed - len(self._entries)
        if waiting:
            return None
        return self._finished_bytes + sum(entry.total or 0 for entry in self._entries.values())

    def redraw(self) -> None:
        if self.terminal is None:
            return
        line = self.status_line()
        self.terminal.write("\r" + line + "\x1b[K")
        self.terminal.flush()
        self._line_width = len(line)

    def clear(self) -> None:
        """Remove the status line so that final messages start on a clean line."""
        if self.terminal is not None and self._line_width:
            self.terminal.write("\r\x1b[K")
            self.terminal.flush()
            self._line_width = 0

    async def keep_drawing(self) -> None:
        """Redraw the status line until cancelled (a task of the fetch loop)."""
        while True:
            self.redraw()
            await asyncio.sleep(REDRAW_INTERVAL)

    def summary(self) -> str:
        elapsed = max(self.clock() - self.started_at, 1e-9)
        done = self.bytes_done()
        text = (f"{self.files_done}/{self.files} files, {format_size(done)} in "
                f"{format_duration(elapsed)} ({format_size(int(done / elapsed))}/s)")
        if self.files_skipped:
            text += f", {self.files_skipped} already complete"
        if self.files_failed:
            text += f", {self.files_failed} failed"
        return text

    # JSON events -------------------------------------------------------------
    def _emit(self, event: EventKind, key: str, url: str, done: int, total: int | None,
              **extra: Any) -> None:
        if self.events is None:
            return
        record = {"ts": utc_timestamp(), "event": event, "app": None, "download": key,
                  "url": url, "bytes": done, "total": total, **extra}
        self.events.write(json.dumps(record) + "\n")
        self.events.flush()
