"""A DataTable that is told the rows it should show and repaints only the rows that differ.

Table rows are positions (``#0``, ``#1``, ...), not downloads: when the
shown downloads change or move, the cells of the affected positions are
rewritten in one batch, so the table never clears, never removes rows in
O(n) and never measures a whole column again (DataTable does when a cell
shrinks with ``update_width``). The cursor follows the download it was on.

DataTable keys every cached render on one update count that any
``update_cell`` bumps, and repaints the whole widget after it: one progress
event on screen meant every visible cell rendered again through Rich
(measured 2/3 of the TUI's CPU with 200 downloads moving). This table keeps
each row's rendered line keyed on that row's own version, a batch marks only
the changed rows' lines dirty, and a changed row's line is drawn by
:mod:`tui.widgets.row_paint`, DataTable's own line at a fifth of the cost.
DataTable still holds every cell (``update_cell``), measures the columns and
draws the header and any row the painter declines.

Only the rows on screen have their cells made: :meth:`show_made` takes each row's
key, a token that changes whenever its cells would, and the function that makes
them. A changed row on screen is made and drawn at once; one out of view costs
nothing until it is drawn (scrolled to) or read (the Downloads table holds 200
rows, a screen shows about 45, and a frame under 200 moving downloads changes them
all).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from tui.widgets.row_paint import Paint, RowPainter

Row = tuple[str, Sequence[object]]
Cells = tuple[Text, ...]
# A row of :meth:`LiveTable.show_made`: its key, a token equal to the last one while its
# cells are, and what makes its cells.
LazyRow = tuple[str, Hashable, Callable[[], Cells]]


def as_text(value: object) -> Text:
    """Cells as Text, so that DataTable does not parse each string as markup on every paint."""
    return value if isinstance(value, Text) else Text(str(value))


class LiveTable(DataTable[Text]):
    """A row-cursor DataTable fed whole frames by :meth:`show`."""

    # DataTable's own __init__ already refreshes, before ours has run.
    _batching = False

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._columns = columns
        self._keys: list[str] = []
        self._cells: list[Cells] = []
        self._tokens: list[Hashable] = []
        # Positions whose cells changed and are not made yet: made when drawn or read.
        self._pending: dict[int, Callable[[], Cells]] = {}
        # Per position, the version of its cells: a line's cached strip is good while
        # the version, the cursor, the hover, the widths and the scroll are those it had.
        self._versions: list[int] = []
        self._version = 0
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._painter = RowPainter()
        self._paint: Paint | None = None
        self._cursor_row = self._hover_row = -1
        self._column_keys: list[ColumnKey] = []

    def on_mount(self) -> None:
        self._column_keys = [self.add_column(label, key=key) for key, label in self._columns]
        # Every update_cell makes all cached renders stale (their keys hold an update
        # count); DataTable's default caches then keep ~150,000 dead objects alive, and
        # the garbage collector walks them all: measured 100-170 ms pauses at 2,000 rows.
        for cache, size in ((self._row_render_cache, 256), (self._line_cache, 256),
                            (self._row_renderable_cache, 256), (self._cell_render_cache, 2048)):
            cache.maxsize = size

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, None when the table is empty."""
        if not self._keys or not 0 <= self.cursor_row < len(self._keys):
            return None
        return self._keys[self.cursor_row]

    @property
    def shown_keys(self) -> list[str]:
        return list(self._keys)

    def show(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly ``rows`` (key, cells), in this order."""
        made = []
        for key, values in rows:
            cells = values if isinstance(values, tuple) and all(
                isinstance(v, Text) for v in values) else tuple(as_text(v) for v in values)
            made.append((key, cells, _returning(cells)))
        self.show_made(made, window=range(len(made)))

    def show_made(self, rows: Sequence[LazyRow], window: range | None = None) -> None:
        """Make the table show exactly ``rows`` (key, token, cells' maker), in this order.

        A row whose token changed has its cells made now if it is in ``window`` (the
        positions on screen by default: their column widths are right in this frame),
        else when it is drawn or read."""
        selected, position = self.selected_key, self.cursor_row
        keys = [key for key, _, _ in rows]
        if len(keys) < len(self._keys) // 2 or not keys:
            self.clear()
            self._keys, self._cells, self._tokens, self._versions = [], [], [], []
            self._pending.clear()
        while len(self._keys) > len(keys):
            self.remove_row(f"#{len(self._keys) - 1}")
            self._keys.pop()
            self._cells.pop()
            self._tokens.pop()
            self._versions.pop()
            self._pending.pop(len(self._keys), None)
        changed = []
        blank = tuple(Text() for _ in self._columns)
        self._batching = True
        try:
            for index, (key, token, make) in enumerate(rows):
                if index == len(self._keys):
                    self.add_row(*blank, key=f"#{index}")
                    self._keys.append(key)
                    self._cells.append(blank)
                    self._tokens.append(token)
                    self._versions.append(self._next_version())
                else:
                    self._keys[index] = key
                    if token is self._tokens[index] or token == self._tokens[index]:
                        continue
                    self._tokens[index] = token
                self._pending[index] = make
                changed.append(index)
            for index in self._on_screen() if window is None else window:
                self._made(index)
        finally:
            self._batching = False
        self._refresh_rows(changed)
        if selected is not None and selected in keys and keys.index(selected) != position:
            self.move_cursor(row=keys.index(selected), animate=False)

    def _on_screen(self) -> range:
        """The positions of the rows the table shows on screen now."""
        height = self.size.height - (self.header_height if self.show_header else 0)
        top = self.scroll_offset.y
        return range(top, min(len(self._keys), top + max(0, height)))

    def _made(self, index: int) -> Cells:
        """The cells at ``index``, made now if they changed since they were last made."""
        make = self._pending.pop(index, None)
        if make is not None:
            batching, self._batching = self._batching, True  # within a batch, or alone
            try:
                self._rewrite(index, make())
            finally:
                self._batching = batching
        return self._cells[index]

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _rewrite(self, index: int, new: Cells) -> None:
        """Put ``new`` in the row at ``index``; its version moves when a cell changed."""
        old = self._cells[index]
        self._cells[index] = new
        changed = False
        row_key = RowKey(f"#{index}")
        for column, before, after in zip(self._column_keys, old, new, strict=True):
            if before is not after and before != after:
                grow = cell_len(after.plain) > self.columns[column].content_width
                self.update_cell(row_key, column, after, update_width=grow)
                changed = True
        if changed:
            self._versions[index] = self._next_version()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> LiveTable:
        """Within a batch of :meth:`show`, ``update_cell``'s repaint of the whole table is
        left out: the batch then repaints the rows it changed."""
        if self._batching and not regions and repaint and not layout and not recompose:
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _refresh_rows(self, indexes: Sequence[int]) -> None:
        """Mark the lines of the rows at ``indexes`` dirty, those on screen only."""
        if not indexes:
            return
        window, scroll = self.window_region, self.scroll_offset
        top = self.header_height if self.show_header else 0
        width = max(self.size.width, self.virtual_size.width)
        regions = [Region(0, top + index, width, 1) for index in indexes]
        shown = [region.translate(-scroll) for region in regions
                 if window.overlaps(region)]
        if shown:
            super().refresh(*shown)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of this paint shares: read once, not once a row.
        column_styles = self.get_component_styles
        paint = Paint(
            width=self.size.width, scroll_x=self.scroll_offset.x, base=self.rich_style,
            even=column_styles("datatable--even-row").rich_style if self.zebra_stripes
            else self.rich_style,
            odd=column_styles("datatable--odd-row").rich_style if self.zebra_stripes
            else self.rich_style,
            cursor=self.get_component_rich_style("datatable--cursor"),
            hover=self.get_component_rich_style("datatable--hover"),
            spaces=tuple(column.get_render_width(self) - 2 * self.cell_padding
                         for column in self.columns.values()),
            padding=self.cell_padding,
            css_foreground=self.cursor_foreground_priority == "css",
            css_background=self.cursor_background_priority == "css",
            state=self.get_pseudo_class_state())
        if paint != self._paint:  # the painter keeps its styles while the paint is one object
            self._paint = paint
        self._cursor_row = self.cursor_coordinate.row if self.show_cursor else -1
        self._hover_row = self.hover_coordinate.row \
            if self.show_cursor and self._show_hover_cursor else -1
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """The line at ``y``: a row's strip comes from the cache while nothing it shows
        changed (its cells, the cursor or hover on it, widths, scroll, focus, size)."""
        top = self.header_height if self.show_header else 0
        index = y + self.scroll_offset.y - top
        if y < top and self._paint is not None and not self.fixed_rows:
            # The labels never change: the header line changes with the paint, the hover
            # and the cursor (DataTable's own key for it holds the update count as well).
            header_key = (-1 - y, self.hover_coordinate, self.cursor_coordinate,
                          self.show_cursor, self._show_hover_cursor, self._paint)
            strip = self._strips.get(header_key)
            if strip is None:
                strip = self._strips[header_key] = super().render_line(y)
            return strip
        if y < top or not 0 <= index < len(self._versions):
            return super().render_line(y)
        cells = self._made(index)
        if self.fixed_rows or self.cursor_type != "row" or self._paint is None:
            return super().render_line(y)
        cursor, hover = self._cursor_row == index, self._hover_row == index
        key = (index, self._versions[index], cursor, hover, self._paint)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._painter.line(self._paint, self.app.console, index, cells,
                                       cursor, hover)
            if strip is None:
                return super().render_line(y)
            self._strips[key] = strip
        return strip

    def cell_text(self, key: str, column: int) -> str:
        """The plain text of one cell of the row of ``key``, as a person reads it ("" for a
        row not shown); the tests read the tables through it."""
        if key not in self._keys:
            return ""
        return self._made(self._keys.index(key))[column].plain


def _returning(cells: Cells) -> Callable[[], Cells]:
    return lambda: cells
