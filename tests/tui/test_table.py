"""LiveTable draws each row's line itself: the lines must be DataTable's own, cell for cell."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui.widgets.cells import bar
from tui.widgets.table import LiveTable

COLUMNS = [("id", "ID"), ("state", "State"), ("progress", "Progress"), ("error", "Error")]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="table")


def rows(step: int) -> list[tuple[str, tuple[object, ...]]]:
    return [(f"d{i}", (f"asset-{i}", Text("downloading", "bold green"), bar((i + step) / 40, 10),
                       Text("" if i % 3 else "1021 networkError: reset", "red")))
            for i in range(30)]


def lines_differ(table: LiveTable) -> list[int]:
    """The lines on screen (header included) that LiveTable draws otherwise than DataTable."""
    table.render_lines(table.region.reset_offset)
    top = table.header_height
    return [y for y in range(table.size.height)
            if y + table.scroll_offset.y - top < len(table.shown_keys)
            and table.render_line(y) != DataTable.render_line(table, y)]


async def test_rows_are_drawn_as_datatable_draws_them_under_the_cursor_and_blurred():
    app = TableApp()
    async with app.run_test(size=(100, 16)) as pilot:
        table = app.query_one(LiveTable)
        table.show(rows(0))
        table.focus()
        await pilot.pause()
        assert lines_differ(table) == []
        await pilot.press("down", "down", "pagedown")
        table.show(rows(5))
        await pilot.pause()
        assert table.cursor_row > 2 and lines_differ(table) == []
        table.blur()
        await pilot.pause()
        assert lines_differ(table) == []


async def test_a_batch_repaints_only_the_rows_it_changed():
    app = TableApp()
    async with app.run_test(size=(100, 16)) as pilot:
        table = app.query_one(LiveTable)
        table.show(rows(0))
        await pilot.pause()
        changed = rows(0)
        changed[3] = ("d3", ("asset-3", Text("paused", "yellow"), bar(0.5, 10), Text("", "red")))
        versions = list(table._versions)
        table.show(changed)
        after = table._versions
        assert [i for i, (a, b) in enumerate(zip(versions, after, strict=True)) if a != b] == [3]
        await pilot.pause()
        assert table.cell_text("d3", 1) == "paused" and lines_differ(table) == []
