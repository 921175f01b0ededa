"""The detail view of one download: every field, where it goes, and its history.

The history is the journal's (every move, also those before a restart or before a
UI attached to the daemon), read through the controls whenever the row's state or
events change; the events this UI saw follow it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from orchestrator.errors import BackgroundAssetsError
from orchestrator.model.units import format_size
from orchestrator.service.controls import Controls
from orchestrator.service.views import HistoryEntry
from tui.frame import Frame
from tui.messages import DownloadAction, RedrawNow
from tui.widgets.cells import duration, size_of, speed


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def detail_text(frame: Frame, row_key: str, history: Sequence[HistoryEntry] = ()) -> str:
    """The detail lines of download ``row_key`` (``app/id``) and its journal ``history``."""
    row = frame.state.downloads.get(row_key)
    if row is None:
        return f"{row_key}: no longer known"
    lines = [f"{row.id} of {row.app}",
             f"state        {row.state.label}" + (f" ({row.reason})" if row.reason else ""),
             f"essential    {'yes' if row.essential else 'no'}   priority {row.priority}"
             + ("   foreground" if row.foreground else ""),
             f"bytes        {size_of(row)}  ({row.fraction:.0%})",
             f"speed        {speed(row.speed) or '-'}   ETA {duration(row.eta) or '-'}"]
    view = frame.controls.download(row.app, row.id)
    if view is not None:
        lines += [f"url          {view.url}",
                  f"destination  {view.destination}",
                  f"size         {format_size(view.total) if view.total else 'unknown'}",
                  f"sha256       {view.sha256 or '-'}"]
    if row.path:
        lines.append(f"delivered at {row.path}")
    if row.error:
        lines.append(f"error        {row.error}")
    lines += ["", "history"]
    lines += [f"  {clock(entry.at)}  {entry.state.label}"
              + (f" ({entry.reason})" if entry.reason else "") for entry in history]
    lines += ["", "events seen"]
    lines += [f"  {clock(ts)}  {name}" for ts, name in row.history]
    return "\n".join(lines)


class DownloadDetail(ModalScreen[None]):
    """Shown over the Downloads table; escape closes it. The actions work here too."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("p", "download('promote')", "Promote"),
        Binding("z", "download('pause')", "Pause"),
        Binding("s", "download('resume')", "Resume"),
        Binding("c", "download('cancel')", "Cancel"),
    ]

    def __init__(self, row_key: str) -> None:
        super().__init__()
        self.row_key = row_key
        self._drawn: tuple[int, int] = (-1, -1)
        self._history: list[HistoryEntry] = []
        self._history_read = 0
        self._history_of: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Static("", id="detail-text", markup=False)
            yield Static("p promote  z pause  s resume  c cancel  escape close", classes="hint")

    def on_mount(self) -> None:
        self.post_message(RedrawNow())

    def action_download(self, verb: str) -> None:
        self.post_message(DownloadAction(verb, self.row_key))

    def refresh_from(self, frame: Frame) -> bool:
        row = frame.state.downloads.get(self.row_key)
        if row is not None and (row.state, len(row.history)) != self._history_of:
            # A move the journal keeps comes with an event: not with progress.
            self._history_of = (row.state, len(row.history))
            self.read_history(frame.controls, row.app, row.id)
        changed = (row.changed if row else 0, self._history_read)
        if changed == self._drawn:
            return False
        self._drawn = changed
        self.query_one("#detail-text", Static).update(
            detail_text(frame, self.row_key, self._history))
        return True

    @work(group="history", exclusive=True, exit_on_error=False)
    async def read_history(self, controls: Controls, app_id: str, download_id: str) -> None:
        """The journal's history of the download, shown on the next frame."""
        try:
            self._history = await controls.history(app_id, download_id)
        except BackgroundAssetsError:
            return  # a daemon gone, or a download no longer known: the events still show
        self._history_read += 1
        self.post_message(RedrawNow())
