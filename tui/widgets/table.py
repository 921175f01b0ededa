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
each row's rendered line keyed on that row's own version, and a batch marks
only the changed rows' lines dirty.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Row = tuple[str, Sequence[object]]


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
        self._cells: list[tuple[Text, ...]] = []
        # Per position, the version of its cells: a line's cached strip is good while
        # the version, the cursor, the hover, the widths and the scroll are those it had.
        self._versions: list[int] = []
        self._version = 0
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._paint: tuple[object, ...] = ()
        self._paint_style = Style()
        self._cell_styles: dict[tuple[Style, Style, Style, int, int], tuple[Style, Style]] = {}

    def on_mount(self) -> None:
        for key, label in self._columns:
            self.add_column(label, key=key)
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
        selected, position = self.selected_key, self.cursor_row
        keys = [key for key, _ in rows]
        cells = [values if isinstance(values, tuple) and all(isinstance(v, Text) for v in values)
                 else tuple(as_text(value) for value in values) for _, values in rows]
        if len(keys) < len(self._keys) // 2 or not keys:
            self.clear()
            self._keys, self._cells, self._versions = [], [], []
        while len(self._keys) > len(keys):
            self.remove_row(f"#{len(self._keys) - 1}")
            self._keys.pop()
            self._cells.pop()
            self._versions.pop()
        rewritten = []
        self._batching = True
        try:
            for index, (key, new) in enumerate(zip(keys, cells, strict=True)):
                if index == len(self._keys):
                    self.add_row(*new, key=f"#{index}")
                    self._keys.append(key)
                    self._cells.append(new)
                    self._versions.append(self._next_version())
                elif self._cells[index] is not new and (self._cells[index] != new
                                                        or self._keys[index] != key):
                    if self._rewrite(index, new):
                        rewritten.append(index)
                    self._keys[index] = key
        finally:
            self._batching = False
        self._refresh_rows(rewritten)
        if selected is not None and selected in keys and keys.index(selected) != position:
            self.move_cursor(row=keys.index(selected), animate=False)

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _rewrite(self, index: int, new: tuple[Text, ...]) -> bool:
        """Put ``new`` in the row at ``index``; True when a cell changed."""
        old = self._cells[index]
        self._cells[index] = new
        changed = False
        for (column, _), before, after in zip(self._columns, old, new, strict=True):
            if before != after:
                width = cell_len(after.plain)
                grow = width > self.columns[ColumnKey(column)].content_width
                self.update_cell(f"#{index}", column, after, update_width=grow)
                changed = True
        if changed:
            self._versions[index] = self._next_version()
        return changed

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
        # What every line of this paint shares; DataTable reads the same before its paint.
        self._paint_style = self.rich_style
        self._paint = (self.size.width, self.scroll_offset, self.get_pseudo_class_state(),
                       self._paint_style, self.show_cursor, self.cursor_type,
                       self._show_hover_cursor,
                       tuple(column.content_width for column in self.columns.values()))
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """The line at ``y``: a row's strip comes from the cache while nothing it shows
        changed (its cells, the cursor or hover on it, widths, scroll, focus, size)."""
        top = self.header_height if self.show_header else 0
        index = y + self.scroll_offset.y - top
        if y < top or not 0 <= index < len(self._versions) or self.fixed_rows:
            return super().render_line(y)
        key = (index, self._versions[index], self.cursor_coordinate.row == index,
               self.hover_coordinate.row == index, self._paint)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._row_line(index)
            if strip is None:
                strip = super().render_line(y)
            self._strips[key] = strip
        return strip

    def _row_line(self, index: int) -> Strip | None:
        """The line of row ``index`` as DataTable draws it, built from the cells' Rich
        segments directly: DataTable renders each cell through Padding, Styled and
        ``Console.render_lines`` (measured ~0.2 ms a cell under cProfile, 9 cells a row,
        every visible row once per frame while downloads move). None when a cell is
        wider than its column (DataTable then crops it; let it)."""
        cells, console, base = self._cells[index], self.app.console, self._paint_style
        columns = list(self.columns.values())
        padding = " " * self.cell_padding
        cursor = self.show_cursor and self.cursor_coordinate.row == index
        hover = (self.show_cursor and self._show_hover_cursor
                 and self.hover_coordinate.row == index)
        component = Style()
        if hover:
            component += self.get_component_rich_style("datatable--hover")
        if cursor:
            component += self.get_component_rich_style("datatable--cursor")
        post = (Style.from_color(color=component.color)
                if self.cursor_foreground_priority == "css" else Style.null())
        if self.cursor_background_priority == "css":
            post += Style.from_color(bgcolor=component.bgcolor)
        row_style = self.get_component_styles(
            "datatable--odd-row" if index % 2 else "datatable--even-row").rich_style \
            if self.zebra_stripes else base
        segments: list[Segment] = []
        for column_index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            space = column.get_render_width(self) - 2 * self.cell_padding
            used = cell_len(cell.plain)
            if used > space or "\n" in cell.plain:
                return None
            pre, pre_post = self._cell_style(row_style, component, post, index, column_index)
            segments.append(Segment(padding, pre_post))
            # Text's own style is the lowest of its spans when Rich renders it whole.
            text_style = pre + console.get_style(cell.style) if cell.style else pre
            segments.extend(Segment(text, text_style + style + post if style
                                    else text_style + post)
                            for text, style, _ in cell.render(console) if text)
            segments.append(Segment(" " * (space - used) + padding, pre_post))
        table_width = sum(column.get_render_width(self) for column in columns)
        extend = row_style + component + Style.from_meta(
            {"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, self.size.width - table_width), extend))
        scroll_x, width = self.scroll_offset.x, self.size.width
        return Strip(segments).crop(scroll_x, scroll_x + width) \
            .adjust_cell_length(width, base).simplify()

    def _cell_style(self, row_style: Style, component: Style, post: Style, index: int,
                    column: int) -> tuple[Style, Style]:
        """A cell's style before its text's and with the cursor's after it, kept: each
        holds the cell's place as meta (DataTable's clicks read it), which Rich pickles."""
        key = (row_style, component, post, index, column)
        styles = self._cell_styles.get(key)
        if styles is None:
            if len(self._cell_styles) > 8192:
                self._cell_styles.clear()
            pre = row_style + Style.from_meta({"row": index, "column": column}) + component
            styles = self._cell_styles[key] = (pre, pre + post)
        return styles

    def cell_text(self, key: str, column: int) -> str:
        """The plain text of one cell of the row of ``key``, as a person reads it ("" for a
        row not shown); the tests read the tables through it."""
        if key not in self._keys:
            return ""
        return self._cells[self._keys.index(key)][column].plain
