"""The detail view of one download: every field, where it goes, and its recent history."""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from orchestrator.model.units import format_size
from tui.widgets.cells import duration, size_of, speed


def detail_text(app: Any, row_key: str) -> str:
    """The detail lines of download ``row_key`` (``app/id``)."""
    row = app.state.downloads.get(row_key)
    if row is None:
        return f"{row_key}: no longer known"
    lines = [f"{row.id} of {row.app}",
             f"state        {row.state}" + (f" ({row.reason})" if row.reason else ""),
             f"essential    {'yes' if row.essential else 'no'}   priority {row.priority}"
             + ("   foreground" if row.foreground else ""),
             f"bytes        {size_of(row)}  ({row.fraction:.0%})",
             f"speed        {speed(row.speed) or '-'}   ETA {duration(row.eta) or '-'}"]
    record = app.orchestrator.journal.download(app.control.download_key(row_key))
    if record is not None:
        download = record.download
        lines += [f"url          {download.url}",
                  f"destination  {download.destination}",
                  f"size         {format_size(download.size) if download.size else 'unknown'}",
                  f"sha256       {download.sha256 or '-'}"]
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
        self.refresh_from(self.app)

    def action_download(self, verb: str) -> None:
        self.app.download_action(verb, self.row_key)  # type: ignore[attr-defined]

    def refresh_from(self, app: Any) -> bool:
        row = app.state.downloads.get(self.row_key)
        changed = row.changed if row else 0
        if changed == self._drawn or app.orchestrator is None:
            return False
        self._drawn = changed
        self.query_one("#detail-text", Static).update(detail_text(app, self.row_key))
        return True
