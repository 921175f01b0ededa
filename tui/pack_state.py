"""What the UI knows of asset packs: the last views read, when they went stale, and which
download rows make up each pack's download now. No Textual here.

Pack views come from the controls (an async read, a socket away when attached to a
daemon), so they are read only when an event says a pack changed: ``pack.*`` events and
the moves (not the progress) of downloads whose id is ``@pack:<pack>:<object>``. Progress
while a pack downloads comes from the download rows the live state keeps anyway, so a
pack's bar moves at frame rate without a read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from orchestrator.events import Event, EventKind
from orchestrator.scheduler.packs import pack_of
from orchestrator.service.views import PackView

PACK_EVENTS = frozenset({EventKind.PACK_CATALOG, EventKind.PACK_INSTALLED,
                         EventKind.PACK_REMOVED})


@dataclass
class PackRead:
    """The views of one app's packs, as read once its change count was ``change``; an
    ``error`` (code, name and message) when the read was refused."""

    change: int
    views: list[PackView] = field(default_factory=list)
    error: str | None = None


class PackState:
    """Pack views per app and what makes them stale, updated by the live state."""

    def __init__(self) -> None:
        self.changes: dict[str, int] = {}
        self.reads: dict[str, PackRead] = {}
        # Per ``app/pack``: the download rows (``app/id``) of its current download. A new
        # one starts when a pack download is scheduled once the last had ended.
        self.batches: dict[str, list[str]] = {}
        self.version = 0

    def apply(self, event: Event, ended: Callable[[str], bool]) -> None:
        """Fold one event; ``ended`` says whether a download row (``app/id``) has ended
        (or is not known)."""
        app, name = event.app, event.event
        if app is None:
            return
        if name in PACK_EVENTS:
            self.changed(app)
            return
        download = event.data.get("download")
        if not name.startswith("download.") or not isinstance(download, str):
            return
        pack = pack_of(download)
        if pack is None:
            return
        if name == EventKind.DOWNLOAD_SCHEDULED:
            self.scheduled(app, pack, f"{app}/{download}", ended)
        if name != EventKind.DOWNLOAD_PROGRESS:
            self.changed(app)

    def scheduled(self, app: str, pack: str, row_key: str,
                  ended: Callable[[str], bool]) -> None:
        """Download row ``row_key`` of ``pack`` waits: part of the pack's current download,
        or the first of a new one when every row of the last has ended."""
        batch_key = f"{app}/{pack}"
        batch = self.batches.get(batch_key)
        if batch is None or all(ended(key) for key in batch if key != row_key):
            batch = self.batches[batch_key] = []
        if row_key not in batch:
            batch.append(row_key)

    def changed(self, app: str) -> None:
        self.changes[app] = self.changes.get(app, 0) + 1
        self.version += 1

    def stale(self, app_ids: Iterable[str]) -> list[str]:
        """The apps among ``app_ids`` whose packs changed since they were last read, or
        were never read."""
        return [app for app in app_ids if (read := self.reads.get(app)) is None
                or read.change != self.changes.get(app, 0)]

    def read(self, app: str, change: int, views: list[PackView],
             error: str | None = None) -> None:
        """Keep what a read returned, unless a read begun later was kept already."""
        kept = self.reads.get(app)
        if kept is not None and kept.change > change:
            return
        self.reads[app] = PackRead(change, views, error)
        self.version += 1

    def views(self, app_ids: Iterable[str]) -> list[PackView]:
        """The last views read of ``app_ids``' packs, by app then pack."""
        return [view for app in sorted(app_ids) if (read := self.reads.get(app))
                for view in sorted(read.views, key=lambda view: view.id)]

    def batch(self, app: str, pack: str) -> list[str]:
        return self.batches.get(f"{app}/{pack}", [])

    def forget(self, app: str) -> None:
        """The app is not installed any more: nothing of its packs is kept."""
        self.reads.pop(app, None)
        for key in [key for key in self.batches if key.partition("/")[0] == app]:
            del self.batches[key]
        self.changed(app)
