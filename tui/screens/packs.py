"""Packs: every managed asset pack of the installed apps, grouped by app: its policy, the
pack catalog's version and the local one, the bytes on disk, its status as the
framework's ``AssetPackManager`` reports it, and its download's progress.

Pack views are read through the controls only when an event said a pack changed, at
most every ``PACK_READ_SECONDS``; progress comes from the live download rows.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from orchestrator.model.units import format_size
from orchestrator.service.controls import PackAction
from orchestrator.service.views import PackStatus, PackView
from tui.frame import Frame
from tui.messages import PackRequest, PacksCheck, PacksStale, RedrawNow
from tui.state import FINISHED, LiveState
from tui.widgets.cells import bar
from tui.widgets.table import LiveTable

COLUMNS = (("app", "App"), ("pack", "Pack"), ("policy", "Policy"),
           ("latest", "Latest version"), ("local", "Local version"), ("size", "Local size"),
           ("status", "Status"), ("progress", "Progress"))
# A burst of pack events (a catalog of many packs, a pack's objects finishing one after
# another) is one read of the views, not one per event; a daemon answers each over its socket.
PACK_READ_SECONDS = 0.5
PROGRESS_FRAME = 0.2
# The order a person reads a status in: what happens now, what is local, how it compares.
STATUS_WORDS = ((PackStatus.DOWNLOADING, "downloading", "bold green"),
                (PackStatus.DOWNLOADED, "downloaded", ""),
                (PackStatus.UP_TO_DATE, "up to date", "green"),
                (PackStatus.OUT_OF_DATE, "out of date", "yellow"),
                (PackStatus.UPDATE_AVAILABLE, "update available", "bold yellow"),
                (PackStatus.DOWNLOAD_AVAILABLE, "download available", "dim"),
                (PackStatus.OBSOLETE, "obsolete", "red"))
KEYS = "e ensure  x remove  r rollback  u check for updates  a this app / every app"


def status_text(status: PackStatus) -> Text:
    """The status flags in words, comma separated: ``downloaded, up to date``."""
    text = Text()
    for flag, word, style in STATUS_WORDS:
        if flag in status:
            if text:
                text.append(", ")
            text.append(word, style)
    return text


def pack_progress(state: LiveState, view: PackView) -> Text:
    """The pack's current download as one bar over its rows' bytes; empty once every row
    has ended (or when nothing of it was seen moving: the view still counts what is left)."""
    rows = [state.downloads[key] for key in state.packs.batch(view.app, view.id)
            if key in state.downloads]
    if not any(not row.state.ended for row in rows):
        return Text(f"{view.pending} file(s) left" if view.pending else "", "dim")
    done = sum(row.total if row.state == FINISHED and row.total else row.bytes
               for row in rows)
    total = sum(row.total or 0 for row in rows)
    return bar(done / total if total else 0.0, 10)


def pack_cells(state: LiveState, view: PackView, first_of_app: bool) -> tuple[object, ...]:
    """One row of the Packs table; the app is named on the first row of its group."""
    return (view.app if first_of_app else "", view.id, view.policy or "",
            view.latest_version or Text("not in the catalog", "dim"),
            view.local_version or Text("none", "dim"),
            format_size(view.local_size) if view.local_version else "",
            status_text(view.status), pack_progress(state, view))


def pack_rows(state: LiveState, views: list[PackView]) -> list[tuple[str, tuple[object, ...]]]:
    """(``app/pack``, cells) for ``views``, grouped by app."""
    rows, last_app = [], None
    for view in views:
        rows.append((f"{view.app}/{view.id}", pack_cells(state, view, view.app != last_app)))
        last_app = view.app
    return rows


def summary_text(state: LiveState, app_ids: list[str], shown: int) -> str:
    """How many packs are shown, the apps without any and the reads refused."""
    reads = state.packs.reads
    notes = [f"{app}: {reads[app].error}" for app in app_ids if app in reads
             and reads[app].error]
    empty = [app for app in app_ids if app in reads and not reads[app].error
             and not reads[app].views]
    if empty:
        notes.append(f"no asset packs: {', '.join(empty)}")
    return " · ".join([f"{shown} pack(s) of {len(app_ids)} app(s)", *notes, KEYS])


class PacksScreen(Screen[None]):
    """The packs of every installed app (``a``: only the selected row's app), with the
    pack actions on the selected row and the check for updates on its app."""

    BINDINGS = [
        Binding("e", "pack('ensure')", "Ensure",
                tooltip="ensure the selected pack: download what its latest version lacks"),
        Binding("x", "pack('remove')", "Remove",
                tooltip="remove the selected pack's local versions, freeing their bytes"),
        Binding("r", "pack('rollback')", "Rollback",
                tooltip="make the selected pack's previous version current again"),
        Binding("u", "check", "Check updates",
                tooltip="check the selected app's pack catalog for updates and removals"),
        Binding("a", "only_app", "This app / all",
                tooltip="show only the selected pack's app, or every app again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.only_app: str | None = None
        self._asked: dict[str, int] = {}
        self._asked_at = 0.0
        self._drawn: tuple[int, int, str | None] = (-1, -1, None)
        self._drawn_at = 0.0
        self._app_ids: list[str] = []
        self._apps_read = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Asset packs", classes="title")
        yield LiveTable(COLUMNS, id="packs")
        yield Static("", id="packs-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()

    @property
    def table(self) -> LiveTable:
        return self.query_one("#packs", LiveTable)

    @property
    def selected(self) -> tuple[str | None, str | None]:
        """The app and the pack of the row under the cursor (None, None for none)."""
        key = self.table.selected_key
        if key is None:
            return self.only_app, None
        app_id, _, pack_id = key.partition("/")
        return app_id, pack_id

    def action_pack(self, action: str) -> None:
        self.post_message(PackRequest(PackAction(action), *self.selected))

    def action_check(self) -> None:
        self.post_message(PacksCheck(self.selected[0]))

    def action_only_app(self) -> None:
        self.only_app = None if self.only_app else self.selected[0]
        self._drawn = (-1, -1, None)
        self.post_message(RedrawNow())

    def _ask_for_reads(self, state: LiveState, app_ids: list[str], now: float) -> None:
        """Ask the app to read the packs that changed since they were read, each change
        once, and at most every ``PACK_READ_SECONDS``."""
        changes = state.packs.changes
        wanted = [app for app in state.packs.stale(app_ids)
                  if self._asked.get(app) != changes.get(app, 0)]
        if wanted and now - self._asked_at >= PACK_READ_SECONDS:
            self._asked_at = now
            self._asked.update({app: changes.get(app, 0) for app in wanted})
            self.post_message(PacksStale(wanted))

    def refresh_from(self, frame: Frame) -> bool:
        """Redraw when pack views were read, and for progress at most five times a second."""
        state, now = frame.state, time.monotonic()
        if state.apps_version != self._apps_read:  # an app comes or goes with an event
            self._apps_read, self._app_ids = state.apps_version, sorted(frame.snapshot.apps)
        app_ids = self._app_ids
        self._ask_for_reads(state, app_ids, now)
        drawn = (state.packs.version, state.version, self.only_app)
        if drawn == self._drawn:
            return False
        if drawn[0] == self._drawn[0] and drawn[2] == self._drawn[2] \
                and now - self._drawn_at < PROGRESS_FRAME:
            return False
        self._drawn, self._drawn_at = drawn, now
        shown = [self.only_app] if self.only_app in app_ids else app_ids
        views = state.packs.views(shown)
        self.table.show(pack_rows(state, views))
        self.query_one("#packs-summary", Static).update(summary_text(state, shown, len(views)))
        return True
