"""A DataTable that is told the rows it should show and changes only what differs.

Rows keep their key; when the list of keys is unchanged only the changed
cells are rewritten (a batch of ``update_cell`` calls, one repaint), otherwise
the table is refilled and the cursor stays on the same key.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import DataTable

Row = tuple[str, Sequence[object]]


class LiveTable(DataTable[object]):
    """A row-cursor DataTable fed whole frames by :meth:`show`."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._columns = columns
        self._keys: list[str] = []
        self._cells: dict[str, tuple[object, ...]] = {}

    def on_mount(self) -> None:
        for key, label in self._columns:
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, None when the table is empty."""
        if not self._keys or not 0 <= self.cursor_row < len(self._keys):
            return None
        return self._keys[self.cursor_row]

    @property
    def shown_keys(self) -> list[str]:
        return list(self._keys)

    def cells_of(self, key: str) -> tuple[object, ...] | None:
        """What the row ``key`` shows now (for tests and the detail views)."""
        return self._cells.get(key)

    def show(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly ``rows`` (key, cells), in this order."""
        keys = [key for key, _ in rows]
        if keys != self._keys:
            self._refill(rows)
            return
        column_keys = [key for key, _ in self._columns]
        for key, cells in rows:
            old = self._cells.get(key)
            new = tuple(cells)
            if old == new:
                continue
            self._cells[key] = new
            for index, value in enumerate(new):
                if old is None or old[index] != value:
                    self.update_cell(key, column_keys[index], value, update_width=True)

    def _refill(self, rows: Sequence[Row]) -> None:
        selected, row = self.selected_key, self.cursor_row
        self.clear()
        self._keys = [key for key, _ in rows]
        self._cells = {key: tuple(cells) for key, cells in rows}
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if selected in self._cells:
            self.move_cursor(row=self._keys.index(selected), animate=False)
        elif self._keys:
            self.move_cursor(row=min(row, len(self._keys) - 1), animate=False)

    def cell_text(self, key: str, column: int) -> str:
        """The plain text of one cell, as a person reads it."""
        cells = self._cells.get(key)
        return "" if cells is None else str(getattr(cells[column], "plain", cells[column]))
