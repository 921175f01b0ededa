"""Downloads: active and recent downloads, sortable by column, filterable, with a detail view."""

from __future__ import annotations

import time
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui.frame import Frame
from tui.messages import DownloadAction, DownloadHighlighted, RedrawNow
from tui.screens.detail import DownloadDetail
from tui.selection import COLUMNS, ROW_LIMIT, shown_rows
from tui.state import DownloadRow
from tui.widgets.cells import download_cells
from tui.widgets.table import LiveTable

# The event stream redraws the table at most five times a second (DESIGN: 5-10 Hz): each
# frame makes the cells of every changed row again and draws those on screen (LiveTable:
# ~70 us a row). A frame asked for (a key, an action's outcome) draws at once.
STREAM_FRAME = 0.2
LABELS = ("ID", "App", "Essential", "Priority", "State", "Progress", "Speed", "ETA", "Error")


class DownloadsScreen(Screen[None]):
    """The download table: at most ``ROW_LIMIT`` rows, redrawn in batches by the frame timer."""

    BINDINGS = [
        Binding("p", "download('promote')", "Promote",
                tooltip="promote to the foreground (only while its app runs)"),
        Binding("z", "download('pause')", "Pause", tooltip="pause the selected download"),
        Binding("s", "download('resume')", "Resume", tooltip="resume the selected download"),
        Binding("c", "download('cancel')", "Cancel", tooltip="cancel the selected download"),
        Binding("enter", "detail", "Detail",
                tooltip="open the detail view of the selected download", show=False),
        Binding("o", "cycle_sort", "Sort",
                tooltip="sort by the next column (or click a column header)"),
        Binding("slash", "filter", "Filter",
                tooltip="filter rows by words in id, app, state, error", key_display="/"),
        Binding("escape", "leave_filter", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort: str | None = None
        self.reverse = False
        self.filter_text = ""
        self._drawn = -1
        self._drawn_at = 0.0
        self._highlighted: str | None = None
        self._status = ""
        self._cell_cache: dict[str, tuple[int, tuple[Text, ...]]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words in id, app, state, error (/ to focus)",
                    id="download-filter")
        yield LiveTable(list(zip(COLUMNS, LABELS, strict=True)), id="downloads")
        yield Static("", id="downloads-status")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()

    @property
    def table(self) -> LiveTable:
        return self.query_one("#downloads", LiveTable)

    @property
    def selected_download(self) -> str | None:
        """The selected row's key, ``app/id``."""
        return self.table.selected_key

    def action_download(self, verb: str) -> None:
        self.post_message(DownloadAction(verb, self.selected_download))

    def action_detail(self) -> None:
        if self.selected_download:
            self.app.push_screen(DownloadDetail(self.selected_download))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._tell_highlighted()

    def _tell_highlighted(self) -> None:
        """Tell the app which download is under the cursor, when that changed."""
        key = self.table.selected_key
        if key != self._highlighted:
            self._highlighted = key
            self.post_message(DownloadHighlighted(key))

    def action_cycle_sort(self) -> None:
        order = [None, *COLUMNS]
        self.sort_by(order[(order.index(self.sort) + 1) % len(order)], reverse=False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        self.sort_by(column, reverse=not self.reverse if column == self.sort else False)

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        """Order the shown rows by ``column`` (None: by relevance)."""
        self.sort, self.reverse = column, reverse
        self._redraw_now()

    def _redraw_now(self) -> None:
        """A person asked for something: draw it now rather than on the next tick."""
        self._drawn = -1
        self.post_message(RedrawNow())

    def action_filter(self) -> None:
        self.query_one("#download-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._redraw_now()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def _cells_of(self, row: DownloadRow) -> tuple[Text, ...]:
        """The row's cells, rebuilt only when an event changed the row since they were made."""
        cached = self._cell_cache.get(row.key)
        if cached is None or cached[0] != row.changed:
            cached = (row.changed, download_cells(row, cached[1] if cached else None))
            self._cell_cache[row.key] = cached
        return cached[1]

    def refresh_from(self, frame: Frame) -> bool:
        """One frame: choose the rows, then change only the cells that differ."""
        state, now = frame.state, time.monotonic()
        if state.version == self._drawn:
            return False
        if frame.paced and self._drawn >= 0 and now - self._drawn_at < STREAM_FRAME:
            return False
        self._drawn, self._drawn_at = state.version, now
        rows, matched = shown_rows(state, self.filter_text, self.sort, self.reverse, ROW_LIMIT)
        # Only the rows on screen have their cells made; each row's last cells are kept
        # while it is shown, for the next cells to reuse those that did not change.
        self._cell_cache = {row.key: self._cell_cache[row.key] for row in rows
                            if row.key in self._cell_cache}
        self.table.show_made([(row.key, (row.key, row.changed), partial(self._cells_of, row))
                              for row in rows])
        self._tell_highlighted()
        order = f"sorted by {self.sort}{' (reversed)' if self.reverse else ''}" if self.sort \
            else "active first"
        status = (f"showing {len(rows)} of {matched} matching ({len(state.downloads)} in all), "
                  f"{order} · p promote  z pause  s resume  c cancel  enter detail  o sort  "
                  "/ filter")
        if status != self._status:
            # One line, as wide as the screen: no layout (Static.update's default lays the
            # whole screen out again, ~10 ms).
            self._status = status
            self.query_one("#downloads-status", Static).update(status, layout=False)
        return True
