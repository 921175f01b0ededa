"""The detail view of one download: every field, where it goes, and its recent history."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from orchestrator.model.units import format_size
from tui.frame import Frame
from tui.messages import DownloadAction, RedrawNow
from tui.widgets.cells import duration, size_of, speed


def detail_text(frame: Frame, row_key: str) -> str:
    """The detail lines of download ``row_key`` (``app/id``)."""
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
    lines.append("")
    lines.append("history")
    lines += [f"  {time.strftime('%H:%M:%S', time.localtime(ts))}  {name}"
              for ts, name in row.history]
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
        self._drawn = -1

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
        changed = row.changed if row else 0
        if changed == self._drawn:
            return False
        self._drawn = changed
        self.query_one("#detail-text", Static).update(detail_text(frame, self.row_key))
        return True
