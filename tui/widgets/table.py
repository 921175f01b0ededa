"""A DataTable that is told the rows it should show and rewrites only the cells that differ.

Table rows are positions (``#0``, ``#1``, ...), not downloads: when the
shown downloads change or move, the cells of the affected positions are
rewritten in one batch, so the table never clears, never removes rows in
O(n) and never measures a whole column again (DataTable does when a cell
shrinks with ``update_width``). The cursor follows the download it was on.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Row = tuple[str, Sequence[object]]


def as_text(value: object) -> Text:
    """Cells as Text, so that DataTable does not parse each string as markup on every paint."""
    return value if isinstance(value, Text) else Text(str(value))


class LiveTable(DataTable[Text]):
    """A row-cursor DataTable fed whole frames by :meth:`show`."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._columns = columns
        self._keys: list[str] = []
        self._cells: list[tuple[Text, ...]] = []

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
            self._keys, self._cells = [], []
        while len(self._keys) > len(keys):
            self.remove_row(f"#{len(self._keys) - 1}")
            self._keys.pop()
            self._cells.pop()
        for index, (key, new) in enumerate(zip(keys, cells, strict=True)):
            if index == len(self._keys):
                self.add_row(*new, key=f"#{index}")
                self._keys.append(key)
                self._cells.append(new)
            elif self._cells[index] is not new and (self._cells[index] != new
                                                    or self._keys[index] != key):
                self._rewrite(index, new)
                self._keys[index] = key
        if selected is not None and selected in keys and keys.index(selected) != position:
            self.move_cursor(row=keys.index(selected), animate=False)

    def _rewrite(self, index: int, new: tuple[Text, ...]) -> None:
        old = self._cells[index]
        self._cells[index] = new
        for (column, _), before, after in zip(self._columns, old, new, strict=True):
            if before != after:
                width = cell_len(after.plain)
                grow = width > self.columns[ColumnKey(column)].content_width
                self.update_cell(f"#{index}", column, after, update_width=grow)

    def cell_text(self, key: str, column: int) -> str:
        """The plain text of one cell of the row of ``key``, as a person reads it ("" for a
        row not shown); the tests read the tables through it."""
        if key not in self._keys:
            return ""
        return self._cells[self._keys.index(key)][column].plain
