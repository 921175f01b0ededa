"""What the UI knows, folded from the orchestrator's event stream: no Textual here.

The bridge worker feeds every event into :class:`LiveState`; screens read it
on a timer (at most ten times a second), so a burst of progress events costs
one dict assignment each and one repaint in total. Progress replaces
progress: a row keeps only the latest bytes and speed. Asset packs have their own
part, :class:`tui.pack_state.PackState`: the pack views last read, and what made them
stale.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any

from orchestrator.events import Event, EventKind, describe
from orchestrator.model.enums import DownloadState
from orchestrator.scheduler.packs import pack_of
from orchestrator.service.views import DownloadView, Snapshot
from tui.pack_state import PackState

LOG_LIMIT = 5_000
HISTORY_LIMIT = 30
QUIET = frozenset({EventKind.DOWNLOAD_PROGRESS, EventKind.APP_PROGRESS})
# The app is not installed after these: its downloads went with it.
GONE = frozenset({EventKind.APP_UNINSTALLED, EventKind.INSTALL_CANCELLED})

WAITING, DOWNLOADING, PAUSED, FINISHED, FAILED = (
    DownloadState.WAITING, DownloadState.DOWNLOADING, DownloadState.PAUSED,
    DownloadState.FINISHED, DownloadState.FAILED)
ACTIVE = frozenset({WAITING, DOWNLOADING, PAUSED})
# Relevance order of the Downloads table: what moves first, then what waits, then what ended.
STATE_RANK = {DOWNLOADING: 0, PAUSED: 1, WAITING: 2, FAILED: 3, FINISHED: 4}


@dataclass
class DownloadRow:
    """One download as the Downloads table shows it."""

    app: str
    id: str
    essential: bool = False
    priority: int = 50
    state: DownloadState = WAITING
    bytes: int = 0
    total: int | None = None
    speed: float = 0.0
    foreground: bool = False
    reason: str | None = None
    error: str | None = None
    path: str | None = None
    changed: int = 0
    arrival: int = 0
    history: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))

    @property
    def key(self) -> str:
        """``app/id``: unique across apps (ids are unique within one app only)."""
        return f"{self.app}/{self.id}"

    @property
    def fraction(self) -> float:
        if self.state == FINISHED:
            return 1.0
        return min(1.0, self.bytes / self.total) if self.total else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed, None when unknown or not moving."""
        if self.state != DOWNLOADING or not self.total or self.speed <= 0:
            return None
        return max(0.0, (self.total - self.bytes) / self.speed)


@dataclass
class AppStatus:
    """What the events said about one app's install."""

    fraction: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    refused: str | None = None


@dataclass(frozen=True)
class LogLine:
    """One line of the Events screen: the event, and its text once it is read."""

    seq: int
    source: Event

    @property
    def ts(self) -> float:
        return self.source.ts

    @property
    def event(self) -> str:
        return self.source.event

    @property
    def app(self) -> str | None:
        return self.source.app

    @cached_property
    def text(self) -> str:
        return describe(self.source) or self.source.event


class LiveState:
    """Downloads, app progress and the event log, updated in place by :meth:`apply`.

    ``version`` grows with every event, ``apps_version`` with every event
    that is not progress and ``install_version`` with install progress, so a
    screen repaints only when it has something new to show.
    """

    def __init__(self) -> None:
        self.downloads: dict[str, DownloadRow] = {}
        self.apps: dict[str, AppStatus] = {}
        self.log: deque[LogLine] = deque(maxlen=LOG_LIMIT)
        self.version = 0
        self.apps_version = 0
        self.install_version = 0
        self.seq = 0
        self.purgeable: dict[str, int] = {}
        self.packs = PackState()
        # The Downloads table's candidates without scanning every row: the rows not ended,
        # and the ended ones in the order of their last change (oldest first).
        self._active: dict[str, DownloadRow] = {}
        self._ended: dict[str, None] = {}
        self._arrivals = 0

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        self.version += 1
        name, data = event.event, event.data
        if name == EventKind.DOWNLOAD_PROGRESS and event.app is not None \
                and self._moved(event.app, data):
            return
        if name not in QUIET:
            self.apps_version += 1
            self.seq += 1
            self.log.append(LogLine(self.seq, event))
        if event.app is None:
            return
        if name == EventKind.APP_PROGRESS:
            self.install_version += 1
            status = self.apps.setdefault(event.app, AppStatus())
            status.fraction, status.phases = data["fraction"], dict(data.get("phases") or {})
        elif name == EventKind.EVENT_REFUSED:
            self.apps.setdefault(event.app, AppStatus()).refused = data.get("name")
        elif name in GONE:
            self._forget_app(event.app)
        elif name.startswith("download.") and data.get("download") is not None:
            self._download(event.app, name, event.ts, data)
        elif name == EventKind.ASSET_PURGED:
            self._add_purgeable(event.app, -int(data.get("bytes") or 0))
            row = self.downloads.get(f"{event.app}/{data.get('download')}")
            if row is not None:
                row.path = None
                row.history.append((event.ts, name))
        self.packs.apply(event, self.ended)

    def ended(self, key: str) -> bool:
        """Whether download row ``key`` has ended (True for a row not known)."""
        row = self.downloads.get(key)
        return row is None or row.state.ended

    def _moved(self, app: str, data: dict[str, Any]) -> bool:
        """Most events: the progress of a row that is downloading already, its bytes and
        speed set in place (as :meth:`_download` would); False for any other row."""
        download = data.get("download")
        row = self.downloads.get(f"{app}/{download}") if download is not None else None
        if row is None or row.state is not DOWNLOADING:
            return False
        row.changed = self.version
        row.essential = bool(data.get("essential", row.essential))
        row.bytes = data.get("bytes") or 0
        row.total = data.get("total", row.total)
        row.speed = float(data.get("speed") or 0)
        return True

    def _download(self, app: str, name: str, ts: float, data: dict[str, Any]) -> None:
        key = f"{app}/{data['download']}"
        row = self.downloads.get(key)
        if row is None:
            self._arrivals += 1
            row = self.downloads[key] = DownloadRow(app, data["download"],
                                                    arrival=self._arrivals)
        row.changed = self.version
        row.essential = bool(data.get("essential", row.essential))
        if name != EventKind.DOWNLOAD_PAUSED:
            row.bytes = data.get("bytes") or 0
        row.total = data.get("total", row.total)
        if name != EventKind.DOWNLOAD_PROGRESS:
            row.history.append((ts, name))
        if name == EventKind.DOWNLOAD_PROGRESS:
            row.speed = float(data.get("speed") or 0)
            if row.state != PAUSED:
                row.state = DOWNLOADING
        elif name in (EventKind.DOWNLOAD_SCHEDULED, EventKind.DOWNLOAD_REENQUEUED):
            row.state, row.error, row.speed, row.reason = WAITING, None, 0.0, None
            row.priority = int(data.get("priority", row.priority))
        elif name in (EventKind.DOWNLOAD_STARTED, EventKind.DOWNLOAD_RESUMED):
            row.state, row.reason = DOWNLOADING, None
            row.foreground = bool(data.get("foreground", row.foreground))
        elif name == EventKind.DOWNLOAD_PAUSED:
            row.state, row.speed, row.reason = PAUSED, 0.0, data.get("reason")
        elif name == EventKind.DOWNLOAD_DEFERRED:
            row.state, row.speed, row.reason = WAITING, 0.0, data.get("reason")
        elif name == EventKind.DOWNLOAD_FINISHED:
            row.state, row.speed, row.path = FINISHED, 0.0, data.get("path")
            row.bytes = row.total or row.bytes
            if data.get("purgeable"):
                self._add_purgeable(app, row.bytes)
        elif name == EventKind.DOWNLOAD_FAILED:
            row.state, row.speed = FAILED, 0.0
            row.error = f"{data.get('code')} {data.get('name')}: {data.get('message')}"
        if row.state.ended or key not in self._active:  # most events: progress, in place
            self._place(key, row)

    def _place(self, key: str, row: DownloadRow) -> None:
        """Keep the row in its index after an event changed it."""
        if row.state.ended:
            self._active.pop(key, None)
            self._ended.pop(key, None)
            self._ended[key] = None  # the latest change last
        else:
            self._ended.pop(key, None)
            self._active[key] = row

    def relevant(self, limit: int) -> list[DownloadRow]:
        """Every row that can be among the ``limit`` most relevant (the rows not ended and
        the ``limit`` ended most recently, with any tied with the last of them), in the
        order the rows came, as :attr:`downloads` holds them."""
        recent: list[DownloadRow] = []
        for key in reversed(self._ended):
            row = self.downloads[key]
            if len(recent) >= limit and row.changed != recent[-1].changed:
                break
            recent.append(row)
        rows = [*self._active.values(), *recent]
        rows.sort(key=attrgetter("arrival"))
        return rows

    def _reindex(self) -> None:
        self._active = {key: row for key, row in self.downloads.items() if not row.state.ended}
        ended = sorted((row for row in self.downloads.values() if row.state.ended),
                       key=attrgetter("changed"))  # stable: ties stay in arrival order
        self._ended = {row.key: None for row in ended}

    def _forget_app(self, app: str) -> None:
        """The app is not installed any more: its rows and counts go with it."""
        for key in [key for key, row in self.downloads.items() if row.app == app]:
            del self.downloads[key]
            self._active.pop(key, None)
            self._ended.pop(key, None)
        self.apps.pop(app, None)
        self.purgeable.pop(app, None)
        self.packs.forget(app)

    def _add_purgeable(self, app: str, size: int) -> None:
        self.purgeable[app] = max(0, self.purgeable.get(app, 0) + size)

    def resumed(self, key: str) -> None:
        """A paused download asked to resume waits until an event says it transfers."""
        row = self.downloads.get(key)
        if row is not None and row.state == PAUSED:
            row.state, row.reason = WAITING, None
            self.version += 1
            self.apps_version += 1  # not progress: drawn on the next frame
            row.changed = self.version

    def log_lines(self, app: str = "", kind: str = "", after: int = 0) -> list[LogLine]:
        """Log lines newer than ``after`` whose app and kind contain the filters."""
        app, kind = app.strip().lower(), kind.strip().lower()
        return [line for line in self.log if line.seq > after
                and (not app or app in (line.app or "-").lower())
                and (not kind or kind in line.event)]

    def seed(self, downloads: Iterable[DownloadView], snapshot: Snapshot) -> None:
        """Rows for what the service already holds (a restarted session, a daemon's
        state), and each app's install progress, before any event.

        Ended rows come first so that a download pending again wins over its old end.
        """
        for view in sorted(downloads, key=lambda view: view.pending):
            row = DownloadRow(view.app, view.id, view.essential, view.priority,
                              WAITING if view.state == DownloadState.CREATED else view.state,
                              view.bytes, view.total, foreground=view.foreground)
            if row.state in (PAUSED, WAITING):  # paused, or waiting for space
                row.reason = view.reason
            if view.error is not None:
                row.error = f"{view.error}: {view.message}"
            if view.purgeable:
                self._add_purgeable(row.app, row.bytes)
            known = self.downloads.get(row.key)
            if known is None:
                self._arrivals += 1
            row.arrival = known.arrival if known is not None else self._arrivals
            self.downloads[row.key] = row
            pack = pack_of(row.id)
            if pack is not None and not row.state.ended:
                self.packs.scheduled(row.app, pack, row.key, self.ended)
        self._reindex()
        for app in snapshot.apps.values():
            self.seed_progress(app.id, app.progress, dict(app.phases))
        self.version += 1
        self.apps_version += 1

    def seed_progress(self, app: str, fraction: float, phases: dict[str, float]) -> None:
        """An app's install progress as a daemon reported it."""
        status = self.apps.setdefault(app, AppStatus())
        status.fraction, status.phases = fraction, dict(phases)
        self.install_version += 1
